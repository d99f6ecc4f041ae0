"""Three defects found in an earlier session: Ctrl-C while train_config reads the finished run
back, a bad `dlcc sweep --set` blamed on point p000, and a sweep plot whose title ran off the figure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import dlcc
from dlcc import api
from dlcc.errors import ConfigError, InterruptedRun
from dlcc.report import plots
from dlcc.runs import sweepdir
from tests.conftest import ROOT, TINY
from tests.runs_helpers import dlcc as cli
from tests.sweep_helpers import make_sweep


# --------------------------------------------------------------------------- 1. Ctrl-C at the end of training

def _signal_while_reading(monkeypatch, sig=signal.SIGINT) -> list:
    """api.read (how dlcc.load reads a run folder) receives a real signal from the process itself
    before it reads: Ctrl-C landing while train_config loads the run it just finished."""
    real, calls = api.read, []

    def read(path):
        calls.append(path)
        os.kill(os.getpid(), sig)
        return real(path)

    monkeypatch.setattr(api, "read", read)
    return calls


def _raised(call) -> BaseException | None:
    """What call() raised. A KeyboardInterrupt is caught here too: left alone, it would stop pytest."""
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the point is which kind it is
        return exc
    return None


def test_ctrl_c_while_train_reads_the_finished_run_is_interrupted_run(tmp_path, monkeypatch):
    calls = _signal_while_reading(monkeypatch)
    exc = _raised(lambda: dlcc.train(TINY, runs_dir=tmp_path, progress=False))
    assert calls, "the run was never read back"
    assert isinstance(exc, InterruptedRun), repr(exc)  # was a bare KeyboardInterrupt
    assert exc.exit_code == 130
    (run_dir,) = tmp_path.iterdir()
    assert f"interrupted after training finished; {run_dir} is complete (status: completed)" in str(exc)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"  # the run is intact
    monkeypatch.undo()
    assert dlcc.load(run_dir).status == "completed"


def test_ctrl_c_while_resume_reads_a_finished_run_is_interrupted_run(tmp_path, monkeypatch):
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    _signal_while_reading(monkeypatch)
    exc = _raised(lambda: dlcc.resume(run.path, progress=False))
    assert isinstance(exc, InterruptedRun), repr(exc)
    assert f"{run.path} is complete (status: completed)" in str(exc)


def test_the_cli_says_the_run_is_complete_and_exits_130(tmp_path, monkeypatch, write_config):
    _signal_while_reading(monkeypatch)
    result = cli("train", write_config(TINY), "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"interrupted after training finished; {run_dir} is complete" in result.stderr  # was: "interrupted"
    assert "Traceback" not in result.stderr


def test_sigterm_while_the_api_reads_the_finished_run_is_interrupted_run_too(tmp_path):
    # In a child process: outside dlcc's handler SIGTERM's default action ends the process at once.
    script = textwrap.dedent(f"""
        import os, signal, sys
        import dlcc
        from dlcc import api
        from dlcc.errors import InterruptedRun
        real = api.read
        def read(path):
            os.kill(os.getpid(), signal.SIGTERM)
            return real(path)
        api.read = read
        try:
            dlcc.train({TINY!r}, runs_dir={str(tmp_path / "runs")!r}, progress=False)
        except InterruptedRun as exc:
            print(exc)
            sys.exit(130)
    """)
    env = {**os.environ, "DLCC_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "is complete (status: completed)" in done.stdout


# --------------------------------------------------------------------------- 2. a bad --set in a sweep

@pytest.mark.parametrize("flag, message", [
    ("optimizer.lr=-1", "--set optimizer.lr=-1: optimizer.lr: Input should be greater than 0 (got -1)"),
    ("training.batch_size=abc", "--set training.batch_size=abc: training.batch_size: must be a positive integer or 'full'"),
    ("nosuch.key=1", "--set nosuch.key: unknown config key 'nosuch'"),
    ("model.layers.1.units=5", "with --set model.layers.1.units=5: model.layers.1.units: the output layer has 5 "
                               "units but dataset 'spirals' has 3 classes"),
])
def test_a_bad_set_in_a_sweep_is_the_flags_error_not_the_first_points(tmp_path, write_config, flag, message):
    result = cli("sweep", write_config(TINY), "--set", flag, "--grid", "training.epochs=1,2",
                 "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "p000" not in result.stderr and "point" not in result.stderr.replace("every point", "")
    assert "applies to every point of the sweep; nothing was started" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # no sweep folder left behind


def test_the_api_says_the_same_for_sets(tmp_path, write_config):
    for sets in ({"optimizer.lr": -1}, ["optimizer.lr=-1"]):
        with pytest.raises(ConfigError) as info:
            dlcc.sweep(write_config(TINY), sets=sets, grid={"training.epochs": [1, 2]}, runs_dir=tmp_path / "runs",
                       progress=False)
        assert str(info.value).startswith("--set optimizer.lr=-1: optimizer.lr: Input should be greater than 0")
        assert "p000" not in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_a_sweep_files_set_is_checked_once_too(tmp_path, write_config):
    write_config(TINY, "base.yaml")
    study = write_config({"base": "base.yaml", "set": {"optimizer.lr": -1}, "grid": {"training.epochs": [1, 2]}},
                         "study.yaml")
    result = cli("sweep", study, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2 and "p000" not in result.stderr, result.stderr
    assert "optimizer.lr: Input should be greater than 0" in result.stderr


@pytest.mark.parametrize("args, message", [
    # the point's own value is the point's error, as before
    (["--grid", "optimizer.lr=0.1,-1"], "point p001 (optimizer.lr=-1): optimizer.lr: Input should be greater than 0"),
    (["--grid", "model.layers.1.units=3,5"], "point p001 (model.layers.1.units=5): model.layers.1.units: the output"),
    # a --set that is fine for the base config and wrong only with one point's values names that point
    (["--set", "optimizer.momentum=0.9", "--grid", "optimizer.name=sgd,adam"],
     "point p001 (optimizer.name=adam) with --set optimizer.momentum=0.9: optimizer.momentum: unknown key here"),
])
def test_a_points_own_problem_still_names_the_point(tmp_path, write_config, args, message):
    result = cli("sweep", write_config(TINY), *args, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "every point is checked first" in result.stderr
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- 3. the sweep plot's title

def _title_fits(fig) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    box, page = fig._suptitle.get_window_extent(), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, (box, page)


@pytest.fixture(scope="module")
def diverged_sweep(tmp_path_factory):
    """A sweep with a long name, one swept key (the narrowest figure), and three runs that diverged."""
    name = "a-sweep-whose-name-is-long-enough-to-fill-most-of-a-line-" + "x" * 20
    sweep_dir = make_sweep(tmp_path_factory.mktemp("runs"), {"optimizer.lr": [0.1, 0.5]}, seeds=(0, 1, 2), name=name,
                           failed={"p001-s0", "p001-s1", "p001-s2"})
    rows = [{**r, "status": "diverged"} if r["status"] == "failed" else r for r in sweepdir.read_results(sweep_dir)]
    return sweep_dir, sweepdir.read_definition(sweep_dir), rows


def test_the_sweep_plot_title_stays_inside_the_figure(diverged_sweep, tmp_path):
    sweep_dir, definition, rows = diverged_sweep
    fig = plots.sweep(definition, rows)
    title = fig._suptitle.get_text()
    assert "3 run(s) left out: 3 diverged" in title and definition["name"][:20] in title and "best (star)" in title
    _title_fits(fig)
    plots.save(fig, tmp_path / "sweep.png")  # and as written to a PNG
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_a_short_title_is_left_as_it_was_written(tmp_path):
    sweep_dir = make_sweep(tmp_path, {"optimizer.lr": [0.1, 0.5]}, seeds=(0,), name="lr")
    fig = plots.sweep(sweepdir.read_definition(sweep_dir), sweepdir.read_results(sweep_dir))
    assert fig._suptitle.get_text().splitlines()[0] == "sweep lr: best_val_accuracy (higher is better)"
    assert len(fig._suptitle.get_text().splitlines()) == 2
    _title_fits(fig)


def test_the_cli_plot_of_that_sweep(diverged_sweep, tmp_path):
    sweep_dir, _, _ = diverged_sweep
    result = cli("plot", sweep_dir, "--kind", "sweep", "--out", tmp_path / "s.png")
    assert result.exit_code == 0, result.output
    assert Path(tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
