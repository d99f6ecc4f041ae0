"""Error types that carry their exit code (see SPEC.md, "Exit codes").

The CLI catches `DlccError`, prints its message on stderr and exits with `exit_code`;
anything else is a bug and keeps its traceback.
"""


class DlccError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 2


class ConfigError(DlccError):
    """The config file or a --set override is unreadable or invalid."""


class DataError(DlccError):
    """A dataset is missing, corrupt, or its options are invalid."""


class RunError(DlccError):
    """A run folder is missing, incomplete or unreadable."""


class RunDamaged(RunError):
    """A run file exists but does not hold what dlcc writes there (wrong types, out-of-range
    values, too large, nested too deep); the message names the file and what is wrong."""


class WriteFailed(DlccError, OSError):
    """A file or folder could not be written (disk full, read-only, a file where a folder should
    be). Also an OSError, so code that treats writing as optional (the dataset cache) still can."""

    def __init__(self, message: str):
        DlccError.__init__(self, message)

    def __str__(self) -> str:
        return str(self.args[0])


class DivergedError(DlccError):
    """Training produced NaN or inf in the loss or the parameters."""

    exit_code = 3


class InterruptedRun(DlccError):
    """Training was stopped by Ctrl-C or SIGTERM; the run folder is resumable."""

    exit_code = 130


class Note(UserWarning):
    """Something the user should know that is not an error (the CLI prints it as `note: ...`)."""
