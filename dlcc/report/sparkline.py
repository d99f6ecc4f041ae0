"""Terminal sparklines: a curve as one line of block characters, ▁ lowest to █ highest.

Curves that are compared share one scale (lo, hi), so equal heights mean equal values. Losses
usually fall by orders of magnitude, so they can be drawn on a log scale.
"""

from __future__ import annotations

import math

BLOCKS = "▁▂▃▄▅▆▇█"


def resample(values: list[float | None], width: int) -> list[float | None]:
    """At most `width` points: each character covers an equal run of epochs and shows its last value."""
    n = len(values)
    if n <= width:
        return list(values)
    out = []
    for i in range(width):
        bucket = [v for v in values[i * n // width:(i + 1) * n // width] if v is not None]
        out.append(bucket[-1] if bucket else None)
    return out


def sparkline(values: list[float | None], lo: float, hi: float, log: bool = False) -> str:
    """One block per value on the shared scale [lo, hi]; a space where there is no value."""
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    chars = []
    for v in values:
        if v is None:
            chars.append(" ")
            continue
        if log:
            v = math.log10(v)
        level = 0 if hi <= lo else round((v - lo) / (hi - lo) * (len(BLOCKS) - 1))
        chars.append(BLOCKS[min(max(level, 0), len(BLOCKS) - 1)])
    return "".join(chars)


def scale(curves: list[list[float | None]], metric: str) -> tuple[float, float, bool]:
    """(lo, hi, log) shared by all curves; log for positive losses spanning more than 10x."""
    present = [v for c in curves for v in c if v is not None]
    if not present:
        return 0.0, 1.0, False
    lo, hi = min(present), max(present)
    log = "loss" in metric and lo > 0 and hi / lo > 10
    return lo, hi, log


def axis(epochs: int, width: int) -> str:
    """Epoch labels under a sparkline of `width` characters covering epochs 0..epochs."""
    left, right = "0", str(epochs)
    if width < len(left) + len(right) + 1:
        return ""
    middle = str(epochs // 2)
    line = [" "] * width
    line[: len(left)] = left
    line[width - len(right):] = right
    start = width // 2 - len(middle) // 2
    if start > len(left) + 1 and start + len(middle) < width - len(right) - 1:
        line[start:start + len(middle)] = middle
    return "".join(line)
