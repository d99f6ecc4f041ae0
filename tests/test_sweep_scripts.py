"""dlcc.sweep from a script: the local workers are spawned processes that import the main script
again, so a script needs the usual `if __name__ == "__main__":` guard. With it the sweep runs;
without it the workers cannot start, and the sweep says why once instead of failing every run."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from tests.conftest import ROOT, TINY

SWEEP = ("import dlcc\n"
         "sweep = dlcc.sweep({config!r}, grid={{'optimizer.lr': [0.1, 0.3]}}, runs_dir={runs!r}, progress=False,\n"
         "                   workers=2)\n"
         "print(sweep.counts)\n")


def run_script(tmp_path, body: str) -> subprocess.CompletedProcess:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    script = tmp_path / "sweep_script.py"
    script.write_text(body.format(config=str(config), runs=str(tmp_path / "runs")))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_guarded_script_sweeps(tmp_path):
    guarded = "if __name__ == '__main__':\n" + "".join(f"    {line}\n" for line in SWEEP.splitlines())
    done = run_script(tmp_path, guarded)
    assert done.returncode == 0, done.stderr
    assert "{'completed': 2}" in done.stdout


def test_an_unguarded_script_stops_with_one_message_and_its_runs_stay_pending(tmp_path):
    done = run_script(tmp_path, SWEEP)
    assert done.returncode == 1  # the DlccError, raised out of the script
    last = done.stderr.strip().splitlines()[-1]
    assert "worker processes could not start" in last and '__name__ == "__main__"' in last
    (sweep_dir,) = (tmp_path / "runs").iterdir()  # the workers made no sweeps of their own
    assert "failed" not in (sweep_dir / "results.csv").read_text()


def test_comparing_a_sweep_without_two_run_folders_says_what_its_runs_are(tmp_path):
    import shutil

    import pytest

    import dlcc

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    sweep = dlcc.sweep(str(config), grid={"optimizer.lr": [0.1, 0.3]}, runs_dir=tmp_path / "runs", progress=False,
                       workers=1)
    for run in sweep.runs:
        shutil.rmtree(run.path)
    with pytest.raises(dlcc.RunError, match=r"0 of its 2 runs have a run folder \(2 completed\); compare needs two"):
        dlcc.Sweep(sweep.path).compare()


def test_compare_of_a_one_run_sweep_says_it_is_a_sweep_with_one_run(tmp_path):
    from tests.runs_helpers import dlcc as cli

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert cli("sweep", config, "--grid", "optimizer.lr=0.1", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    result = cli("compare", sweep_dir)
    assert result.exit_code == 2 and f"{sweep_dir} is a sweep with 1 run folder(s)" in result.stderr


def test_resume_refuses_a_runs_dir_it_would_ignore(tmp_path):
    from tests.runs_helpers import dlcc as cli

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert cli("sweep", config, "--grid", "optimizer.lr=0.1", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    (sweep_dir,) = (tmp_path / "runs").iterdir()
    result = cli("sweep", "--resume", sweep_dir, "--runs-dir", tmp_path / "elsewhere")
    assert result.exit_code == 2 and "--runs-dir" in result.stderr
    (run_dir,) = [p for p in sweep_dir.iterdir() if p.is_dir()]
    result = cli("train", "--resume", run_dir, "--runs-dir", tmp_path / "elsewhere")
    assert result.exit_code == 2 and "--runs-dir" in result.stderr
    assert not (tmp_path / "elsewhere").exists()
