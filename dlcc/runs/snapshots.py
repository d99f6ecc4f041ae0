"""Weight snapshots: the network every N epochs, for drawing how the decision boundary moved.

    RUN_DIR/snapshots/epoch-000000.npz, epoch-000010.npz, ...

Written during training when the config sets `diagnostics.snapshots: N`: after epoch 0 (the
untrained network) and every Nth epoch. Each file holds the parameters as model.npz does (W1, b1,
..., WL, bL; ensembles m1.W1, m1.b1, ...) and nothing else: the input normalization is the run's
and stays in model.npz. Files are written atomically and load with numpy.load(allow_pickle=False).
The schema keeps at most 201 of them per run (dlcc.config.schema.MAX_SNAPSHOTS), so the folder
takes at most 201 x 4 bytes x parameters (float32; 64 MB for a 784-100-10 network, 8 MB with
diagnostics.snapshots: epochs / 25).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from dlcc import atomic
from dlcc.runs import folder, validate

FOLDER = "snapshots"
_NAME = re.compile(r"^epoch-(\d{6,})\.npz$")


def path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / FOLDER / f"epoch-{epoch:06d}.npz"


def write(run_dir: Path, epoch: int, params: list[dict]) -> Path:
    """Store one parameter dict per ensemble member (one for a single network)."""
    arrays = dict(params[0]) if len(params) == 1 else {
        f"m{i}.{k}": v for i, member in enumerate(params, start=1) for k, v in member.items()}
    target = path(run_dir, epoch)
    target.parent.mkdir(exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic.write_bytes(target, buf.getvalue())
    return target


def epochs(run_dir: Path) -> list[int]:
    """The epochs that have a snapshot, ascending (empty when there are none)."""
    where = Path(run_dir) / FOLDER
    if not where.is_dir():
        return []
    return sorted(int(m.group(1)) for p in where.iterdir() if (m := _NAME.match(p.name)))


def read(run_dir: Path, epoch: int, members: int = 1) -> list[dict]:
    """One parameter dict per member, as write() stored them; a damaged file is a RunError."""
    source = path(run_dir, epoch)
    arrays = folder.read_npz(source, "cannot read it as a NumPy .npz archive; the snapshot is damaged")
    validate.check_model(arrays, source)
    if members == 1:
        return [arrays]
    return [{k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(f"m{i}.")}
            for i in range(1, members + 1)]
