"""The pieces of a self-contained HTML page: one file, no network, no scripts.

Images are PNGs embedded as data: URIs, the style sheet is inline, and nothing refers to another
file or host, so a report can be mailed, archived or opened offline and looks the same. The same
page prints cleanly (the @media print rules keep figures and tables whole on a page).
"""

from __future__ import annotations

import base64
import html
import io

LONG_WORD = 40  # characters: a table cell with a longer word may wrap inside it

CSS = """
:root { --ink: #1d2330; --muted: #5b6473; --line: #d9dde3; --soft: #f4f6f8; --accent: #1f5fae; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       overflow-wrap: anywhere; }  /* a 250-character run folder name wraps instead of widening the page */
main, header, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
.meta, .note, figcaption { color: var(--muted); font-size: 13px; }
nav { margin: 12px 0 16px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; display: inline-block; max-width: 100%; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top;
         overflow-wrap: normal; }  /* cells break between words: no column is squeezed to letters */
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.long { overflow-wrap: anywhere; min-width: 16em; }  /* but a word longer than LONG_WORD may wrap */
tr.best td { font-weight: 600; }
.kv th { background: none; color: var(--muted); font-weight: normal; white-space: nowrap; }
.cols { display: flex; flex-wrap: wrap; gap: 0 40px; align-items: flex-start; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 14px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 9em; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.confusion td { text-align: right; min-width: 3.2em; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 10px 12px;
      font-size: 12.5px; line-height: 1.35; overflow-x: auto; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.warn { background: #fff6e0; border-left: 4px solid #e0a100; padding: 6px 10px; margin: 6px 0; }
.status-completed, .status-early_stopped { color: #1a7f37; }
.status-diverged, .status-failed { color: #b42318; }
.status-interrupted, .status-running { color: #9a6700; }
footer { margin-top: 40px; padding: 12px 24px 30px; border-top: 1px solid var(--line); color: var(--muted);
         font-size: 13px; }
@media print {
  body { font-size: 11pt; }
  main, header, footer { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table, pre, .warn, .cards { break-inside: avoid; }
  figure img { border: none; }
  pre { white-space: pre-wrap; }
}
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]], footer: str) -> str:
    """A whole document; sections are (anchor id, heading, body html)."""
    # spaces between the links: the only places a line of them may break
    nav = " ".join(f'<a href="#{esc(anchor)}">{esc(heading)}</a>' for anchor, heading, _ in sections)
    body = "\n".join(f'<section id="{esc(anchor)}">\n<h2>{esc(heading)}</h2>\n{content}\n</section>'
                     for anchor, heading, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        # an empty inline icon, so the browser does not ask for /favicon.ico
        "<link rel=\"icon\" href=\"data:,\">\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1><p class=\"meta\">{subtitle}</p><nav>{nav}</nav></header>\n"
        f"<main>\n{body}\n</main>\n<footer>{footer}</footer>\n</body>\n</html>\n"
    )


def figure(fig, caption: str, dpi: int) -> str:
    """A matplotlib Figure as an embedded PNG with a caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"optimize": True})
    width, height = (int(round(v)) for v in fig.get_size_inches() * dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
            f'alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>')


def table(header: list[str], rows: list[list], numeric: set[int] = frozenset(), classes: list[str] | None = None,
          css: str = "") -> str:
    """An HTML table; cells are escaped unless they are `Raw`; columns in `numeric` right-aligned."""
    def cell(tag: str, i: int, value) -> str:
        text = value.html if isinstance(value, Raw) else esc(value)
        kinds = [k for k, on in (("num", i in numeric), ("long", tag == "td" and _long(value))) if on]
        attr = f' class="{" ".join(kinds)}"' if kinds else ""
        return f"<{tag}{attr}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        (f'<tr class="{classes[r]}">' if classes and classes[r] else "<tr>")
        + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>"
        for r, row in enumerate(rows))
    return f'<div class="scroll"><table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def key_values(pairs: list[tuple[str, object]], columns: int = 2) -> str:
    """Label-value rows, in `columns` tables side by side (one under the other on a narrow screen)."""
    per = -(-len(pairs) // columns) or 1
    tables = []
    for start in range(0, len(pairs), per):
        rows = "".join(f"<tr><th>{esc(k)}</th>{_td(v)}</tr>" for k, v in pairs[start:start + per])
        tables.append(f'<table class="kv"><tbody>{rows}</tbody></table>')
    return '<div class="cols">' + "".join(tables) + "</div>"


def cards(pairs: list[tuple[str, object]]) -> str:
    """Headline numbers in boxes: (label, value)."""
    items = "".join(f'<div class="card"><div class="label">{esc(k)}</div><div class="value">'
                    f"{v.html if isinstance(v, Raw) else esc(v)}</div></div>" for k, v in pairs)
    return f'<div class="cards">{items}</div>'


class Raw:
    """Markup that table() and key_values() insert as it is (already escaped)."""

    def __init__(self, html_text: str):
        self.html = html_text


def _long(value) -> bool:
    """A cell holding a word too long to keep whole (a run folder's path, a 200-character name)."""
    return not isinstance(value, Raw) and any(len(word) > LONG_WORD for word in str(value).split())


def _td(value) -> str:
    attr = ' class="long"' if _long(value) else ""
    return f"<td{attr}>{value.html if isinstance(value, Raw) else esc(value)}</td>"


def status(value: str) -> Raw:
    return Raw(f'<span class="status-{esc(value)}">{esc(value)}</span>')
