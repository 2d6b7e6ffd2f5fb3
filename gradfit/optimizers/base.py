"""The optimizer contract every gradfit optimizer follows, and the base class that implements its common part.

The course's update is ``w = w - alpha dJ/dw``; each optimizer refines it. They all work on one flat vector
holding every trainable weight of the model (each layer's ``kernel`` and ``bias`` are views into it, owned by
the model's :class:`~gradfit.parameters.ParameterStore`), so a step is a handful of vector operations however
many layers there are. ``t`` counts steps from 1.

Order within one step, as Keras: clip the gradient (clipnorm / clipvalue / global_clipnorm), apply weight decay
``w = w - w wd alpha``, apply the rule, then count the step.

**The contract** (a test runs every registered optimizer against it):

* ``update(w, g, lr, t)`` writes ``w`` and the optimizer's own state, never ``g``: callbacks such as
  ``GradientLogger`` read ``dJ/dW`` after the step. Clipping writes into a buffer of its own, not into the
  model's gradient vector. Intermediate results go into scratch vectors: an optimizer says how many it needs
  (``scratch_buffers``) and ``build`` allocates them (``self._scratch``; ``self._tmp`` is the first).
* Per-weight state ("slots") is declared by ``slot_specs()`` and lives in the parameter store
  (``store.slot(fill, scale)``); scalar state (Nadam's ``u_product``) is declared by ``scalar_specs()``.
  Both are reset by ``build``, saved and loaded without any code outside the optimizer.
* ``keras_layout()`` says in which order Keras lists the slots (interleaved per weight within a group, group
  after group); saving and loading derive Keras's ``optimizer/vars`` from it.
* Python constants that Keras passes through ``ops.cast`` are rounded with :func:`f32`, the one helper for it.
* ``config_schema`` declares every constructor argument (type, range, Keras's default); the constructor checks
  its arguments against it, and so does the safe loader a file's config.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import backend, registry, schedules
from ..parameters import ParameterStore
from ..schema import Name, Number, Off, Optional, Schema
from .fields import LearningRate, Unused

__all__ = ["Optimizer", "ScalarSpec", "SlotSpec", "f32", "slot_scale"]

#: steps between flushes of subnormal slot values (a moment needs ~150 steps to pass through that range)
_FLUSH_EVERY = 16


def f32(x: float) -> float:
    """A Python constant as TensorFlow's Keras computes with it after ``ops.cast``: rounded to float32 first.

    ``ops.cast(0.999, "float64")`` builds a float32 tensor from the Python float before casting it, so Keras's
    Adam corrects its bias with ``beta_2 = 0.99900001`` (which moves ``alpha`` by 6e-6 at step 1), while
    arithmetic with the Python float itself (``m * (1 - beta_1)``) stays exact. Every optimizer rounds through
    this helper exactly where Keras casts, and nowhere else. The result is a Python float: scalar arithmetic on
    it costs a tenth of NumPy scalar arithmetic, at the same float32 value.
    """
    return float(np.float32(x))


def slot_scale(factor: float) -> float:
    """A slot's scale ``1 - beta``, or 1 where ``beta = 1`` (the slot then never changes)."""
    return factor if factor > 0 else 1.0


class SlotSpec(NamedTuple):
    """One per-weight state vector: gradfit's attribute (``"momentums"``), Keras's variable name
    (``"momentum"``), Keras's initial value, and the constant gradfit keeps it divided by (see Adam)."""

    name: str
    keras_name: str
    fill: float = 0.0
    scale: float = 1.0


class ScalarSpec(NamedTuple):
    """One scalar of state: gradfit's attribute (``"u_product"``), its label in a saved file, its initial value."""

    name: str
    keras_name: str
    initial: float


# ------------------------------------------------------------------------------------------- the base class


class Optimizer:
    """Base class: holds the learning rate, the step counter, the state vectors and scalars.

    Parameters
    ----------
    learning_rate : float or schedule
        ``alpha``; a schedule is evaluated at the step count before each step.
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
        As Keras's base optimizer.
    use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps
        Keras settings gradfit does not implement: only their defaults are accepted.
    name : str, optional
        Keras's default is the class name in snake case (``"adam"``).
    """

    config_schema = Schema(
        {
            "name": Optional(Name()),
            "learning_rate": LearningRate(0.001),
            "weight_decay": Optional(Number(lo=0)),
            "clipnorm": Optional(Number(lo=0, lo_open=True)),
            "global_clipnorm": Optional(Number(lo=0, lo_open=True)),
            "clipvalue": Optional(Number(lo=0, lo_open=True)),
            "use_ema": Off(False),
            "ema_momentum": Unused(0.99, off=(0.99,)),
            "ema_overwrite_frequency": Off(),
            "loss_scale_factor": Off(),
            "gradient_accumulation_steps": Off(),
        }
    )

    #: the update rule in the course's notation (``model.explain()`` shows it)
    rule = ""
    #: how many scratch vectors shaped like the weights ``update`` needs (``self._scratch``, at least one)
    scratch_buffers = 1
    #: the default ``name`` where gradfit keeps the one of earlier Keras 3 releases ("SGD", "rmsprop", "adamw";
    #: Keras 3.15 names every optimizer after its class in snake case: "sgd", "rm_sprop", "adam_w")
    default_name: str | None = None

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}.")
        c = self._checked(
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
        )
        if sum(c[k] is not None for k in ("clipnorm", "clipvalue", "global_clipnorm")) > 1:
            raise ValueError("Only one of clipnorm, clipvalue and global_clipnorm can be set.")
        self.learning_rate = learning_rate
        self.weight_decay = c["weight_decay"]
        self.clipnorm, self.clipvalue, self.global_clipnorm = c["clipnorm"], c["clipvalue"], c["global_clipnorm"]
        self.name = c["name"] or self.default_name or registry.snake_case(type(self).__name__)
        self.iterations = 0
        self.built = False
        self._store = None
        self._segments: list[slice] = []
        self._slots: dict[str, np.ndarray] = {}
        self._scales: dict[str, float] = {}
        self._slot_objects: dict = {}

    def _checked(self, **values) -> dict:
        """``values`` checked against this class's ``config_schema`` (ValueError, or NotImplementedError for a
        Keras setting gradfit lacks)."""
        return type(self).config_schema.check(type(self).__name__, values)

    # -- learning rate: a number users can read and set, or a schedule
    @property
    def learning_rate(self):
        """The rate for the next step; with a schedule, its value at ``iterations`` (as Keras 3)."""
        return _LearningRate(self._current_lr())

    @learning_rate.setter
    def learning_rate(self, value):
        value = self.config_schema.fields["learning_rate"].check(value, type(self).__name__, "learning_rate")
        if not callable(value) and callable(getattr(self, "_learning_rate", None)):
            raise TypeError(
                f"This optimizer was created with a learning-rate schedule ({self._learning_rate!r}) as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. If you need the "
                "learning rate to be settable (e.g. by ReduceLROnPlateau or LearningRateScheduler), instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = value

    lr = learning_rate

    def _current_lr(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        # any other callable takes no arguments, as in Keras 3 (e.g. learning_rate=lambda: 0.01)
        return float(lr()) if callable(lr) else lr

    # -- what each optimizer declares
    def slot_specs(self) -> tuple[SlotSpec, ...]:
        """The per-weight state vectors, in the order ``variables`` lists them (fixed by the config)."""
        return ()

    def scalar_specs(self) -> tuple[ScalarSpec, ...]:
        """The scalars of state besides ``iterations``, in the order Keras saves them (after the slots)."""
        return ()

    def keras_layout(self) -> tuple[tuple[str, ...], ...]:
        """Keras's order of the slots: groups of slot names, each group interleaved weight by weight
        (``add_optimizer_variables(vars, ["momentum", "velocity"])``), one group after another. Default: each
        slot in a block of its own."""
        return tuple((s.name,) for s in self.slot_specs())

    def _coefficients(self) -> dict[str, float]:
        """The update rule's constants (fixed once built), stored as 0-d arrays in ``self._c``."""
        return {}

    # -- state
    def build(self, store, segments: list[slice] | None = None) -> None:
        """Allocate the state for a model's :class:`~gradfit.parameters.ParameterStore` (or for a bare flat
        weight vector, with ``segments`` the weights' slices, used by clipnorm)."""
        if isinstance(store, np.ndarray):
            store = ParameterStore.for_vector(store, segments)
        params = store.values
        self._store = store
        self._segments = list(store.segments)
        self._parked = {}  # see rebuild
        # at least one: weight decay goes through the first before the rule overwrites it
        self._scratch = [np.empty_like(params) for _ in range(max(self.scratch_buffers, 1))]
        self._tmp = self._scratch[0]
        self._clipped = None  # the clipped gradient, allocated on first use
        self._slot_objects = {s.name: store.slot(s.fill, s.scale) for s in self.slot_specs()}
        self._slots = {name: slot.buffer for name, slot in self._slot_objects.items()}
        self._scales = {name: slot.scale for name, slot in self._slot_objects.items()}
        for s in self.scalar_specs():
            setattr(self, s.name, s.initial)
        # the rule's fixed coefficients as 0-d arrays of the weights' type: a Python float operand costs each
        # ufunc call ~0.3 us of conversion (2 us of RMSprop's 15 on the seeds' network)
        self._c = {k: np.asarray(v, dtype=params.dtype) for k, v in self._coefficients().items()}
        self.built = True

    def rebuild(self, store: ParameterStore) -> None:
        """Lay the state out for a model's new store, keeping it per weight, as Keras keeps it per variable.

        Freezing or unfreezing a layer, adding one or sharing one re-gathers the model's vector: each weight the
        optimizer has seen (the same layer's same weight, of the same shape) keeps its state, including one that
        was frozen in between; a new weight starts from Keras's initial value. Scalars and ``iterations`` carry on.
        """
        old = self._store
        old_owners = getattr(old, "_owners", None) or []
        new_owners = store._owners

        def key(owner):
            return id(owner[0]), owner[1]

        if old_owners and [key(o) for o in old_owners] == [key(o) for o in new_owners] and old.shapes == store.shapes:
            self._store, self._segments = store, list(store.segments)  # the same weights in the same places
            return
        # the state of every weight seen so far, by weight (the layer object is kept so that its id stays its own)
        parked = dict(self.__dict__.get("_parked", {}))
        for i, owner in enumerate(old_owners):
            state = {name: slot.weight(i) for name, slot in self._slot_objects.items()}
            parked[key(owner)] = (owner[0], old.shapes[i], state)
        scalars = {s.name: getattr(self, s.name) for s in self.scalar_specs()}
        self.build(store)
        for j, owner in enumerate(new_owners):
            entry = parked.pop(key(owner), None)
            if entry is not None and entry[1] == store.shapes[j]:
                for name, value in entry[2].items():
                    self._slot_objects[name].assign_weight(j, value)
        self._parked = parked  # frozen weights' state, for when they are trained again
        for name, value in scalars.items():
            setattr(self, name, value)

    @property
    def size(self) -> int:
        """How many weights the optimizer was built for (0 before ``build``)."""
        return self._store.values.size if self.built else 0

    def slot(self, name: str) -> np.ndarray:
        """The slot ``name`` ("momentums", "velocities", ...) as Keras holds it, a flat vector shaped like
        ``model.parameters``: the optimizer's own array, or a read-only copy where gradfit keeps it scaled
        (writing into that copy would change nothing, so NumPy refuses it)."""
        return self._slot_objects[name].value()

    def slot_buffer(self, name: str) -> tuple[np.ndarray, float]:
        """The array the slot lives in and its scale: Keras's value is ``array * scale``."""
        return self._slots[name], self._scales[name]

    def __getstate__(self) -> dict:
        # the model this optimizer serves is held by a weak reference (training.py), which neither pickles nor
        # deep-copies: a copy is bound again by its next fit
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state

    def __getattr__(self, name: str):
        # opt.momentums, opt.velocities, ... read as Keras's values (only reached when normal lookup fails)
        if name in self.__dict__.get("_slot_objects", {}):
            return self.slot(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def variables(self) -> list[np.ndarray]:
        """``iterations``, then each slot (flat), then each scalar; empty before ``build`` (the first step)."""
        if not self.built:
            return []
        dtype = self._store.values.dtype
        return (
            [np.array(self.iterations)]
            + [self.slot(s.name) for s in self.slot_specs()]
            + [np.array(getattr(self, s.name), dtype=dtype) for s in self.scalar_specs()]
        )

    # -- saving: Keras's optimizer variables after `iterations` and `learning_rate`
    def keras_variable_specs(self, weight_shapes: list[tuple]) -> list[tuple[str, tuple]]:
        """Keras's optimizer variables after ``iterations`` and ``learning_rate``, in the order Keras saves
        them: ``(label, shape)`` each (``("momentum/0", (400, 25))``, …, ``("u_product", ())``). From the
        config and the weights' shapes only: nothing is allocated."""
        keras_names = {s.name: s.keras_name for s in self.slot_specs()}
        out = [
            (f"{keras_names[name]}/{i}", tuple(shape))
            for group in self.keras_layout()
            for i, shape in enumerate(weight_shapes)
            for name in group
        ]
        return out + [(s.keras_name, ()) for s in self.scalar_specs()]

    def _keras_order(self) -> list[tuple[str, int | None]]:
        """``(slot name, weight index)`` for each Keras variable, ``(scalar name, None)`` for each scalar."""
        n = len(self._store.shapes)
        order = [(name, i) for group in self.keras_layout() for i in range(n) for name in group]
        return order + [(s.name, None) for s in self.scalar_specs()]

    def keras_variables(self) -> list[tuple[str, np.ndarray]]:
        """Keras's values of :meth:`keras_variable_specs`, in the same order (empty before ``build``)."""
        if not self.built:
            return []
        labels = [label for label, _ in self.keras_variable_specs(self._store.shapes)]
        dtype = self._store.values.dtype
        values = [
            self._slot_objects[name].weight(i) if i is not None else np.asarray(getattr(self, name), dtype=dtype)
            for name, i in self._keras_order()
        ]
        return list(zip(labels, values))

    def assign_keras_variables(self, values: list[np.ndarray]) -> None:
        """Set the state from Keras's values (as :meth:`keras_variables` lists them), after ``build(store)``."""
        if not self.built:
            raise ValueError(f"{type(self).__name__}: build the optimizer before assigning its variables.")
        specs = self.keras_variable_specs(self._store.shapes)
        if len(values) != len(specs):
            raise ValueError(f"{type(self).__name__}: expected {len(specs)} optimizer variables, got {len(values)}.")
        for (label, shape), value, (name, i) in zip(specs, values, self._keras_order()):
            value = np.asarray(value)
            if value.size != math.prod(shape):
                raise ValueError(f"{type(self).__name__}: {label} must have shape {shape}, got {value.shape}.")
            if i is None:
                setattr(self, name, float(value))
            else:
                self._slot_objects[name].assign_weight(i, value.reshape(shape))

    # -- one step
    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update ``params`` in place from ``grads`` (both flat, same shape); ``grads`` is only read."""
        if not self.built:
            self.build(params)
        lr = self._learning_rate
        if lr.__class__ is not float:  # a schedule or a callable
            lr = self._current_lr()
        if self.clipnorm or self.global_clipnorm or self.clipvalue:
            grads = self._clip(grads)
        if self.weight_decay:  # w = w - w wd alpha (Keras casts wd), through the scratch vector
            np.multiply(params, f32(self.weight_decay) * lr, out=self._scratch[0])
            params -= self._scratch[0]
        self.update(params, grads, lr, self.iterations + 1)
        self.iterations += 1
        if self.iterations % _FLUSH_EVERY == 0:
            self._flush_subnormals()

    def update(self, w: np.ndarray, g: np.ndarray, lr: float, t: int) -> None:
        """The rule: update ``w`` (and the state) in place from the gradient ``g``, which must not be written."""
        raise NotImplementedError

    def _flush_subnormals(self) -> None:
        """Set slot entries smaller than the smallest normal float to zero.

        A unit that stops receiving gradient (a dead ReLU) has its moments decay geometrically into
        subnormal floats, on which this CPU's sqrt and divide run 1.5-2.5x slower: an MNIST-sized epoch
        took 1.15 s instead of 0.75 s. ``(s + c) - c`` with ``c = tiny * 2^(mantissa bits + 1)`` rounds
        every subnormal to 0 and leaves every value above ~1e-23 (float32) exactly as it was.
        """
        for slot in self._slots.values():
            c = backend.SUBNORMAL_BOUND.get(slot.dtype)
            if c is None:
                continue
            np.add(slot, c, out=slot)
            np.subtract(slot, c, out=slot)

    def _clip(self, grads: np.ndarray) -> np.ndarray:
        """The clipped gradient, in a buffer of the optimizer's own (``grads`` itself when nothing is clipped):
        the model's gradient vector keeps ``dJ/dW``."""
        out = self._clipped
        if out is None or out.shape != grads.shape or out.dtype != grads.dtype:
            out = self._clipped = np.empty_like(grads)
        if self.clipnorm:  # each weight's gradient to norm at most clipnorm
            factors = []
            for s in self._segments:
                norm = float(np.sqrt(np.square(grads[s]).sum()))
                if norm > self.clipnorm:
                    factors.append((s, self.clipnorm / norm))
            if not factors:
                return grads
            np.copyto(out, grads)
            for s, factor in factors:
                out[s] *= factor
            return out
        if self.global_clipnorm:  # all the gradients together to norm at most global_clipnorm
            norm = float(np.sqrt(np.square(grads).sum()))
            if not norm > self.global_clipnorm:
                return grads
            return np.multiply(grads, self.global_clipnorm / norm, out=out)
        return np.clip(grads, -self.clipvalue, self.clipvalue, out=out)

    # -- serialization
    def get_config(self) -> dict:
        lr = self._learning_rate
        return {
            "name": self.name,
            "learning_rate": schedules.serialize(lr) if isinstance(lr, schedules.LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        }

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
