"""Learning-rate schedules: ``alpha`` as a function of the optimizer's step count, as ``keras.optimizers.schedules``.

Give one as an optimizer's ``learning_rate``; the optimizer evaluates it at ``optimizer.iterations`` (the number of
updates done so far, 0 for the first) before every update::

    lr = ExponentialDecay(initial_learning_rate=0.1, decay_steps=100, decay_rate=0.5)
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse")

``optimizer.learning_rate`` then reads as the value for the next step, and cannot be set (as in Keras): the
``ReduceLROnPlateau`` and ``LearningRateScheduler`` callbacks need an optimizer with a plain number instead.

Each schedule's ``__call__(step)`` returns a Python float. Keras evaluates them in float32; gradfit computes
in float64, which differs by at most a float32 rounding (the weights' update rounds the rate to float32 anyway).
"""

from __future__ import annotations

import math
import numbers

from . import registry
from .schema import Bool, Number, NumberList, Optional, Schema, Str

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "get",
    "serialize",
]

_INITIAL = Number()
_STEPS = Number()  # checked by _decay_steps, with Keras's message


def _step(step) -> float:
    if hasattr(step, "numpy"):
        step = step.numpy()
    return float(step)


def _number(value, name: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{who}: {name} must be a finite number, got {value!r}.")
    return value


def _decay_steps(value, name: str, who: str):
    _number(value, name, who)
    if value <= 0:
        raise ValueError(f"{who}: argument `{name}` must be > 0. Received: {name}={value}")
    return value


class LearningRateSchedule:
    """Base class: subclass it and define ``__call__(self, step)`` (returning the rate) and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


@registry.SCHEDULES.register()
class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase=True`` the exponent is
    ``floor(step / decay_steps)``, so the rate drops in steps every ``decay_steps`` updates."""

    config_schema = Schema(
        {
            "initial_learning_rate": _INITIAL,
            "decay_steps": _STEPS,
            "decay_rate": Number(),
            "staircase": Bool(False),
            "name": Optional(Str(), default="ExponentialDecay"),
        }
    )

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        who = type(self).__name__
        self.config_schema.check(
            who,
            {
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "decay_rate": decay_rate,
                "staircase": staircase,
                "name": name,
            },
        )
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _decay_steps(decay_steps, "decay_steps", who)
        self.decay_rate = _number(decay_rate, "decay_rate", who)
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate * self.decay_rate**p)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


@registry.SCHEDULES.register()
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``,
    and ``values[-1]`` once ``step > boundaries[-1]``. ``boundaries`` must be increasing and one shorter than
    ``values``."""

    config_schema = Schema(
        {"boundaries": NumberList(), "values": NumberList(), "name": Optional(Str(), default="PiecewiseConstant")}
    )

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        who = type(self).__name__
        self.config_schema.check(who, {"boundaries": boundaries, "values": values, "name": name})
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"{who}: the length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}."
            )
        for b in boundaries:
            _number(b, "each boundary", who)
        for v in values:
            _number(v, "each value", who)
        bad = [(a, b) for a, b in zip(boundaries, boundaries[1:]) if not a < b]
        if bad:
            raise ValueError(
                f"{who}: boundaries must be strictly increasing step counts, but {bad[0][0]!r} is followed by "
                f"{bad[0][1]!r} in boundaries={boundaries}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> float:
        s = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if s <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@registry.SCHEDULES.register()
class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end`` with ``step`` capped at ``decay_steps``;
    with ``cycle=True`` ``decay_steps`` grows to the first multiple of itself at or above ``step`` instead."""

    config_schema = Schema(
        {
            "initial_learning_rate": _INITIAL,
            "decay_steps": _STEPS,
            "end_learning_rate": Number(0.0001),
            "power": Number(1.0),
            "cycle": Bool(False),
            "name": Optional(Str(), default="PolynomialDecay"),
        }
    )

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        who = type(self).__name__
        self.config_schema.check(
            who,
            {
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "end_learning_rate": end_learning_rate,
                "power": power,
                "cycle": cycle,
                "name": name,
            },
        )
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _decay_steps(decay_steps, "decay_steps", who)
        self.end_learning_rate = _number(end_learning_rate, "end_learning_rate", who)
        self.power = _number(power, "power", who)
        self.cycle = cycle
        self.name = name

    def __call__(self, step) -> float:
        s, decay_steps = _step(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, decay_steps)
        p = s / decay_steps
        return float(
            (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate
        )

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


@registry.SCHEDULES.register()
class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (``floor`` of the ratio with
    ``staircase=True``)."""

    config_schema = Schema(
        {
            "initial_learning_rate": _INITIAL,
            "decay_steps": _STEPS,
            "decay_rate": Number(),
            "staircase": Bool(False),
            "name": Optional(Str(), default="InverseTimeDecay"),
        }
    )

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        who = type(self).__name__
        self.config_schema.check(
            who,
            {
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "decay_rate": decay_rate,
                "staircase": staircase,
                "name": name,
            },
        )
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _decay_steps(decay_steps, "decay_steps", who)
        self.decay_rate = _number(decay_rate, "decay_rate", who)
        self.staircase = staircase
        self.name = name

    def __call__(self, step) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate / (1 + self.decay_rate * p))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


@registry.SCHEDULES.register()
class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup first.

    Without warmup: ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)`` with
    ``s = min(step, decay_steps)``. With ``warmup_target``: the rate rises linearly from
    ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps`` steps, then decays from
    ``warmup_target`` as above over the next ``decay_steps`` steps.
    """

    config_schema = Schema(
        {
            "initial_learning_rate": _INITIAL,
            "decay_steps": _STEPS,
            "alpha": Number(0.0),
            "name": Optional(Str(), default="CosineDecay"),
            "warmup_target": Optional(Number()),
            "warmup_steps": Number(0),
        }
    )

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        who = type(self).__name__
        self.config_schema.check(
            who,
            {
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "alpha": alpha,
                "name": name,
                "warmup_target": warmup_target,
                "warmup_steps": warmup_steps,
            },
        )
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _decay_steps(decay_steps, "decay_steps", who)
        self.alpha = _number(alpha, "alpha", who)
        self.name = name
        self.warmup_steps = _number(warmup_steps, "warmup_steps", who)
        if warmup_steps < 0:
            raise ValueError(f"{who}: warmup_steps must be >= 0, got {warmup_steps!r}.")
        self.warmup_target = None if warmup_target is None else _number(warmup_target, "warmup_target", who)

    def _decay(self, s: float, decay_from: float) -> float:
        fraction = s / self.decay_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        s = _step(step)
        if self.warmup_target is None:
            return float(self._decay(min(s, self.decay_steps), self.initial_learning_rate))
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return float(delta * (s / self.warmup_steps) + self.initial_learning_rate)
        return float(self._decay(s - self.warmup_steps, self.warmup_target))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


@registry.SCHEDULES.register()
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): each period decays as ``CosineDecay``; period ``i`` lasts
    ``first_decay_steps * t_mul ** i`` steps and starts from ``initial_learning_rate * m_mul ** i``."""

    config_schema = Schema(
        {
            "initial_learning_rate": _INITIAL,
            "first_decay_steps": _STEPS,
            "t_mul": Number(2.0),
            "m_mul": Number(1.0),
            "alpha": Number(0.0),
            "name": Optional(Str(), default="SGDRDecay"),
        }
    )

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        who = type(self).__name__
        self.config_schema.check(
            who,
            {
                "initial_learning_rate": initial_learning_rate,
                "first_decay_steps": first_decay_steps,
                "t_mul": t_mul,
                "m_mul": m_mul,
                "alpha": alpha,
                "name": name,
            },
        )
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", who)
        self.first_decay_steps = _decay_steps(first_decay_steps, "first_decay_steps", who)
        self._t_mul = _number(t_mul, "t_mul", who)
        self._m_mul = _number(m_mul, "m_mul", who)
        self.alpha = _number(alpha, "alpha", who)
        self.name = name

    def __call__(self, step) -> float:
        fraction = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - t_mul**i_restart) / (1.0 - t_mul)
            fraction = (fraction - sum_r) / t_mul**i_restart
        cosine = 0.5 * self._m_mul**i_restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha))

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


def _own(cls) -> bool:
    entry = registry.SCHEDULES.entry(cls)
    return entry is not None and entry.obj is cls


def serialize(learning_rate_schedule: LearningRateSchedule) -> dict:
    """The schedule as Keras serializes it: ``{'module', 'class_name', 'config', 'registered_name'}``."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(
            f"serialize expects a LearningRateSchedule, got {learning_rate_schedule!r} of type "
            f"{type(learning_rate_schedule).__name__}."
        )
    cls = type(learning_rate_schedule)
    builtin = _own(cls)
    return {
        "module": registry.SCHEDULES.module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """The schedule from ``serialize``'s dict (or ``{'class_name', 'config'}``); ``custom_objects`` maps the
    names of your own ``LearningRateSchedule`` subclasses to the classes."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize expects a dict with 'class_name' and 'config', got {config!r}.")
    name = config["class_name"]
    custom = custom_objects or {}
    cls = custom.get(name) or registry.SCHEDULES.lookup(name) or custom.get(config.get("registered_name") or "")
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule {name!r}. Known: {registry.SCHEDULES.known()}; pass your own "
            "classes as custom_objects={'Name': Name}."
        )
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """A schedule from its serialized form, or itself (Keras's optimizers take one as ``learning_rate``)."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Cannot use {identifier!r} as a learning-rate schedule; give a LearningRateSchedule.")
