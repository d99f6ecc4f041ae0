"""The batch loop's bookkeeping: the epoch's shuffle, correct-prediction counts, a light CLI import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from dlcc import config
from dlcc.nn.metrics import n_correct
from dlcc.build import build_members, prepare
from dlcc.training.trainer import Fit
from tests.conftest import ROOT, TINY


def tiny_fit(**training) -> Fit:
    raw = {**TINY, "training": {**TINY["training"], **training}}
    cfg = config.parse(raw)
    splits, arrays = prepare(cfg)
    return Fit(cfg, build_members(cfg, arrays["train"]), arrays["val"], splits.task == "classification")


def test_each_epoch_is_one_permutation_gathered_into_the_same_buffers():
    fit = tiny_fit()
    runner, member = fit.runners[0], fit.members[0]
    x, y = member.train
    x_before = x.copy()
    seen = []
    for _ in range(2):
        twin = np.random.default_rng()
        twin.bit_generator.state = member.rng.bit_generator.state
        order = twin.permutation(len(x))
        xs, ys = runner.epoch_order()
        np.testing.assert_array_equal(xs, x[order])
        np.testing.assert_array_equal(ys, y[order])
        seen.append((xs, ys))
    assert seen[0][0] is seen[1][0] and seen[0][1] is seen[1][1]  # no new copy per epoch
    np.testing.assert_array_equal(x, x_before)  # the training split itself is never reordered


def test_ensemble_members_share_one_shuffle_buffer_and_no_shuffle_means_none():
    fit = tiny_fit()
    assert fit.runners[0].shuffled is not None
    cfg = config.parse({**TINY, "ensemble": {"members": 3, "bagging": True}})
    splits, arrays = prepare(cfg)
    ensemble = Fit(cfg, build_members(cfg, arrays["train"]), arrays["val"], True)
    assert all(r.shuffled is ensemble.runners[0].shuffled for r in ensemble.runners)
    fixed = tiny_fit(shuffle=False)
    x, y = fixed.members[0].train
    assert fixed.runners[0].shuffled is None
    xs, ys = fixed.runners[0].epoch_order()
    assert xs is x and ys is y


def test_n_correct_counts_rows_and_accuracy_is_its_fraction():
    a = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]])
    y = np.eye(3)[[1, 0, 1, 1]]
    assert n_correct(a, y) == 3 and isinstance(n_correct(a, y), int)
    assert n_correct(a, y) / len(a) == 0.75
    sigmoid_out = np.array([[0.9], [0.2], [0.6]])
    assert n_correct(sigmoid_out, np.array([[1.0], [0.0], [0.0]])) == 2


def test_cli_help_imports_no_numpy_pydantic_or_matplotlib():
    """`dlcc --help` stays fast: the heavy imports happen inside the commands that need them."""
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from dlcc.cli import app\n"
            "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
            "print(sorted(m for m in ('numpy', 'pydantic', 'matplotlib', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
