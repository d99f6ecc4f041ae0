"""Optimizers and gradient clipping, checked against hand-written scalar references.

Each reference below updates ONE float with `math`, step by step, the way the formula is
written in a textbook; `run_reference` applies it to every element of every parameter.
The optimizers must match it to rtol=1e-12 after several steps with changing gradients.
"""

import io
import math
from typing import Literal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import BaseModel, ConfigDict

from dlcc import config
from dlcc.optim import OPTIMIZERS, build_optimizer, clip_grad_norm
from dlcc.optim.optimizers import SGD, AdaGrad, Adam, RMSProp
from tests.conftest import TINY

RTOL = 1e-12


def make_params(dtype=np.float64):
    return {
        "W": np.array([[0.5, -1.0, 2.0], [0.25, 0.75, -0.5]], dtype=dtype),
        "b": np.array([0.1, -0.2], dtype=dtype),
    }


def make_grads(steps=4, dtype=np.float64):
    """A different gradient at every step, with both signs and several magnitudes."""
    rng = np.random.default_rng(0)
    return [
        {"W": rng.normal(size=(2, 3)).astype(dtype), "b": rng.normal(size=2).astype(dtype)}
        for _ in range(steps)
    ]


def copy(params):
    return {name: theta.copy() for name, theta in params.items()}


# ---- scalar references: (theta, [g_1, g_2, ...]) -> (theta after all steps, {state}) ----


def sgd_ref(theta, gs, lr):
    for g in gs:
        theta = theta - lr * g
    return theta, {}


def momentum_ref(theta, gs, lr, mu):
    v = 0.0
    for g in gs:
        v = mu * v - lr * g
        theta = theta + v
    return theta, {"v": v}


def nesterov_ref(theta, gs, lr, mu):
    # The "v_prev" form of the reformulated update (the implementation uses another form).
    v = 0.0
    for g in gs:
        v_prev = v
        v = mu * v - lr * g
        theta = theta - mu * v_prev + (1 + mu) * v
    return theta, {"v": v}


def adagrad_ref(theta, gs, lr, eps):
    r = 0.0
    for g in gs:
        r = r + g**2
        theta = theta - lr * g / (eps + math.sqrt(r))
    return theta, {"r": r}


def rmsprop_ref(theta, gs, lr, rho, eps):
    r = 0.0
    for g in gs:
        r = rho * r + (1 - rho) * g**2
        theta = theta - lr * g / (eps + math.sqrt(r))
    return theta, {"r": r}


def adam_ref(theta, gs, lr, beta1, beta2, eps):
    m = v = 0.0
    for t, g in enumerate(gs, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta, {"m": m, "v": v}


def run_reference(ref, params, grad_steps, **hyper):
    """Apply the scalar reference element by element; returns (params, {"slot.name": array})."""
    out_params, out_state = {}, {}
    for name, theta0 in params.items():
        out_params[name] = np.empty_like(theta0)
        for idx in np.ndindex(theta0.shape):
            gs = [float(grads[name][idx]) for grads in grad_steps]
            theta, state = ref(float(theta0[idx]), gs, **hyper)
            out_params[name][idx] = theta
            for slot, value in state.items():
                out_state.setdefault(f"{slot}.{name}", np.empty_like(theta0))[idx] = value
    return out_params, out_state


# Non-default hyperparameters, so that a swapped or ignored argument shows up.
HAND_CASES = {
    "sgd": (lambda: SGD(lr=0.1), sgd_ref, dict(lr=0.1)),
    "momentum": (lambda: SGD(lr=0.1, momentum=0.8), momentum_ref, dict(lr=0.1, mu=0.8)),
    "nesterov": (
        lambda: SGD(lr=0.1, momentum=0.8, nesterov=True),
        nesterov_ref,
        dict(lr=0.1, mu=0.8),
    ),
    "adagrad": (lambda: AdaGrad(lr=0.3, eps=1e-3), adagrad_ref, dict(lr=0.3, eps=1e-3)),
    "rmsprop": (
        lambda: RMSProp(lr=0.05, rho=0.7, eps=1e-3),
        rmsprop_ref,
        dict(lr=0.05, rho=0.7, eps=1e-3),
    ),
    "adam": (
        lambda: Adam(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-3),
        adam_ref,
        dict(lr=0.02, beta1=0.8, beta2=0.95, eps=1e-3),
    ),
}


@pytest.mark.parametrize("case", HAND_CASES)
def test_steps_match_hand_derivation(case):
    make_opt, ref, hyper = HAND_CASES[case]
    params, grad_steps = make_params(), make_grads(steps=4)
    expected_params, expected_state = run_reference(ref, params, grad_steps, **hyper)

    opt = make_opt()
    for grads in grad_steps:
        opt.step(params, grads)

    for name in params:
        np.testing.assert_allclose(params[name], expected_params[name], rtol=RTOL)
    state = opt.state_dict()
    if opt.slots:  # the step count: Adam's bias correction, and every optimizer's flush schedule
        assert state.pop("t") == 4
    assert state.keys() == expected_state.keys()
    for key in state:
        np.testing.assert_allclose(state[key], expected_state[key], rtol=RTOL)


def test_plain_sgd_step_is_exact():
    params, (grads,) = make_params(), make_grads(steps=1)
    expected = {name: params[name] - 0.1 * grads[name] for name in params}
    SGD(lr=0.1).step(params, grads)
    for name in params:
        np.testing.assert_array_equal(params[name], expected[name])


def test_lr_can_change_between_steps():
    params, grad_steps = make_params(), make_grads(steps=2)
    expected = {n: params[n] - 0.1 * grad_steps[0][n] - 0.05 * grad_steps[1][n] for n in params}
    opt = SGD(lr=0.1)
    opt.step(params, grad_steps[0])
    opt.lr = 0.05
    opt.step(params, grad_steps[1])
    for name in params:
        np.testing.assert_allclose(params[name], expected[name], rtol=RTOL)


def test_nesterov_matches_look_ahead_definition_on_a_quadratic():
    """Look-ahead form: v = mu v - lr grad(theta + mu v); theta += v.

    The optimizer stores the look-ahead point phi = theta + mu v as the parameter and is
    given the gradient at its own parameters; its iterates must be exactly those points.
    """
    A = np.array([[3.0, 1.0], [1.0, 2.0]])  # symmetric positive definite
    C = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])
    d = np.array([0.5, 4.0])
    e = np.array([1.0, -1.0])

    def grad(p):  # f = 1/2 tr(W^T A W) - tr(C^T W) + sum(d b^2 / 2 - e b)
        return {"W": A @ p["W"] - C, "b": d * p["b"] - e}

    lr, mu = 0.05, 0.9
    theta, v = make_params(), {name: np.zeros_like(x) for name, x in make_params().items()}
    params, opt = make_params(), SGD(lr=lr, momentum=mu, nesterov=True)
    for _ in range(10):
        g_look_ahead = grad({n: theta[n] + mu * v[n] for n in theta})
        v = {n: mu * v[n] - lr * g_look_ahead[n] for n in theta}
        theta = {n: theta[n] + v[n] for n in theta}

        opt.step(params, grad(params))
        for n in theta:
            np.testing.assert_allclose(params[n], theta[n] + mu * v[n], rtol=RTOL, atol=1e-15)
            np.testing.assert_allclose(opt.state["v"][n], v[n], rtol=RTOL, atol=1e-15)


ALL_OPTIMIZERS = {case: make_opt for case, (make_opt, _, _) in HAND_CASES.items()}


@pytest.mark.parametrize("case", ALL_OPTIMIZERS)
def test_updates_in_place_and_allocates_state_once(case):
    opt, params, grad_steps = ALL_OPTIMIZERS[case](), make_params(), make_grads(steps=3)
    originals = dict(params)
    opt.step(params, grad_steps[0])
    state_arrays = {slot: dict(arrays) for slot, arrays in opt.state.items()}
    before = copy(params)
    for grads in grad_steps[1:]:
        opt.step(params, grads)
    for name in params:
        assert params[name] is originals[name]
        assert not np.array_equal(params[name], before[name])
    for slot, arrays in opt.state.items():
        for name in arrays:
            assert arrays[name] is state_arrays[slot][name]


@pytest.mark.parametrize("case", ALL_OPTIMIZERS)
def test_float32_stays_float32(case):
    params32, params64 = make_params(np.float32), make_params(np.float64)
    opt32, opt64 = ALL_OPTIMIZERS[case](), ALL_OPTIMIZERS[case]()
    for grads in make_grads(steps=3, dtype=np.float32):
        opt32.step(params32, grads)
        opt64.step(params64, {n: g.astype(np.float64) for n, g in grads.items()})
    for name in params32:
        assert params32[name].dtype == np.float32
        np.testing.assert_allclose(params32[name], params64[name], rtol=1e-5, atol=1e-6)
    for key, array in opt32.state_dict().items():
        if key != "t":
            assert array.dtype == np.float32, key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ALL_OPTIMIZERS)
def test_state_round_trip_resumes_bit_for_bit(case, dtype):
    grad_steps = make_grads(steps=6, dtype=dtype)
    params, opt = make_params(dtype), ALL_OPTIMIZERS[case]()
    for grads in grad_steps[:3]:
        opt.step(params, grads)
    snapshot, params_at_3 = opt.state_dict(), copy(params)

    # The uninterrupted run goes on; the snapshot must not follow it.
    for grads in grad_steps[3:]:
        opt.step(params, grads)

    # Save and load the way checkpoint.npz does: no pickles.
    buffer = io.BytesIO()
    np.savez(buffer, **snapshot)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        restored_state = dict(saved)
    resumed = ALL_OPTIMIZERS[case]()
    resumed.load_state_dict(restored_state)
    for grads in grad_steps[3:]:
        resumed.step(params_at_3, grads)

    for name in params:
        np.testing.assert_array_equal(params_at_3[name], params[name])
    resumed_state, state = resumed.state_dict(), opt.state_dict()
    assert resumed_state.keys() == state.keys()
    for key in state:
        assert resumed_state[key].dtype == state[key].dtype
        np.testing.assert_array_equal(resumed_state[key], state[key])


def test_load_state_dict_rejects_unknown_state():
    with pytest.raises(KeyError, match="r.W"):
        Adam(lr=0.1).load_state_dict({"r.W": np.zeros(2), "t": np.array(1)})


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda: SGD(lr=0.1),
        lambda: SGD(lr=0.05, momentum=0.9),
        lambda: SGD(lr=0.05, momentum=0.9, nesterov=True),
        lambda: AdaGrad(lr=0.5),
        lambda: RMSProp(lr=0.01),
        lambda: Adam(lr=0.01),
    ],
)
def test_minimises_a_convex_quadratic(make_opt):
    """f = 1/2 sum a (theta - c)^2 with curvatures a between 0.5 and 2."""
    a = {"W": np.array([[0.5, 1.0, 2.0], [1.5, 0.8, 1.2]]), "b": np.array([2.0, 0.5])}
    c = {"W": np.array([[1.0, -2.0, 0.0], [3.0, 0.5, -1.0]]), "b": np.array([-1.0, 2.0])}

    def loss(p):
        return sum(0.5 * np.sum(a[n] * (p[n] - c[n]) ** 2) for n in p)

    params, opt = make_params(), make_opt()
    initial = loss(params)
    for _ in range(1000):
        opt.step(params, {n: a[n] * (params[n] - c[n]) for n in params})
    assert loss(params) < 1e-4 * initial


class SGDConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["sgd"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False


class AdamConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["adam"] = "adam"
    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


class OtherConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    lr: float = 0.01


def test_build_optimizer_passes_config_fields():
    sgd = build_optimizer(SGDConfig(lr=0.3, momentum=0.7, nesterov=True))
    assert isinstance(sgd, SGD)
    assert (sgd.lr, sgd.momentum, sgd.nesterov) == (0.3, 0.7, True)
    adam = build_optimizer(AdamConfig(lr=0.002, beta1=0.8, beta2=0.99, eps=1e-6))
    assert isinstance(adam, Adam)
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (0.002, 0.8, 0.99, 1e-6)
    assert isinstance(build_optimizer(OtherConfig(name="adagrad")), AdaGrad)
    assert isinstance(build_optimizer(OtherConfig(name="rmsprop")), RMSProp)


def test_every_optimizer_the_schema_accepts_is_registered_and_builds():
    """build_optimizer does not check the name: the schema's choices must be the registry's."""
    schema = config.Config.model_json_schema()["properties"]["optimizer"]["discriminator"]
    assert sorted(schema["mapping"]) == sorted(OPTIMIZERS)
    for name, cls in OPTIMIZERS.items():
        cfg = config.parse({**TINY, "optimizer": name})  # every default of that section
        assert type(build_optimizer(cfg.optimizer)) is cls


def test_constructor_defaults():
    sgd = SGD(lr=0.1)
    assert (sgd.momentum, sgd.nesterov, sgd.state_dict()) == (0.0, False, {})
    assert AdaGrad(lr=0.1).eps == 1e-7
    assert (RMSProp(lr=0.1).rho, RMSProp(lr=0.1).eps) == (0.9, 1e-7)
    adam = Adam(lr=0.1)
    assert (adam.beta1, adam.beta2, adam.eps, adam.t) == (0.9, 0.999, 1e-8, 0)


# ---- clip_grad_norm ----


def test_clip_returns_norm_and_scales_in_place():
    grads = {"W": np.array([[3.0, 0.0], [0.0, 4.0]]), "b": np.array([12.0])}  # norm 13
    W = grads["W"]
    norm = clip_grad_norm(grads, max_norm=6.5)
    assert norm == 13.0
    assert grads["W"] is W
    np.testing.assert_allclose(grads["W"], [[1.5, 0.0], [0.0, 2.0]], rtol=RTOL)
    np.testing.assert_allclose(grads["b"], [6.0], rtol=RTOL)


def test_clip_leaves_small_gradients_alone():
    grads = {"W": np.array([[3.0, 0.0], [0.0, 4.0]]), "b": np.array([12.0])}
    before = copy(grads)
    for max_norm in (13.0, 100.0):  # at the threshold too: only a norm above it is clipped
        assert clip_grad_norm(grads, max_norm) == 13.0
        for name in grads:
            np.testing.assert_array_equal(grads[name], before[name])


@given(
    W=arrays(np.float64, (3, 2), elements=st.floats(-1e3, 1e3)),
    b=arrays(np.float64, (2,), elements=st.floats(-1e3, 1e3)),
    max_norm=st.floats(1e-3, 1e3),
)
def test_clip_bounds_the_norm_and_keeps_the_direction(W, b, max_norm):
    grads = {"W": W.copy(), "b": b.copy()}
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(math.sqrt(np.sum(W**2) + np.sum(b**2)), rel=1e-12)
    new_norm = math.sqrt(np.sum(grads["W"] ** 2) + np.sum(grads["b"] ** 2))
    assert new_norm <= max_norm * (1 + 1e-12)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    np.testing.assert_allclose(grads["W"], W * scale, rtol=1e-12)
    np.testing.assert_allclose(grads["b"], b * scale, rtol=1e-12)


def test_clip_keeps_float32():
    grads = {"W": np.full((2, 2), 10.0, dtype=np.float32)}
    clip_grad_norm(grads, 1.0)
    assert grads["W"].dtype == np.float32
    np.testing.assert_allclose(grads["W"], 0.5, rtol=1e-6)
