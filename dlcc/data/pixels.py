"""Image features kept as the bytes they were read from, and the recipe back to float32 inputs.

    x = ((bytes / 255) - shift) / scale        (shift, scale: the train split's normalization, if any)

Each step is one float32 operation, the very ones the loader (x = bytes / 255, `to_float32`) and
the splits' normalization apply to the whole array, so decoding any rows of the bytes gives those
rows of x bit for bit. The trainer shuffles the bytes instead of x (a uint8 gather moves a quarter
of the memory and needs a quarter of the buffer) and decodes one batch at a time into a reused
float32 buffer, as image loaders do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

PIXEL_MAX = np.float32(255)


def to_float32(images: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 pixels -> float32 inputs in [0, 1]: x = pixel / 255 (rows of any shape)."""
    return np.divide(images, PIXEL_MAX, out=out, dtype=np.float32)


@dataclass(frozen=True)
class Pixels:
    """The training split as bytes: rows of `bytes` (n, d) uint8 decode to the rows of x."""

    bytes: np.ndarray
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None

    def rows(self, selection) -> Pixels:
        """The same recipe for bytes[selection] (a slice, index array or mask, as for x)."""
        return replace(self, bytes=self.bytes[selection])

    def normalized(self, shift: np.ndarray | None, scale: np.ndarray | None) -> Pixels:
        """The recipe with the split's normalization x = (x - shift) / scale added (float32 arrays)."""
        return replace(self, shift=shift, scale=scale)

    def decode(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Rows of bytes (b, d) -> the float32 inputs (b, d), written into `out` and returned."""
        to_float32(rows, out=out)
        if self.shift is not None:
            out -= self.shift
            out /= self.scale
        return out
