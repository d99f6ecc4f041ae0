"""Values, not gradients: losses against SPEC.md's formulas, activations against their definitions,
initializer distributions against their stated std/limits, and the max-norm constraint.

Every reference below is written out independently of dlcc, with plain loops or numbers worked out
by hand, so that a test fails if the code's formula drifts from the documented one.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from dlcc.nn import activations, initializers, losses, regularizers

# ---- 3. loss values: per example, summed over output units, averaged over the n examples ----

A = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def per_example_mean(term, a, y):
    """1/n sum_x sum_k term(a_k, y_k), one element at a time."""
    n, k = a.shape
    return sum(term(a[x, j], y[x, j]) for x in range(n) for j in range(k)) / n


REFERENCES = {
    "quadratic": lambda a, y: per_example_mean(lambda ak, yk: 0.5 * (ak - yk) ** 2, a, y),
    "mse": lambda a, y: per_example_mean(lambda ak, yk: (ak - yk) ** 2, a, y) / a.shape[1],
    "l1": lambda a, y: per_example_mean(lambda ak, yk: abs(ak - yk), a, y),
    "cross_entropy": lambda a, y: per_example_mean(lambda ak, yk: -yk * math.log(ak), a, y),
    "binary_cross_entropy": lambda a, y: per_example_mean(
        lambda ak, yk: -(yk * math.log(ak) + (1 - yk) * math.log(1 - ak)), a, y
    ),
}


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_value_matches_the_spec_formula(name):
    assert losses.get(name).value(A, Y) == pytest.approx(REFERENCES[name](A, Y), rel=1e-12)


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_value_on_random_arrays(name):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.05, 0.95, size=(6, 4))
    if name == "cross_entropy":
        a /= a.sum(axis=1, keepdims=True)
        y = np.eye(4)[rng.integers(0, 4, size=6)]
    else:
        y = rng.uniform(0, 1, size=(6, 4))
    assert losses.get(name).value(a, y) == pytest.approx(REFERENCES[name](a, y), rel=1e-12)


def test_hand_computed_loss_values():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[0.0, 2.0], [3.0, 1.0]])
    # differences: [1, 0], [0, 3]
    assert losses.get("quadratic").value(a, y) == pytest.approx((0.5 * 1 + 0.5 * 9) / 2)  # 2.5
    assert losses.get("mse").value(a, y) == pytest.approx((1 + 9) / 4)  # 2.5 / K with K = 2 units
    assert losses.get("l1").value(a, y) == pytest.approx((1 + 3) / 2)  # 2.0
    # one example, true class 0 with probability 1/2: -log(1/2) = log 2
    ce = losses.get("cross_entropy").value(np.array([[0.5, 0.25, 0.25]]), np.array([[1.0, 0.0, 0.0]]))
    assert ce == pytest.approx(0.6931471805599453)
    # -(log 0.5 + log(1 - 0.8)) = log 2 + log 5 = log 10
    bce = losses.get("binary_cross_entropy").value(np.array([[0.5, 0.8]]), np.array([[1.0, 0.0]]))
    assert bce == pytest.approx(2.302585092994046)


def test_cross_entropy_of_a_zero_probability_is_capped():
    """log(0) would be -inf; the loss clips a at EPS = 1e-12 so one term is at most -log(1e-12)."""
    ce = losses.get("cross_entropy").value(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert ce == pytest.approx(-math.log(1e-12))
    bce = losses.get("binary_cross_entropy").value(np.array([[1.0]]), np.array([[0.0]]))
    assert np.isfinite(bce) and bce == pytest.approx(-math.log(1e-12), rel=1e-3)


# ---- activations: forward values against the definitions ----


Z = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0]])
DEFINITIONS = {
    "linear": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "tanh": math.tanh,
    "relu": lambda z: max(0.0, z),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "step": lambda z: 1.0 if z > 0 else 0.0,
}


@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_elementwise_activation_values(name):
    expected = np.array([[DEFINITIONS[name](z) for z in Z[0]]])
    np.testing.assert_allclose(activations.get(name).forward(Z.copy()), expected, rtol=1e-14, atol=1e-15)


def test_relu_keeps_width_and_dtype_when_the_input_changes():
    """ReLU caches a row of zeros for speed; a new width or dtype must not reuse a stale one."""
    f = activations.get("relu")
    rng = np.random.default_rng(0)
    for shape, dtype in [((4, 3), np.float64), ((2, 5), np.float64), ((6, 5), np.float32), ((1, 3), np.float64)]:
        z = rng.normal(size=shape).astype(dtype)
        a = f.forward(z)
        assert a.dtype == dtype and a.shape == shape
        np.testing.assert_array_equal(a, np.where(z > 0, z, 0))


def test_softmax_values_and_no_overflow():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1001.0]])
    a = activations.get("softmax").forward(z)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(a[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(a[1], np.array([1, 1, math.e]) / (2 + math.e), rtol=1e-14)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-14)


def test_sigmoid_does_not_overflow():
    with np.errstate(all="raise"):
        a = activations.get("sigmoid").forward(np.array([[-800.0, 800.0]]))
    np.testing.assert_array_equal(a, [[0.0, 1.0]])


def test_unknown_activation_and_loss_list_the_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        activations.get("swish")
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*cross_entropy"):
        losses.get("hinge")


# ---- 6. initializers ----


def spec(name, std=None, limit=None, value=None):
    return SimpleNamespace(name=name, std=std, limit=limit, value=value)


SPECS = {
    "zeros": spec("zeros"),
    "constant": spec("constant", value=0.3),
    "normal": spec("normal", std=0.01),
    "uniform": spec("uniform", limit=0.05),
    **{name: spec(name) for name in (
        "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "large_normal",
        "scaled_normal",
    )},
}

N_IN, N_OUT = 400, 600  # 240,000 draws: the sample std is within ~0.3% of the true one


def test_every_initializer_is_covered():
    assert set(SPECS) == set(initializers.INITIALIZERS)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initializer_shapes_and_dtype(name, dtype):
    rng = np.random.default_rng(0)
    W = initializers.draw(SPECS[name], (5, 3), 5, 3, rng, dtype)
    b = initializers.draw(SPECS[name], (3,), 5, 3, rng, dtype)
    assert W.shape == (5, 3) and b.shape == (3,)
    assert W.dtype == dtype and b.dtype == dtype


@pytest.mark.parametrize("name", list(SPECS))
def test_initializer_is_deterministic_under_a_seed(name):
    def draw(seed):
        return initializers.draw(SPECS[name], (20, 10), 20, 10, np.random.default_rng(seed), np.float64)

    np.testing.assert_array_equal(draw(7), draw(7))
    if name not in ("zeros", "constant"):
        assert not np.array_equal(draw(7), draw(8))


def test_zeros_and_constant():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(initializers.draw(SPECS["zeros"], (3, 2), 3, 2, rng, np.float64), 0.0)
    np.testing.assert_array_equal(initializers.draw(SPECS["constant"], (3, 2), 3, 2, rng, np.float64), 0.3)


# name -> the std the formula gives for a (N_IN, N_OUT) matrix
NORMAL_STD = {
    "normal": 0.01,
    "large_normal": 1.0,
    "scaled_normal": 1 / math.sqrt(N_IN),
    "lecun_normal": 1 / math.sqrt(N_IN),
    "he_normal": math.sqrt(2 / N_IN),
    "glorot_normal": math.sqrt(2 / (N_IN + N_OUT)),
}
# name -> the bound r of U(-r, r)
UNIFORM_LIMIT = {
    "uniform": 0.05,
    "glorot_uniform": math.sqrt(6 / (N_IN + N_OUT)),  # not the course text's typo 6/sqrt(m+n)
    "he_uniform": math.sqrt(6 / N_IN),
}


@pytest.mark.parametrize("name", list(NORMAL_STD))
def test_normal_initializer_std(name):
    W = initializers.draw(SPECS[name], (N_IN, N_OUT), N_IN, N_OUT, np.random.default_rng(0), np.float64)
    std = NORMAL_STD[name]
    assert abs(W.mean()) < 0.01 * std
    assert W.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize("name", list(UNIFORM_LIMIT))
def test_uniform_initializer_limits(name):
    W = initializers.draw(SPECS[name], (N_IN, N_OUT), N_IN, N_OUT, np.random.default_rng(0), np.float64)
    r = UNIFORM_LIMIT[name]
    assert np.all(np.abs(W) <= r)
    assert W.min() < -0.999 * r and W.max() > 0.999 * r  # the whole interval is used
    assert W.std() == pytest.approx(r / math.sqrt(3), rel=0.01)  # std of U(-r, r) is r / sqrt(3)


# ---- 7. max-norm ----


def test_max_norm_scales_long_columns_to_exactly_c_and_leaves_the_others():
    W = np.array([
        [3.0, 0.1, 0.0, 1.0],
        [4.0, 0.2, 0.0, 0.0],
    ])  # column norms: 5, ~0.22, 0, 1
    before = W.copy()
    regularizers.apply_max_norm(W, 2.0)
    norms = np.linalg.norm(W, axis=0)
    assert norms[0] == pytest.approx(2.0, rel=1e-14)
    np.testing.assert_allclose(W[:, 0], [1.2, 1.6], rtol=1e-14)  # same direction, length 2
    np.testing.assert_array_equal(W[:, 1:], before[:, 1:])  # norm <= c: untouched (zero column too)


def test_max_norm_on_random_float32_weights():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(30, 20)).astype(np.float32)
    before = W.copy()
    c = 5.0
    long = np.linalg.norm(before, axis=0) > c
    assert long.any() and (~long).any()
    regularizers.apply_max_norm(W, c)
    assert W.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(W[:, long], axis=0), c, rtol=1e-6)
    np.testing.assert_array_equal(W[:, ~long], before[:, ~long])


def test_binary_cross_entropy_stays_finite_when_float32_sigmoids_saturate():
    # sigmoid(20) is exactly 1.0 in float32; a clip at 1 - 1e-12 would round back to 1.0,
    # and 0 * log(0) would make the loss NaN (a false "diverged").
    from dlcc.nn.losses import BinaryCrossEntropy

    a = np.array([[1.0, 0.0]], dtype=np.float32)
    for y in (np.array([[1.0, 0.0]], dtype=np.float32), np.array([[0.0, 1.0]], dtype=np.float32)):
        assert np.isfinite(BinaryCrossEntropy().value(a, y))
        assert np.isfinite(BinaryCrossEntropy().grad(a, y)).all()
