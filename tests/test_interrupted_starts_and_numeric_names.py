"""Found in review: starts that a signal interrupts, and names that read as numbers. Each test
failed before its fix:

1. A signal while `train` verifies a downloaded file leaves a `.part` file in the dataset cache
   (download.fetch_file: the staged file is not yet known to download()'s cleanup).
2. A run or sweep name that reads as a number under YAML 1.2 (`1e-3`) is written unquoted by
   yaml.safe_dump (YAML 1.1) and read back as a float: the run's own config.yaml / sweep.yaml are
   refused by dlcc (config/yamlio.to_yaml, runs/sweepdir.write_definition).
3. Ctrl-C or SIGTERM reaching the local sweep workers while they start marks their runs `failed`
   ('killed by signal N; out of memory?'), not interrupted/pending (sweeps/local.py `_reap`).
4. An unguarded sweep script's final error is chained to a spurious `queue.Empty` ("During
   handling of the above exception, another exception occurred").
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from tests.conftest import ROOT, TINY
from tests.test_data_download import TINY_MNIST, server  # noqa: F401  (fixture)

runner = CliRunner()


def dlcc(*args):
    return runner.invoke(app, [str(a) for a in args])


# --------------------------------------------------------------------------- 1

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_a_download_is_verified_leaves_no_partial_file(server, monkeypatch, tmp_path, sig):  # noqa: F811
    from dlcc.data import download as dl

    monkeypatch.delenv("DLCC_OFFLINE", raising=False)
    monkeypatch.setenv("DLCC_MIRROR", server.url("good"))
    original = dl.verify_bytes

    def verify(*args, **kwargs):
        os.kill(os.getpid(), sig)
        return original(*args, **kwargs)

    monkeypatch.setattr(dl, "verify_bytes", verify)
    config = tmp_path / "mnist.yaml"
    config.write_text(yaml.safe_dump(TINY_MNIST))
    result = dlcc("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 130 and "no run folder was created" in result.stderr, result.output
    left = [p.name for p in server.folder.iterdir()] if server.folder.exists() else []
    assert left == [], f"the interrupted download left {left} in the dataset cache"


# --------------------------------------------------------------------------- 2

def test_a_run_named_like_a_number_can_be_read_back(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = dlcc("train", config, "--name", "1e-3", "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output  # today: exit 2, 'config.yaml ... was it edited?'
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert dlcc("eval", run_dir).exit_code == 0


def test_a_sweep_named_like_a_number_can_be_resumed(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    result = dlcc("sweep", config, "--grid", "optimizer.lr=0.1,0.3", "--name", "1e-3", "--workers", "1",
                  "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    result = dlcc("sweep", "--resume", sweep_dir, "--quiet")
    assert result.exit_code == 0, result.output  # today: 'sweep.yaml: name: ... (got 0.001)'


# --------------------------------------------------------------------------- 3

HELD = """\
import os, sys, time
import dlcc

if __name__ == "__mp_main__":  # a worker importing this script: hold it in its start-up
    open(os.path.join(os.environ["MARK"], str(os.getpid())), "w").close()
    time.sleep(60)

if __name__ == "__main__":
    try:
        dlcc.sweep({config!r}, grid={{"optimizer.lr": [0.1, 0.2, 0.3]}}, workers=2, runs_dir={runs!r},
                   progress=False)
    except dlcc.DlccError as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_sweep_while_its_workers_start_fails_no_run(tmp_path, sig):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    marks = tmp_path / "marks"
    marks.mkdir()
    script = tmp_path / "held.py"
    script.write_text(HELD.format(config=str(config), runs=str(tmp_path / "runs")))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MARK": str(marks)}
    process = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(marks.iterdir())) == 2, "the workers did not start"
        time.sleep(0.2)
        os.killpg(process.pid, sig)  # Ctrl-C in the terminal, or `kill -TERM -PGID`
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "could not start" not in stderr
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    with open(sweep_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows if r["status"] == "failed"] == [], [(r["run"], r["error"]) for r in rows]


# --------------------------------------------------------------------------- 4

def test_an_unguarded_script_error_is_not_chained_to_queue_empty(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    script = tmp_path / "unguarded.py"
    script.write_text(f"import dlcc\ndlcc.sweep({str(config)!r}, grid={{'optimizer.lr': [0.1, 0.3]}}, "
                      f"runs_dir={str(tmp_path / 'runs')!r}, progress=False, workers=2)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "worker processes could not start" in done.stderr
    assert "_queue.Empty" not in done.stderr and "During handling of the above exception" not in done.stderr
