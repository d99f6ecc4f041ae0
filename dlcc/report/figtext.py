"""Text that has to fit inside a figure: matplotlib neither wraps nor shortens a title or a legend
entry, it draws it past the figure's edge and the PNG cuts it off (or a panel's title runs into
its neighbour's).

    shorten(text)          at most MAX_LABEL characters: the start and the end, "…" in between
                           (run folders differ in their time stamps, at the end)
    fit_title(fig, lines)  fig.suptitle of lines, each wrapped to the figure's width
"""

from __future__ import annotations

import textwrap

MAX_LABEL = 60  # characters of a legend entry or a panel title: about a third of a 3-panel figure


def shorten(text: str, limit: int = MAX_LABEL) -> str:
    """"spirals-…-20261201-101500" for a name longer than `limit`; shorter text as it is."""
    text = str(text)
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def fit_title(fig, lines: list[str]) -> None:
    """fig.suptitle of `lines`, each wrapped to the figure's width (matplotlib cuts a wider one off
    at both edges): a sweep's name, its left-out runs and its best point's label can be long."""
    title = fig.suptitle("\n".join(lines))
    width = max(len(line) for line in lines)
    for _ in range(8):  # each pass narrows by the measured overflow; a pass or two in practice
        overflow = title.get_window_extent().width / (0.96 * fig.bbox.width)
        if overflow <= 1 or width <= 10:
            return
        width = max(10, min(width - 1, int(width / overflow)))
        title.set_text("\n".join(textwrap.fill(line, width) for line in lines))
