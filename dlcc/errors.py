"""Error types that carry their exit code (see SPEC.md, "Exit codes").

The CLI catches `DlccError`, prints its message on stderr and exits with `exit_code`; an
OSError (a path the operating system refused) is a PathError there and at the API's entry points;
anything else is a bug and keeps its traceback.
"""

import functools
import os
from pathlib import Path


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


class PathError(DlccError):
    """A path the user gave cannot be used at all: the operating system refused it (a name too
    long for the file system, a loop of symbolic links, no permission). The message is the path
    and the system's reason."""


def user_paths(function):
    """Decorator for the public API's entry points: an OSError from a path the user gave leaves
    as the PathError the API promises instead of a bare OSError (SPEC.md: typed exceptions)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DlccError:
            raise
        except OSError as exc:
            raise path_error(exc) from None

    return wrapper


def as_path(value, what: str) -> Path:
    """A path argument of the API: a str or os.PathLike, or an object with a `.path` (a Run, a
    Sweep); anything else (None, a number, an array) is a PathError naming the argument."""
    value = getattr(value, "path", value)
    if isinstance(value, (str, os.PathLike)) and str(value):
        return Path(value)
    raise PathError(f"{what}: expected a folder or file name (str or pathlib.Path), got {type(value).__name__}")


def as_paths(values, what: str) -> list[Path]:
    """Several path arguments; one path alone (not a list of one) is taken as the list of it."""
    one = isinstance(values, (str, os.PathLike)) or hasattr(values, "path")
    if not one and not isinstance(values, (list, tuple)):
        raise PathError(f"{what}: expected a list of folder names or Runs, got {type(values).__name__}")
    return [as_path(v, what) for v in ([values] if one else values)]


def path_error(exc: OSError) -> PathError:
    """The PathError for an OSError: `PATH: reason` (`PATH -> OTHER: reason` for a rename)."""
    where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
    return PathError(f"{where or 'a file'}: {exc.strerror or exc}")


class DivergedError(DlccError):
    """Training produced NaN or inf in the loss or the parameters."""

    exit_code = 3


class InterruptedRun(DlccError):
    """Training was stopped by Ctrl-C or SIGTERM; the run folder is resumable."""

    exit_code = 130


class Note(UserWarning):
    """Something the user should know that is not an error (the CLI prints it as `note: ...`)."""
