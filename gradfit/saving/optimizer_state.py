"""The optimizer's state in Keras's layout: ``optimizer/vars/0`` the step count (int64), ``vars/1`` the
learning rate (absent when it is a schedule; in the weights' float type, as Keras's variable is in ``floatx``:
a float64 model's rate is not rounded to float32 on its way to Keras), then the optimizer's own variables in the
order its ``keras_variable_specs`` lists them: with ``use_ema`` the weights' moving averages (``average/0``, …), with
``gradient_accumulation_steps`` the accumulators (``gradient_accumulator/0``, …), then the rule's slots
(``momentum/0``, ``velocity/0``, …) and scalars such as Nadam's ``u_product``. The step count is Keras's
``_iterations``: micro-steps, not updates, when gradients are accumulated.

Reading refuses (``ModelFileError``, naming the entry, its slot and its weight) a negative step count, a
non-finite value anywhere, a negative second moment and a scalar out of its range: each would turn the next
step's weights into NaN. Everything is checked before anything is assigned.

Each optimizer declares that list itself, so nothing here knows which optimizer keeps what, nor how it
stores it: ``keras_variables()`` gives Keras's values, ``assign_keras_variables`` takes them back.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..schema import fail

AT = "/optimizer/vars"


def has_lr_variable(opt) -> bool:
    """Whether Keras saves the learning rate as a variable: yes for a number, no for a schedule or callable."""
    lr = opt.get_config()["learning_rate"]  # a number, or a schedule's serialized form (or a callable)
    return isinstance(lr, (int, float)) and not isinstance(lr, bool)


def optimizer_values(model) -> list[np.ndarray]:
    """``optimizer/vars/0, 1, …`` of a compiled model, as Keras writes them."""
    opt = model.optimizer
    values = [np.asarray(opt._iterations, dtype=np.int64)]  # micro-steps, as Keras's `_iterations`
    if has_lr_variable(opt):
        values.append(np.asarray(float(opt.learning_rate), dtype=_float_type(model)))
    if not (model.built and opt.built):  # no step taken yet: Keras writes just these two
        return values
    store = model.parameter_store  # gathered again if the model changed; the optimizer then rebuilt for it
    if opt.size != store.size:
        return values
    # np.array, not np.ascontiguousarray: that one makes a scalar (Nadam's u_product) of shape (1,)
    return values + [np.array(value, order="C") for _, value in opt.keras_variables()]


def _float_type(model) -> np.dtype:
    """The float type of the model's trainable weights (``floatx`` before they exist): Keras's optimizer makes its
    learning-rate variable in ``floatx``, which a model trained in that type shares."""
    from .config import plan_for_model

    return plan_for_model(model).weights_dtype(backend.floatx()) if model.built else np.dtype(backend.floatx())


def read_optimizer(h5, group, weight_shapes: list[tuple], dtype, opt):
    """``(iterations, learning rate or None, [variables] or None)`` from ``/optimizer/vars``, every entry checked
    against ``opt.keras_variable_specs(weight_shapes)``; None when the file's state does not fit ``opt`` (Keras
    then keeps the fresh optimizer too, with a warning)."""
    names = h5.keys(group, AT)
    specs = opt.keras_variable_specs(weight_shapes)
    base = 1 + has_lr_variable(opt)
    if sorted(names, key=lambda s: (len(s), s)) != [str(i) for i in range(len(names))]:
        fail(h5.where, f"{AT}: entries must be 0, 1, 2 …, got {sorted(names)[:5]}")
    if len(names) not in (base, base + len(specs)):
        warnings.warn(
            f"Skipping variable loading for optimizer {opt.name!r}, because it has {base + len(specs)} variables "
            f"whereas the saved optimizer has {len(names)} variables.",
            stacklevel=5,
        )
        return None

    def entry(i: int, shape, want, label: str):
        return h5.array(h5.child(group, str(i), False, f"{AT}/{i}"), shape, want, f"{AT}/{i} ({label})")

    iterations = int(entry(0, (), "int64", "iterations"))
    learning_rate = None
    if base == 2:
        learning_rate = float(entry(1, (), dtype, "learning_rate"))  # a float64 model's rate: not rounded
        if not math.isfinite(learning_rate) or learning_rate < 0:
            fail(h5.where, f"{AT}/1: the learning rate must be a non-negative number, got {learning_rate}")
        try:  # the optimizer's own rule for its rate (Ftrl's must be positive), checked before anything is assigned
            opt.config_schema.fields["learning_rate"].check(learning_rate, type(opt).__name__, "learning_rate")
        except (TypeError, ValueError) as exc:
            fail(h5.where, f"{AT}/1 (learning_rate): {exc}")
    variables = None  # None: the optimizer was never built (no step taken)
    if len(names) == base + len(specs):
        variables = []
        for k, (label, shape) in enumerate(specs):
            described = _describe(label, weight_shapes)
            value = entry(base + k, shape, dtype, described)
            problem = opt.keras_variable_problem(label, value)
            if problem is not None:
                fail(h5.where, f"{AT}/{base + k} ({described}) {problem}")
            variables.append(value)
    return iterations, learning_rate, variables


def _describe(label: str, weight_shapes: list[tuple]) -> str:
    """``"velocity/2"`` as a reader wants it: ``"velocity/2: the velocity of trainable weight 2, shape (25,)"``."""
    slot, _, index = label.partition("/")
    if not index:
        return label
    return f"{label}: the {slot} of trainable weight {index}, shape {tuple(weight_shapes[int(index)])}"


def check_assignable(model, state) -> None:
    """Refuse, before anything is assigned, a checked ``state`` that :func:`assign_optimizer` could not put into
    this model's optimizer (its variables laid out for other weights than the model's trainable ones)."""
    opt = model.optimizer
    if opt is None or state is None or state[2] is None or not model.built:
        return
    specs = opt.keras_variable_specs(model.parameter_store.shapes)
    got = [tuple(np.shape(v)) for v in state[2]]
    if got != [tuple(shape) for _, shape in specs]:
        fail(AT, f"the optimizer state holds {len(got)} variables that do not fit the model's trainable weights")


def assign_optimizer(model, state) -> None:
    """Put the checked ``state`` (from :func:`read_optimizer`) into the model's optimizer."""
    opt = model.optimizer
    if opt is None or state is None:
        return
    iterations, learning_rate, variables = state
    # The state wins over the config, as in Keras, where they differ in the weights' float type (a float32
    # file's rate is the config's rounded: the config's exact number is kept)
    dtype = _float_type(model).type
    if learning_rate is not None and dtype(float(opt.learning_rate)) != dtype(learning_rate):
        opt.learning_rate = learning_rate
    if variables is not None and model.built:
        opt.build(model.parameter_store)
        opt.assign_keras_variables(variables)
    opt._iterations = iterations  # micro-steps (Keras's `_iterations`)


def state_dtype(plan) -> np.dtype:
    return plan.weights_dtype(backend.floatx())
