"""`dlcc plot RUN --kind boundary --animate`: the decision boundary moving as the network trains,
the TensorFlow Playground picture, as a GIF (matplotlib's Pillow writer).

The frames come from the run's weight snapshots (`diagnostics.snapshots: N`, runs/snapshots.py),
drawn exactly as `--kind boundary` draws one run, and the last frame is the kept model itself
(model.npz), so it matches `dlcc plot RUN --kind boundary`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dlcc import atomic
from dlcc.errors import DlccError
from dlcc.report.plots import DPI, boundary_axes, draw_surface, legend_below, styled
from dlcc.runs.outputs import check_output

SECONDS = 8.0      # the whole animation plays in about this long ...
FPS = (2, 20)      # ... at a frame rate within these bounds
HOLD = 1.5         # seconds the last frame stays before the GIF loops


@styled
def boundary_gif(frames: list, label: str, out: Path) -> Path:
    """frames: (epoch, runs.boundary.Surface) in order, the last one the kept model."""
    from matplotlib.animation import PillowWriter

    out = Path(out)
    if out.suffix.lower() != ".gif":
        raise DlccError(f"{out}: --animate writes a GIF; give --out FILE.gif")
    check_output(out, flag=None)  # never over a run folder's own files or the dataset cache
    fps = int(min(max(round(len(frames) / SECONDS), FPS[0]), FPS[1]))
    fig, (ax,) = boundary_axes(1)
    restored = any(epoch > frames[-1][0] for epoch, _ in frames[:-1])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        writer = PillowWriter(fps=fps)
        with tempfile.TemporaryDirectory() as tmp:  # drawn there, then moved into place: never via a symlink
            gif = Path(tmp) / "boundary.gif"
            with writer.saving(fig, str(gif), dpi=DPI):
                for i, (epoch, surface) in enumerate(frames):
                    last = i == len(frames) - 1
                    note = " (best, restored)" if last and restored else ""
                    draw_surface(ax, surface, f"{label}, epoch {epoch}{note}")
                    if i == 0:
                        legend_below(fig, ax)
                    for _ in range(1 + (int(HOLD * fps) if last else 0)):
                        writer.grab_frame()
            atomic.write_bytes(out, gif.read_bytes())
    except OSError as exc:
        raise DlccError(f"{out}: cannot write the animation: {exc.strerror or exc}") from None
    return out
