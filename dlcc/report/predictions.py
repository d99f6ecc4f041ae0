"""`dlcc plot --kind predictions`: what a trained network predicts against the truth.

Regression: predicted against actual values in the target's units, one colour per split, with the
line predicted = actual (a perfect model puts every point on it) and each split's R^2.
Classification: the confusion matrix as an image, rows the true class and columns the predicted
one, labelled with the class names; each cell shows its count, shaded by the share of its row.
"""

from __future__ import annotations

from dlcc.report.plots import _figure

SPLIT_COLORS = {"train": "#9aa5b1", "val": "#1f77b4", "test": "#d62728"}


def predictions(scatters: list, labels: list[str]):
    """One panel per run (runs.predict.Scatter each), side by side."""
    fig = _figure(figsize=(5.2 * len(scatters), 4.8), layout="constrained")
    axes = fig.subplots(1, len(scatters), squeeze=False)[0]
    for ax, scatter, label in zip(axes, scatters, labels):
        if scatter.task == "regression":
            _regression(ax, scatter)
            ax.set_title(label, fontsize=10)
        else:
            counts = scatter.confusion
            _confusion(ax, scatter)
            ax.set_title(f"{label}\n{scatter.split} split: {counts.trace()} of {counts.sum()} right", fontsize=10)
    return fig


def _regression(ax, s) -> None:
    low = min(min(a.min(), p.min()) for a, p, _ in s.splits.values())
    high = max(max(a.max(), p.max()) for a, p, _ in s.splits.values())
    ax.plot([low, high], [low, high], "-", color="black", linewidth=1, label="predicted = actual")
    for split in ("train", "val", "test"):
        if split in s.splits:
            actual, predicted, r2 = s.splits[split]
            r2_text = "" if r2 is None else f", R² {r2:.3f}"
            ax.scatter(actual, predicted, s=9, alpha=0.6, color=SPLIT_COLORS[split],
                       label=f"{split} ({len(actual)}{r2_text})")
    name = f" {s.target_name}" if s.target_name else ""
    ax.set_xlabel(f"actual{name}")
    ax.set_ylabel(f"predicted{name}")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper left", fontsize=8)
    if max(abs(low), abs(high)) >= 1e4:  # prices and the like: 250k, not 250000 or 2.5e5
        from matplotlib.ticker import EngFormatter

        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(EngFormatter(sep=""))


def _confusion(ax, s) -> None:
    counts = s.confusion
    share = counts / counts.sum(axis=1, keepdims=True).clip(min=1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    k = len(s.class_names)
    long = max(map(len, s.class_names)) > 3
    ax.set_xticks(range(k), s.class_names, rotation=45 if long else 0, ha="right" if long else "center")
    ax.set_yticks(range(k), s.class_names)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8 if k > 5 else 10,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
