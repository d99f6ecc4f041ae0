"""`dlcc plot`'s kinds of figure for run folders, each a matplotlib Figure (plots.py draws them).

A sweep's metric against its settings is plots.sweep (Sweep.plot in the API).
"""

from __future__ import annotations

from dlcc.errors import RunError
from dlcc.report import plots
from dlcc.report.figtext import shorten

KINDS = ("curves", "gradients", "boundary", "predictions")


def figure(folders, kind: str = "curves", groups=(), models=None):
    """Draw run folders (runs.read.RunFolder) as `kind`. models: their loaded models
    (runs.model.load_model), when the caller already has them; loaded here otherwise."""
    if kind not in KINDS:
        raise RunError(f"plot kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "curves":
        return plots.curves(folders, groups)
    if kind == "gradients":
        for f in folders:
            if not any(c.startswith("grad_norm_") for c in f.columns):
                raise RunError(f"{f.path}: no gradient norms in metrics.csv; train with "
                               "--set diagnostics.gradient_norms=true to record them")
        return plots.gradients(folders)
    if models is None:
        from dlcc.runs.model import load_model

        models = [load_model(f) for f in folders]
    labels = [shorten(f.label) for f in folders]  # panel titles: a 200-character folder name would overrun
    if kind == "boundary":
        from dlcc.runs.boundary import surface

        return plots.boundary([surface(m) for m in models], labels)
    # predicted vs actual (regression), the confusion matrix (classification)
    from dlcc.report.predictions import predictions
    from dlcc.runs.predict import predicted_vs_actual

    return predictions([predicted_vs_actual(m) for m in models], labels)
