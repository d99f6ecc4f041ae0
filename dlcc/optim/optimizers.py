"""Gradient-descent optimizers: SGD (with momentum and Nesterov), AdaGrad, RMSProp, Adam.

Every optimizer updates `params: dict[str, ndarray]` in place from `grads` (same keys and
shapes, already averaged over the mini-batch). Its state (velocity, accumulators, moments)
is keyed by parameter name, created on the first step with the parameter's dtype, and
exported by `state_dict()` as a flat dict of arrays `{"<slot>.<param>": array}` so that a
checkpoint can be saved with `numpy.savez` and read back without pickles.

Subnormal numbers. State that decays geometrically (a velocity v = mu * v once its gradient stays
0, as for a weight whose input pixel is almost always 0) passes, on its way to zero, through the
subnormal range (|x| < 2**-126 ~ 1.2e-38 in float32), where many CPUs (most Intel ones) take tens
of times longer per arithmetic operation. So every FLUSH_EVERY steps each optimizer sets its state
entries with |s| < flush_below(dtype) to exactly 0:

    s[abs(s) < flush_below(s.dtype)] = 0      # 2**-102 ~ 2.0e-31 in float32, 2**-998 in float64

The threshold is 2**24 times the smallest normal number: a value above it that decays by a factor
of 0.35 or more per step (any momentum, rho or beta >= 0.35) cannot reach the subnormal range
before the next flush. It is far below the weights' resolution: a flushed velocity moves a weight
by less than 2e-30 in all, which changes nothing unless the weight is itself below ~1e-23.
(docs/optimizers.md, "Subnormal numbers".)

Block by block. Each NumPy operation is one pass over its arrays, and the momentum update makes
four; a weight matrix larger than the CPU's cache (784 x 800 float32 is 2.5 MB) would travel from
main memory to the CPU and back on every pass. So a large parameter is updated in matching
slices of itself, its gradient and its state, about BLOCK elements at a time (`blocks`): the
passes over one slice find it in cache. The arithmetic is element by element either way, so the
result is the same bit for bit. (Small parameters go whole: slicing them costs more than it saves.)
"""

import numpy as np

from dlcc.optim import blas

FLUSH_EVERY = 16
BLOCK = 32_768  # elements per slice: 128 KB of float32 per array, a few arrays fit a 1 MB L2 cache


def blocks(*arrays: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Matching slices (views, whole rows, about BLOCK elements each) of same-shape arrays; arrays
    of up to 4 x BLOCK elements come back whole, as the one block."""
    first = arrays[0]
    if first.size <= 4 * BLOCK:
        return [arrays]
    rows = max(1, BLOCK // (first.size // len(first)))
    return [tuple(a[start:start + rows] for a in arrays) for start in range(0, len(first), rows)]


def flush_below(dtype) -> float:
    """The flush threshold for state of this dtype: 2**24 x its smallest normal number."""
    return float(np.finfo(dtype).smallest_normal) * 2.0**24


class Optimizer:
    """Base class: a learning rate `lr` plus named state arrays per parameter.

    `slots` names the per-parameter state, e.g. ("m", "v") for Adam; `self.state[slot][name]`
    is the array for parameter `name`. The trainer may set `lr` at any time (schedules do).
    """

    slots: tuple[str, ...] = ()
    # Whether step() takes weight gradients as factors (step(params, grads, factors)), see SGD.
    takes_factors = False
    flush_every: int | None = FLUSH_EVERY  # None: never flush (benchmarks compare with it)
    # state_dict keys a checkpoint may lack: the step count, which only Adam saved before the flush
    # needed it (load_state_dict then starts from t = 0)
    optional_state: tuple[str, ...] = ("t",)

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}
        self.t = 0  # steps taken; decides when to flush (and Adam's bias correction)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _count_step(self) -> None:
        """Called at the end of every step of an optimizer with state: t += 1, and flush when due."""
        self.t += 1
        if self.flush_every and self.t % self.flush_every == 0:
            self.flush_subnormals()

    def flush_subnormals(self) -> None:
        """s[|s| < flush_below(dtype)] = 0 for every state array s (see the module docstring)."""
        for arrays in self.state.values():
            for s in arrays.values():
                s[np.abs(s) < flush_below(s.dtype)] = 0

    def _create_state(self, params: dict[str, np.ndarray]) -> None:
        """Allocate zeros for parameters seen for the first time (state from a checkpoint is kept)."""
        for arrays in self.state.values():
            for name, theta in params.items():
                if name not in arrays:
                    arrays[name] = np.zeros_like(theta)

    def state_dict(self) -> dict[str, np.ndarray]:
        """{"<slot>.<param>": array} copies, plus the step count "t" when there is any state."""
        # Copies, so that a snapshot taken mid-training does not change as training goes on.
        arrays = {
            f"{slot}.{name}": array.copy()
            for slot, arrays in self.state.items()
            for name, array in arrays.items()
        }
        return {**arrays, "t": np.array(self.t)} if self.slots else arrays

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        state = dict(state)
        # Checkpoints written before the flush existed have no "t" for SGD, AdaGrad or RMSProp.
        self.t = int(state.pop("t", 0))
        self.state = {slot: {} for slot in self.slots}
        for key, array in state.items():
            slot, _, name = key.partition(".")
            if slot not in self.state:
                raise KeyError(
                    f"{type(self).__name__} has no state {key!r}; "
                    f"its state is: {', '.join(self.slots) or 'none'}"
                )
            self.state[slot][name] = np.array(array, copy=True)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum or Nesterov momentum.

    momentum == 0 (plain SGD):
        theta -= lr * g
    momentum mu > 0 (classical momentum):
        v = mu * v - lr * g
        theta += v
    nesterov=True (gradient taken at the look-ahead point theta + mu * v):
        v = mu * v - lr * g
        theta += mu * v - lr * g          # v is the new velocity here

    Why the Nesterov line works: the look-ahead definition is
        v_new = mu * v - lr * grad(theta + mu * v);  theta_new = theta + v_new.
    Store phi = theta + mu * v (the look-ahead point) as the parameter instead of theta, so the
    gradient the trainer computes at the current parameters is exactly grad(theta + mu * v).
    Then phi_new = theta_new + mu * v_new = phi - mu * v + (1 + mu) * v_new, and substituting
    v_new = mu * v - lr * g gives phi_new = phi + mu * v_new - lr * g. Both forms are the same
    update; the second needs no copy of the old velocity. (At the end of training the
    parameters are the look-ahead point, which differs from theta by mu * v, a vanishing step.)

    Factors. A weight matrix's gradient may come as its two factors, g = x^T delta
    (`factors[name] = (x, delta)`, from Network.backward(weight_grads=False)); the product then
    happens inside the update, in one BLAS call: v = (-lr) x^T delta + mu v, or for plain SGD
    theta = (-lr) x^T delta + theta (dlcc.optim.blas). Nesterov's line needs g itself, so the
    trainer gives it no factors (given some, it multiplies them into g first, as it does wherever
    BLAS declines).
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False) -> None:
        # Plain SGD keeps no velocity, so its state_dict is empty.
        self.slots = ("v",) if momentum > 0 else ()
        super().__init__(lr)
        self.momentum = momentum
        self.nesterov = nesterov
        self.takes_factors = not nesterov

    def step(self, params, grads, factors=None):
        if self.momentum > 0:
            self._create_state(params)
        for name, theta in params.items():
            if factors and name in factors:
                x, delta = factors[name]
                if not self.nesterov and self._fused_step(name, theta, x, delta):
                    continue
                np.matmul(x.T, delta, out=grads[name])  # not fused (small, Nesterov, no BLAS): g, as usual
            self._step(name, theta, grads[name])
        if self.momentum > 0:
            self._count_step()

    def _fused_step(self, name, theta, x, delta) -> bool:
        """The update with g = x^T delta multiplied inside it, one BLAS call; False if BLAS declined."""
        lr, mu = self.lr, self.momentum
        if mu == 0:
            return blas.gemm_tn(x, delta, theta, alpha=-lr, beta=1.0)  # theta = (-lr) x^T delta + theta
        v = self.state["v"][name]
        if not blas.gemm_tn(x, delta, v, alpha=-lr, beta=mu):  # v = (-lr) x^T delta + mu v
            return False
        if not blas.add(theta, v):  # theta += v, on BLAS's threads
            theta += v
        return True

    def _step(self, name, theta, g) -> None:
        """The update from the gradient g, block by block (`blocks`)."""
        lr, mu = self.lr, self.momentum
        if mu == 0:
            for theta_b, g_b in blocks(theta, g):
                theta_b -= lr * g_b
            return
        for theta_b, g_b, v in blocks(theta, g, self.state["v"][name]):
            v *= mu
            v -= lr * g_b
            if self.nesterov:
                theta_b += mu * v - lr * g_b
            else:
                theta_b += v


class AdaGrad(Optimizer):
    """AdaGrad: each parameter's step shrinks with the sum of its squared gradients.

        r += g * g
        theta -= lr * g / (eps + sqrt(r))
    """

    slots = ("r",)

    def __init__(self, lr: float, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.eps = eps

    def step(self, params, grads):
        self._create_state(params)
        for name in params:
            for theta, g, r in blocks(params[name], grads[name], self.state["r"][name]):
                r += g * g
                theta -= self.lr * g / (self.eps + np.sqrt(r))
        self._count_step()


class RMSProp(Optimizer):
    """RMSProp: AdaGrad with an exponentially decaying average of squared gradients.

        r = rho * r + (1 - rho) * g * g
        theta -= lr * g / (eps + sqrt(r))
    """

    slots = ("r",)

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-7) -> None:
        super().__init__(lr)
        self.rho = rho
        self.eps = eps

    def step(self, params, grads):
        self._create_state(params)
        for name in params:
            for theta, g, r in blocks(params[name], grads[name], self.state["r"][name]):
                r *= self.rho
                r += (1 - self.rho) * g * g
                theta -= self.lr * g / (self.eps + np.sqrt(r))
        self._count_step()


class Adam(Optimizer):
    """Adam: momentum on the gradient (m) and RMSProp scaling (v), both bias-corrected.

        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta -= lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at zero, so early on they underestimate the true averages; dividing by
    (1 - beta**t) removes that bias. The step counter t is shared by all parameters.
    """

    slots = ("m", "v")
    optional_state = ()  # Adam's checkpoints always held t: one without it is damaged

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def step(self, params, grads):
        self._create_state(params)
        t = self.t + 1
        b1, b2 = self.beta1, self.beta2
        for name in params:
            state = self.state["m"][name], self.state["v"][name]
            for theta, g, m, v in blocks(params[name], grads[name], *state):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                m_hat = m / (1 - b1**t)
                v_hat = v / (1 - b2**t)
                theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        self._count_step()  # t += 1

    def load_state_dict(self, state):
        if "t" not in state:  # restarting at t = 0 would scale the next steps as if they were the first
            raise KeyError("Adam's state has no step count 't'")
        super().load_state_dict(state)


OPTIMIZERS = {"sgd": SGD, "adagrad": AdaGrad, "rmsprop": RMSProp, "adam": Adam}


def build_optimizer(cfg) -> Optimizer:
    """The optimizer named by `cfg.name`, built from cfg's other fields (the constructor arguments).

    The config schema only accepts names in OPTIMIZERS, so the lookup cannot miss.
    """
    return OPTIMIZERS[cfg.name](**cfg.model_dump(exclude={"name"}))
