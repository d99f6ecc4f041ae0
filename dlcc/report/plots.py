"""Figures with matplotlib, imported inside each function so `dlcc --help` stays fast.

Each function returns a matplotlib Figure built without pyplot (no global state, no backend
switch, so it also shows inline in a notebook); `save(fig, out)` writes it (PNG by default).

    curves     train (dashed) and validation (solid) loss and accuracy by epoch, one colour per run;
               runs that differ only in seed: their mean as a thick line, +- one std shaded
    gradients  per-layer gradient norms ||dC/db_l|| by epoch on a log scale, one panel per run
    boundary   decision regions (2-D classification) or the fitted function (1-D regression)
    sweep      a sweep's metric against each swept parameter, mean +- std over seeds (error bars)

Runs of a sweep are named in legends by their swept values (lr=0.1), not by their folders.
"""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path

from dlcc import atomic
from dlcc.errors import DlccError
from dlcc.report.figtext import fit_title, shorten
from dlcc.runs.compare import aligned, curve, group_curve
from dlcc.runs.outputs import check_output
from dlcc.runs.sweeplabels import label_for
from dlcc.runs.sweepstats import sweep_stats

DPI = 110
# Fonts a reader can read at the PNG's own size (matplotlib's defaults are drawn for 72-100 dpi
# screens and come out small); applied while a figure is built, matplotlib's global state untouched.
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
         "xtick.labelsize": 10, "ytick.labelsize": 10, "figure.titlesize": 12}
BOUNDARY_COLUMNS = 3  # several runs' boundaries: a grid this many panels wide


def _figure(**kwargs):
    """A new Figure, or a DlccError saying how to install matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise DlccError("plots need matplotlib: pip install matplotlib (or pip install -e \".[plot]\")") from None
    return Figure(**kwargs)


def styled(draw):
    """Build the figure with STYLE's font sizes."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        try:
            import matplotlib
        except ImportError:
            raise DlccError("plots need matplotlib: pip install matplotlib (or pip install -e \".[plot]\")") from None
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def _epoch_axis(ax) -> None:
    """Epochs are whole numbers: no 0.5 ticks on a short run."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")


def _colors() -> list:
    import matplotlib

    return matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]


def save(fig, out: Path) -> Path:
    """Write `fig` to `out` (PNG unless the suffix names another format matplotlib writes)."""
    out = Path(out)
    check_output(out, flag=None)  # never over a run folder's own files or the dataset cache
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # PNG unless the name asks for another format matplotlib writes (.svg, .pdf, ...)
        suffix = out.suffix.lower().lstrip(".")
        kind = {"format": "png", "pil_kwargs": {"optimize": True}} if suffix in ("png", "") else {"format": suffix}
        buf = io.BytesIO()
        fig.savefig(buf, dpi=DPI, **kind)
        atomic.write_bytes(out, buf.getvalue())  # replaces a symlink at `out`, never writes through it
    except DlccError:
        raise
    except OSError as exc:
        raise DlccError(f"{out}: cannot write the image: {atomic.reason(exc)}") from None
    except ValueError as exc:  # an extension matplotlib has no writer for
        raise DlccError(f"{out}: {exc}") from None
    return out


@styled
def curves(runs, groups=()):
    """Loss (log scale when positive) and, for classification, accuracy by epoch; the legend sits
    below the panels, never over a curve."""
    groups = [g for g in groups if len(g.members) > 1]  # a config run once is drawn as itself
    has_acc = any(curve(run, m) for run in runs for m in ("train_accuracy", "val_accuracy"))
    panels = [("loss", "train_loss", "val_loss")]
    if has_acc:
        panels.append(("accuracy", "train_accuracy", "val_accuracy"))
    fig = _figure(figsize=(6.2 * len(panels), 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)
    colors = _colors()
    grouped = {i for g in groups for i in g.members}
    # One colour per series: each run outside a seed group, then each group.
    series = [(_name(run) if len(runs) == 1 else f"#{i + 1} {_name(run)}", (i,))
              for i, run in enumerate(runs) if i not in grouped]
    series += [(f"mean of {', '.join(f'#{i + 1}' for i in g.members)} ({_name(runs[g.members[0]], seed=False)})",
                g.members) for g in groups]
    for ax, (title, *metrics) in zip(axes[0], panels):
        for metric, style in zip(metrics, ("--", "-")):
            epochs, values = aligned(runs, metric)
            for k, (label, members) in enumerate(series):
                color = colors[k % len(colors)]
                label = label if (metric == metrics[1] and ax is axes[0][0]) else None
                if len(members) == 1:
                    _line(ax, _points(epochs, values[members[0]]), style, color=color, label=label, linewidth=1.6)
                    continue
                mean, std = group_curve([values[i] for i in members])
                _line(ax, _points(epochs, mean), style, color=color, linewidth=2.4, label=label)
                _band(ax, epochs, mean, std, [values[i] for i in members], color)
        if title == "loss" and _all_positive(ax):
            ax.set_yscale("log")
        ax.set_title(title)
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
    legend_below(fig, axes[0][0], extra=[("--", "train"), ("-", "validation")])
    return fig


def legend_below(fig, ax, extra=()) -> None:
    """One legend for the whole figure, under the panels: the series, then line styles."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if ax.collections and handles:  # scatter plots of the splits: markers in grey, not one class's colour
        handles = [Line2D([], [], linestyle="none", marker=m, color="0.35") if hasattr(h, "get_offsets") else h
                   for h, m in zip(handles, _markers(labels))]
    for style, text in extra:
        handles.append(Line2D([], [], linestyle=style, color="0.3"))
        labels.append(text)
    ncol = min(len(handles), 4)
    while handles:  # fewer columns until it fits: long run names would run past both edges
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)
        if ncol == 1 or legend.get_window_extent().width <= 0.98 * fig.bbox.width:
            return
        legend.remove()
        ncol -= 1


def _name(run, seed: bool = True) -> str:
    """A run's swept values when it belongs to a sweep (lr=0.1, seed=2), else its folder's name,
    shortened to fit a legend or a panel's title."""
    return shorten(label_for(run.path, seed=seed) or run.label)


def _band(ax, epochs, mean, std, member_values, color) -> None:
    """Shade mean +- std; the lower edge never goes below the lowest run (a log axis stays readable)."""
    band = []
    for e, m, s, column in zip(epochs, mean, std, zip(*member_values)):
        if m is not None and s is not None:
            floor = min(v for v in column if v is not None)
            band.append((e, max(m - s, floor), m + s))
    if band:
        e, lo, hi = zip(*band)
        ax.fill_between(e, lo, hi, color=color, alpha=0.2, linewidth=0)


@styled
def gradients(runs):
    """grad_norm_1..L by epoch, log scale; early layers far below late ones = vanishing gradients."""
    cols = min(len(runs), BOUNDARY_COLUMNS)
    rows = math.ceil(len(runs) / cols)
    fig = _figure(figsize=(5.4 * cols, 4.0 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax, run in zip(axes, runs):
        for col in [c for c in run.columns if c.startswith("grad_norm_")]:
            points = curve(run, col)
            ax.plot(list(points), list(points.values()), linewidth=1.6,
                    label=f"layer {col.removeprefix('grad_norm_')}")
        ax.set_yscale("log")
        ax.set_title(_name(run))
        _epoch_axis(ax)
        ax.grid(alpha=0.3, which="both")
        ax.set_ylabel("||dC/db|| (gradient norm)")
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("gradient norm per layer (layers numbered from the input)")
    legend_below(fig, max(axes[:len(runs)], key=lambda a: len(a.get_lines())))
    return fig


@styled
def boundary(surfaces: list, labels: list[str]):
    """One panel per run, up to BOUNDARY_COLUMNS to a row: decision regions with the data, or the
    fitted curve over the data; the splits' legend below the panels."""
    fig, axes = boundary_axes(len(surfaces))
    for ax, s, label in zip(axes, surfaces, labels):
        draw_surface(ax, s, shorten(label))
    legend_below(fig, axes[0])
    return fig


def boundary_axes(n: int):
    """A figure with n square-ish panels in a grid (unused cells hidden)."""
    cols = min(n, BOUNDARY_COLUMNS)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(4.8 * cols, 4.6 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def draw_surface(ax, s, title: str) -> None:
    ax.clear()
    if s.kind == "regions":
        _regions(ax, s)
    else:
        _function(ax, s)
    ax.set_title(title)


SPLIT_MARKERS = {"train": "o", "val": "s", "test": "^"}


def _markers(labels) -> list:
    return [SPLIT_MARKERS.get(label, "o") for label in labels]


def _regions(ax, s) -> None:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    levels = [k - 0.5 for k in range(s.classes + 1)]
    colors = [cmap(k % 10) for k in range(s.classes)]
    ax.contourf(*s.axes, s.values, levels=levels, colors=colors, alpha=0.25)
    for split, marker in (("train", "o"), ("val", "s"), ("test", "^")):
        if split in s.points:
            x, labels = s.points[split]
            ax.scatter(x[:, 0], x[:, 1], c=[colors[k] for k in labels], s=12, marker=marker,
                       edgecolors="none", label=split)


def _function(ax, s) -> None:
    for split, marker in (("train", "o"), ("val", "s"), ("test", "^")):
        if split in s.points:
            x, y = s.points[split]
            ax.scatter(x[:, 0], y, s=12, marker=marker, alpha=0.6, label=split)
    ax.plot(s.axes[0], s.values[:, 0], color="black", linewidth=2, label="network")
    ax.set_xlabel("x")
    ax.set_ylabel("y")


@styled
def sweep(definition: dict, results: list[dict], metric: str | None = None):
    """A sweep's metric against each swept parameter: one panel per swept key, mean +- std over
    seeds as error bars, the other swept keys as separate lines, the best point starred.

    definition and results: sweepdir.read_definition / read_results of the sweep folder; metric:
    a results.csv column (default best_val_accuracy, or best_val_loss for regression)."""
    from matplotlib.ticker import PercentFormatter

    stats = sweep_stats(definition, results, metric)
    if not stats.counted:
        raise DlccError(f"sweep {stats.name}: no finished run has {stats.metric} yet "
                        f"({_left_out(stats.excluded)}); nothing to plot")
    fig = _figure(figsize=(max(4.8 * len(stats.panels), 6.0), 4.4), layout="constrained")
    axes = fig.subplots(1, len(stats.panels), squeeze=False, sharey=True)[0]
    most = max(p.n for p in stats.points)
    for ax, panel in zip(axes, stats.panels):
        _sweep_panel(ax, panel, stats.best, most)
    n_text = f"n={most} seeds" + ("" if all(p.n in (0, most) for p in stats.points) else " unless marked")
    axes[0].set_ylabel(f"{stats.metric}\n(mean ± std, {n_text})")
    if "accuracy" in stats.metric:
        axes[0].yaxis.set_major_formatter(PercentFormatter(1.0))
    lines = [f"sweep {stats.name}: {stats.metric} ({'higher' if stats.higher_is_better else 'lower'} is better)"]
    if stats.excluded:  # a line of its own: counted by status, so it stays short however many runs
        lines.append(f"{sum(stats.excluded.values())} run(s) left out: {_left_out(stats.excluded)}")
    best = stats.best
    spread = f" ± {_fmt(stats.metric, best.std)}" if best.std is not None else ""
    lines.append(f"best (star): {best.label}, {_fmt(stats.metric, best.mean)}{spread} over {best.n} seed(s)")
    fit_title(fig, lines)
    return fig


def _sweep_panel(ax, panel, best, most: int) -> None:
    """One swept key: each series as points with +- std bars, joined when x is a number."""
    from matplotlib.ticker import NullLocator

    colors = _colors()
    # side by side on a categorical axis, so the bars of different series do not hide each other
    dodge = 0.08 if panel.scale == "category" and len(panel.series) > 1 else 0.0
    for k, s in enumerate(panel.series):
        x = [v + dodge * (k - (len(panel.series) - 1) / 2) for v in s.x]
        joined = panel.connected and panel.scale != "category" and len(x) > 1
        ax.errorbar(x, [p.mean for p in s.points], yerr=[p.std or 0.0 for p in s.points], fmt="o-" if joined else "o",
                    color=colors[k % len(colors)], capsize=3, linewidth=1.5, markersize=5, label=s.label)
        for xi, p in zip(x, s.points):
            if p.n != most:  # fewer runs than the other points (failed, pending): say how many
                ax.annotate(f"n={p.n}", (xi, p.mean), xytext=(7, -14), textcoords="offset points", fontsize=9)
            if p is best:
                ax.plot([xi], [p.mean], marker="*", markersize=15, color="gold", markeredgecolor="black", zorder=5)
    if panel.scale == "category":
        long = sum(len(c) for c in panel.categories) > 40
        ax.set_xticks(range(len(panel.categories)), panel.categories, rotation=30 if long else 0,
                      ha="right" if long else "center")
        ax.set_xlim(-0.5, len(panel.categories) - 0.5)
    else:
        ax.set_xscale(panel.scale)
        ax.margins(x=0.08)  # room for the star and the n= notes at the ends
        xs = sorted({x for s in panel.series for x in s.x})
        if len(xs) <= 8:  # a grid: tick exactly its values
            ax.set_xticks(xs, [f"{x:.4g}" for x in xs])
            ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(panel.key)
    ax.grid(alpha=0.3)
    if any(s.label for s in panel.series):  # below the panel, never over the points
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(3, len(panel.series)),
                  frameon=False)
    elif not panel.connected:
        ax.set_title("other swept values vary between points", fontsize=10)


def _fmt(metric: str, value: float) -> str:
    return f"{100 * value:.2f}%" if "accuracy" in metric else f"{value:.4g}"


def _left_out(excluded: dict) -> str:
    return ", ".join(f"{n} {status}" for status, n in excluded.items()) or "none left out"


def _points(epochs, values):
    pairs = [(e, v) for e, v in zip(epochs, values) if v is not None]
    return ([e for e, _ in pairs], [v for _, v in pairs]) if pairs else ([], [])


def _line(ax, points, style: str, **kwargs) -> None:
    """A curve; one epoch of it (a 1-epoch run's training loss) as a dot, which a line cannot show."""
    ax.plot(*points, style, marker="o" if len(points[0]) == 1 else None, **kwargs)


def _all_positive(ax) -> bool:
    ys = [y for line in ax.get_lines() for y in line.get_ydata()]
    return bool(ys) and min(ys) > 0
