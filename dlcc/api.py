"""The public Python API: everything the command line does, for notebooks and scripts.

    import dlcc
    run = dlcc.train("configs/spirals.yaml", overrides={"optimizer.lr": 0.1})  # path, YAML text or dict
    run = dlcc.load("runs/spirals-20261124-101500")
    run.summary; run.metrics; run.predict(x); run.evaluate("test"); run.plot("curves")
    dlcc.compare([run_a, run_b])

Errors are dlcc's typed exceptions (ConfigError, DataError, RunError, PathError, DivergedError,
InterruptedRun) with the CLI's messages. Nothing prints but the progress bar; nothing exits.
"""

from __future__ import annotations

import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dlcc import build
from dlcc import config as config_mod
from dlcc.data.download import offline
from dlcc.errors import ConfigError, Note, RunError, as_path, as_paths, user_paths
from dlcc.nn import gradcheck as gc
from dlcc.nn.metrics import predicted_classes
from dlcc.report.page import write_report
from dlcc.report.tensorboard import TensorBoardHook
from dlcc.runs import folder
from dlcc.runs.compare import Comparison
from dlcc.runs.compare import compare as compare_folders
from dlcc.runs.listing import list_runs as list_folders
from dlcc.runs.read import RunFolder, read
from dlcc.training import session

# --------------------------------------------------------------------------- configs

def load_config(config, overrides=None, *, name: str | None = None, seed: int | None = None):
    """A validated, frozen Config from a YAML file path, a YAML string or a dict.

    overrides: {"optimizer.lr": 0.05, ...} (Python values, NumPy scalars welcome) or
    ["optimizer.lr=0.05", ...] (text, as on the command line); the same dotted paths, rules and
    messages as `--set`. A config without a name is named after its file, or "run" when it came
    as text or a dict.
    """
    own = {key: config_mod.plain(value, key) for key, value in (("name", name), ("seed", seed)) if value is not None}
    flags = {key: f"--{key} {value!r}" for key, value in own.items()}  # their problems name the flag
    notes: list[str] = []
    cfg = config_mod.load_any(config, config_mod.override_pairs(overrides) + list(own.items()), notes, flags)
    for note in notes:  # a variant switch that dropped settings: say so, once (the CLI prints "note:")
        warnings.warn(note, ConfigNote, stacklevel=2)
    return cfg


def validate(config, overrides=None, *, name: str | None = None, seed: int | None = None):
    """load_config, then every check `train` makes before training (the data loads and fits the
    output layer, the network's size, the early-stopping monitor): when this passes, train starts.
    Never downloads: a dataset missing from the cache is an error that says how to get it."""
    cfg = load_config(config, overrides, name=name, seed=seed)
    with offline():
        session.check(cfg)
    return cfg


class ConfigNote(Note):
    """Something the config loader did that the user may not expect (it is not an error)."""


# --------------------------------------------------------------------------- training

def train(config, *, overrides=None, runs_dir: str | Path = "runs", name: str | None = None,
          seed: int | None = None, progress: bool = True) -> Run:
    """Train a config (a path, YAML text or a dict) into a new run folder under runs_dir.

    progress=True draws a progress bar and one line per epoch on stderr.
    """
    cfg = load_config(config, overrides, name=name, seed=seed)
    return train_config(cfg, runs_dir, progress=progress)


@user_paths
def train_config(cfg, runs_dir: str | Path = "runs", *, progress: bool = True) -> Run:
    """Train an already validated Config (see load_config)."""
    with _reporter(progress) as reporter:  # the run is read back while Ctrl-C is still InterruptedRun
        return session.train(cfg, as_path(runs_dir, "runs_dir"), reporter, hooks=[TensorBoardHook()], then=load)


@user_paths
def resume(run_dir: str | Path, *, progress: bool = True) -> Run:
    """Continue an interrupted run in place from its checkpoint (a finished run is returned as is)."""
    with _reporter(progress) as reporter:
        return session.resume(as_path(run_dir, "run_dir"), reporter, hooks=[TensorBoardHook()], then=load)


@contextmanager
def _reporter(progress: bool, sweep: bool = False):
    """The Rich progress display (of a run, or of a sweep) when asked for, closed however it ends."""
    if not progress:
        yield None
        return
    from dlcc.report.progress import RichReporter
    from dlcc.report.sweep_progress import RichSweepReporter

    reporter = RichSweepReporter() if sweep else RichReporter()
    try:
        yield reporter
    finally:
        reporter.close()


# --------------------------------------------------------------------------- sweeps

class Sweep:
    """A sweep folder: results.csv as rows, its runs, and their comparison."""

    @user_paths
    def __init__(self, path: str | Path):
        from dlcc.runs import sweepdir

        self.path = as_path(path, "path")
        self.definition = sweepdir.read_definition(self.path)
        self.results = sweepdir.read_results(self.path)

    def __repr__(self) -> str:
        return f"Sweep('{self.path}', runs={len(self.results)}, {self.counts})"

    @property
    def runs(self) -> list[Run]:
        """The runs that have a folder, in the sweep's order."""
        return [load(self.path / row["run"]) for row in self.results if (self.path / row["run"] / folder.SUMMARY).is_file()]

    @property
    def counts(self) -> dict[str, int]:
        """How many runs have each status."""
        return dict(Counter(row["status"] for row in self.results))

    def compare(self, metric: str | None = None) -> Comparison:
        runs = self.runs
        if len(runs) < 2:
            raise RunError(f"{self.path}: {len(runs)} of its {len(self.results)} runs have a run folder "
                           f"({', '.join(f'{n} {k}' for k, n in self.counts.items())}); compare needs two or more")
        return compare(runs, metric)

    def plot(self, metric: str | None = None):
        """The metric against each swept setting, mean ± std over seeds (a matplotlib Figure)."""
        from dlcc.report import plots

        return plots.sweep(self.definition, self.results, metric)


@user_paths
def expand_runs(paths) -> list[Path]:
    """Run folders, with each sweep folder among `paths` replaced by its runs (those with a folder)."""
    from dlcc.runs import sweepdir

    return [run for path in as_paths(paths, "paths")
            for run in ([r.path for r in Sweep(path).runs] if sweepdir.is_sweep_dir(path) else [path])]


@user_paths
def sweep(config, *, sets=None, grid=None, random=None, trials: int | None = None, seeds=None,
          workers: int | None = None, executor: str | None = None, ray_address: str | None = None,
          name: str | None = None, runs_dir: str | Path = "runs", yes: bool = False, progress: bool = True) -> Sweep:
    """Train every (point, seed) of a sweep into RUNS_DIR/sweep-<name>-<stamp>/ (docs/sweeps.md).

    config: a sweep file, a config file, or either as YAML text or a dict. grid={"optimizer.lr": [0.01, 0.1]}, random=
    {"optimizer.lr": "loguniform(1e-3, 1)"} with trials=N, seeds=5 | "3-7" | [0, 2], sets={key: value}.
    """
    from dlcc.sweeps.driver import run_sweep
    from dlcc.sweeps.plan import make_plan, sweep_spec

    given = {"sets": sets, "grid": grid, "random": random, "trials": trials, "seeds": seeds, "workers": workers,
             "executor": executor, "ray_address": ray_address, "name": name}
    spec, source, base_dir = sweep_spec(config, **{k: config_mod.plain(v, k) for k, v in given.items()})
    plan = make_plan(spec, source, base_dir, yes=yes)
    with _reporter(progress, sweep=True) as reporter:  # the spec's validated workers, executor and address
        result = run_sweep(plan, as_path(runs_dir, "runs_dir"), reporter=reporter)
    return Sweep(result.sweep_dir)


@user_paths
def resume_sweep(sweep_dir: str | Path, *, workers: int | None = None, executor: str | None = None,
                 ray_address: str | None = None, progress: bool = True) -> Sweep:
    """Train what a sweep folder is missing; interrupted runs continue from their checkpoints."""
    from dlcc.sweeps.driver import resume_sweep as resume

    with _reporter(progress, sweep=True) as reporter:
        result = resume(as_path(sweep_dir, "sweep_dir"), executor=executor, workers=workers, ray_address=ray_address,
                        reporter=reporter)
    return Sweep(result.sweep_dir)


# --------------------------------------------------------------------------- runs

@user_paths
def load(run_dir: str | Path) -> Run:
    """A run folder made by `dlcc train`; RunError when it is missing or unusable."""
    return Run(read(as_path(run_dir, "run_dir")))


@user_paths
def list_runs(runs_dir: str | Path = "runs") -> list[dict]:
    """One overview row per run folder in runs_dir, newest first (what `dlcc runs --json` prints)."""
    return list_folders(as_path(runs_dir, "runs_dir"))


@user_paths
def compare(runs, metric: str | None = None) -> Comparison:
    """Compare two or more runs (Run objects or run-folder paths); `.to_json()` is `dlcc compare --json`."""
    folders = [r.folder if isinstance(r, Run) else read(r) for r in _several(runs)]
    if len(folders) < 2:
        raise RunError("compare needs two or more run folders; for one run use `dlcc eval` or `dlcc plot`")
    return compare_folders(folders, metric)


def _several(runs) -> list:
    """Runs or run-folder paths; one alone is the list of it (a path string is not a list of letters)."""
    return [r if isinstance(r, Run) else as_path(r, "runs") for r in (runs if isinstance(runs, (list, tuple)) else [runs])]


@user_paths
def plot(runs, kind: str = "curves", groups=()):
    """A matplotlib Figure of one or more runs (Run objects or run-folder paths): curves,
    gradients (per-layer norms), boundary or predictions. A sweep's metric against its settings
    is Sweep.plot."""
    from dlcc.report.figures import figure

    runs = [r if isinstance(r, Run) else load(r) for r in _several(runs)]
    if not runs:
        raise RunError("plot: no runs given")
    models = [r.model for r in runs] if kind in ("boundary", "predictions") else None
    return figure([r.folder for r in runs], kind, groups, models)


@user_paths
def html_report(paths, out: str | Path = "report.html") -> Path:
    """`dlcc report`: run and sweep folders as one self-contained HTML page (docs/report.md)."""
    return write_report(as_paths(paths, "paths"), as_path(out, "out"))


def gradcheck(config, *, overrides=None, batch: int = 8, max_elements: int = 200, progress=None) -> list:
    """Backprop against finite differences for a config's network and loss, in float64 (ParamChecks).

    progress(done, total): called as elements are checked, with the number so far and in all."""
    for what, value in (("batch", batch), ("max_elements", max_elements)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"gradcheck: {what} must be a whole number of at least 1, got {value!r}")
    cfg = load_config(config, overrides)
    net, x, y, rng = build.gradcheck_batch(cfg, batch)
    return gc.check_network(net, x, y, rng, max_elements, progress=progress)


class Run:
    """One run folder: its config, summary and metrics, and the trained network it kept.

    run.config      the typed, resolved config        run.summary   status, best, test, ...
    run.metrics     metrics.csv rows (dicts)          run.path      the folder
    run.predict(x or a file) / run.predict_proba(x)   run.evaluate("test" or data=FILE)   run.classes
    run.data("test") -> (x, y) as the dataset gives them (before normalization; y as classes)
    """

    def __init__(self, run_folder: RunFolder):
        self.folder = run_folder
        self._config = None
        self._model = None

    def __repr__(self) -> str:
        test = self.summary.test or {}
        score = (f", test_accuracy={test['accuracy']:.4f}" if test.get("accuracy") is not None else
                 f", test_loss={test['loss']:.4g}" if test.get("loss") is not None else "")
        return f"Run('{self.path}', status='{self.status}', epochs={self.folder.last_epoch}{score})"

    path = property(lambda self: self.folder.path, doc="The run folder.")
    summary = property(lambda self: self.folder.summary, doc="summary.json as a runs.folder.Summary.")
    status = property(lambda self: self.folder.status)
    metrics = property(lambda self: list(self.folder.rows), doc="metrics.csv: one dict per epoch.")
    columns = property(lambda self: list(self.folder.columns))

    @property
    def config(self):
        """The run's config.yaml as a validated Config."""
        if self._config is None:
            self._config = config_mod.parse(self.folder.config, source=str(self.path / folder.CONFIG))
        return self._config

    def metrics_frame(self):
        """metrics.csv as a pandas DataFrame (needs pandas), one row per epoch."""
        try:
            import pandas as pd
        except ImportError:
            raise RunError("metrics_frame() needs pandas: pip install pandas (run.metrics has the same rows)") from None
        return pd.DataFrame(self.metrics, columns=self.columns)

    @property
    def model(self):
        """The trained network and its data, rebuilt as training saw them (loaded once)."""
        if self._model is None:
            from dlcc.runs.model import load_model

            self._model = load_model(self.folder)
        return self._model

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities (n, classes), or values (n, k) in the target's units, for raw features
        x (n, d) or an input file's path (CSV, .npz, IDX, as `dlcc predict` reads them). Inputs are
        normalized exactly as in training; an ensemble averages its members."""
        return self.predictions(x).outputs

    def predict(self, x) -> np.ndarray:
        """Predicted class index per row (named by run.classes), or values (n, k) in target units."""
        p = self.predictions(x)
        return p.classes if p.classification else p.outputs

    @user_paths
    def predictions(self, x):
        """What `dlcc predict` writes (runs.predict.Predictions): .labels (class names or values),
        .outputs, .to_csv(proba), .to_json(proba)."""
        from dlcc.runs.predict import predictions

        return predictions(self.model, x)

    classes = property(lambda self: self.model.class_names, doc="Class names by class index (classification).")

    def data(self, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of a split as the dataset gives them: features before normalization, y as class
        indices (classification) or target values (regression)."""
        splits = build.load_splits(self.config, normalize=False)
        part = {"train": splits.train, "val": splits.val, "test": splits.test}.get(split)
        if part is None:
            raise RunError(f"{self.path}: this run has no {split!r} split (splits: train, val, test)")
        return part.x, (predicted_classes(part.y) if splits.task == "classification" else part.y)

    @user_paths
    def evaluate(self, split: str = "test", *, data: str | Path | None = None, save: bool = False) -> dict:
        """Loss and accuracy (or MSE, MAE, R^2) on a split, or on another file (data=PATH, as
        `dlcc eval --data`), with the confusion matrix and per-class precision/recall; save=True
        also stores it in eval.json (as `dlcc eval` does)."""
        from dlcc.runs.evaluate import SPLITS, evaluate_file, evaluate_split, write_eval_json

        if split not in SPLITS:
            raise RunError(f"split {split!r}: choose one of {', '.join(SPLITS)}")
        result = evaluate_split(self.model, split) if data is None else evaluate_file(self.model, as_path(data, "data"))
        if save:
            write_eval_json(self.path, result)
        return result

    def plot(self, kind: str = "curves"):
        """A matplotlib Figure: curves, gradients or boundary (see dlcc.plot)."""
        return plot([self], kind)
