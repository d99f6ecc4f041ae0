"""Optimizers update large parameters block by block (to stay in cache); the result must be the
whole-array formula's, bit for bit."""

import numpy as np
import pytest

from dlcc.optim.optimizers import BLOCK, SGD, AdaGrad, Adam, RMSProp, blocks

SHAPES = {"W": (600, 250), "b": (250,), "V": (4 * BLOCK + 3,), "U": (5, 4)}  # W and V span several blocks


def whole_array_steps(case, params, grad_steps, hyper):
    """The update rules of docs/optimizers.md, applied to whole arrays, in the same operation order."""
    state = {name: [np.zeros_like(p), np.zeros_like(p)] for name, p in params.items()}
    for t, grads in enumerate(grad_steps, start=1):
        for name, theta in params.items():
            g, (s1, s2) = grads[name], state[name]
            if case == "sgd":
                theta -= hyper["lr"] * g
            elif case in ("momentum", "nesterov"):
                s1 *= hyper["momentum"]
                s1 -= hyper["lr"] * g
                theta += hyper["momentum"] * s1 - hyper["lr"] * g if case == "nesterov" else s1
            elif case == "adagrad":
                s1 += g * g
                theta -= hyper["lr"] * g / (hyper["eps"] + np.sqrt(s1))
            elif case == "rmsprop":
                s1 *= hyper["rho"]
                s1 += (1 - hyper["rho"]) * g * g
                theta -= hyper["lr"] * g / (hyper["eps"] + np.sqrt(s1))
            else:  # adam
                b1, b2 = hyper["beta1"], hyper["beta2"]
                s1 *= b1
                s1 += (1 - b1) * g
                s2 *= b2
                s2 += (1 - b2) * g * g
                theta -= hyper["lr"] * (s1 / (1 - b1**t)) / (np.sqrt(s2 / (1 - b2**t)) + hyper["eps"])
    return params


CASES = {
    "sgd": (SGD, dict(lr=0.1)),
    "momentum": (SGD, dict(lr=0.1, momentum=0.9)),
    "nesterov": (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "adagrad": (AdaGrad, dict(lr=0.05, eps=1e-7)),
    "rmsprop": (RMSProp, dict(lr=0.01, rho=0.9, eps=1e-7)),
    "adam": (Adam, dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_block_by_block_equals_the_whole_array_formula(case, dtype):
    cls, hyper = CASES[case]
    rng = np.random.default_rng(0)
    params = {name: rng.normal(size=shape).astype(dtype) for name, shape in SHAPES.items()}
    grad_steps = [{name: rng.normal(size=shape).astype(dtype) for name, shape in SHAPES.items()}
                  for _ in range(5)]
    expected = whole_array_steps(case, {n: p.copy() for n, p in params.items()}, grad_steps, hyper)
    opt = cls(**hyper)
    for grads in grad_steps:
        opt.step(params, grads)
    for name in params:
        np.testing.assert_array_equal(params[name], expected[name])


def test_blocks_cover_every_element_once_in_whole_rows():
    a, b = np.arange(600 * 250).reshape(600, 250), np.zeros((600, 250))
    seen = 0
    for a_block, b_block in blocks(a, b):
        assert np.shares_memory(a_block, a) and np.shares_memory(b_block, b)  # views: updates land
        assert a_block.shape[1] == 250 and a_block.size <= BLOCK
        b_block += 1
        seen += a_block.size
    assert seen == a.size and np.all(b == 1)
    n = 4 * BLOCK + 1
    assert [len(x) for (x,) in blocks(np.zeros(n))] == [BLOCK] * 4 + [1]
    assert [x.shape for (x,) in blocks(np.zeros((2, BLOCK * 3)))] == [(1, BLOCK * 3), (1, BLOCK * 3)]
    small = np.zeros((100, 100))
    ((whole,),) = blocks(small)
    assert whole is small  # small parameters are not sliced
