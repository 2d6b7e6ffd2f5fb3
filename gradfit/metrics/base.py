"""The metric base classes: a weighted mean accumulated over an epoch, as Keras 3 accumulates it.

A mean metric adds each batch's per-example values ``v_i`` (weighted by ``sample_weight`` ``w_i`` when given)
to a total and a count; ``result()`` is ``total / count = sum_i w_i v_i / sum_i w_i`` over every batch seen
since ``reset_state()``. ``fit`` feeds it the batch's targets ``y`` and the model's output ``a = f(x)`` from the
forward pass of the training step, before the weights are updated.
"""

from __future__ import annotations

import numpy as np

from .. import registry, schema
from ..schema import DType, Field, Name, Optional, Schema

__all__ = [
    "KerasMessage",
    "LossFunction",
    "Mean",
    "MeanMetricWrapper",
    "Metric",
    "dense_targets",
    "keras_metric",
    "sparse_labels",
]


def keras_metric(*aliases: str, public: bool = True):
    """Class decorator: register a metric under the strings ``keras.metrics.get`` accepts for it, its class
    name, the class name in snake_case (``'binary_accuracy'``, ``'auc'``) and ``aliases`` (``'mse'``).

    ``public=False``: found by name (and in files) but not offered in the lists of known metrics.
    """

    def add(cls):
        return registry.METRICS.register(cls, aliases=(registry.snake_case(cls.__name__), *aliases), public=public)

    return add


class KerasMessage(Field):
    """``inner``'s check, except that a constructor given a refused value raises Keras's own message (``message``
    formatted with ``value``), the one users' code and Keras's documentation match. Files get ``inner``'s."""

    def __init__(self, inner: Field, message: str):
        super().__init__(inner.default)
        self.inner, self.message = inner, message

    def _check(self, v, json):
        return self.inner._check(v, json)

    def check(self, v, owner, key):
        try:
            return self.inner.check(v, owner, key)
        except ValueError:
            raise ValueError(self.message.format(value=v)) from None


class LossFunction(Field):
    """``MeanMetricWrapper``'s ``fn(y_true, y_pred) -> per-example values``. In code: any function. In a file:
    only a reference to a registered loss's Keras function, ``{"class_name": "function", "config":
    "mean_squared_error"}`` as Keras writes it (or the bare name): no code is ever named by a file."""

    MODULES = ("builtins", "keras.losses", "keras.metrics")

    def check(self, v, owner, key):
        if not callable(v):
            raise ValueError(f"{owner}: {key} must be a function (y_true, y_pred) -> per-example values, got {v!r}")
        return v

    def load(self, v, where):
        name = v
        if isinstance(v, dict):
            if v.get("class_name") != "function":
                schema.fail(where, f"expected a reference to a loss function, got {schema.short(v)}")
            name = schema.check_serialized(v, where, "metric function", self.MODULES)[1]
        function = getattr(registry.LOSSES.lookup(name) if isinstance(name, str) else None, "function", None)
        if function is None:
            schema.fail(where, f"unknown loss function {schema.short(name)}; gradfit has: {registry.LOSSES.known()}")
        return function

    @staticmethod
    def serialize(fn) -> dict:
        """Keras's reference to a function, by its name (what :meth:`load` reads back)."""
        name = getattr(fn, "__name__", repr(fn))
        return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}


def named(default: str | None) -> Field:
    """The ``name`` entry of a metric whose constructor's default name is ``default``."""
    return Optional(Name(), default=default)


class Metric:
    """Base class. ``target_kind`` says which targets it wants: ``'dense'`` (shaped like the output)
    or ``'sparse'`` (one integer label per example).

    ``_direction`` is Keras's: ``'up'`` for a metric to maximise (an accuracy), ``'down'`` for one to minimise
    (an error); ``EarlyStopping(mode='auto')`` and the other monitoring callbacks read it.
    """

    target_kind = "dense"
    _direction: str | None = None
    config_schema = Schema({"name": named(None), "dtype": DType()})

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or registry.snake_case(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

    def _checked(self, **values) -> dict:
        """The constructor's arguments, checked and normalised by the class's ``config_schema``."""
        if not values.get("name"):
            values["name"] = None  # '' means the default name, as in Keras
        return type(self).config_schema.check(type(self).__name__, values)

    _state_attrs: tuple[str, ...] = ("total", "count")  # what reset_state sets and update_prepared accumulates

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    def _save_state(self) -> tuple:
        """A copy of the accumulated state (``fit`` keeps the training metrics' state across validation)."""
        return tuple(_copy(getattr(self, a)) for a in self._state_attrs)

    def _restore_state(self, state: tuple) -> None:
        for a, v in zip(self._state_attrs, state):
            setattr(self, a, _copy(v))

    def values(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Per-example values for prepared targets ``y`` and outputs ``p``."""
        raise NotImplementedError

    def update_prepared(self, y: np.ndarray, p: np.ndarray, sample_weight: np.ndarray | None) -> None:
        v = self.values(y, p)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            self.total += float((v * sample_weight).sum())
            self.count += float(sample_weight.sum())

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        if self.target_kind == "sparse":
            return sparse_labels(y, output_shape)
        return dense_targets(y, output_shape)

    # public Keras API
    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        p = np.asarray(y_pred)
        y = self.prepare_targets(np.asarray(y_true), p.shape)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(len(p))
        self.update_prepared(y, p, sw)

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype or "float32"}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def dense_targets(y: np.ndarray, output_shape: tuple) -> np.ndarray:
    """Targets shaped like the output: a vector of m labels for a one-unit output becomes a column. A vector of m
    labels beside outputs of several units is refused, as Keras refuses it (its ``squeeze_or_expand_to_same_rank``
    leaves the shapes (m,) and (m, k) as they are, and the elementwise comparison cannot broadcast them)."""
    if y.ndim == len(output_shape) - 1:
        if output_shape[-1] != 1:
            raise ValueError(
                f"A metric that compares targets with outputs element by element (such as 'mse', 'mae', AUC) got "
                f"targets of shape {y.shape} for outputs of shape {tuple(output_shape)}: give one target per output "
                f"unit (e.g. one-hot labels of shape {(*y.shape, output_shape[-1])}), or use a sparse metric such "
                f"as 'sparse_categorical_accuracy' for integer labels."
            )
        y = y.reshape(y.shape + (1,))
    return y


def sparse_labels(y: np.ndarray, output_shape: tuple) -> np.ndarray:
    """One integer label per example, from ``(m,)`` or ``(m, 1)`` targets."""
    if y.ndim == len(output_shape) and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    return y.astype(np.intp)


@keras_metric(public=False)
class Mean(Metric):
    """The weighted mean ``sum_i w_i v_i / sum_i w_i`` of the values given to ``update_state(values,
    sample_weight)``.

    Not offered as a ``compile`` metric (it averages whatever it is given, not a function of targets and
    outputs); registered as Keras registers it.
    """

    config_schema = Schema({"name": named("mean")}, base=Metric.config_schema)

    def __init__(self, name: str = "mean", dtype=None):
        c = self._checked(name=name, dtype=dtype)
        super().__init__(c["name"], c["dtype"])

    def update_state(self, values, sample_weight=None) -> None:
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), v.shape)
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def update_prepared(self, y, p, sample_weight) -> None:
        raise TypeError(
            f"Mean ({self.name!r}) averages the values given to update_state(values); as a compile() metric "
            "use MeanMetricWrapper(fn) with fn(y_true, y_pred) -> per-example values, or a metric's name."
        )


@keras_metric(public=False)
class MeanMetricWrapper(Metric):
    """Averages ``fn(y_true, y_pred)`` per example: ``(1/m) sum_i fn(y_i, f(x_i))``.

    Wrapping a registered loss's function (``gradfit.keras.losses.mean_squared_error``) makes a metric to
    minimise, as in Keras; in a model file ``fn`` can only be such a function.
    """

    config_schema = Schema({"fn": LossFunction()}, base=Metric.config_schema)

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        c = self._checked(fn=fn, name=name, dtype=dtype)
        self.fn = c["fn"]
        self._fn_kwargs = kwargs
        if getattr(fn, "loss_class", None) is not None and registry.LOSSES.entry(fn.loss_class) is not None:
            self._direction = "down"  # a loss: minimised
        super().__init__(c["name"] or fn.__name__, c["dtype"])

    def values(self, y, p):
        return self.fn(y, p, **self._fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:  # as Keras: a subclass has its own fn
            config["fn"] = LossFunction.serialize(self.fn)
            config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict):
        if isinstance(config.get("fn"), (dict, str)):  # Keras's reference to a function: only a registered loss's
            config = {**config, "fn": LossFunction().load(config["fn"], f"{cls.__name__}.fn")}
        return cls(**config)
