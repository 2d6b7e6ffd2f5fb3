"""Gradient-descent optimizers with Keras's defaults and update rules, applied in place.

The course's update is ``w = w - alpha dJ/dw``; the optimizers below refine it. All of them work on one
flat vector holding every trainable weight of the model (each layer's ``kernel`` and ``bias`` are views
into it), so a step is a handful of vector operations however many layers there are. ``t`` counts
steps from 1; ``eps = 1e-7``.

Order within one step, as Keras: clip the gradient (clipnorm / clipvalue / global_clipnorm), apply
weight decay ``w -= w wd lr``, apply the rule, then count the step.
"""

from __future__ import annotations

import difflib
import math
import sys

import numpy as np

from . import backend, schedules

sys.modules[__name__ + ".schedules"] = schedules  # `import gradfit.optimizers.schedules` works too

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "get"]

#: steps between flushes of subnormal slot values (a moment needs ~150 steps to pass through that range)
_FLUSH_EVERY = 16


class Optimizer:
    """Base class: holds the learning rate, the step counter and the per-weight state ("slots").

    Parameters
    ----------
    learning_rate : float or schedule
        ``alpha``; a callable schedule is evaluated at the step count before each step.
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
        As Keras's base optimizer.
    """

    #: names of the per-weight state vectors, each shaped like the weights
    slot_names: tuple[str, ...] = ()
    rule = ""

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs,
    ):
        unknown = set(kwargs) - {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(unknown)}.")
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set.")
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or _KERAS_NAMES.get(type(self).__name__) or _snake(type(self).__name__)
        self.iterations = 0
        self.built = False
        self._segments: list[slice] = []
        self._slots: dict[str, np.ndarray] = {}

    # -- learning rate: a number users can read and set, or a schedule
    @property
    def learning_rate(self):
        """The rate for the next step; with a schedule, its value at ``iterations`` (as Keras 3)."""
        return _LearningRate(self._current_lr())

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
            return
        if callable(getattr(self, "_learning_rate", None)):
            raise TypeError(
                f"This optimizer was created with a learning-rate schedule ({self._learning_rate!r}) as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. If you need the "
                "learning rate to be settable (e.g. by ReduceLROnPlateau or LearningRateScheduler), instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        value = float(getattr(value, "numpy", lambda: value)())
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a non-negative number, got {value!r}.")
        self._learning_rate = value

    lr = learning_rate

    def _current_lr(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        # any other callable takes no arguments, as in Keras 3 (e.g. learning_rate=lambda: 0.01)
        return float(lr()) if callable(lr) else lr

    # -- state
    def build(self, params: np.ndarray, segments: list[slice] | None = None) -> None:
        """Allocate the slots for a flat weight vector; ``segments`` are the weights' slices (for clipnorm)."""
        self._segments = list(segments) if segments is not None else [slice(0, params.size)]
        self._tmp = np.empty_like(params)
        self._scales = {name: self._slot_scale(name) for name in self.slot_names}
        self._slots = {name: self._initial_slot(name, params) / self._scales[name] for name in self.slot_names}
        for name, slot in self._slots.items():
            if slot.dtype != params.dtype:
                self._slots[name] = slot.astype(params.dtype)
        # the rule's fixed coefficients as 0-d arrays of the weights' type: a Python float operand costs each
        # ufunc call ~0.3 us of conversion (2 us of RMSprop's 15 on the seeds' network)
        self._c = {k: np.asarray(v, dtype=params.dtype) for k, v in self._coefficients().items()}
        self.built = True

    def _coefficients(self) -> dict[str, float]:
        """The update rule's constants (fixed once built)."""
        return {}

    def _initial_slot(self, name: str, params: np.ndarray) -> np.ndarray:
        return np.zeros_like(params)

    def _slot_scale(self, name: str) -> float:
        """A slot may be kept divided by a constant when that saves a pass per step (see Adam)."""
        return 1.0

    def slot(self, name: str) -> np.ndarray:
        """The slot ``name`` ("momentums", "velocities", ...) as Keras holds it, a flat vector shaped like
        ``model.parameters``: the optimizer's own array, or a read-only copy where gradfit keeps it scaled
        (writing into that copy would change nothing, so NumPy refuses it)."""
        stored, scale = self._slots[name], self._scales[name]
        if scale == 1.0:
            return stored
        value = stored * stored.dtype.type(scale)
        value.flags.writeable = False
        return value

    def slot_buffer(self, name: str) -> tuple[np.ndarray, float]:
        """The array the slot lives in and its scale: Keras's value is ``array * scale``."""
        return self._slots[name], self._scales[name]

    def __getattr__(self, name: str):
        # opt.momentums, opt.velocities, ... read as Keras's values (only reached when normal lookup fails)
        if name in self.__dict__.get("_slots", {}):
            return self.slot(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def variables(self) -> list[np.ndarray]:
        return [np.array(self.iterations)] + [self.slot(n) for n in self.slot_names] if self.built else []

    # -- one step
    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update ``params`` in place from ``grads`` (both flat, same shape); may modify ``grads``."""
        if not self.built:
            self.build(params)
        lr = self._learning_rate
        if lr.__class__ is not float:  # a schedule or a callable
            lr = self._current_lr()
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            self._clip(grads)
        if self.weight_decay:
            params -= params * (self.weight_decay * lr)
        self.update(params, grads, lr, self.iterations + 1)
        self.iterations += 1
        if self.iterations % _FLUSH_EVERY == 0:
            self._flush_subnormals()

    def update(self, w: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        raise NotImplementedError

    def _flush_subnormals(self) -> None:
        """Set slot entries smaller than the smallest normal float to zero.

        A unit that stops receiving gradient (a dead ReLU) has its moments decay geometrically into
        subnormal floats, on which this CPU's sqrt and divide run 1.5-2.5x slower: an MNIST-sized epoch
        took 1.15 s instead of 0.75 s. ``(s + c) - c`` with ``c = tiny * 2^(mantissa bits + 1)`` rounds
        every subnormal to 0 and leaves every value above ~1e-23 (float32) exactly as it was.
        """
        for slot in self._slots.values():
            if slot.dtype.kind != "f":
                continue
            c = backend.SUBNORMAL_BOUND.get(slot.dtype)
            if c is None:
                continue
            np.add(slot, c, out=slot)
            np.subtract(slot, c, out=slot)

    def _clip(self, grads: np.ndarray) -> None:
        if self.clipnorm:
            for s in self._segments:
                norm = float(np.sqrt(np.square(grads[s]).sum()))
                if norm > self.clipnorm:
                    grads[s] *= self.clipnorm / norm
        elif self.global_clipnorm:
            norm = float(np.sqrt(np.square(grads).sum()))
            if norm > self.global_clipnorm:
                grads *= self.global_clipnorm / norm
        elif self.clipvalue:
            np.clip(grads, -self.clipvalue, self.clipvalue, out=grads)

    def get_config(self) -> dict:
        lr = self._learning_rate
        config = {
            "name": self.name,
            "learning_rate": schedules.serialize(lr) if isinstance(lr, schedules.LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }
        return config

    @classmethod
    def from_config(cls, config: dict):
        if isinstance(config.get("learning_rate"), dict):
            config = {**config, "learning_rate": schedules.deserialize(config["learning_rate"])}
        return cls(**config)

    def describe(self) -> str:
        """The update rule with this optimizer's numbers (shown by ``model.explain()``)."""
        return f"{type(self).__name__}: {self.rule}"


class _LearningRate(float):
    """A float that also answers ``.numpy()``, as a TensorFlow variable does in course code."""

    def numpy(self) -> float:
        return float(self)


#: Keras 3's default optimizer names (``keras.optimizers.RMSprop().name == "rmsprop"``)
_KERAS_NAMES = {"SGD": "SGD", "RMSprop": "rmsprop", "Adam": "adam", "AdamW": "adamw", "Adagrad": "adagrad"}


def _scale(factor: float) -> float:
    """A slot's scale ``1 - beta``, or 1 where ``beta = 1`` (the slot then never changes)."""
    return factor if factor > 0 else 1.0


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class SGD(Optimizer):
    """Gradient descent ``w -= lr g``; with momentum ``v = mu v - lr g; w += v``;
    Nesterov ``w += mu v - lr g`` (with the updated ``v``)."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1], got {momentum!r}.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentums",) if self.momentum else ()
        self.rule = (
            "w = w - alpha * dJ/dw"
            if not self.momentum
            else "v = momentum * v - alpha * dJ/dw;  w = w + " + ("momentum * v - alpha * dJ/dw" if nesterov else "v")
        )

    def update(self, w, g, lr, t):
        # lr g goes into the scratch vector, not into g: callbacks (GradientLogger) read the gradient after the step
        step = np.multiply(g, lr, out=self._tmp)
        if not self.momentum:
            w -= step
            return
        v = self._slots["momentums"]
        v *= self.momentum
        v -= step
        if self.nesterov:
            np.multiply(v, self.momentum, out=step)
            np.subtract(step, np.multiply(g, lr), out=step)
            w += step
        else:
            w += v

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``v = rho v + (1 - rho) g^2;  w -= lr g / sqrt(v + eps)`` (eps inside the root, as Keras)."""

    rule = "v = rho * v + (1 - rho) * g^2;  w = w - alpha * g / sqrt(v + eps)"

    def __init__(
        self,
        learning_rate=0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), centered
        self.slot_names = (
            ("velocities",) + (("average_gradients",) if centered else ()) + (("momentums",) if self.momentum else ())
        )

    def _slot_scale(self, name):
        # uncentered, v is kept as V = v / (1 - rho), so that V = rho V + g^2 saves the multiply by 1 - rho
        return _scale(1 - self.rho) if name == "velocities" and not self.centered else 1.0

    def _coefficients(self):
        s = self._scales["velocities"]
        return {
            "rho": self.rho,
            "one_minus_rho": 1 - self.rho,
            "epsilon": self.epsilon / s,  # sqrt(v + eps) = sqrt(s) sqrt(V + eps / s)
            "momentum": self.momentum,
        }

    def update(self, w, g, lr, t):
        v, tmp, c = self._slots["velocities"], self._tmp, self._c
        np.square(g, out=tmp)
        if self.centered:  # v = rho v + (1 - rho) g^2
            np.multiply(tmp, c["one_minus_rho"], out=tmp)
        np.multiply(v, c["rho"], out=v)  # uncentered: V = rho V + g^2
        if self.centered or self.rho != 1:
            np.add(v, tmp, out=v)
        if self.centered:
            avg = self._slots["average_gradients"]
            np.multiply(avg, c["rho"], out=avg)
            avg += c["one_minus_rho"] * g
            np.square(avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.add(tmp, c["epsilon"], out=tmp)
        else:
            np.add(v, c["epsilon"], out=tmp)
        np.sqrt(tmp, out=tmp)  # increment = lr g / sqrt(v + eps) = lr / sqrt(s) g / sqrt(V + eps / s)
        np.divide(g, tmp, out=tmp)
        np.multiply(tmp, lr / math.sqrt(self._scales["velocities"]), out=tmp)
        if self.momentum:
            m = self._slots["momentums"]
            np.multiply(m, c["momentum"], out=m)
            np.add(m, tmp, out=m)
            np.subtract(w, m, out=w)
        else:
            np.subtract(w, tmp, out=w)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adam(Optimizer):
    """Adam as Keras writes it (bias correction folded into the step size, eps not corrected)::

    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    """

    rule = "m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  w = w - alpha*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)"

    def __init__(
        self,
        learning_rate=0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), amsgrad
        self._betas_f32 = (float(np.float32(self.beta_1)), float(np.float32(self.beta_2)))
        self.slot_names = ("momentums", "velocities") + (("velocity_hats",) if amsgrad else ())

    def _slot_scale(self, name):
        # m and v are kept as M = m / (1 - b1) and V = v / (1 - b2) (and v_hat as v): M = b1 M + g and
        # V = b2 V + g^2 take two and three passes over the weights where Keras's m += (g - m)(1 - b1) and
        # v += (g^2 - v)(1 - b2) take three and four. On an MNIST-sized network (235k weights) that is
        # 75 us of a 330 us step of Adam; the values agree with Keras's to float32 rounding.
        return _scale(1 - self.beta_1) if name == "momentums" else _scale(1 - self.beta_2)

    def _coefficients(self):
        # w -= alpha m / (sqrt(v) + eps) = alpha s1 / sqrt(s2) * M / (sqrt(V) + eps / sqrt(s2))
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon / math.sqrt(self._scales["velocities"]),
        }

    def update(self, w, g, lr, t):
        m, v, tmp, c = self._slots["momentums"], self._slots["velocities"], self._tmp, self._c
        np.multiply(m, c["beta_1"], out=m)  # M = b1 M + g
        if self.beta_1 != 1:
            np.add(m, g, out=m)
        np.square(g, out=tmp)  # V = b2 V + g^2
        np.multiply(v, c["beta_2"], out=v)
        if self.beta_2 != 1:
            np.add(v, tmp, out=v)
        if self.amsgrad:
            v_hat = self._slots["velocity_hats"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        # Keras computes alpha from betas cast through float32 (TensorFlow's type for a Python float):
        # beta_2 = 0.999 is really 0.99900001, which moves alpha by ~6e-6 at step 1. Python floats with those
        # values cost a tenth of the NumPy scalar arithmetic and agree with it to float32 precision.
        b1, b2 = self._betas_f32
        alpha = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        s1, s2 = self._scales["momentums"], self._scales["velocities"]
        np.sqrt(v, out=tmp)
        np.add(tmp, c["epsilon"], out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, alpha * s1 / math.sqrt(s2), out=tmp)
        np.subtract(w, tmp, out=w)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w wd lr`` before each Adam step (``wd`` = 0.004)."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.004, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rule = "w = w - w*wd*alpha;  then Adam: " + Adam.rule


class Adagrad(Optimizer):
    """``acc += g^2;  w -= lr g / sqrt(acc + eps)``, with ``acc`` starting at 0.1."""

    slot_names = ("accumulators",)
    rule = "acc = acc + g^2;  w = w - alpha * g / sqrt(acc + eps)"

    def __init__(self, learning_rate=0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _initial_slot(self, name, params):
        return np.full_like(params, self.initial_accumulator_value)

    def update(self, w, g, lr, t):
        acc, tmp = self._slots["accumulators"], self._tmp
        np.square(g, out=tmp)
        acc += tmp
        np.add(acc, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        tmp *= lr
        w -= tmp

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


_NAMES = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "SGD": SGD,
    "RMSprop": RMSprop,
    "Adam": Adam,
    "AdamW": AdamW,
    "Adagrad": Adagrad,
}


def get(identifier) -> Optimizer:
    """Resolve ``'adam'``, an optimizer class, or an optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        key = identifier if identifier in _NAMES else identifier.lower()
        if key in _NAMES:
            return _NAMES[key]()
        close = difflib.get_close_matches(identifier.lower(), [k for k in _NAMES if k.islower()], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown optimizer {identifier!r}.{hint} Known optimizers: sgd, rmsprop, adam, adamw, adagrad."
        )
    raise ValueError(
        f"Cannot use {identifier!r} as an optimizer; give a name such as 'adam' or an object such as Adam(0.001)."
    )
