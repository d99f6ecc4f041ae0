"""The public Python API: everything the command line does, for notebooks and scripts.

    import dlcc
    run = dlcc.train("configs/spirals.yaml", overrides={"optimizer.lr": 0.1})  # path, YAML text or dict
    run = dlcc.load("runs/spirals-20261124-101500")
    run.summary; run.metrics; run.predict(x); run.evaluate("test"); run.plot("curves")
    dlcc.compare([run_a, run_b])

Errors are dlcc's typed exceptions (ConfigError, DataError, RunError, DivergedError,
InterruptedRun) with the CLI's messages. Nothing here prints, except the progress bar that
`train(progress=True)` draws on stderr, and nothing calls sys.exit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import yaml

from dlcc import build
from dlcc import config as config_mod
from dlcc.errors import ConfigError, DataError, RunError
from dlcc.nn import gradcheck as gc
from dlcc.nn.metrics import predict as forward_all
from dlcc.nn.metrics import predicted_classes
from dlcc.runs import folder
from dlcc.runs.compare import Comparison
from dlcc.runs.compare import compare as compare_folders
from dlcc.runs.listing import list_runs as list_folders
from dlcc.runs.read import RunFolder, read
from dlcc.training import session

PLOT_KINDS = ("curves", "gradients", "boundary")


# --------------------------------------------------------------------------- configs

def load_config(config, overrides=None, *, name: str | None = None, seed: int | None = None):
    """A validated, frozen Config from a YAML file path, a YAML string or a dict.

    overrides: {"optimizer.lr": 0.05, ...} (Python values) or ["optimizer.lr=0.05", ...] (as on
    the command line); the same dotted paths, rules and messages as `--set`. A config without a
    name is named after its file, or "run" when it came as text or a dict.
    """
    sets = _override_strings(overrides)
    if name is not None:
        sets.append(f"name={name}")
    if seed is not None:
        sets.append(f"seed={seed}")
    if isinstance(config, Mapping):
        return config_mod.parse(_named(dict(config)), source="config (dict)", overrides=sets)
    if isinstance(config, Path) or (isinstance(config, str) and _looks_like_path(config)):
        return config_mod.load(config, sets)
    if isinstance(config, str):
        try:
            raw = config_mod.yaml_load(config)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config text: not valid YAML: {str(exc).splitlines()[0]}") from None
        return config_mod.parse(_named(raw), source="config text", overrides=sets)
    raise ConfigError(f"config: expected a path, YAML text or a dict, got {type(config).__name__}")


def _looks_like_path(text: str) -> bool:
    """One line without a YAML mapping in it is a file name; anything else is YAML text."""
    return "\n" not in text and (":" not in text or Path(text).exists() or text.endswith((".yaml", ".yml")))


def _named(raw):
    return {**raw, "name": "run"} if isinstance(raw, dict) and raw.get("name") is None else raw


def _override_strings(overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={_yaml_scalar(value)}" for key, value in overrides.items()]
    if isinstance(overrides, str) or not isinstance(overrides, Iterable):
        raise ConfigError("overrides: expected a dict {'optimizer.lr': 0.05} or a list ['optimizer.lr=0.05']")
    return list(overrides)


def _yaml_scalar(value) -> str:
    """A Python value as the YAML text `--set` parses back to the same value."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


# --------------------------------------------------------------------------- training

def train(config, *, overrides=None, runs_dir: str | Path = "runs", name: str | None = None,
          seed: int | None = None, progress: bool = True) -> Run:
    """Train a config (a path, YAML text or a dict) into a new run folder under runs_dir.

    progress=True draws a progress bar and one line per epoch on stderr.
    """
    cfg = load_config(config, overrides, name=name, seed=seed)
    return train_config(cfg, runs_dir, progress=progress)


def train_config(cfg, runs_dir: str | Path = "runs", *, progress: bool = True) -> Run:
    """Train an already validated Config (see load_config)."""
    with _reporter(progress) as reporter:
        run_dir, _ = session.train(cfg, Path(runs_dir), reporter)
    return load(run_dir)


def resume(run_dir: str | Path, *, progress: bool = True) -> Run:
    """Continue an interrupted run in place from its checkpoint (a finished run is returned as is)."""
    with _reporter(progress) as reporter:
        run_dir, _, _ = session.resume(Path(run_dir), reporter)
    return load(run_dir)


class _reporter:
    """The Rich progress display when asked for, closed however training ends."""

    def __init__(self, progress: bool):
        self.reporter = None
        if progress:
            from dlcc.report.progress import RichReporter

            self.reporter = RichReporter()

    def __enter__(self):
        return self.reporter

    def __exit__(self, *exc) -> None:
        if self.reporter is not None:
            self.reporter.close()


# --------------------------------------------------------------------------- runs

def load(run_dir: str | Path) -> Run:
    """A run folder made by `dlcc train`; RunError when it is missing or unusable."""
    return Run(read(run_dir))


def list_runs(runs_dir: str | Path = "runs") -> list[dict]:
    """One overview row per run folder in runs_dir, newest first (what `dlcc runs --json` prints)."""
    return list_folders(runs_dir)


def compare(runs, metric: str | None = None) -> Comparison:
    """Compare two or more runs (Run objects or run-folder paths); `.to_json()` is `dlcc compare --json`."""
    folders = [r.folder if isinstance(r, Run) else read(r) for r in runs]
    if len(folders) < 2:
        raise RunError("compare needs two or more run folders; for one run use `dlcc eval` or `dlcc plot`")
    return compare_folders(folders, metric)


def plot(runs, kind: str = "curves", groups=()):
    """A matplotlib Figure of one or more runs: curves, gradients (per-layer norms) or boundary."""
    from dlcc.report import plots

    folders = [r.folder if isinstance(r, Run) else read(r) for r in runs]
    if kind == "curves":
        return plots.curves(folders, groups)
    if kind == "gradients":
        for f in folders:
            if not any(c.startswith("grad_norm_") for c in f.columns):
                raise RunError(f"{f.path}: no gradient norms in metrics.csv; train with "
                               "--set diagnostics.gradient_norms=true to record them")
        return plots.gradients(folders)
    if kind == "boundary":
        from dlcc.runs.boundary import surface

        runs = [r if isinstance(r, Run) else Run(f) for r, f in zip(runs, folders)]
        return plots.boundary([surface(r.model) for r in runs], [f.label for f in folders])
    raise RunError(f"plot kind {kind!r}: choose one of {', '.join(PLOT_KINDS)}")


def gradcheck(config, *, overrides=None, batch: int = 8, max_elements: int = 200) -> list:
    """Backprop against finite differences for a config's network and loss, in float64 (ParamChecks)."""
    cfg = load_config(config, overrides)
    net, x, y, rng = build.gradcheck_batch(cfg, batch)
    return gc.check_network(net, x, y, rng, max_elements)


class Run:
    """One run folder: its config, summary and metrics, and the trained network it kept.

    run.config      the typed, resolved config        run.summary   status, best, test, ...
    run.metrics     metrics.csv rows (dicts)          run.path      the folder
    run.predict(x) / run.predict_proba(x)             run.evaluate("test")   run.plot("curves")
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
        """The network's outputs for raw features x (n, d): class probabilities (n, classes) for
        classification, predicted values (n, k) for regression. Inputs are normalized exactly as
        in training; an ensemble averages its members."""
        model = self.model
        a = forward_all(model.net, model.inputs(self._features(x)))
        if model.classification and a.shape[1] == 1:  # one sigmoid unit: p(class 1)
            a = np.hstack([1 - a, a])
        return a

    def predict(self, x) -> np.ndarray:
        """Predicted class index per row (classification) or predicted values (n, k) (regression)."""
        a = self.predict_proba(x)
        return predicted_classes(a) if self.model.classification else a

    def _features(self, x) -> np.ndarray:
        x = np.asarray(x)
        d = self.model.arrays["train"][0].shape[1]
        if x.ndim != 2 or x.shape[1] != d or not np.issubdtype(x.dtype, np.number):
            raise DataError(f"x: expected numbers of shape (n, {d}) for this run, got shape {x.shape} "
                            f"({x.dtype}); one example is x[None, :]")
        return x

    def data(self, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of a split as the dataset gives them: features before normalization, y as class
        indices (classification) or target values (regression)."""
        splits = build.load_splits(self.config, normalize=False)
        part = {"train": splits.train, "val": splits.val, "test": splits.test}.get(split)
        if part is None:
            raise RunError(f"{self.path}: this run has no {split!r} split (splits: train, val, test)")
        return part.x, (predicted_classes(part.y) if splits.task == "classification" else part.y)

    def evaluate(self, split: str = "test", *, save: bool = False) -> dict:
        """Loss and accuracy (or MSE/MAE) on a split, with the confusion matrix and per-class
        precision/recall; save=True also stores it in eval.json (as `dlcc eval` does)."""
        from dlcc.runs.evaluate import SPLITS, evaluate_split, write_eval_json

        if split not in SPLITS:
            raise RunError(f"split {split!r}: choose one of {', '.join(SPLITS)}")
        result = evaluate_split(self.model, split)
        if save:
            write_eval_json(self.path, result)
        return result

    def plot(self, kind: str = "curves"):
        """A matplotlib Figure: curves, gradients or boundary (see dlcc.plot)."""
        return plot([self], kind)
