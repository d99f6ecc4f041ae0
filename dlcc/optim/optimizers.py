"""Gradient-descent optimizers: SGD (with momentum and Nesterov), AdaGrad, RMSProp, Adam.

Every optimizer updates `params: dict[str, ndarray]` in place from `grads` (same keys and
shapes, already averaged over the mini-batch). Its state (velocity, accumulators, moments)
is keyed by parameter name, created on the first step with the parameter's dtype, and
exported by `state_dict()` as a flat dict of arrays `{"<slot>.<param>": array}` so that a
checkpoint can be saved with `numpy.savez` and read back without pickles.
"""

import numpy as np


class Optimizer:
    """Base class: a learning rate `lr` plus named state arrays per parameter.

    `slots` names the per-parameter state, e.g. ("m", "v") for Adam; `self.state[slot][name]`
    is the array for parameter `name`. The trainer may set `lr` at any time (schedules do).
    """

    slots: tuple[str, ...] = ()

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _create_state(self, params: dict[str, np.ndarray]) -> None:
        """Allocate zeros for parameters seen for the first time (state from a checkpoint is kept)."""
        for arrays in self.state.values():
            for name, theta in params.items():
                if name not in arrays:
                    arrays[name] = np.zeros_like(theta)

    def state_dict(self) -> dict[str, np.ndarray]:
        # Copies, so that a snapshot taken mid-training does not change as training goes on.
        return {
            f"{slot}.{name}": array.copy()
            for slot, arrays in self.state.items()
            for name, array in arrays.items()
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
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
    """

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False) -> None:
        # Plain SGD keeps no velocity, so its state_dict is empty.
        self.slots = ("v",) if momentum > 0 else ()
        super().__init__(lr)
        self.momentum = momentum
        self.nesterov = nesterov

    def step(self, params, grads):
        lr, mu = self.lr, self.momentum
        if mu == 0:
            for name, theta in params.items():
                theta -= lr * grads[name]
            return
        self._create_state(params)
        for name, theta in params.items():
            g, v = grads[name], self.state["v"][name]
            v *= mu
            v -= lr * g
            if self.nesterov:
                theta += mu * v - lr * g
            else:
                theta += v


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
        for name, theta in params.items():
            g, r = grads[name], self.state["r"][name]
            r += g * g
            theta -= self.lr * g / (self.eps + np.sqrt(r))


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
        for name, theta in params.items():
            g, r = grads[name], self.state["r"][name]
            r *= self.rho
            r += (1 - self.rho) * g * g
            theta -= self.lr * g / (self.eps + np.sqrt(r))


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

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0

    def step(self, params, grads):
        self._create_state(params)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for name, theta in params.items():
            g, m, v = grads[name], self.state["m"][name], self.state["v"][name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def state_dict(self):
        return {**super().state_dict(), "t": np.array(self.t)}

    def load_state_dict(self, state):
        state = dict(state)
        self.t = int(state.pop("t"))
        super().load_state_dict(state)


OPTIMIZERS = {"sgd": SGD, "adagrad": AdaGrad, "rmsprop": RMSProp, "adam": Adam}


def build_optimizer(cfg) -> Optimizer:
    """The optimizer named by `cfg.name`, built from cfg's other fields (the constructor arguments).

    The config schema only accepts names in OPTIMIZERS, so the lookup cannot miss.
    """
    return OPTIMIZERS[cfg.name](**cfg.model_dump(exclude={"name"}))
