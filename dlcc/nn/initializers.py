"""Weight and bias initializers: draw(shape, n_in, n_out, rng) for a matrix W of shape (n_in, n_out).

n_in is the layer's fan-in (inputs per unit), n_out its fan-out. All randomness comes from the
Generator passed in. For biases (shape (n_out,)) the same functions are used with the layer's
n_in and n_out, so `normal {std}` means the same thing for both.

Glorot (Xavier) uniform is U(-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))). One course text
prints it as U(-6/sqrt(m+n), 6/(m+n)); that is a typo (the bound would not even be symmetric).
"""

from __future__ import annotations

import numpy as np


def zeros(shape, n_in, n_out, rng, **_):
    """W = 0. Fine for biases; for weights it leaves every unit in a layer identical forever."""
    return np.zeros(shape)


def constant(shape, n_in, n_out, rng, value, **_):
    """W = value."""
    return np.full(shape, value, dtype=float)


def normal(shape, n_in, n_out, rng, std, **_):
    """W ~ N(0, std^2): the course's "small random numbers" (e.g. std 0.01)."""
    return rng.normal(0.0, std, size=shape)


def uniform(shape, n_in, n_out, rng, limit, **_):
    """W ~ U(-limit, limit)."""
    return rng.uniform(-limit, limit, size=shape)


def large_normal(shape, n_in, n_out, rng, **_):
    """W ~ N(0, 1): the old default of Nielsen ch. 1; saturates sigmoid units of wide layers."""
    return rng.standard_normal(size=shape)


def scaled_normal(shape, n_in, n_out, rng, **_):
    """W ~ N(0, 1/n_in), std = 1/sqrt(n_in): Nielsen ch. 3's fix, so z has variance ~1."""
    return rng.normal(0.0, 1.0 / np.sqrt(n_in), size=shape)


def lecun_normal(shape, n_in, n_out, rng, **_):
    """W ~ N(0, 1/n_in) (LeCun 1998); the same distribution as scaled_normal."""
    return rng.normal(0.0, np.sqrt(1.0 / n_in), size=shape)


def glorot_uniform(shape, n_in, n_out, rng, **_):
    """W ~ U(-r, r), r = sqrt(6 / (n_in + n_out)): variance 2/(n_in+n_out) (Glorot & Bengio 2010)."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=shape)


def glorot_normal(shape, n_in, n_out, rng, **_):
    """W ~ N(0, 2 / (n_in + n_out))."""
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=shape)


def he_normal(shape, n_in, n_out, rng, **_):
    """W ~ N(0, 2 / n_in) (He et al. 2015): keeps the variance of ReLU activations constant."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=shape)


def he_uniform(shape, n_in, n_out, rng, **_):
    """W ~ U(-r, r), r = sqrt(6 / n_in): the uniform distribution with variance 2/n_in."""
    r = np.sqrt(6.0 / n_in)
    return rng.uniform(-r, r, size=shape)


INITIALIZERS = {
    f.__name__: f
    for f in (
        zeros, constant, normal, uniform, glorot_uniform, glorot_normal, he_normal, he_uniform,
        lecun_normal, large_normal, scaled_normal,
    )
}


def draw(spec, shape, n_in, n_out, rng, dtype) -> np.ndarray:
    """Draw an array for an `InitSpec` (name plus std/limit/value) in the requested dtype."""
    params = {k: v for k, v in (("std", spec.std), ("limit", spec.limit), ("value", spec.value)) if v is not None}
    return INITIALIZERS[spec.name](shape, n_in, n_out, rng, **params).astype(dtype, copy=False)
