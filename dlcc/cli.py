"""The `dlcc` command line: parse arguments, call one function, print, exit.

Expected failures are `DlccError`s: their message goes to stderr and the process exits with the
error's code (2 bad input, 3 diverged, 130 interrupted). Set DLCC_DEBUG=1 to see the traceback.
Heavy imports (NumPy, the trainer, matplotlib) happen inside the commands so `dlcc --help` is fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dlcc import __version__
from dlcc.errors import DlccError

app = typer.Typer(
    name="dlcc",
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


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _fail(exc: DlccError) -> typer.Exit:
    if os.environ.get("DLCC_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    _err(f"error: {exc}")
    return typer.Exit(exc.exit_code)


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
    config: Annotated[Path, typer.Argument(help="The YAML config to train.", show_default=False)],
    set_: SetOpt = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run folders are created.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option("--name", help="Run-folder prefix (default: config name).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Override the config's seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summary as one JSON document.")] = False,
) -> None:
    """Train the network a config describes and write a run folder.

    [b]Examples[/b]

      dlcc train configs/spirals.yaml

      dlcc train configs/mnist-mlp.yaml --set optimizer.lr=0.05 --set training.epochs=5

      dlcc train configs/spirals.yaml --seed 3 --name spirals-seed3 --json
    """
    from dlcc import config as config_mod

    overrides = list(set_ or [])
    if name is not None:
        overrides.append(f"name={name}")
    if seed is not None:
        overrides.append(f"seed={seed}")
    try:
        cfg = config_mod.load(config, overrides)
        run_dir, summary = _train(cfg, runs_dir, quiet or json_out)
    except DlccError as exc:
        run_dir = getattr(exc, "run_dir", None)
        if run_dir is not None:
            _err(f"run folder: {run_dir} (status: diverged)")
        raise _fail(exc) from None
    except KeyboardInterrupt:
        _err("interrupted; the run folder is marked 'interrupted'")
        raise typer.Exit(130) from None
    if json_out:
        typer.echo(json.dumps({**summary, "run_dir": str(run_dir)}, indent=2))
    else:
        from dlcc.report.tables import print_summary

        print_summary(run_dir, summary)


def _train(cfg, runs_dir: Path, quiet: bool):
    from dlcc.train.run import train as train_run

    if quiet:
        return train_run(cfg, runs_dir)
    from dlcc.report.progress import RichReporter

    reporter = RichReporter()
    try:
        return train_run(cfg, runs_dir, reporter)
    finally:
        reporter.close()


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The YAML config to check.", show_default=False)],
    set_: SetOpt = None,
) -> None:
    """Check a config and print it fully resolved (every default filled in), or the errors.

    [b]Example[/b]

      dlcc validate configs/spirals.yaml --set optimizer.name=adam
    """
    from dlcc import config as config_mod

    try:
        cfg = config_mod.load(config, list(set_ or []))
    except DlccError as exc:
        raise _fail(exc) from None
    typer.echo(config_mod.to_yaml(cfg), nl=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
