"""The interface every neuron model implements."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, PyTree


def input_current(args, t) -> Array:
    """Evaluate the input passed as diffrax `args`: a stimulus (callable of t), a number
    or array (constant current), or None (no input). Units µA/cm²."""
    if args is None:
        return jnp.zeros_like(jnp.asarray(t))
    if callable(args):
        return args(t)
    return jnp.asarray(args)


def tvlif_derivative(u, tau, rest, gain, current) -> Array:
    """The tv-LIF right-hand side du/dt = (−(u − rest) + gain·current)/tau.

    All arguments may vary in time or depend on other state; this is the one building
    block from which HH is assembled in He et al. (2024). Units: u, rest in mV (or
    dimensionless for gates), tau in ms, gain·current in the units of u.
    """
    return (-(u - rest) + gain * current) / tau


def tvlif_derivative_by_rate(u, inv_tau, rest, drive) -> Array:
    """The same tv-LIF rule given 1/tau (1/ms) and the drive gain·current (units of u):
    du/dt = (rest − u + drive)·inv_tau — for models that form the reciprocal or the drive
    once and share them between several tv-LIFs (a multiply instead of a division each)."""
    return (rest - u + drive) * inv_tau


class AbstractNeuron(eqx.Module):
    """A continuous-time single-neuron model.

    Subclasses hold their parameters as fields (scalars, or arrays with the population's
    shape for per-neuron values) and implement:

    - `dynamics(t, y, current)`: dy/dt for state `y` (a pytree) given the input current
      (µA/cm²) at time `t` (ms). Written elementwise, so a population is the same code
      on arrays.
    - `initial_state()`: a state pytree to start from.
    - `voltage(y)`: the membrane potential read-out (mV); must be linear in `y`.

    Optional:
    - `default_threshold()` (mV) for spike detection;
    - `decay_rates(t, y, current)`: the diagonal linear decay rate (1/ms, ≥ 0) of each
      state component, enabling the exponential-Euler solver;
    - `reset(t_spike, y)`: the state right after a spike at `t_spike`, for models with a
      reset (LIF-type); `None` (the default `has_reset = False`) means no reset.

    `vector_field(t, y, args)` can be wrapped directly in `diffrax.ODETerm`, with the
    stimulus as `args`.
    """

    def dynamics(self, t: ArrayLike, y: PyTree, current: ArrayLike) -> PyTree:
        raise NotImplementedError

    def initial_state(self) -> PyTree:
        raise NotImplementedError

    def voltage(self, y: PyTree) -> Array:
        raise NotImplementedError

    def default_threshold(self) -> float:
        return 0.0

    def decay_rates(self, t, y, current) -> PyTree:
        raise NotImplementedError(
            f"{type(self).__name__} does not define decay_rates, so the exponential-Euler "
            "solver cannot be used with it"
        )

    @property
    def has_reset(self) -> bool:
        return False

    def reset(self, t_spike, y):
        return y

    def refractory_end(self, y) -> Array:
        """Time (ms) until which the neuron is frozen after a spike; −inf if never."""
        return jnp.full(jnp.shape(self.voltage(y)), -jnp.inf, dtype=jnp.result_type(self.voltage(y)))

    def prepare_for_solve(self) -> "AbstractNeuron":
        """Deprecated: the model as `simulate` runs it on this backend is
        `hhjax.backends.tuned_model(model, hhjax.backends.tuning_for())`."""
        import warnings

        from ..backends import tuned_model, tuning_for  # (a shim: the models do not depend on backends)

        warnings.warn("prepare_for_solve() is deprecated: use hhjax.backends.tuned_model(model, tuning_for())",
                      DeprecationWarning, stacklevel=2)
        return tuned_model(self, tuning_for())

    def vector_field(self, t, y, args):
        """dy/dt for diffrax: `args` is the stimulus (or a constant current, or None)."""
        return self.dynamics(t, y, input_current(args, t))


class AbstractDiscreteNeuron(eqx.Module):
    """A discrete-time neuron model (one update per step of length `dt` ms).

    Subclasses implement `initial_state()`, `step(y, inputs) -> (y, spike)` where
    `inputs` is the mean input current over the step, and `voltage(y)`.
    """

    def initial_state(self) -> PyTree:
        raise NotImplementedError

    def step(self, y: PyTree, inputs: ArrayLike) -> tuple[PyTree, Array]:
        raise NotImplementedError

    def voltage(self, y: PyTree) -> Array:
        raise NotImplementedError
