"""Finite-difference checks (float64) of every analytic gradient in dlcc.nn.

Each test computes a gradient two ways: with the code's backward pass, and with central
differences of the forward value (tests/gradcheck_util.py), and asserts that they agree to a
relative error below TOL = 1e-7. A wrong formula gives a relative error of order 1.

Functions with kinks (relu, leaky_relu, the L1 loss and the L1 penalty) are only checked at
points at least KINK_MARGIN away from the kink, so a step of h = 1e-6 never crosses it.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.gradcheck_util import TOL, numerical_grad, rel_error, vjp

from dlcc.nn import activations, losses
from dlcc.nn.activations import ACTIVATIONS
from dlcc.nn.layers import Dense, Dropout
from dlcc.nn.network import Network

KINK_MARGIN = 1e-3
KINKED = {"relu", "leaky_relu"}
DIFFERENTIABLE = [name for name in ACTIVATIONS if name != "step"]


def away_from_zero(z: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Push every element at least `margin` away from 0, keeping its sign."""
    return np.where(z >= 0, z + margin, z - margin)


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


# ---- 1. activations: backward(g) = g^T da/dz ----


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_activation_backward_is_the_vector_jacobian_product(name):
    rng = np.random.default_rng(0)
    z = 2 * rng.normal(size=(5, 7))
    if name in KINKED:
        z = away_from_zero(z)
    g = rng.normal(size=(5, 7))

    f = activations.get(name)
    f.forward(z.copy())
    analytic = f.backward(g.copy())  # backward may work in place (ReLU)

    # A separate object: the numerical pass calls forward many times and would overwrite the cache.
    numeric = vjp(activations.get(name).forward, z, g)
    assert rel_error(analytic, numeric) < TOL


def test_softmax_jacobian_is_not_diagonal():
    """Softmax's backward must mix units: a gradient on unit 0 alone moves every z_k (by -a_0 a_k)."""
    z = np.array([[0.5, -1.0, 2.0]])
    f = activations.get("softmax")
    a = f.forward(z)
    g = np.array([[1.0, 0.0, 0.0]])
    expected = a * (g - a[0, 0])  # grad_z_k = a_k (g_k - sum_j g_j a_j) with sum_j g_j a_j = a_0
    np.testing.assert_allclose(f.backward(g), expected, rtol=1e-12)
    assert np.all(f.backward(g)[0, 1:] < 0)


def test_step_has_no_gradient():
    f = activations.get("step")
    f.forward(np.array([[-1.0, 2.0]]))
    with pytest.raises(NotImplementedError, match="no useful gradient"):
        f.backward(np.ones((1, 2)))


# ---- 2. losses: grad(a, y) = dC/da, and the fused delta(a, y) = dC/dz ----


def loss_inputs(name: str, rng: np.random.Generator, n: int = 5, k: int = 4):
    """A prediction a inside the loss's domain and a matching target y."""
    if name == "cross_entropy":
        a = activations.get("softmax").forward(rng.normal(size=(n, k)))  # rows in (0,1) summing to 1
        y = one_hot(rng.integers(0, k, size=n), k)
    elif name == "binary_cross_entropy":
        a = rng.uniform(0.05, 0.95, size=(n, k))
        y = rng.integers(0, 2, size=(n, k)).astype(float)
    else:
        a = rng.normal(size=(n, k))
        y = rng.normal(size=(n, k))
    if name == "l1":
        assert np.min(np.abs(a - y)) > KINK_MARGIN
    return a, y


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_grad_matches_finite_differences(name):
    rng = np.random.default_rng(1)
    a, y = loss_inputs(name, rng)
    loss = losses.get(name)
    numeric = numerical_grad(lambda: loss.value(a, y), a)
    assert rel_error(loss.grad(a, y), numeric) < TOL


def test_binary_cross_entropy_grad_with_soft_targets():
    """The BCE formulas hold for any target in [0, 1], not only for labels 0 and 1."""
    rng = np.random.default_rng(2)
    a = rng.uniform(0.05, 0.95, size=(5, 3))
    y = rng.uniform(0, 1, size=(5, 3))
    loss = losses.get("binary_cross_entropy")
    assert rel_error(loss.grad(a, y), numerical_grad(lambda: loss.value(a, y), a)) < TOL


FUSED_TARGETS = {
    # cross-entropy's fused delta a - y needs rows of y summing to 1: one-hot or soft labels
    ("cross_entropy", "one-hot"): lambda rng: one_hot(rng.integers(0, 4, size=5), 4),
    ("cross_entropy", "soft"): lambda rng: activations.get("softmax").forward(rng.normal(size=(5, 4))),
    ("binary_cross_entropy", "0/1"): lambda rng: rng.integers(0, 2, size=(5, 4)).astype(float),
    ("binary_cross_entropy", "soft"): lambda rng: rng.uniform(0, 1, size=(5, 4)),
}


@pytest.mark.parametrize("name,targets", list(FUSED_TARGETS), ids=lambda p: p)
def test_fused_delta_is_the_gradient_through_the_output_activation(name, targets):
    """delta(a, y) with a = f(z) equals d value(f(z), y) / dz, f the activation the loss fuses with."""
    rng = np.random.default_rng(3)
    loss = losses.get(name)
    z = 2 * rng.normal(size=(5, 4))
    y = FUSED_TARGETS[name, targets](rng)
    f = activations.get(loss.fuses_with)

    analytic = loss.delta(f.forward(z), y)
    numeric = numerical_grad(lambda: loss.value(f.forward(z), y), z)
    assert rel_error(analytic, numeric) < TOL


# ---- 4. one Dense layer: dW, db and dC/dx for the objective C = sum(G * a) ----


def preactivation(layer: Dense) -> np.ndarray:
    return layer.x @ layer.W + layer.b


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["no-dropout", "dropout"])
def test_dense_layer_gradients(name, dropout):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4))
    W = rng.normal(size=(4, 3))
    b = rng.normal(size=3)
    G = rng.normal(size=(5, 3))
    layer = Dense(W, b, name, dropout, rng)

    def objective() -> float:
        layer.dropout.rng = np.random.default_rng(123)  # the same dropout mask on every call
        return float(np.sum(G * layer.forward(x, training=True)))

    objective()
    if name in KINKED:
        assert np.min(np.abs(preactivation(layer))) > KINK_MARGIN
    if dropout:
        assert 0 < np.count_nonzero(layer.dropout.mask == 0) < layer.dropout.mask.size
    dx = layer.backward(G)
    dW, db = layer.dW.copy(), layer.db.copy()

    assert rel_error(dW, numerical_grad(objective, layer.W)) < TOL
    assert rel_error(db, numerical_grad(objective, layer.b)) < TOL
    assert rel_error(dx, numerical_grad(objective, x)) < TOL


def test_bias_gradient_is_the_column_sum_for_any_batch_size():
    """db = 1^T delta uses a vector of ones kept by the layer; batches of other sizes (the last,
    smaller batch of an epoch; a larger diagnostics probe) and dtypes must each get the exact sum."""
    rng = np.random.default_rng(5)
    layer = Dense(rng.normal(size=(4, 3)), np.zeros(3), "linear", 0.0, rng)
    for n, dtype in [(5, np.float64), (2, np.float64), (9, np.float64), (7, np.float32)]:
        x = rng.normal(size=(n, 4)).astype(dtype)
        delta = rng.normal(size=(n, 3)).astype(dtype)
        layer.forward(x, training=True)
        layer.backward(delta, fused=True)
        np.testing.assert_allclose(layer.db, delta.astype(np.float64).sum(axis=0), rtol=1e-6)


# ---- 5. the whole network: every parameter, every sensible (output, loss) pair ----


def build_network(sizes, acts, loss, rng, l1=0.0, l2=0.0, dropout=0.0, input_dropout=0.0):
    """A float64 Network with layers sizes[0] -> sizes[1] -> ...; acts[i] is layer i+1's activation.

    Dropout (if any) goes on the hidden layers only: the config forbids it on the output layer.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_in, n_out))
        if l1:
            W = away_from_zero(W, 0.05)  # |W| is not differentiable at 0
        b = rng.normal(0.0, 0.5, size=n_out)
        hidden = i < len(sizes) - 2
        layers.append(Dense(W, b, acts[i], dropout if hidden else 0.0, rng))
    return Network(layers, loss, Dropout(input_dropout, rng), l1=l1, l2=l2)


def targets(loss: str, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, k = a.shape
    if loss == "cross_entropy":
        return one_hot(rng.integers(0, k, size=n), k)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


# (sizes, activations by layer, loss, extra Network arguments)
NETWORKS = {
    "softmax+cross_entropy, relu hidden": ([4, 6, 3], ["relu", "softmax"], "cross_entropy", {}),
    "sigmoid+binary_cross_entropy, tanh hidden": ([4, 6, 2], ["tanh", "sigmoid"], "binary_cross_entropy", {}),
    "sigmoid+binary_cross_entropy, one output": ([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", {}),
    "linear+quadratic, sigmoid hidden": ([3, 5, 2], ["sigmoid", "linear"], "quadratic", {}),
    "linear+mse, leaky_relu hidden": ([3, 5, 2], ["leaky_relu", "linear"], "mse", {}),
    "linear+l1, tanh hidden": ([3, 5, 2], ["tanh", "linear"], "l1", {}),
    "sigmoid+quadratic (not fused), relu hidden": ([4, 5, 3], ["relu", "sigmoid"], "quadratic", {}),
    "softmax+quadratic (not fused)": ([4, 5, 3], ["tanh", "softmax"], "quadratic", {}),
    "tanh+mse": ([3, 4, 2], ["sigmoid", "tanh"], "mse", {}),
    "no hidden layer (logistic regression)": ([4, 3], ["softmax"], "cross_entropy", {}),
    "2 hidden layers": ([4, 6, 5, 3], ["relu", "tanh", "softmax"], "cross_entropy", {}),
    "3 hidden layers": ([3, 5, 4, 4, 2], ["leaky_relu", "sigmoid", "relu", "linear"], "quadratic", {}),
    "L2": ([4, 6, 3], ["tanh", "softmax"], "cross_entropy", {"l2": 0.3}),
    "L1": ([4, 6, 3], ["tanh", "softmax"], "cross_entropy", {"l1": 0.2}),
    "L1 and L2": ([4, 6, 5, 2], ["relu", "tanh", "sigmoid"], "binary_cross_entropy", {"l1": 0.1, "l2": 0.3}),
    "dropout": ([4, 8, 3], ["relu", "softmax"], "cross_entropy", {"dropout": 0.4, "input_dropout": 0.3}),
    "dropout, 2 hidden layers, L2": (
        [4, 8, 7, 2], ["tanh", "leaky_relu", "linear"], "mse", {"dropout": 0.3, "input_dropout": 0.2, "l2": 0.1},
    ),
}


@pytest.mark.parametrize("case", list(NETWORKS))
def test_network_gradients_match_finite_differences(case):
    sizes, acts, loss, kwargs = NETWORKS[case]
    rng = np.random.default_rng(0)
    net = build_network(sizes, acts, loss, rng, **kwargs)
    x = rng.normal(size=(7, sizes[0]))
    y = targets(loss, net.forward(x), rng)
    uses_dropout = kwargs.get("dropout", 0) > 0 or kwargs.get("input_dropout", 0) > 0

    def forward() -> np.ndarray:
        if not uses_dropout:
            return net.forward(x)
        # Fresh, identically seeded generators: every forward pass draws the same dropout masks.
        net.input_dropout.rng = np.random.default_rng(123)
        for layer in net.layers:
            layer.dropout.rng = np.random.default_rng(123)
        return net.forward(x, training=True)

    def cost() -> float:
        """C = mean per-example loss + weight penalty, the quantity the analytic gradients differentiate."""
        return net.data_loss(forward(), y) + net.penalty()

    a = forward() if uses_dropout else net.forward(x, training=True)
    net.backward(a, y)
    analytic = {name: g.copy() for name, g in net.grads.items()}

    # The check is only meaningful if the conditions it assumes actually hold:
    fused_pairs = {("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")}
    assert net.fused == ((loss, acts[-1]) in fused_pairs)
    for layer in net.layers[:-1]:
        if layer.activation in KINKED:
            assert np.min(np.abs(preactivation(layer))) > KINK_MARGIN
    if loss == "l1":
        assert np.min(np.abs(a - y)) > KINK_MARGIN
    if uses_dropout:
        masks = [net.input_dropout.mask] + [layer.dropout.mask for layer in net.layers[:-1]]
        for mask in masks:
            assert 0 < np.count_nonzero(mask == 0) < mask.size  # some units dropped, not all

    assert set(analytic) == {f"{p}{i}" for i in range(1, len(sizes)) for p in "Wb"}
    for name, theta in net.params.items():
        numeric = numerical_grad(cost, theta)
        assert rel_error(analytic[name], numeric) < TOL, name


def test_penalty_gradient_applies_to_weights_not_biases():
    """With zero data gradient, dW is exactly l2 W + l1 sign(W) and db stays 0."""
    rng = np.random.default_rng(5)
    net = build_network([3, 4, 2], ["tanh", "linear"], "quadratic", rng, l1=0.2, l2=0.3)
    x = rng.normal(size=(4, 3))
    a = net.forward(x, training=True)
    net.backward(a, a.copy())  # y = a: the loss gradient is 0
    for i, layer in enumerate(net.layers, start=1):
        np.testing.assert_allclose(net.grads[f"W{i}"], 0.3 * layer.W + 0.2 * np.sign(layer.W), rtol=1e-12)
        np.testing.assert_array_equal(net.grads[f"b{i}"], 0.0)
