"""The `dlcc` command line: parse arguments, call one function, print, exit.

Expected failures are `DlccError`s: their message goes to stderr and the process exits with the
error's code (2 bad input, 3 diverged, 130 interrupted). Set DLCC_DEBUG=1 to see the traceback.
Heavy imports (NumPy, the trainer, matplotlib) happen inside the commands so `dlcc --help` is fast.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from dlcc.errors import DataError, DlccError, Note
from dlcc.version import __version__


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def _cut_long_words(text: str, limit: int = 240) -> str:
    """Every run of more than `limit` characters without a space cut short with its length: a
    hostile 100,000-character path or value, echoed by whichever layer refused it, would bury the
    message. Paths of ordinary length stay whole."""
    import re

    from dlcc.config.messages import shorten

    def cut(match) -> str:
        word = match.group()
        return shorten(word.removesuffix(":"), limit) + ":" * word.endswith(":")

    return re.sub(r"\S{%d,}" % (limit + 1), cut, text)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """dlcc's notes (dlcc.errors.Note) as one `note:` line; other warnings as Python prints them."""
    if issubclass(category, Note):  # dlcc.errors.Note, dlcc.api.ConfigNote
        _err(f"note: {message}")
    else:
        _err(warnings.formatwarning(message, category, filename, lineno, line).rstrip())


_METAVARS = {"int": "N", "float": "X", "Path": "PATH", "str": "TEXT"}


def _tidy_help(command) -> None:
    """Help that reads like a man page: a flag shows no `<bool>`, a value shows N, X, PATH or TEXT
    (or the metavar given), and a repeatable argument reads `[CONFIG]...`, not `[CONFIG...]...`."""
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument":  # named by its metavar; the help text says what it is
            param.metavar = (param.metavar or param.name.upper()).removesuffix("...").strip("[]")
            param.display_type_rich = lambda ctx: None
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None:
            kind = param.bare_type().removeprefix("list[").removesuffix("]")
            param.metavar = _METAVARS.get(kind, kind.upper())
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


class _Commands(TyperGroup):
    """The one place that turns dlcc's errors into messages and exit codes, for every command."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:  # the group's own flags (--version, --help)
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None:
            _tidy_help(command)
            help_option = command.get_help_option(ctx)
            if help_option is not None:
                help_option.metavar = ""
        return command

    def invoke(self, ctx):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except DlccError as exc:
            if os.environ.get("DLCC_DEBUG"):
                import traceback

                traceback.print_exception(exc)
            if getattr(exc, "run_dir", None) is not None:
                _err(f"run folder: {exc.run_dir} (status: diverged)")
            message = _cut_long_words(str(exc))
            _err(message if exc.exit_code == 130 else f"error: {message}")
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # a path the operating system refused, wherever it was used
            from dlcc.errors import path_error

            if exc.errno == errno.EPIPE:  # `dlcc runs | head`: Click ends quietly when the reader went away
                raise
            if os.environ.get("DLCC_DEBUG"):
                import traceback

                traceback.print_exception(exc)
            _err(f"error: {_cut_long_words(str(path_error(exc)))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None


app = typer.Typer(
    name="dlcc",
    cls=_Commands,
    help="Train and compare small neural networks from YAML configs; every formula is in NumPy.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override a config value by dotted path, e.g. --set optimizer.lr=0.05 "
                      "--set model.layers.0.units=200. Repeatable."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlcc {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Train and compare small neural networks from YAML configs; every formula is in NumPy.

    Start with:  dlcc train configs/spirals.yaml
    """


@app.command()
def train(
    configs: Annotated[Optional[list[Path]], typer.Argument(
        metavar="CONFIG...", help="The YAML config(s) to train, one run each.", show_default=False)] = None,
    set_: SetOpt = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="RUN_DIR", help="Continue an interrupted run in place, from its checkpoint.")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(
        "--runs-dir", help="Where run folders are created (default: runs).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Run-folder prefix (default: config name).")] = None,
    seed: Annotated[Optional[list[int]], typer.Option(
        "--seed", help="Override the config's seed (once; for several seeds use dlcc sweep --seeds).",
        show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines; the summary table still prints (--json: the JSON only).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summary as one JSON document.")] = False,
    log_every: Annotated[Optional[int], typer.Option(
        "--log-every", min=1, metavar="N", help="Print a progress line every N epochs (the same as "
        "--set training.log_every=N; default: every epoch up to 100 epochs, about 100 lines beyond).")] = None,
    tensorboard: Annotated[bool, typer.Option(
        "--tensorboard", help="Also write TensorBoard event files into the run folder (the same as "
        "--set logging.tensorboard=true; needs pip install \"dlcc\\[tensorboard]\").")] = False,
) -> None:
    """Train the network a config describes and write a run folder.

    Several configs train one after another (all are validated first); --set, --name and --seed
    apply to each. With --json, one config prints its summary, several print a list.

    [b]Examples[/b]

      dlcc train configs/spirals.yaml

      dlcc train configs/mnist-mlp.yaml --set optimizer.lr=0.05 --set training.epochs=5

      dlcc train configs/spirals.yaml --seed 3 --name spirals-seed3 --json

      dlcc train configs/optimizers/*.yaml --runs-dir runs/optimizers

      dlcc train --resume runs/mnist-mlp-20261124-101500
    """
    from dlcc import api

    if seed and len(seed) > 1:
        _err(f"error: --seed is given {len(seed)} times ({', '.join(map(str, seed))}); a run has one seed. "
             f"To train each of them: dlcc sweep {configs[0] if configs else 'CONFIG.yaml'} "
             f"--seeds {','.join(map(str, seed))}")
        raise typer.Exit(2)
    seed = seed[0] if seed else None
    if resume is not None:
        if configs or set_ or name is not None or seed is not None or log_every is not None or tensorboard \
                or runs_dir is not None:
            _err("error: --resume continues a run in its own folder with its own saved config; it cannot be "
                 "combined with CONFIG, --set, --name, --seed, --log-every, --tensorboard or --runs-dir")
            raise typer.Exit(2)
        _resume(resume, quiet or json_out, json_out)
        return
    if not configs:
        _err("error: give a CONFIG.yaml to train (e.g. dlcc train configs/spirals.yaml), or --resume RUN_DIR")
        raise typer.Exit(2)

    set_ = [*(set_ or []), *([f"training.log_every={log_every}"] if log_every is not None else []),
            *(["logging.tensorboard=true"] if tensorboard else [])]
    cfgs = [api.load_config(path, set_, name=name, seed=seed) for path in configs]  # all checked up front
    results = []
    for i, cfg in enumerate(cfgs):
        if len(cfgs) > 1 and not (quiet or json_out):
            _err(f"[{i + 1}/{len(cfgs)}] {configs[i]}")
        run = api.train_config(cfg, runs_dir or Path("runs"), progress=not (quiet or json_out))
        results.append({**run.summary.to_json(), "run_dir": str(run.path)})
        if not json_out:
            from dlcc.report.tables import print_summary

            print_summary(run.path, run.summary, monitor=run.folder.monitor, model_epoch=run.folder.model_epoch)
        for warning in run.summary.warnings:
            _err(f"warning: {warning}")
    if json_out:
        _print_json(results[0] if len(results) == 1 else results)


def _resume(run_dir: Path, quiet: bool, json_out: bool) -> None:
    from dlcc import api
    from dlcc.errors import RunError
    from dlcc.runs.folder import FINISHED, read_summary

    try:
        finished = read_summary(run_dir).status in FINISHED
    except RunError:
        finished = False  # resume says what is wrong with the folder
    run = api.resume(run_dir, progress=not quiet)
    if json_out:
        _print_json({**run.summary.to_json(), "run_dir": str(run.path)})
    elif finished:
        _err(f"{run.path} already finished (status: {run.status}); nothing to resume")
    else:
        from dlcc.report.tables import print_summary

        print_summary(run.path, run.summary, monitor=run.folder.monitor, model_epoch=run.folder.model_epoch)


def _print_json(data) -> None:
    from dlcc.runs.folder import dumps

    typer.echo(dumps(data))


class Executor(str, Enum):
    local = "local"
    ray = "ray"


@app.command()
def sweep(
    config: Annotated[Optional[Path], typer.Argument(
        metavar="CONFIG.yaml|SWEEP.yaml", help="A config to sweep over, or a sweep file (a file with a `base` key).",
        show_default=False)] = None,
    set_: SetOpt = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        "--grid", "-g", metavar="KEY=V1,V2", help="Try every value (combined with the other --grid keys). "
        "Repeatable.")] = None,
    random: Annotated[Optional[list[str]], typer.Option(
        "--random", "-r", metavar="KEY=DIST", help="Draw values: uniform(a,b), loguniform(a,b), int(a,b) or "
        "choice(v1,v2,...); --trials draws per grid point. Repeatable.")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", min=1, help="Random draws per grid point.")] = None,
    seeds: Annotated[Optional[str], typer.Option(
        "--seeds", metavar="N|A-B|A,B", help="Seeds to repeat every point with: 5 (0..4), 3-7, or 0,2,9. "
        "Default: the sweep file's, else 0.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", "-w", min=1, help="Runs at once (default: the CPU count, at most 8; never more than the CPUs here). "
                                   "On a Ray cluster: tasks in flight (default: the cluster's CPUs).")] = None,
    executor: Annotated[Optional[Executor], typer.Option(
        "--executor", help="local: a process pool here; ray: Ray tasks (pip install \"dlcc\\[ray]\").")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        "--ray-address", metavar="ADDR", help="A Ray cluster ('auto' or host:port); default: $RAY_ADDRESS, else a local Ray instance.")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="SWEEP_DIR", help="Train what a sweep folder is missing; interrupted runs continue.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Sweep-folder name (default: the file's).")] = None,
    runs_dir: Annotated[Optional[Path], typer.Option(
        "--runs-dir", help="Where the sweep folder is created (default: runs).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Allow more than 10,000 runs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print results.csv as one JSON document.")] = False,
) -> None:
    """Train a config over grids, random draws and seeds: one run folder per (point, seed).

    Every point is validated before anything starts. The sweep folder holds sweep.yaml (the
    resolved definition), results.csv (one row per run, updated as runs finish) and the runs.
    Ctrl-C stops every worker; --resume continues. Details: docs/sweeps.md.

    [b]Examples[/b]

      dlcc sweep configs/sweeps/optimizers.yaml

      dlcc sweep configs/spirals.yaml --grid optimizer.lr=0.03,0.1,0.3,1 --seeds 3

      dlcc sweep configs/spirals.yaml --random "optimizer.lr=loguniform(1e-3,1)" --trials 8 --seeds 2

      dlcc sweep configs/spirals.yaml --grid optimizer.name=sgd,adam --executor ray

      dlcc sweep --resume runs/sweep-optimizers-20261201-101500
    """
    from dlcc import api

    progress = not (quiet or json_out)
    if resume is not None:
        if config is not None or set_ or grid or random or trials or seeds or name or runs_dir is not None:
            _err("error: --resume continues a sweep in its own folder with its own saved definition; it cannot "
                 "be combined with CONFIG, --set, --grid, --random, --trials, --seeds, --name or --runs-dir")
            raise typer.Exit(2)
        result = api.resume_sweep(resume, workers=workers, executor=executor and executor.value,
                                  ray_address=ray_address, progress=progress)
    elif config is None:
        _err("error: give a CONFIG.yaml or SWEEP.yaml (e.g. dlcc sweep configs/sweeps/optimizers.yaml), "
             "or --resume SWEEP_DIR")
        raise typer.Exit(2)
    else:
        result = api.sweep(config, sets=set_ or [], grid=grid or [], random=random or [], trials=trials,
                           seeds=seeds, workers=workers, executor=executor and executor.value,
                           ray_address=ray_address, name=name, runs_dir=runs_dir or Path("runs"), yes=yes,
                           progress=progress)
    if json_out:
        _print_json({"sweep_dir": str(result.path), "results": result.results})
        return
    counts = ", ".join(f"{n} {status}" for status, n in result.counts.items())
    typer.echo(f"{len(result.results)} runs ({counts}) -> {result.path}")
    typer.echo(f"compare them:  dlcc compare {result.path}")


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The YAML config to check.", show_default=False)],
    set_: SetOpt = None,
) -> None:
    """Check a config and print it fully resolved (every default filled in), or the errors.

    Runs every check that `train` makes before training (the dataset loads and fits the output
    layer, the network's size, the early-stopping monitor), so a config that validates trains.

    [b]Example[/b]

      dlcc validate configs/spirals.yaml --set optimizer.name=adam
    """
    from dlcc import api
    from dlcc import config as config_mod

    typer.echo(config_mod.to_yaml(api.validate(config, set_)), nl=False)



class EvalSplit(str, Enum):
    test = "test"
    val = "val"
    train = "train"


class PlotKind(str, Enum):
    curves = "curves"
    gradients = "gradients"
    boundary = "boundary"
    sweep = "sweep"
    predictions = "predictions"


RunDirArg = Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run folder made by `dlcc train`.",
                                           show_default=False)]
RunDirsArg = Annotated[list[Path], typer.Argument(metavar="RUN_DIR", help="Run folders made by `dlcc train`.",
                                                  show_default=False)]


def _load_runs(paths: list[Path]) -> list:
    """Load every run folder, warn about partial ones on stderr; the first unusable one fails."""
    from dlcc import api

    runs = [api.load(p) for p in paths]
    for run in runs:
        for note in run.folder.notes:
            _err(f"note: {run.path}: {note}")
    return runs


@app.command("eval")
def eval_(
    run_dir: RunDirArg,
    split: Annotated[Optional[EvalSplit], typer.Option(
        "--split", help="Which split to evaluate (default: test).", show_default=False)] = None,
    data: Annotated[Optional[Path], typer.Option(
        "--data", metavar="FILE", help="Score the run on another file of the same shape instead: a CSV with "
        "the target column, an .npz with x and y, or an IDX images file with its labels file beside it.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")] = False,
) -> None:
    """Evaluate a trained run on one split: loss and accuracy, confusion matrix, precision/recall.

    Regression runs show MSE, MAE (in the target's units) and R² instead.

    The result is also stored in RUN_DIR/eval.json.

    The network and data are rebuilt exactly as training saw them, so the numbers match training's.

    [b]Examples[/b]

      dlcc eval runs/spirals-20261124-101500

      dlcc eval runs/spirals-20261124-101500 --split val --json

      dlcc eval runs/iris-20261124-101500 --data new-flowers.csv
    """
    from dlcc.errors import RunError
    from dlcc.runs.evaluate import write_eval_json

    if split is not None and data is not None:
        raise RunError("give --split or --data, not both: --data scores the run on another file")
    result = _load_runs([run_dir])[0].evaluate((split or EvalSplit.test).value, data=data)
    try:
        write_eval_json(run_dir, result)
    except OSError as exc:
        _err(f"warning: could not write {run_dir / 'eval.json'}: {exc.strerror or exc}")
    if result["matches_recorded"] is False:
        rec = result["recorded"]
        _err(f"warning: differs from what training recorded ({rec['source']}: loss {rec['loss']}, "
             f"accuracy {rec['accuracy']}); the data or dlcc changed since training")
    if json_out:
        _print_json(result)
    else:
        from dlcc.report.tables import print_eval

        print_eval(result)


@app.command()
def predict(
    run_dir: RunDirArg,
    input_: Annotated[Path, typer.Argument(
        metavar="INPUT", help="The examples: a CSV table (columns matched by name to the training file's), "
        "an .npz with array x, or an IDX images file.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", metavar="FILE", help="Write the predictions here instead of to stdout.")] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Add each class's probability.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="JSON instead of CSV.")] = False,
) -> None:
    """Predict with a trained run: one output row per input example, in order.

    Inputs are normalized exactly as in training; an ensemble predicts its members' average.

    Classification: the class name (--proba adds a probability column per class).

    Regression: the value, in the target's units.

    [b]Examples[/b]

      dlcc predict runs/iris-20261124-101500 new-flowers.csv

      dlcc predict runs/iris-20261124-101500 new-flowers.csv --proba --out predictions.csv

      dlcc predict runs/mnist-mlp-20261124-101500 t10k-images-idx3-ubyte.gz --json
    """
    from dlcc.runs.folder import dumps
    from dlcc.runs.outputs import check_output

    if out is not None:  # before the work: never the input, nor a file of a run folder or the cache
        check_output(out, [input_])
    result = _load_runs([run_dir])[0].predictions(input_)
    if proba and not result.classification:
        from dlcc.errors import RunError

        raise RunError(f"{run_dir}: --proba gives class probabilities, and this run is a regression; "
                       "drop --proba (its predictions are values in the target's units)")
    text = dumps(result.to_json(proba)) + "\n" if json_out else result.to_csv(proba)
    if out is None:
        typer.echo(text, nl=False)
        return
    from dlcc.atomic import write_text

    write_text(out, text)  # a failure is a WriteFailed naming the path and the reason
    _err(f"wrote {len(result.outputs)} predictions to {out}")


@app.command()
def runs(
    runs_dir: Annotated[Path, typer.Argument(metavar="[RUNS_DIR]",
                                             help="The folder holding run folders.")] = Path("runs"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the list as one JSON document.")] = False,
    wide: Annotated[bool, typer.Option(
        "--wide", help="A table as wide as it needs, every differing config key a column (default: the "
                       "terminal's width; into a pipe or file: tab-separated lines).")] = False,
) -> None:
    """List the run folders in RUNS_DIR, newest first, with their best and test results.

    "best val" is the validation metric at each run's best epoch (its lowest val_loss). Damaged
    folders are listed as unreadable, with the reason on stderr. Into a pipe or a file the list is
    plain tab-separated text, one line per run after a header.

    [b]Examples[/b]

      dlcc runs

      dlcc runs experiments/ --json

      dlcc runs | cut -f1,5
    """
    from dlcc import api

    rows = api.list_runs(runs_dir)
    for row in rows:
        if row["error"] is not None:
            _err(f"unreadable: {row['error']}")
    if json_out:
        _print_json(rows)
    elif not wide and rows and not sys.stdout.isatty():
        from dlcc.report.tables import print_runs_tsv

        print_runs_tsv(rows)
    else:
        from dlcc.report.tables import print_runs

        print_runs(rows, runs_dir, wide=wide)


@app.command()
def compare(
    run_dirs: RunDirsArg,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", "-m", help="The metric that decides the best run: val_accuracy (default for classification), "
                               "val_loss (regression; test_mse when the runs differ in loss or data.standardize_targets), "
                               "test_accuracy, test_mse, test_mae, test_r2, ... or any metrics.csv column.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as one JSON document.")] = False,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="FILE.png", help="Also draw the learning curves, overlaid, into this PNG.")] = None,
) -> None:
    """Compare runs: config differences, best and final metrics, curves aligned by epoch.

    The best run is marked, with every run's difference to it. Runs that differ only in seed are
    grouped and ranked: n, mean ± std, 95% CI, Welch's test against the best group. A sweep folder
    stands for all of its runs.

    [b]Examples[/b]

      dlcc compare runs/sgd-20261124-101500 runs/momentum-20261124-101512

      dlcc compare runs/spirals-* --metric val_loss --plot compare.png

      dlcc compare runs/a runs/b --json
    """
    from dlcc import api
    from dlcc.errors import RunError

    given = run_dirs
    run_dirs = api.expand_runs(given)
    if len(run_dirs) < 2:
        from dlcc.runs.sweepdir import is_sweep_dir

        one_sweep = len(given) == 1 and is_sweep_dir(Path(given[0]))
        found = f" ({given[0]} is a sweep with {len(run_dirs)} run folder(s))" if one_sweep else ""
        raise RunError(f"compare needs two or more run folders (or a sweep folder with two or more runs){found}; "
                       "for one run use `dlcc eval` or `dlcc plot`")
    runs_ = _load_runs(run_dirs)
    comparison = api.compare(runs_, metric)
    if plot is not None:
        from dlcc.report import plots

        _err(f"wrote {plots.save(api.plot(runs_, 'curves', comparison.groups), plot)}")
    if json_out:
        _print_json(comparison.to_json())
    else:
        from dlcc.report.compare import print_comparison

        print_comparison(comparison)


@app.command()
def plot(
    run_dirs: RunDirsArg,
    kind: Annotated[PlotKind, typer.Option(
        "--kind", "-k",
        help="curves: loss and accuracy by epoch; gradients: per-layer gradient norms (log scale); "
             "boundary: decision regions (2-D data) or the fitted curve (1-D regression); "
             "sweep: a sweep's metric against each swept setting, mean ± std over seeds; "
             "predictions: predicted vs actual values (regression) or the confusion matrix with class "
             "names (classification).")] = PlotKind.curves,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", metavar="FILE.png",
        help="Where to write the image (default: ./KIND.png in the current folder, ./boundary.gif with "
             "--animate; never over a run folder's own files or the dataset cache).")] = None,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", "-m", help="--kind sweep: best_val_accuracy (default for classification; what compare ranks "
                               "by), best_val_loss (default for regression), test_mse (default for a regression sweep "
                               "over loss or data.standardize_targets), final_val_accuracy, final_val_loss, "
                               "final_train_loss, test_accuracy, test_loss, test_mae or test_r2.")] = None,
    animate: Annotated[bool, typer.Option(
        "--animate", help="--kind boundary, one run trained with diagnostics.snapshots: the boundary over "
                          "the epochs, as a GIF.")] = False,
) -> None:
    """Draw runs into a PNG: learning curves, per-layer gradient norms, the decision boundary, or a
    sweep's metric against its settings. A sweep folder stands for all of its runs.
    With --animate, the decision boundary as it moved during training, as a GIF.

    [b]Examples[/b]

      dlcc plot runs/spirals-20261124-101500

      dlcc plot runs/sgd-* runs/momentum-* --out curves.png

      dlcc plot runs/spirals-20261124-101500 --kind boundary --out boundary.png

      dlcc plot runs/sweep-optimizers-20261201-101500 --kind sweep

      dlcc plot runs/spirals-20261124-101500 --kind boundary --animate --out boundary.gif
    """
    from dlcc import api
    from dlcc.errors import RunError
    from dlcc.report import plots

    if out is None:
        out = Path(f"{kind.value}.gif" if animate else f"{kind.value}.png")
    if animate:
        if kind is not PlotKind.boundary or len(run_dirs) != 1:
            raise RunError("--animate draws one run's decision boundary: dlcc plot RUN_DIR --kind boundary "
                           "--animate [--out FILE.gif]")
        from dlcc.report.animation import boundary_gif
        from dlcc.runs.boundary import over_time
        from dlcc.runs.model import load_model

        run = _load_runs(run_dirs)[0]
        typer.echo(f"wrote {boundary_gif(over_time(load_model(run.folder)), run.folder.label, out)}")
        return
    if kind is PlotKind.sweep:
        if len(run_dirs) != 1:
            raise RunError("--kind sweep draws one sweep folder; give exactly one SWEEP_DIR")
        figure = api.Sweep(run_dirs[0]).plot(metric)
    else:
        if metric is not None:
            raise RunError("--metric applies to --kind sweep only")
        figure = api.plot(_load_runs(api.expand_runs(run_dirs)), kind.value)
    typer.echo(f"wrote {plots.save(figure, out)}")


@app.command()
def report(
    paths: Annotated[list[Path], typer.Argument(metavar="RUN_DIR|SWEEP_DIR", show_default=False,
                                                help="Run folders and sweep folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE.html",
                                      help="Where to write the page.")] = Path("report.html"),
) -> None:
    """Write runs and sweeps as one self-contained HTML page: summary, learning curves, gradient
    diagnostics, confusion matrix, decision boundary, config; for several runs or a sweep, the
    comparison and the sweep's plot too. Images and styles are inside the file: it opens offline,
    can be mailed, and prints cleanly. Details: docs/report.md.

    [b]Examples[/b]

      dlcc report runs/spirals-20261124-101500

      dlcc report runs/sweep-optimizers-20261201-101500 --out optimizers.html

      dlcc report runs/sgd-* runs/momentum-*
    """
    from dlcc import api

    for path in paths:
        if not path.is_dir():
            from dlcc.errors import RunError

            raise RunError(f"{path}: no such run or sweep folder")
    typer.echo(f"wrote {api.html_report(paths, out)}")


@app.command()
def datasets(
    json_out: Annotated[bool, typer.Option("--json", help="Print the list as one JSON document.")] = False,
) -> None:
    """List every dataset: kind, inputs, classes or targets, and whether image datasets are cached.

    Option defaults are in the --json output and in docs/datasets.md.

    [b]Examples[/b]

      dlcc datasets

      dlcc datasets --json
    """
    from dlcc.data import cache_dir
    from dlcc.data.catalog import catalog

    entries = catalog()
    if json_out:
        typer.echo(json.dumps({"cache_dir": str(cache_dir()), "datasets": entries}, indent=2))
        return
    from dlcc.report.datasets import print_datasets

    print_datasets(entries, cache_dir())


data_app = typer.Typer(
    name="data",
    cls=_Commands,
    help="Put an image dataset (mnist, fashion-mnist) into the cache: import local files or download them.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(data_app, name="data")

DatasetArg = Annotated[str, typer.Argument(metavar="NAME", help="The dataset: mnist or fashion-mnist.",
                                           show_default=False)]


@data_app.command("import")
def data_import(
    name: DatasetArg,
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", show_default=False,
                                                help="A folder holding the four IDX files (.gz or not; also a "
                                                     "torchvision folder with raw/, or a Debian package unpacked "
                                                     "by dpkg -x), or the four files.")],
) -> None:
    """Verify local copies of a dataset's four IDX files and install them into the cache.

    Nothing is written unless every file's decompressed bytes match their published SHA-256, so
    any faithful copy imports (the publisher's .gz, a recompressed one, uncompressed files).

    The cache is $DLCC_DATA_DIR if set, else the per-user cache folder (~/.cache/dlcc on Linux).

    [b]Examples[/b]

      dlcc data import mnist ~/Downloads/mnist

      dlcc data import mnist train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz

      DLCC_DATA_DIR=/data/dlcc dlcc data import fashion-mnist ./fashion

      apt-get download dataset-fashion-mnist && dpkg -x dataset-fashion-mnist_*.deb deb && dlcc data import fashion-mnist deb
    """
    from dlcc.data.install import install

    installed = install(name, paths[0] if len(paths) == 1 else paths)
    typer.echo(f"{name}: {len(installed)} files verified (SHA-256) and installed in {installed[0].parent}")


@data_app.command("download")
def data_download(
    name: DatasetArg,
    mirror: Annotated[Optional[str], typer.Option(
        "--mirror", metavar="URL",
        help="Download only from this URL: a folder holding the <file>.gz files ({dataset} in it becomes "
             "the name; file:// works too). Default: $DLCC_MIRROR, else the public mirrors in turn.")] = None,
) -> None:
    """Download a dataset's files from the public mirrors, verify them, install them into the cache.

    Files already in the cache that verify are kept; a mirror that fails is followed by the next one.

    A failed, corrupt or interrupted download leaves the cache as it was.

    [b]Examples[/b]

      dlcc data download mnist

      dlcc data download fashion-mnist --mirror https://example.org/datasets/{dataset}/
    """
    from dlcc.data import cache_dir
    from dlcc.data.download import DownloadFailed, download
    from dlcc.report.download import RichDownload

    try:
        with RichDownload() as reporter:
            sources = download(name, mirror, reporter)
    except DownloadFailed as error:
        raise DataError(f"{error}\nWithout the internet: copy the four files from a machine that has it and run "
                        f"`dlcc data import {name} PATH` (docs/datasets.md)") from None
    folder = cache_dir() / name
    if sources:
        typer.echo(f"{name}: {len(sources)} file(s) downloaded, verified (SHA-256) and installed in {folder}")
    else:
        typer.echo(f"{name}: already in {folder}; all four files verified")


@app.command()
def gradcheck(
    config: Annotated[Path, typer.Argument(help="The YAML config whose network and loss to check.", show_default=False)],
    set_: SetOpt = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Training examples in the checked batch.")] = 8,
    max_elements: Annotated[int, typer.Option("--max-elements", min=1,
                                              help="Elements perturbed per parameter (a random sample above this).")] = 200,
    tolerance: Annotated[Optional[float], typer.Option("--tolerance", help="Largest relative error that passes (default: 1e-5).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Compare backpropagation with finite differences for a config's network, loss and penalties.

    Runs in float64 on a few training examples, with dropout masks held fixed. Prints the relative
    error of every parameter; exits 1 if any is above the tolerance, naming it.

    [b]Example[/b]

      dlcc gradcheck configs/unstable/sigmoid-4.yaml
    """
    from dlcc import api
    from dlcc.nn import gradcheck as gc

    tolerance = gc.DEFAULT_TOLERANCE if tolerance is None else tolerance
    if not 0 < tolerance < float("inf"):  # NaN too: every comparison with it is false
        raise DlccError(f"--tolerance {tolerance}: expected a positive number such as 1e-5")
    from dlcc.report import gradcheck as report

    with report.gradcheck_progress() as progress:
        results = api.gradcheck(config, overrides=set_, batch=batch, max_elements=max_elements, progress=progress)
    failed = report.failures(results, tolerance)
    if json_out:
        typer.echo(json.dumps(report.gradcheck_json(str(config), results, tolerance), indent=2, allow_nan=False))
    else:
        report.print_gradcheck(str(config), results, tolerance)
    if failed:
        _err(report.failure_message(failed, tolerance))
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point. SIGTERM means what Ctrl-C means (exit code 130) from the first
    line on; training and sweeps put their own handler in its place while they write files."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
