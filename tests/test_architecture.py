"""The package's structure: imports point one way, down, and no module grows past a few hundred lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(cwd)})


def test_the_layers_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract can fail: nn importing the API (even inside a function) is reported."""
    shutil.copytree(ROOT / "dlcc", tmp_path / "dlcc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    layers = tmp_path / "dlcc" / "nn" / "layers.py"
    layers.write_text(layers.read_text() + "\n\ndef _upward():\n    from dlcc.api import load\n\n    return load\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "dlcc.nn is not allowed to import dlcc.api" in result.stdout


def test_no_module_is_longer_than_350_lines_except_the_cli_help():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "dlcc").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 350 and p.name != "cli.py"}
    assert not long, long
