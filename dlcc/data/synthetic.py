"""Synthetic datasets: each is an options model (validated ranges, defaults) and a generator.

A generator takes its options and the run's rng and returns `Loaded` with float64 features:
integer labels 0..K-1 for classification, (n, 1) targets for regression. Examples come out in
generation order; `splits` shuffles them once with the same rng.
"""

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from dlcc.data.options import Options
from dlcc.data.splits import Loaded

# Upper limits turn a typo (points: 10000000000) into a clear error instead of a memory blow-up.
MAX_POINTS = 5_000_000
Points = Annotated[int, Field(ge=4, le=MAX_POINTS, description="number of examples generated")]
Noise = Annotated[float, Field(ge=0, description="standard deviation of the Gaussian noise")]


class SpiralsOptions(Options):
    classes: Annotated[int, Field(ge=2, le=1000, description="number of spiral arms (classes)")] = 3
    points_per_class: Annotated[int, Field(ge=2, le=MAX_POINTS, description="points on each arm")] = 100
    noise: Annotated[float, Field(ge=0, description="std of the noise added to the angle")] = 0.2
    turns: Annotated[float, Field(gt=0, description="multiplies the angles [4k, 4(k+1)]")] = 1.0


def spirals(o: SpiralsOptions, rng: np.random.Generator) -> Loaded:
    """CS231n's spirals. For class k with N = points_per_class:

    r = linspace(0, 1, N);  t = linspace(4k, 4(k+1), N) * turns + noise * randn(N)
    x = (r sin t, r cos t)
    """
    n = o.points_per_class
    x = np.zeros((n * o.classes, 2))
    labels = np.repeat(np.arange(o.classes), n)
    for k in range(o.classes):
        r = np.linspace(0.0, 1.0, n)
        t = np.linspace(4 * k, 4 * (k + 1), n) * o.turns + o.noise * rng.standard_normal(n)
        x[k * n : (k + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
    return Loaded(x=x, t=labels, task="classification", classes=o.classes)


class XorOptions(Options):
    points: Points = 200
    noise: Noise = 0.1


def xor(o: XorOptions, rng: np.random.Generator) -> Loaded:
    """XOR: point i sits at corner c = (a, b) in {0, 1}^2 (corners taken in turn), label a XOR b.

    x = c + noise * randn(2)
    """
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    c = corners[np.arange(o.points) % 4]
    x = c + o.noise * rng.standard_normal((o.points, 2))
    labels = c[:, 0] ^ c[:, 1]
    return Loaded(x=x, t=labels, task="classification", classes=2)


class CirclesOptions(Options):
    points: Points = 200
    noise: Noise = 0.05
    factor: Annotated[float, Field(gt=0, lt=1, description="inner radius / outer radius")] = 0.5


def circles(o: CirclesOptions, rng: np.random.Generator) -> Loaded:
    """Two concentric circles (scikit-learn's make_circles): label 0 outer (radius 1), 1 inner.

    x = radius * (cos a, sin a) + noise * randn(2), angles a evenly spaced on [0, 2 pi)
    """
    n_outer = o.points // 2
    n_inner = o.points - n_outer
    a_outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    a_inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    x = np.r_[
        np.c_[np.cos(a_outer), np.sin(a_outer)],
        o.factor * np.c_[np.cos(a_inner), np.sin(a_inner)],
    ]
    x += o.noise * rng.standard_normal(x.shape)
    labels = np.repeat([0, 1], [n_outer, n_inner])
    return Loaded(x=x, t=labels, task="classification", classes=2)


class MoonsOptions(Options):
    points: Points = 200
    noise: Noise = 0.1


def moons(o: MoonsOptions, rng: np.random.Generator) -> Loaded:
    """Two interleaving half circles (scikit-learn's make_moons), a evenly spaced on [0, pi]:

    label 0: (cos a, sin a);  label 1: (1 - cos a, 1/2 - sin a);  plus noise * randn(2)
    """
    n_upper = o.points // 2
    n_lower = o.points - n_upper
    a_upper = np.linspace(0, np.pi, n_upper)
    a_lower = np.linspace(0, np.pi, n_lower)
    x = np.r_[
        np.c_[np.cos(a_upper), np.sin(a_upper)],
        np.c_[1 - np.cos(a_lower), 0.5 - np.sin(a_lower)],
    ]
    x += o.noise * rng.standard_normal(x.shape)
    labels = np.repeat([0, 1], [n_upper, n_lower])
    return Loaded(x=x, t=labels, task="classification", classes=2)


class BlobsOptions(Options):
    points: Points = 300
    classes: Annotated[int, Field(ge=2, le=1000, description="number of blobs (classes)")] = 3
    features: Annotated[int, Field(ge=1, le=10_000, description="input dimensions")] = 2
    spread: Annotated[float, Field(gt=0, description="standard deviation of each blob")] = 1.0

    @model_validator(mode="after")
    def _fits_in_memory(self):
        if self.points * self.features > MAX_POINTS * 10:
            raise ValueError(f"points x features = {self.points * self.features:,} values; at most "
                             f"{MAX_POINTS * 10:,} (400 MB) are allowed")
        return self


def blobs(o: BlobsOptions, rng: np.random.Generator) -> Loaded:
    """Gaussian blobs: centers mu_k ~ U(-10, 10)^features; point i has label k = i mod classes,

    x = mu_k + spread * randn(features)
    """
    centers = rng.uniform(-10, 10, size=(o.classes, o.features))
    labels = np.arange(o.points) % o.classes
    x = centers[labels] + o.spread * rng.standard_normal((o.points, o.features))
    return Loaded(x=x, t=labels, task="classification", classes=o.classes)


class LinearOptions(Options):
    points: Points = 100
    w: Annotated[float, Field(description="slope")] = 2.0
    b: Annotated[float, Field(description="intercept")] = 1.0
    noise: Noise = 0.1


def linear(o: LinearOptions, rng: np.random.Generator) -> Loaded:
    """Linear regression in one dimension: x ~ U(-1, 1),  y = w x + b + noise * randn."""
    x = rng.uniform(-1, 1, size=(o.points, 1))
    y = o.w * x + o.b + o.noise * rng.standard_normal((o.points, 1))
    return Loaded(x=x, t=y, task="regression", classes=None)


class SineOptions(Options):
    points: Points = 200
    noise: Noise = 0.1


def sine(o: SineOptions, rng: np.random.Generator) -> Loaded:
    """A sine wave over one period: x ~ U(-pi, pi),  y = sin(x) + noise * randn."""
    x = rng.uniform(-np.pi, np.pi, size=(o.points, 1))
    y = np.sin(x) + o.noise * rng.standard_normal((o.points, 1))
    return Loaded(x=x, t=y, task="regression", classes=None)
