"""checkpoint.npz: everything needed to resume a run, as plain arrays (no pickles).

    m1.param.W1 ...      parameters of each member (m1 for a single network)
    m1.opt.v.W1 ...      optimizer state (velocities, accumulators, moments, step counter)
    m1.sched.lr ...      schedule state (plateau only)
    m1.best.W1 ...       the best epoch's weights, when early stopping restores them
    info                 JSON text: finished metrics rows, best epoch, early-stopping state and each
                         member's Generator state (PCG64's 128-bit integers do not fit an int64 array)
    config_sha256        hash of the run's config.yaml, so resuming with an edited config is refused

Written atomically after every finished epoch, so it always describes the last finished epoch.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from dlcc.errors import RunError
from dlcc.runs import store

FILE = "checkpoint.npz"


def config_digest(config_text: str) -> str:
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def save(run_dir: Path, state: dict, config_sha256: str) -> None:
    arrays = dict(state["arrays"])
    arrays["info"] = np.array(json.dumps(state["info"]))
    arrays["config_sha256"] = np.array(config_sha256)
    store.write_npz(run_dir / FILE, arrays)


def load(run_dir: Path) -> tuple[dict, str]:
    """(state, config_sha256) from run_dir/checkpoint.npz; a damaged file is a RunError naming it."""
    path = run_dir / FILE
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        info = json.loads(str(arrays.pop("info")))
        digest = str(arrays.pop("config_sha256"))
    except FileNotFoundError:
        raise RunError(f"{path}: no checkpoint (the run stopped before its first epoch finished?)") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise RunError(f"{path}: the checkpoint is damaged and cannot be read ({exc}); "
                       "the run cannot be resumed, train it again") from None
    return {"arrays": arrays, "info": info}, digest
