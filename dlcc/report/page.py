"""`dlcc report RUN_DIR|SWEEP_DIR... [--out report.html]`: runs and sweeps as one HTML page.

One run: its summary, learning curves, gradient diagnostics, the confusion matrix of the test
split with class names (classification), the decision boundary (2-D data) and the config.
Several runs or a sweep: the comparison first (the best run or group, the config keys that
differ, every run's best and final metrics (runs/best.py), seed groups with their tests), the sweep's plot and
results table, the curves overlaid, the boundaries side by side, then each run in brief.
Every figure is drawn by report/plots.py, exactly as `dlcc plot` draws it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from dlcc import atomic
from dlcc.errors import DlccError, RunError
from dlcc.report import plots
from dlcc.report.html import Raw, cards, esc, figure, key_values, page, status, table
from dlcc.runs import sweepdir
from dlcc.runs.compare import compare, to_json
from dlcc.runs.outputs import check_output
from dlcc.runs.read import RunFolder, read
from dlcc.runs.stats import format_p
from dlcc.runs.sweeplabels import label_for
from dlcc.version import __version__

MAX_PANELS = 12        # boundaries / gradient panels drawn for several runs
MAX_RUN_SECTIONS = 8   # runs described one by one on a multi-run page


def write_report(paths, out: Path) -> Path:
    """Build the page for run and sweep folders and write it atomically to `out`."""
    out = Path(out)
    check_output(out, flag=None)  # never over a run folder's own files or the dataset cache
    text = build(paths)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out, text)
    except DlccError:  # WriteFailed already names the path and the reason
        raise
    except OSError as exc:
        raise DlccError(f"{out}: cannot write the report: {atomic.reason(exc)}") from None
    return out


def build(paths) -> str:
    """The HTML text for these run and sweep folders."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise RunError("report: give one or more run or sweep folders")
    sweeps = [p for p in paths if sweepdir.is_sweep_dir(p)]
    runs: list[RunFolder] = []
    for p in paths:
        if p in sweeps:
            results = sweepdir.read_results(p)
            runs += [read(p / r["run"]) for r in results if (p / r["run"] / "summary.json").is_file()]
        else:
            runs.append(read(p))
    if not runs:
        raise RunError(f"{paths[0]}: the sweep has no finished run folders yet; nothing to report")
    names = ", ".join(p.name for p in paths)
    title = f"dlcc report: {names}" if len(names) < 80 else f"dlcc report: {len(runs)} runs"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = esc(f"{len(runs)} run(s) on {', '.join(sorted({str(r.dataset) for r in runs}))}; "
                   f"made by dlcc {__version__} on {when}")
    sections = _single(runs[0]) if len(runs) == 1 and not sweeps else _several(runs, sweeps)
    footer = (f"Made with <code>dlcc report {esc(' '.join(str(p) for p in paths))}</code>. The figures are "
              "those of <code>dlcc plot</code>; the numbers come from each run's summary.json and metrics.csv.")
    return page(title, subtitle, sections, footer)


# --------------------------------------------------------------------------- one run

def _single(run: RunFolder) -> list[tuple[str, str, str]]:
    sections = [("summary", "Summary", _summary(run)), ("curves", "Learning curves", _curves([run]))]
    if _has_gradients(run):
        sections.append(("gradients", "Gradient diagnostics", _gradients([run])))
    model, why = _model(run)
    if model is not None and model.classification:
        sections.append(("confusion", "Confusion matrix", _confusion(model)))
    boundary = _boundaries([run], {run.path: model}) if model is not None else ""
    if boundary:
        sections.append(("boundary", "Decision boundary", boundary))
    elif why:
        sections.append(("model", "Trained network", f'<p class="note">{esc(why)}</p>'))
    sections.append(("config", "Config", _config(run)))
    return sections


def _summary(run: RunFolder) -> str:
    s = run.summary
    best, test = s.best or {}, s.test or {}
    headline = [("status", status(s.status)), ("epochs", f"{run.last_epoch} / {run.planned_epochs}")]
    for key in ("accuracy", "loss"):
        if isinstance(test.get(key), (int, float)):
            headline.append((f"test {key}", _fmt(key, test[key])))
            break
    for key in ("val_accuracy", "val_loss"):
        if best.get(key) is not None:
            headline.append((f"best {key} (epoch {s.best_epoch})", _fmt(key, best[key])))
            break
    headline.append(("training time", f"{s.seconds:.1f} s"))
    chosen = f" ({'highest' if 'accuracy' in run.monitor else 'lowest'} {run.monitor})" if s.best_epoch else ""
    pairs = [("run folder", run.path), ("dataset", run.dataset), ("best epoch", f"{s.best_epoch or '-'}{chosen}")]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        if best.get(key) is not None:
            pairs.append((f"{key} at the best epoch", _fmt(key, best[key])))
    pairs += [(f"test {key}", _fmt(key, v)) for key, v in test.items() if isinstance(v, (int, float))]
    pairs += [("seed", s.seed), ("parameters", f"{s.parameters:,}" if s.parameters else None),
              ("examples", ", ".join(f"{k} {v:,}" for k, v in (s.examples or {}).items())),
              ("stop reason", s.stop_reason), ("error", s.error), ("created", s.created),
              ("versions", f"dlcc {s.dlcc_version}, NumPy {s.numpy_version}, Python {s.python_version}")]
    body = cards(headline) + key_values([(k, v) for k, v in pairs if v not in (None, "")])
    body += "".join(f'<p class="warn">{esc(w)}</p>' for w in s.warnings)
    body += "".join(f'<p class="note">note: {esc(n)}</p>' for n in run.notes)
    return body


def _confusion(model) -> str:
    from dlcc.runs.evaluate import evaluate_split

    split = next((name for name in ("test", "val", "train") if model.arrays.get(name)), "train")
    result = evaluate_split(model, split)
    names = [str(n) for n in result.get("classes") or range(len(result["confusion"]))]
    matrix = result["confusion"]
    top = max(max(row) for row in matrix) or 1
    rows = []
    for name, row in zip(names, matrix):
        cells = [Raw(f'<span style="display:block;background:rgba(31,95,174,{0.08 + 0.6 * v / top:.2f})">'
                     f"{v}</span>") for v in row]
        rows.append([Raw(f"<b>{esc(name)}</b>"), *cells])
    body = (f'<p>{esc(split)} split, {result["examples"]:,} examples: accuracy {_fmt("accuracy", result["accuracy"])}, '
            f'loss {_fmt("loss", result["loss"])}. Rows: true class; columns: predicted class.</p>')
    body += table(["true \u2193 / predicted \u2192", *names], rows, css="confusion")
    per_class = [[c.get("name", c["class"]), _fmt("accuracy", c["precision"]), _fmt("accuracy", c["recall"]),
                  c["support"]] for c in result["per_class"]]
    return body + "<h3>Per class</h3>" + table(["class", "precision", "recall", "support"], per_class, {1, 2, 3})


def _config(run: RunFolder) -> str:
    try:
        text = (run.path / "config.yaml").read_text(encoding="utf-8")
    except OSError as exc:
        return f'<p class="note">config.yaml: {esc(exc)}</p>'
    return f"<pre>{esc(text)}</pre>"


# --------------------------------------------------------------------------- several runs, sweeps

def _several(runs: list[RunFolder], sweeps: list[Path]) -> list[tuple[str, str, str]]:
    sections = []
    if len(runs) >= 2:
        try:
            sections.append(("comparison", "Comparison", _comparison(runs)))
        except RunError as exc:  # different tasks or datasets: each run is still shown
            sections.append(("comparison", "Comparison", f'<p class="note">No comparison: {esc(exc)}</p>'))
    for i, sweep in enumerate(sweeps):
        sections.append((f"sweep-{i + 1}", f"Sweep {sweep.name}", _sweep(sweep)))
    sections.append(("curves", "Learning curves", _curves(runs)))
    shown = runs[:MAX_PANELS]
    more = f'<p class="note">The first {MAX_PANELS} of {len(runs)} runs.</p>' if len(runs) > MAX_PANELS else ""
    with_grads = [r for r in shown if _has_gradients(r)]
    if with_grads:
        sections.append(("gradients", "Gradient diagnostics", more + _gradients(with_grads)))
    models = {r.path: _model(r)[0] for r in shown}
    boundary = _boundaries(shown, models)
    if boundary:
        sections.append(("boundary", "Decision boundaries", more + boundary))
    for i, run in enumerate(runs[:MAX_RUN_SECTIONS], start=1):
        sections.append((f"run-{i}", f"#{i} {run.label}", _summary(run)))
    if len(runs) > MAX_RUN_SECTIONS:
        sections.append(("more", "Other runs", f'<p class="note">{len(runs) - MAX_RUN_SECTIONS} more runs: '
                         "see the comparison and results tables above, or `dlcc report` a single run.</p>"))
    sections.append(("config", "Config of #1", '<p class="note">The other runs differ only in the keys listed '
                     "under Comparison.</p>" + _config(runs[0])))
    return sections


def _comparison(runs: list[RunFolder]) -> str:
    c = to_json(compare(runs))
    metric, best = c["metric"], c["best_run"]
    body = (f"<p>Ranked by <b>{esc(metric)}</b> at each run's best epoch, the epoch of its best validation loss "
            f"(or of the metric early stopping watched); {'higher' if c['higher_is_better'] else 'lower'} is "
            "better. Final: at the epoch of the weights the run kept.")
    if best:
        body += f" Best run: <b>{esc(Path(best).name)}</b>."
    if c["losses_unranked"]:
        body += f" The losses are not on one scale and are not ranked: {esc(c['losses_unranked'])}."
    body += "</p>"
    if c["groups"]:
        rows = [[g["rank"] or "", g["label"], g["n"], _pm(metric, g["mean"], g["std"]),
                 "" if not g.get("ci95") else f"{_fmt(metric, g['ci95'][0])} to {_fmt(metric, g['ci95'][1])}",
                 "" if g.get("p_value") is None else format_p(g["p_value"]), g["verdict"]] for g in c["groups"]]
        body += "<h3>Groups of runs that differ only in seed</h3>" + table(
            ["rank", "group", "n", f"best {metric} mean \u00b1 std", "95% CI", "p vs best", "verdict"], rows,
            {0, 2, 3, 5}, classes=["best" if g["outcome"] == "best" else "" for g in c["groups"]])
    rows, marks = [], []
    for i, r in enumerate(c["runs"], start=1):
        m = r["metrics"].get(metric, {})
        delta = "best" if r["run_dir"] == best else _fmt(metric, m.get("delta"), delta=True)
        rows.append([f"#{i}", label_for(r["run_dir"]) or Path(r["run_dir"]).name, status(r["status"]), r["epochs"],
                     _fmt(metric, m.get("best")), m.get("best_epoch") or "", _fmt(metric, m.get("final")), delta])
        marks.append("best" if r["run_dir"] == best else "")
    body += "<h3>Runs</h3>" + table(["#", "run", "status", "epochs", f"best {metric}", "best epoch", "final",
                                      "\u0394 to best"], rows, {3, 4, 5, 6, 7}, classes=marks)
    if c["config_diff"]:
        keys = list(c["config_diff"])
        rows = [[f"#{i + 1}", *[_yaml(c["config_diff"][k][i]) for k in keys]] for i in range(len(c["runs"]))]
        body += "<h3>Config keys that differ</h3>" + table(["#", *keys], rows)
    else:
        body += '<p class="note">The configs are the same apart from name and seed.</p>'
    return body


def _sweep(sweep_dir: Path) -> str:
    definition, results = sweepdir.read_definition(sweep_dir), sweepdir.read_results(sweep_dir)
    body = f"<p>{len(definition['points'])} point(s) \u00d7 {len(definition['seeds'])} seed(s); swept: " \
           f"{esc(', '.join(definition['keys']) or 'nothing')}.</p>"
    try:
        body += figure(plots.sweep(definition, results), "the deciding metric against each swept setting, "
                       "mean \u00b1 std over seeds (the star marks the best point)", plots.DPI)
    except DlccError as exc:
        body += f'<p class="note">{esc(exc)}</p>'
    columns = ["run", *definition["keys"], "seed", "status", "epochs", "best_val_accuracy", "final_val_accuracy",
               "final_val_loss", "test_accuracy", "test_loss", "test_mse", "test_mae", "test_r2", "seconds"]
    columns = [k for k in columns if any(r.get(k) not in (None, "") for r in results)]
    rows = [[_cell(k, r.get(k)) for k in columns] for r in results]
    return body + "<h3>results.csv</h3>" + table(columns, rows, {i for i, k in enumerate(columns) if k != "run"
                                                                  and k != "status"})


# --------------------------------------------------------------------------- figures

def _curves(runs: list[RunFolder]) -> str:
    try:
        groups = compare(runs).groups if len(runs) > 1 else ()
    except RunError:
        groups = ()
    return figure(plots.curves(runs, groups), "loss and accuracy by epoch; dashed: training (running mean over "
                  "the epoch), solid: validation", plots.DPI)


def _has_gradients(run: RunFolder) -> bool:
    return any(c.startswith("grad_norm_") for c in run.columns)


def _gradients(runs: list[RunFolder]) -> str:
    return figure(plots.gradients(runs), "||dC/db|| per layer on a fixed probe set (log scale); early layers far "
                  "below later ones are vanishing gradients", plots.DPI)


def _model(run: RunFolder):
    """(the trained network, None) or (None, why there is none)."""
    from dlcc.runs.model import load_model

    try:
        return load_model(run), None
    except RunError as exc:
        return None, str(exc)


def _boundaries(runs: list[RunFolder], models: dict) -> str:
    from dlcc.runs.boundary import surface

    drawn = []
    for run in runs:
        model = models.get(run.path)
        if model is None:
            continue
        try:
            drawn.append((surface(model), run.label))
        except RunError:
            return ""  # not 1-D regression or 2-D classification data: no boundary to draw
    if not drawn:
        return ""
    return figure(plots.boundary(*map(list, zip(*drawn))), "what the network predicts over the input plane "
                  "(or along the input line), with the train, validation and test points", plots.DPI)


# --------------------------------------------------------------------------- numbers

def _fmt(key: str, value, delta: bool = False) -> str:
    if not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if "accuracy" in key or key in ("precision", "recall"):
        return f"{100 * value:+.2f} pp" if delta else f"{100 * value:.2f}%"
    return f"{value:+.4g}" if delta else f"{value:.4g}"


def _pm(metric: str, mean, std) -> str:
    return _fmt(metric, mean) + ("" if std is None else f" \u00b1 {_fmt(metric, std)}")


def _cell(key: str, value) -> str:
    if isinstance(value, bool):  # a swept flag as the config writes it
        return _yaml(value)
    if isinstance(value, float):
        return _fmt(key, value) if key.endswith(("accuracy", "loss")) else f"{value:.4g}"
    return "" if value is None else str(value)


def _yaml(value) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
