"""Every Python example of the docs runs, in order, in one session per page, as a reader would run them."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from tests.conftest import ROOT

DOC = ROOT / "docs" / "python.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def run_blocks(doc, tmp_path, monkeypatch) -> int:
    blocks = python_blocks(doc.read_text())
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}  # as a script runs them
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"{doc.name} block {number}", "exec"), namespace)
        except Exception as exc:  # name the block, not just the line
            raise AssertionError(f"{doc.name} block {number} failed:\n{block}") from exc
    return len(blocks)


def test_the_examples_of_docs_sweeps_md_run(tmp_path, monkeypatch, capsys):
    assert run_blocks(ROOT / "docs" / "sweeps.md", tmp_path, monkeypatch) >= 1
    assert "{'completed': 9}" in capsys.readouterr().out


def test_every_example_in_docs_python_md_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")  # one example shows metrics_frame(); pandas comes with .[dev]
    assert run_blocks(DOC, tmp_path, monkeypatch) >= 10
    out = capsys.readouterr().out
    assert "test accuracy:" in out
    assert "optimizer.lr: Input should be greater than 0" in out  # the Errors example's message
    assert os.path.exists("spirals-curves.png")
