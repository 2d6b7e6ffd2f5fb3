"""The loss base class: one example's loss ``L(f(x), y)``, the cost ``J = (1/m) sum_i L_i`` that ``fit``
minimises, and the one entry the training step calls.

Each loss writes, side by side, the per-example loss and its gradient with respect to the model's output
``p = f(x)``:

* ``per_sample(y, p)`` -> ``L_i`` (for outputs with several units, the mean over the last axis, as Keras);
* ``grad(y, p)`` -> ``dL_i/dp`` (the cost's gradient is this divided by the batch size ``m``).

A loss that can read logits (``from_logits=True``, or an output layer whose activation it undoes exactly:
sigmoid for the binary cross-entropies, softmax for the categorical ones) also writes
``per_sample_logits(y, z)`` and ``grad_logits(y, z, a)``, computed from the pre-activation ``z`` without
clipping, as TensorFlow's Keras does.

A new loss is one class and one decorator::

    @register("poisson")                     # Keras's function name; class name and aliases derive from it
    class Poisson(Loss):
        config_schema = loss_schema("poisson")
        def per_sample(self, y, p): ...
        def grad(self, y, p): ...

    poisson = Poisson.function               # keras.losses.poisson(y_true, y_pred)
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import backend, registry
from ..schema import Choice, Name, Number, Off, Optional, Schema
from ..tensor import Tensor

__all__ = ["Loss", "loss_schema", "register"]

#: Keras 3's reductions of the per-example losses ``w_i L_i``: divide the sum by the batch size
#: (``sum_over_batch_size`` and its synonym ``mean``), by the sum of the sample weights, or not at all
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def logsumexp(z: np.ndarray) -> np.ndarray:
    """``log sum_j e^z_j`` over the last axis, shifted by each row's maximum so that nothing overflows."""
    top = z.max(axis=-1, keepdims=True)
    return np.log(np.exp(z - top).sum(axis=-1)) + top[..., 0]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class Loss:
    """Base class: a per-example loss reduced to the cost ``J`` by averaging over the batch.

    Parameters
    ----------
    reduction : {'sum_over_batch_size', 'sum', 'mean', 'mean_with_sample_weight', 'none'}
        ``J = sum_i w_i L_i / m`` (Keras's default; ``'mean'`` is the same), ``sum_i w_i L_i``,
        ``sum_i w_i L_i / sum_i w_i``, or the vector ``w_i L_i``.
    name : str
    """

    #: Which output activation this loss can undo exactly (``'sigmoid'``, ``'softmax'`` or None): with that
    #: activation on the output layer the loss is computed from its logits ``z``.
    logits_activation: str | None = None
    #: What the model's output should be when ``from_logits`` is False: ``"probabilities"``, ``"labels"``
    #: (scores read against labels, as the hinge losses do) or ``"values"`` (any real number).
    reads = "values"
    #: Targets are class indices (one per example) rather than an array shaped like the output.
    sparse = False
    from_logits = False
    #: ``L`` in the course's notation, shown by ``model.explain()``.
    formula = ""
    #: ``dJ/dz`` when computed from the logits (a :attr:`logits_activation` loss), for ``model.explain()``.
    dz_formula = ""
    #: The Keras function form (``keras.losses.binary_crossentropy``), made by :func:`register`.
    function = None

    config_schema = Schema(
        {
            "name": Optional(Name()),
            "reduction": Choice(*REDUCTIONS, default="sum_over_batch_size"),
            "dtype": Off(off=(None, "float32")),  # Keras's compute dtype: gradfit computes in the model's type
        }
    )

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None):
        self._configure(reduction=reduction, name=name)

    def _configure(self, **values) -> None:
        """Check the constructor's arguments against ``config_schema`` and keep them as attributes."""
        checked = self.config_schema.check(type(self).__name__, values)
        for key, value in checked.items():
            if isinstance(self.config_schema.fields.get(key), Number) and value is not None:
                value = float(value)  # 0 -> 0.0, as Keras writes it in configs
            setattr(self, key, value)
        if self.name is None:
            self.name = registry.snake_case(type(self).__name__)

    @property
    def expects(self) -> str:
        """What the model's output should be: ``"logits"`` if ``from_logits``, else :attr:`reads`."""
        return "logits" if self.from_logits else self.reads

    # -- to be written by each loss
    def per_sample(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grad(self, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def per_sample_logits(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} cannot read logits")

    def grad_logits(self, y: np.ndarray, z: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} cannot read logits")

    # -- public Keras API
    def __call__(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred)
        if p.dtype.kind != "f":
            p = p.astype(backend.floatx())
        y = self.prepare_targets(np.asarray(y_true), p.shape)
        return self.reduced(y, p, sample_weight).view(Tensor)

    def reduced(self, y: np.ndarray, p: np.ndarray, sample_weight=None) -> np.ndarray:
        """The loss of prepared targets ``y`` and outputs ``p`` (logits if :attr:`from_logits`), weighted and
        reduced as :meth:`reduce` says: what ``loss(y_true, y_pred, sample_weight)`` returns."""
        with np.errstate(over="ignore", under="ignore"):
            values = self.per_sample_logits(y, p) if self.from_logits else self.per_sample(y, p)
        return self.reduce(values, sample_weight, self.valid_entries(y))

    def valid_entries(self, y: np.ndarray) -> np.ndarray | None:
        """Which per-example losses count (a boolean array shaped like them), or None if all do: Keras's mask
        of the loss values (``SparseCategoricalCrossentropy(ignore_class=…)`` masks the ignored labels)."""
        return None

    def reduce(self, values: np.ndarray, sample_weight=None, mask: np.ndarray | None = None) -> np.ndarray:
        """Keras's ``reduce_weighted_values``: the per-example losses ``L_i`` weighted and reduced.

        A mask merges into the weights first: for ``sum_over_batch_size`` / ``mean`` each counted entry weighs
        ``n / n_valid`` (so the mean is over the counted entries only), for the other reductions 1; the entries
        not counted weigh 0. Then ``sum_i w_i L_i`` divided by ``n`` (``sum_over_batch_size``, ``mean``), by
        ``sum_i w_i`` (``mean_with_sample_weight`` with weights or a mask), or not at all (``sum``); ``none``
        returns the weighted values. A zero divisor gives 0 (Keras's ``divide_no_nan``).
        """
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=values.dtype).reshape(values.shape)
        if mask is not None:
            float_mask = mask.astype(values.dtype)
            if self.reduction in ("sum_over_batch_size", "mean"):
                valid = int(np.count_nonzero(mask))
                float_mask *= mask.size / valid if valid else 0.0
            weights = float_mask if weights is None else weights * float_mask
        if weights is not None:
            values = values * weights
        if self.reduction in ("none", None) or values.shape in ((), (0,)):
            return values
        total = values.sum(dtype=values.dtype)
        if self.reduction == "sum":
            result = total
        else:
            divisor = weights.sum() if self.reduction == "mean_with_sample_weight" and weights is not None else None
            divisor = values.size if divisor is None else divisor
            result = total / divisor if divisor else np.zeros((), values.dtype)  # Keras's divide_no_nan
        return np.asarray(result, dtype=values.dtype)  # a scalar with TensorFlow's .numpy() once viewed as Tensor

    def get_config(self) -> dict:
        """Keras's config: every entry of ``config_schema`` but the ones gradfit leaves off."""
        return {k: getattr(self, k) for k, f in self.config_schema.fields.items() if not isinstance(f, Off)}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"

    def prepare_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        """Targets shaped like the output ``(m, units)``.

        A vector of ``m`` labels for a one-unit output becomes a column, as Keras's
        ``squeeze_or_expand_to_same_rank`` does, instead of broadcasting to an ``(m, m)`` matrix.
        """
        if y.ndim == len(output_shape) - 1:
            y = y.reshape(y.shape + (1,))
        elif y.ndim == len(output_shape) + 1 and y.shape[-1] == 1:
            y = y.reshape(y.shape[:-1])
        if y.shape[1:] != tuple(output_shape[1:]):
            raise ValueError(
                f"{type(self).__name__}: targets y have shape {y.shape} but the model's output has shape "
                f"{('m',) + tuple(output_shape[1:])}; give one target row per example with "
                f"{output_shape[-1]} value(s)."
            )
        return y

    def check_targets(self, y: np.ndarray) -> None:
        """Refuse targets the loss cannot mean (e.g. labels outside [0, 1] for binary cross-entropy)."""

    # -- the training step's entry point
    def batch_sum_and_grad(self, y, a, z=None, sample_weight=None) -> tuple[float, np.ndarray]:
        """``(sum_i w_i L_i over the batch, d(sum)/d(z if z is not None else a))``: the batch's summed loss and
        its gradient together, which the training step turns into ``J`` and ``dJ/dz`` (it divides both by
        ``m``). The gradient is a fresh array, which the caller may scale in place.

        ``z`` given: the output layer's activation is :attr:`logits_activation` and ``a = g(z)`` is already
        computed; the loss is computed from ``z``, exactly, as TensorFlow's Keras does. ``z`` None: from ``a``,
        which holds logits if :attr:`from_logits`.
        """
        if sample_weight is None:  # the common case, once per batch: as few Python steps as can be
            if z is not None:
                return self.sum_and_grad_logits(y, z, a)
            return self.sum_and_grad_logits(y, a) if self.from_logits else self.sum_and_grad(y, a)
        if z is not None:
            values, d = self.per_sample_logits(y, z), self.grad_logits(y, z, a)
        elif self.from_logits:
            values, d = self.per_sample_logits(y, a), self.grad_logits(y, a)
        else:
            values, d = self.per_sample(y, a), self.grad(y, a)
        d *= sample_weight.reshape((len(d),) + (1,) * (d.ndim - 1))  # in place: d keeps the model's float type
        return float((values * sample_weight).sum()), d

    def batch_divisor(self, m: int, sample_weight=None) -> float:
        """What the training step divides ``batch_sum_and_grad``'s sum by to get ``J``: ``m`` for
        ``sum_over_batch_size`` and ``mean``, ``sum_i w_i`` for ``mean_with_sample_weight``, 1 otherwise."""
        if self.reduction in ("sum_over_batch_size", "mean"):
            return float(m)
        if self.reduction == "mean_with_sample_weight":
            return float(m) if sample_weight is None else float(np.sum(sample_weight))
        return 1.0

    # Overridden where a loss can share work between its sum and its gradient (the hot paths)
    def sum_and_grad(self, y: np.ndarray, p: np.ndarray) -> tuple[float, np.ndarray]:
        """``(sum_i L_i, dL_i/dp)`` for a batch of outputs ``p``."""
        return float(self.per_sample(y, p).sum()), self.grad(y, p)

    def sum_and_grad_logits(self, y: np.ndarray, z: np.ndarray, a: np.ndarray | None = None):
        """``(sum_i L_i, dL_i/dz)`` from logits ``z`` (``a``, if given, is ``sigmoid(z)`` or ``softmax(z)``)."""
        return float(self.per_sample_logits(y, z).sum()), self.grad_logits(y, z, a)


def loss_schema(name: str, fields: dict | None = None) -> Schema:
    """A loss's config schema: Keras's default ``name``, the base entries, then the loss's own ``fields``."""
    return Schema({"name": Optional(Name(), default=name), **(fields or {})}, base=Loss.config_schema)


def register(function: str, aliases: tuple[str, ...] = ()):
    """Class decorator: register a loss under its class name, its Keras function's name and ``aliases``, and
    make its function form ``cls.function`` (``keras.losses.<function>(y_true, y_pred, **options)``: the
    per-example losses, taking the constructor's options but ``reduction`` and ``name``).

    ``losses.get(that_function)`` finds the class again through the registry, by the function's name.
    """

    def add(cls):
        registry.LOSSES.register(cls, aliases=(function, *aliases))
        cls.function = _function_form(cls, function)
        return cls

    return add


def _function_form(cls, name: str):
    options = [
        p for p in inspect.signature(cls.__init__).parameters.values() if p.name not in ("self", "reduction", "name")
    ]
    signature = inspect.Signature(
        [inspect.Parameter("y_true", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter("y_pred", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in options]
    )

    def function(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        y_true, y_pred = bound.arguments.pop("y_true"), bound.arguments.pop("y_pred")
        return cls(**bound.arguments, reduction="none")(y_true, y_pred)

    function.__name__ = function.__qualname__ = name
    function.__module__ = cls.__module__
    function.__signature__ = signature
    function.__doc__ = f"Per-example {cls.__name__} (``{cls.formula}``), as ``keras.losses.{name}``."
    function.loss_class = cls
    return function
