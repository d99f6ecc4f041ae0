"""The weight gradient multiplied inside SGD's update (dlcc.optim.blas, issue 19).

gemm_tn(a, b, c, alpha, beta) must be c = alpha * a^T b + beta * c, through BLAS or NumPy; SGD given
a weight's factors (x, delta) must make the update its formula gives for g = x^T delta; the NumPy
route must be the unfused update bit for bit; the trainer must fuse exactly when nothing else
needs the gradient; and a run must train to the same numbers either way, up to float rounding.
"""

from __future__ import annotations

import ctypes
import glob
import importlib
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlcc import config
from dlcc.build import build_members, prepare
from dlcc.optim import blas
from dlcc.optim.optimizers import SGD
from dlcc.training.trainer import Fit, Reporter
from tests.conftest import ROOT, TINY

needs_blas = pytest.mark.skipif(not blas.available(), reason="this NumPy has no BLAS dlcc can fuse with: gemm_tn always declines")


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
    assert blas.available(), "NumPy ships its OpenBLAS, but gemm_tn fell back to NumPy operations"
    assert set(blas._GEMM) == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-13)])
def test_gemm_tn_is_alpha_a_transposed_b_plus_beta_c(dtype, rtol):
    a, b = factors(128, 1000, 120, dtype)  # c of 120,000 elements: over MIN_SIZE
    c = np.random.default_rng(1).standard_normal((1000, 120)).astype(dtype)
    want = -0.07 * (a.astype(np.float64).T @ b.astype(np.float64)) + 0.9 * c.astype(np.float64)
    assert blas.gemm_tn(a, b, c, alpha=-0.07, beta=0.9) is blas.available()
    if blas.available():
        assert c.dtype == dtype
        np.testing.assert_allclose(c, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_gemm_tn_reads_row_slices_and_declines_what_it_should_not_touch(every_size):
    a_wide, b = factors(64, 200, 50, np.float32)
    a = a_wide[:, 20:170]  # rows at a stride of 200 elements: BLAS reads it as is
    c = np.ones((150, 50), dtype=np.float32)
    assert blas.gemm_tn(a, b, c, alpha=0.5, beta=-1.0) is blas.available()
    if blas.available():
        want = 0.5 * (a.astype(np.float64).T @ b.astype(np.float64)) - 1.0
        np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-4)
    read_only = np.ones((150, 50), np.float32)
    read_only.flags.writeable = False  # BLAS would write through it anyway
    declined = [
        (np.asfortranarray(a), b, np.ones((150, 50), np.float32)),  # columns contiguous, not rows
        (a[:, ::-1], b, np.ones((150, 50), np.float32)),  # a negative stride
        (a, b[:32], np.ones((150, 50), np.float32)),  # k differs
        (a.astype(np.float64), b, np.ones((150, 50), np.float32)),  # dtypes differ
        (a, b, np.ones((50, 150), np.float32).T),  # c not C-contiguous
        (a, b, np.ones((150, 49), np.float32)),  # c the wrong shape
        (a, b, read_only),
    ]
    for x, bx, cx in declined:
        before = cx.copy()
        assert blas.gemm_tn(x, bx, cx, alpha=0.5, beta=-1.0) is False
        np.testing.assert_array_equal(cx, before)


def test_gemm_tn_declines_when_no_library_was_found(numpy_only):
    a, b = factors(128, 1000, 120, np.float32)
    c = np.ones((1000, 120), np.float32)
    assert blas.gemm_tn(a, b, c, alpha=1.0, beta=1.0) is False and (c == 1).all()


def test_small_arrays_are_left_to_numpy():
    a, b = factors(128, 784, 32, np.float32)  # 784 x 32 = 25,088 < MIN_SIZE: fusing saves next to nothing
    c = np.ones((784, 32), np.float32)
    assert blas.gemm_tn(a, b, c, alpha=1.0, beta=1.0) is False and (c == 1).all()


def test_a_library_that_answers_wrong_is_not_used(monkeypatch):
    """At import, a gemm that leaves c alone fails the self-test and is dropped: gemm_tn declines."""

    class Wrong:
        argtypes = restype = None

        def __call__(self, *args):
            pass

    class Library:
        scipy_cblas_sgemm64_, scipy_cblas_dgemm64_ = Wrong(), Wrong()
        scipy_cblas_saxpy64_, scipy_cblas_daxpy64_ = Wrong(), Wrong()

    monkeypatch.setattr(glob, "glob", lambda pattern: ["libscipy_openblas64_-stand-in.so"])
    monkeypatch.setattr(ctypes, "CDLL", lambda path: Library())
    try:
        importlib.reload(blas)
        assert not blas.available()
        a, b = factors(128, 1000, 120, np.float32)
        assert blas.gemm_tn(a, b, np.ones((1000, 120), np.float32), alpha=1.0, beta=1.0) is False
        assert blas.add(np.ones(1000, np.float32), np.ones(1000, np.float32)) is False
    finally:
        monkeypatch.undo()
        importlib.reload(blas)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_is_numpys_sum_bit_for_bit(dtype):
    """y = 1 * x + y by axpy rounds once, as y + x does: the same numbers, tiny and huge ones too."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((784, 100)) * np.exp(rng.uniform(-60, 60, (784, 100)))).astype(dtype)
    y = rng.standard_normal((784, 100)).astype(dtype)
    want = y + x
    assert blas.add(y, x) is bool(blas._AXPY)
    if blas._AXPY:
        np.testing.assert_array_equal(y, want)


def test_add_declines_what_it_should_not_touch():
    x = np.ones((300, 200), np.float32)
    read_only = np.zeros((300, 200), np.float32)
    read_only.flags.writeable = False
    declined = [
        (np.zeros((300, 400), np.float32)[:, ::2], x),  # y at a stride
        (np.zeros((300, 200), np.float32), np.ones((300, 400), np.float32)[:, ::2]),  # x at a stride
        (np.zeros((200, 300), np.float32).T, x),  # columns contiguous, not rows
        (np.zeros((300, 200), np.float64), x),  # dtypes differ
        (np.zeros((200, 300), np.float32), x),  # shapes differ
        (np.zeros((300, 200), np.int32), x.astype(np.int32)),  # not a BLAS type
        (read_only, x),
    ]
    for y, xs in declined:
        before = y.copy()
        assert blas.add(y, xs) is False
        np.testing.assert_array_equal(y, before)


@needs_blas
def test_the_fused_update_adds_the_velocity_as_numpy_would(monkeypatch):
    """theta += v by BLAS's axpy (on its threads) is the same update, bit for bit, as NumPy's."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((1000, 120)).astype(np.float32)  # 120,000 weights: over MIN_SIZE
    runs = []
    for add in (blas.add, lambda y, x: False):
        monkeypatch.setattr(blas, "add", add)
        params, opt = {"W": W.copy()}, SGD(0.1, 0.9)
        for step in range(4):
            x, delta = factors(8, 1000, 120, np.float32, seed=20 + step)
            opt.step(params, {"W": np.empty_like(W)}, {"W": (x, delta)})
        runs.append(params["W"])
    assert not np.array_equal(runs[0], W)
    np.testing.assert_array_equal(runs[0], runs[1])


@needs_blas
def test_sgd_on_read_only_weights_raises_instead_of_crashing_the_interpreter(tmp_path):
    """Unfused, SGD on read-only weights raises ValueError ("output array is read-only"); a BLAS call
    would write into the read-only memory map and the process would die of SIGSEGV."""
    script = textwrap.dedent(f"""
        import numpy as np
        from dlcc.optim.optimizers import SGD
        np.save({str(tmp_path / "W.npy")!r}, np.zeros((1000, 120), np.float32))
        W = np.load({str(tmp_path / "W.npy")!r}, mmap_mode="r")
        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 1000)).astype(np.float32)
        delta = rng.standard_normal((8, 120)).astype(np.float32)
        SGD(0.1).step({{"W": W}}, {{"W": np.empty((1000, 120), np.float32)}}, {{"W": (x, delta)}})
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != -signal.SIGSEGV, "the interpreter crashed (SIGSEGV) inside the BLAS call"
    assert "read-only" in done.stderr


def test_nesterov_sgd_given_factors_makes_the_nesterov_update():
    """The trainer gives Nesterov no factors; given some anyway, at a size BLAS would take, it must
    still make Nesterov's update (theta += mu v - lr g), not classical momentum's."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((1000, 120)).astype(np.float32)  # 120,000 weights: over MIN_SIZE
    with_factors, with_gradient = SGD(0.1, 0.9, nesterov=True), SGD(0.1, 0.9, nesterov=True)
    p1, p2 = {"W": W.copy()}, {"W": W.copy()}
    for step in range(3):
        x, delta = factors(8, 1000, 120, np.float32, seed=10 + step)
        with_factors.step(p1, {"W": np.empty_like(W)}, {"W": (x, delta)})
        with_gradient.step(p2, {"W": x.T @ delta})
    np.testing.assert_array_equal(p1["W"], p2["W"])


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
    if not blas.available():
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
