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


class DivergedError(DlccError):
    """Training produced NaN or inf in the loss or the parameters."""

    exit_code = 3


class InterruptedRun(DlccError):
    """Training was stopped by Ctrl-C or SIGTERM; the run folder is resumable."""

    exit_code = 130
