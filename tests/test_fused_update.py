"""The weight gradient multiplied inside SGD's update (dlcc.optim.blas, issue 19).

gemm_tn(a, b, c, alpha, beta) must be c = alpha * a^T b + beta * c, through BLAS or NumPy; SGD given
a weight's factors (x, delta) must make the update its formula gives for g = x^T delta; the NumPy
route must be the unfused update bit for bit; the trainer must fuse exactly when nothing else
needs the gradient; and a run must train to the same numbers either way, up to float rounding.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from dlcc import config
from dlcc.build import build_members, prepare
from dlcc.optim import blas
from dlcc.optim.optimizers import SGD
from dlcc.training.trainer import Fit, Reporter
from tests.conftest import TINY


@pytest.fixture
def every_size(monkeypatch):
    """Let small products through BLAS too, so that small test networks exercise it."""
    monkeypatch.setattr(blas, "MIN_SIZE", 0)


@pytest.fixture
def numpy_only(monkeypatch):
    monkeypatch.setattr(blas, "_GEMM", {})


def factors(k, m, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((k, m)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)


def test_numpys_own_openblas_is_used_where_the_wheel_ships_it():
    shipped = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "libscipy_openblas64_*"))
    if not shipped:
        pytest.skip("this NumPy does not ship scipy_openblas64_ (a distribution or conda build): NumPy route")
    assert blas.fused(), "NumPy ships its OpenBLAS, but gemm_tn fell back to NumPy operations"
    assert set(blas._GEMM) == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_gemm_tn_is_alpha_a_transposed_b_plus_beta_c(dtype, rtol):
    a, b = factors(128, 1000, 120, dtype)  # c of 120,000 elements: over MIN_SIZE
    c = np.random.default_rng(1).standard_normal((1000, 120)).astype(dtype)
    want = -0.07 * (a.astype(np.float64).T @ b.astype(np.float64)) + 0.9 * c.astype(np.float64)
    assert blas.gemm_tn(a, b, c, alpha=-0.07, beta=0.9) is blas.fused()
    if blas.fused():
        assert c.dtype == dtype
        np.testing.assert_allclose(c, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_gemm_tn_reads_row_slices_and_declines_what_it_should_not_touch(every_size):
    a_wide, b = factors(64, 200, 50, np.float32)
    a = a_wide[:, 20:170]  # rows at a stride of 200 elements: BLAS reads it as is
    c = np.ones((150, 50), dtype=np.float32)
    assert blas.gemm_tn(a, b, c, alpha=0.5, beta=-1.0) is blas.fused()
    if blas.fused():
        want = 0.5 * (a.astype(np.float64).T @ b.astype(np.float64)) - 1.0
        np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-4)
    declined = [
        (np.asfortranarray(a), b, np.ones((150, 50), np.float32)),  # columns contiguous, not rows
        (a[::2], b[::2], np.ones((150, 50), np.float32)),  # fine for BLAS, but check the shapes:
        (a, b[:32], np.ones((150, 50), np.float32)),  # k differs
        (a.astype(np.float64), b, np.ones((150, 50), np.float32)),  # dtypes differ
        (a, b, np.ones((50, 150), np.float32).T),  # c not C-contiguous
        (a, b, np.ones((150, 49), np.float32)),  # c the wrong shape
    ]
    for x, bx, cx in declined[2:]:
        before = cx.copy()
        assert blas.gemm_tn(x, bx, cx, alpha=0.5, beta=-1.0) is False
        np.testing.assert_array_equal(cx, before)
    x, bx, cx = declined[0]
    assert blas.gemm_tn(x, bx, cx, alpha=0.5, beta=-1.0) is False


def test_gemm_tn_declines_small_arrays_and_a_missing_library(numpy_only):
    a, b = factors(128, 1000, 120, np.float32)
    c = np.ones((1000, 120), np.float32)
    assert blas.gemm_tn(a, b, c, alpha=1.0, beta=1.0) is False and (c == 1).all()
    assert not blas.fused()


def test_small_arrays_are_left_to_numpy():
    a, b = factors(128, 784, 100, np.float32)  # 784 x 100 = 78,400 < MIN_SIZE: fusing measured no faster
    c = np.ones((784, 100), np.float32)
    assert blas.gemm_tn(a, b, c, alpha=1.0, beta=1.0) is False and (c == 1).all()


def test_a_library_that_answers_wrong_is_not_used(monkeypatch):
    monkeypatch.setattr(blas, "_GEMM", {np.dtype(np.float32): lambda *args: None})  # leaves c alone
    assert not blas._self_test()


@pytest.mark.parametrize("why", ["small", "no BLAS"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_an_update_blas_declines_is_the_unfused_update_bit_for_bit(momentum, why, monkeypatch):
    if why == "no BLAS":
        monkeypatch.setattr(blas, "_GEMM", {})
        shape = (400, 300)
    else:
        shape = (40, 30)
    rng = np.random.default_rng(2)
    W = rng.standard_normal(shape).astype(np.float32)
    params = [{"W": W.copy()}, {"W": W.copy()}]
    fused, plain = SGD(0.05, momentum), SGD(0.05, momentum)
    for step in range(5):
        x, delta = factors(16, *shape, np.float32, seed=step)
        fused.step(params[0], {"W": np.full_like(W, np.nan)}, {"W": (x, delta)})
        plain.step(params[1], {"W": x.T @ delta})
        np.testing.assert_array_equal(params[0]["W"], params[1]["W"])
    assert fused.t == plain.t


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_with_factors_follows_its_formula(momentum, every_size):
    """v = mu v - lr x^T delta, theta += v (plain SGD: theta -= lr x^T delta), in float64."""
    if not blas.fused():
        pytest.skip("no BLAS to fuse with: the declined path is checked bit for bit above")
    rng = np.random.default_rng(3)
    theta = rng.standard_normal((50, 20))
    params, opt = {"W": theta.copy()}, SGD(0.1, momentum)
    v = np.zeros_like(theta)
    for step in range(6):
        x, delta = factors(32, 50, 20, np.float64, seed=10 + step)
        opt.lr = 0.1 / (1 + step)  # a schedule may change lr between steps
        opt.step(params, {}, {"W": (x, delta)})
        v = momentum * v - opt.lr * (x.T @ delta)
        theta = theta + v
        np.testing.assert_allclose(params["W"], theta, rtol=1e-13, atol=1e-13)
    if momentum:
        np.testing.assert_allclose(opt.state["v"]["W"], v, rtol=1e-13, atol=1e-13)


def test_the_network_leaves_the_weight_gradients_as_their_factors():
    cfg = config.parse(TINY)
    splits, arrays = prepare(cfg)
    net = build_members(cfg, arrays["train"])[0].net
    x, y = arrays["train"][0][:16], arrays["train"][1][:16]
    net.backward(net.forward(x, training=True), y)
    dW = {name: g.copy() for name, g in net.grads.items()}
    for layer in net.layers:
        layer.dW[...] = np.nan
    net.backward(net.forward(x, training=True), y, weight_grads=False)
    for name, (xl, delta) in net.weight_factors().items():
        np.testing.assert_array_equal(np.matmul(xl.T, delta), dW[name])
        assert np.isnan(net.grads[name]).all()  # not computed
        np.testing.assert_array_equal(net.grads["b" + name[1:]], dW["b" + name[1:]])  # biases are
    net.l2 = 1e-3
    with pytest.raises(ValueError, match="weight_grads=True"):
        net.backward(net.forward(x, training=True), y, weight_grads=False)


def fit(**changes) -> Fit:
    raw = {**TINY, **changes}
    cfg = config.parse(raw)
    splits, arrays = prepare(cfg)
    return Fit(cfg, build_members(cfg, arrays["train"]), arrays["val"], splits.task == "classification")


@pytest.mark.parametrize("changes, factored", [
    ({}, True),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9}}, True),
    ({"optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}}, False),
    ({"optimizer": {"name": "adam", "lr": 0.01}}, False),
    ({"training": {**TINY["training"], "clip_grad_norm": 1.0}}, False),
    ({"regularization": {"l2": 1e-4}}, False),
    ({"regularization": {"l1": 1e-4}}, False),
    ({"regularization": {"max_norm": 3.0}}, True),  # applied after the step, to the weights
])
def test_the_trainer_fuses_exactly_when_nothing_else_needs_the_gradient(changes, factored):
    assert fit(**changes).runners[0].factored is factored


@pytest.mark.parametrize("precision, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_a_run_trains_to_the_same_numbers_fused_or_not(precision, rtol, every_size):
    """Fused, the update rounds differently (BLAS scales v inside the product); a few epochs later
    the metrics agree to float rounding, not bit for bit."""
    changes = {"precision": precision, "optimizer": {"name": "sgd", "lr": 0.2, "momentum": 0.9},
               "training": {**TINY["training"], "epochs": 5}, "data": {**TINY["data"], "validation": 0.25}}
    rows = {}
    for route in ("fused", "unfused"):
        run = fit(**changes)
        if route == "unfused":
            run.runners[0].factored = False
        assert run.runners[0].factored is (route == "fused")
        rows[route] = run.run(reporter=Reporter()).rows
    assert len(rows["fused"]) == 6  # epoch 0 and five epochs
    for fused_row, plain_row in zip(rows["fused"], rows["unfused"], strict=True):
        for key, value in plain_row.items():
            if key != "seconds":
                assert fused_row[key] == (value if value is None else pytest.approx(value, rel=rtol)), key
