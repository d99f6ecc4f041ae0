"""The optimizers' subnormal flush: state below the threshold becomes 0, nothing above it changes.

Subnormal floats (0 < |x| < the smallest normal number) make arithmetic tens of times slower on
many CPUs; decaying optimizer state passes through them on its way to zero. Every FLUSH_EVERY steps
each optimizer sets state with |s| < flush_below(dtype) to 0 (docs/optimizers.md).
"""

import io

import numpy as np
import pytest

from dlcc.optim.optimizers import FLUSH_EVERY, SGD, AdaGrad, Adam, RMSProp, flush_below

STATEFUL = {
    "momentum": lambda: SGD(lr=0.1, momentum=0.9),
    "nesterov": lambda: SGD(lr=0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: AdaGrad(lr=0.01),
    "rmsprop": lambda: RMSProp(lr=0.001),
    "adam": lambda: Adam(lr=0.001),
}
DTYPES = [np.float32, np.float64]


def subnormal_count(array: np.ndarray) -> int:
    magnitude = np.abs(array)
    return int(np.count_nonzero((magnitude > 0) & (magnitude < np.finfo(array.dtype).smallest_normal)))


def state_arrays(opt):
    return [s for arrays in opt.state.values() for s in arrays.values()]


def test_the_threshold_is_far_below_float32_resolution_and_above_the_subnormals():
    for dtype in DTYPES:
        tiny = np.finfo(dtype).smallest_normal
        assert flush_below(dtype) == tiny * 2.0**24
    assert flush_below(np.float32) == 2.0**-102
    # A flushed velocity v (|v| < threshold) would have moved its weight by sum mu**t |v| < 10 |v|
    # (mu = 0.9) in all; even a weight of 1e-20 does not notice that.
    assert np.float32(1e-20) + np.float32(10 * flush_below(np.float32)) == np.float32(1e-20)
    assert np.float32(1e-20) - np.float32(10 * flush_below(np.float32)) == np.float32(1e-20)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STATEFUL)
def test_flush_zeroes_exactly_the_entries_below_the_threshold(case, dtype):
    opt = STATEFUL[case]()
    params = {"W": np.ones((4, 5), dtype=dtype), "b": np.ones(5, dtype=dtype)}
    opt.step(params, {"W": np.zeros_like(params["W"]), "b": np.zeros_like(params["b"])})
    threshold = flush_below(dtype)
    tiny = np.finfo(dtype).smallest_normal
    values = np.array([0.0, tiny / 4, -tiny / 1024, tiny, -tiny * 2, threshold / 2, -threshold * 0.999,
                       threshold, -threshold * 1.001, 1e-20, -0.5, 3.0, np.nextafter(threshold, 1),
                       np.nextafter(threshold, 0), 7e-30, -2e-25, 0.25, -1e-3, 1.0, 2.5], dtype=dtype)
    rng = np.random.default_rng(0)
    for s in state_arrays(opt):
        s[...] = rng.permutation(values)[: s.size].reshape(s.shape)
    before = [s.copy() for s in state_arrays(opt)]
    assert sum(subnormal_count(s) for s in before) > 0

    opt.flush_subnormals()

    for old, new in zip(before, state_arrays(opt)):
        assert subnormal_count(new) == 0
        small = np.abs(old) < threshold
        assert np.all(new[small] == 0)
        np.testing.assert_array_equal(new[~small], old[~small])  # bit for bit above the threshold
        assert new.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STATEFUL)
def test_state_that_decays_never_holds_a_subnormal(case, dtype):
    """One gradient kick, then zeros for long enough that the state decays through the subnormal
    range many times over (float32: 0.9**t passes 2**-126 after ~800 steps; float64 much later,
    so float64 checks the flush with a kick near its threshold instead)."""
    opt = STATEFUL[case]()
    params = {"W": np.ones((3, 4), dtype=dtype), "b": np.ones(4, dtype=dtype)}
    kick = 1.0 if dtype == np.float32 else 1e-290
    grads = {"W": np.full((3, 4), kick, dtype=dtype), "b": np.full(4, -kick, dtype=dtype)}
    zeros = {name: np.zeros_like(g) for name, g in grads.items()}
    opt.step(params, grads)
    for _ in range(2000):
        opt.step(params, zeros)
        assert all(subnormal_count(s) == 0 for s in state_arrays(opt)), opt.t


@pytest.mark.parametrize("case", STATEFUL)
def test_tiny_gradients_leave_no_subnormal_state_after_a_flush(case):
    """State can be born subnormal (g * g of a gradient near 1e-20, lr * g of one near 1e-37);
    it lives until the next flush at most."""
    opt = STATEFUL[case]()
    params = {"W": np.ones((3, 4), dtype=np.float32)}
    rng = np.random.default_rng(1)
    for _ in range(3 * FLUSH_EVERY):
        exponent = rng.uniform(-44, -18, size=(3, 4))
        opt.step(params, {"W": (rng.choice([-1, 1], size=(3, 4)) * 10.0**exponent).astype(np.float32)})
        if opt.t % FLUSH_EVERY == 0:
            assert all(subnormal_count(s) == 0 for s in state_arrays(opt))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", STATEFUL)
def test_flush_changes_nothing_when_no_state_is_that_small(case, dtype):
    """Ordinary gradients: with and without the flush, parameters and state agree bit for bit."""
    rng = np.random.default_rng(2)
    steps = [{"W": rng.normal(size=(4, 3)).astype(dtype), "b": rng.normal(size=3).astype(dtype)}
             for _ in range(3 * FLUSH_EVERY + 5)]
    results = []
    for flush_every in (FLUSH_EVERY, None):
        opt = STATEFUL[case]()
        opt.flush_every = flush_every
        params = {"W": np.full((4, 3), 0.5, dtype=dtype), "b": np.zeros(3, dtype=dtype)}
        for grads in steps:
            opt.step(params, grads)
        results.append((params, opt.state_dict()))
    (p_on, s_on), (p_off, s_off) = results
    for name in p_on:
        np.testing.assert_array_equal(p_on[name], p_off[name])
    for key in s_on:
        np.testing.assert_array_equal(s_on[key], s_off[key])


@pytest.mark.parametrize("case", STATEFUL)
def test_flushing_decayed_state_moves_no_float32_weight(case):
    """The numerical effect: weights of ordinary size end bit for bit where they would without the
    flush, although the flushed run's state lost its tiny tails. A tenth of the entries get rare
    kicks of sizes 1e-20..1 (like weights of rarely lit pixels); the rest stay at 0."""
    shape = (40, 50)
    w0 = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    results = []
    for flush_every in (FLUSH_EVERY, None):
        opt = STATEFUL[case]()
        opt.flush_every = flush_every
        params = {"W": w0.copy()}
        rng = np.random.default_rng(4)
        rare = rng.random(shape) < 0.1
        for _ in range(3000):
            kick = rare & (rng.random(shape) < 0.002)
            size = 10.0 ** rng.uniform(-20, 0, size=shape)
            opt.step(params, {"W": (kick * size * rng.choice([-1.0, 1.0], size=shape)).astype(np.float32)})
        results.append((params["W"], opt))
    (w_on, opt_on), (w_off, opt_off) = results
    np.testing.assert_array_equal(w_on, w_off)
    assert sum(subnormal_count(s) for s in state_arrays(opt_on)) == 0
    if case != "adagrad":  # AdaGrad's r never decays: it holds subnormals only from tiny gradients
        assert sum(subnormal_count(s) for s in state_arrays(opt_off)) > 0  # there was something to flush


@pytest.mark.parametrize("case", STATEFUL)
def test_resume_across_a_flush_is_bit_for_bit(case):
    """The step count t is in the state dict, so a resumed optimizer flushes on the same steps."""
    rng = np.random.default_rng(5)
    steps = [{"W": (rng.normal(size=(3, 3)) * 10.0 ** rng.uniform(-40, 0, size=(3, 3))).astype(np.float32)}
             for _ in range(2 * FLUSH_EVERY + 3)]
    params, opt = {"W": np.ones((3, 3), np.float32)}, STATEFUL[case]()
    for grads in steps[:FLUSH_EVERY - 5]:
        opt.step(params, grads)
    buffer = io.BytesIO()
    np.savez(buffer, **opt.state_dict())
    saved_params = {"W": params["W"].copy()}
    for grads in steps[FLUSH_EVERY - 5:]:
        opt.step(params, grads)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        resumed = STATEFUL[case]()
        resumed.load_state_dict(dict(saved))
    for grads in steps[FLUSH_EVERY - 5:]:
        resumed.step(saved_params, grads)
    np.testing.assert_array_equal(saved_params["W"], params["W"])
    for key, array in opt.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], array)


def test_a_checkpoint_from_before_the_step_count_still_loads():
    """SGD, AdaGrad and RMSProp checkpoints written before the flush have no "t"; Adam's always did."""
    opt = SGD(lr=0.1, momentum=0.9)
    opt.load_state_dict({"v.W": np.full(3, 0.5, np.float32)})
    assert opt.t == 0
    with pytest.raises(KeyError, match="step count"):
        Adam(lr=0.1).load_state_dict({"m.W": np.zeros(2), "v.W": np.zeros(2)})


def test_plain_sgd_has_no_state_and_no_step_count():
    assert SGD(lr=0.1).state_dict() == {}


@pytest.mark.parametrize("optimizer, resumes", [("optimizer.momentum=0.9", True), ("optimizer.name=adam", False)])
def test_an_interrupted_run_from_before_the_step_count_resumes(optimizer, resumes, tmp_path):
    """A momentum run's checkpoint without "t" (dlcc before the flush) resumes to the same result;
    Adam always saved t, so an Adam checkpoint without it is damaged: exit 2, nothing changed."""
    import json

    from tests.runs_helpers import dlcc, train_run

    run = train_run(tmp_path, optimizer, "training.epochs=3")
    finished = json.loads((run / "summary.json").read_text())
    with np.load(run / "checkpoint.npz", allow_pickle=False) as saved:
        arrays = {k: saved[k] for k in saved.files if k != "m1.opt.t"}
    assert len(arrays) == len(saved.files) - 1  # the step count was there, and is gone
    np.savez(run / "checkpoint.npz", **arrays)
    (run / "summary.json").write_text(json.dumps({**finished, "status": "interrupted"}))
    before = (run / "checkpoint.npz").read_bytes()
    result = dlcc("train", "--resume", run, "--quiet")
    if resumes:
        assert result.exit_code == 0, result.output
        resumed = json.loads((run / "summary.json").read_text())
        assert resumed["status"] == "completed" and resumed["test"] == finished["test"]
    else:
        assert result.exit_code == 2 and "missing t" in result.stderr, result.output
        assert (run / "checkpoint.npz").read_bytes() == before
