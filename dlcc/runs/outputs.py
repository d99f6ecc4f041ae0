"""Where a command may write a file the user names (predict --out, plot --out, compare --plot,
report --out: the writers call `check_output` first).

An output file is written atomically over whatever has that name, so a slip of the keyboard would
replace something the user cannot get back: the input being read (`--out new-points.csv`), a
file of a run folder (`--out runs/iris-.../model.npz` destroys the trained network), of a sweep
folder, or of the dataset cache. Those are refused before anything is written; a new file
anywhere, or an older output file (predictions written before), may be replaced: run and sweep
folders are recognised by their files, the cache is `$DLCC_DATA_DIR` or the per-user cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlcc.data.cache import cache_dir
from dlcc.errors import PathError
from dlcc.runs import folder
from dlcc.runs.lock import LOCK
from dlcc.runs.read import is_run_dir
from dlcc.runs.sweepdir import RESULTS, SWEEP_FILE, is_sweep_dir


def check_output(out: Path, inputs: list[Path] = (), flag: str | None = "--out") -> None:
    """PathError unless writing `out` leaves every input and every file dlcc keeps as it is
    (flag: how the user named `out`, for the message; None: the path alone)."""
    out = Path(out)
    named = f"{flag} {out}" if flag else str(out)
    for source in inputs:
        if _same_file(out, source):
            raise PathError(f"{named}: that is the input file {source}; writing there would replace "
                            "it; give another file name")
    kept = _kept_by(out)
    if kept is not None:
        raise PathError(f"{named}: that is {kept} and would be replaced; give another file name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # missing (a new output), or a path the system refuses
        return False


def _kept_by(out: Path) -> str | None:
    """What the name `out` is to dlcc, in words (a run or sweep folder's own file, a file in the
    dataset cache), or None for an ordinary name. Writing replaces a symlink, not its target, so
    the name counts, in the folder it is really in."""
    try:
        parent = Path(os.path.realpath(out.parent))
        if out.name in RUN_FILES and is_run_dir(parent):
            return f"the {out.name} of the run folder {parent}"
        if out.name in SWEEP_FILES and is_sweep_dir(parent):
            return f"the {out.name} of the sweep folder {parent}"
        cache = Path(os.path.realpath(cache_dir()))
        if cache in parent.parents and os.path.lexists(out):  # <cache>/<dataset>/<file>
            return f"a file of the dataset cache {cache}"
    except (OSError, RuntimeError, ValueError):  # a path the system refuses: writing it will say so
        return None
    return None


RUN_FILES = (folder.CONFIG, folder.METRICS, folder.SUMMARY, folder.MODEL, folder.CHECKPOINT, folder.EVAL, LOCK)
SWEEP_FILES = (SWEEP_FILE, RESULTS)
