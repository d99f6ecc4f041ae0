"""Defects found in what `dlcc train` and `dlcc gradcheck` tell the user; each test failed before its fix."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import dlcc
from dlcc import api, build
from tests.conftest import TINY
from tests.runs_helpers import dlcc as run_cli


def _reject_nan(name):
    raise ValueError(f"{name} is not JSON")


def test_gradcheck_json_stays_strict_json_when_the_cost_overflows(write_config):
    # Weights of 1e200 overflow the mse cost: the relative errors were NaN, printed as a bare NaN
    # (not JSON), with numpy's overflow warnings and "backprop disagrees" on stderr.
    raw = copy.deepcopy(TINY)
    raw["model"]["init"] = {"weights": {"name": "normal", "std": 1e200}}
    raw["model"]["layers"][1]["activation"] = "linear"
    raw["loss"] = "mse"
    result = run_cli("gradcheck", write_config(raw), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout, parse_constant=_reject_nan)
    assert doc["passed"] is False and [p["rel_error"] for p in doc["parameters"]] == [None] * 4
    assert "not a finite number" in result.stderr and "backprop disagrees" not in result.stderr
    assert "RuntimeWarning" not in result.stderr


def test_a_saturated_loss_is_not_blamed_on_backprop(write_config):
    # Weights of 1e6 saturate the softmax: the clipped cross-entropy is flat to finite differences
    # (numeric gradient 0) while backprop's a - y is not. The message blamed backprop.
    raw = copy.deepcopy(TINY)
    raw["model"]["init"] = {"weights": {"name": "normal", "std": 1e6}}
    result = run_cli("gradcheck", write_config(raw))
    assert result.exit_code == 1
    assert "saturated" in result.stderr and "backprop disagrees" not in result.stderr


def test_gradcheck_reports_progress_and_matches_a_hand_written_difference():
    # A big network's check took minutes with nothing on the screen: it now reports progress
    # (the CLI draws it as a bar on a terminal). Its numbers agree with an independent difference.
    raw = copy.deepcopy(TINY)
    raw["model"]["layers"] = [{"units": 4, "activation": "tanh"}, {"units": 3, "activation": "softmax"}]
    raw["regularization"] = {"l1": 0.05, "l2": 0.3}
    calls = []
    checks = dlcc.gradcheck(raw, batch=5, max_elements=30, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (8 + 4 + 12 + 3, 8 + 4 + 12 + 3) and calls == sorted(calls)
    net, x, y, _ = build.gradcheck_batch(api.load_config(raw), 5)
    params = {k: v.copy() for k, v in net.params.items()}

    def cost(p):
        h = np.tanh(x @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        a = np.exp(z - z.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        ws = (p["W1"], p["W2"])
        return (-np.mean(np.sum(y * np.log(a), 1)) + 0.3 / 2 * sum((w ** 2).sum() for w in ws)
                + 0.05 * sum(np.abs(w).sum() for w in ws))

    net.backward(net.forward(x, training=True), y)
    for check in checks:
        flat, numeric = params[check.name].reshape(-1), np.empty(params[check.name].size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-5
            plus = cost(params)
            flat[i] = old - 1e-5
            numeric[i] = (plus - cost(params)) / 2e-5
            flat[i] = old
        analytic = net.grads[check.name].reshape(-1)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
        assert check.rel_error < 1e-8 and check.numeric_norm == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


def test_quiet_says_that_the_summary_still_prints():
    # docs/report.md: "--quiet prints nothing but the summary"; --help said only "No progress bar".
    result = run_cli("train", "--help")
    assert "summary table still prints" in " ".join(result.stdout.replace("│", " ").split())


def test_a_partly_saturated_loss_is_not_blamed_on_backprop():
    """Weights of std 1000: the numeric gradient is tiny but not exactly 0 (1e-6 next to backprop's
    O(1)); the message must still point at the saturation, not say backprop is wrong."""
    from dlcc.nn.gradcheck import ParamCheck
    from dlcc.report.gradcheck import failure_message

    failed = [ParamCheck("W1", (2, 16), 32, 1.0, analytic_norm=0.8, numeric_norm=1.5e-6)]
    assert "saturated" in failure_message(failed, 1e-4)
    wrong = [ParamCheck("W1", (2, 16), 32, 0.3, analytic_norm=0.8, numeric_norm=0.6)]
    assert "backprop disagrees" in failure_message(wrong, 1e-4)
