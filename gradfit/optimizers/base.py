"""The optimizer contract every gradfit optimizer follows, and the base class that implements its common part.

The course's update is ``w = w - alpha dJ/dw``; each optimizer refines it. They all work on one flat vector
holding every trainable weight of the model (each layer's ``kernel`` and ``bias`` are views into it, owned by
the model's :class:`~gradfit.parameters.ParameterStore`), so a step is a handful of vector operations however
many layers there are. ``t`` counts steps from 1.

Order within one step, as Keras 3.15's ``BaseOptimizer._backend_apply_gradients`` then ``apply``:

1. with ``gradient_accumulation_steps = N``: unless this is the N-th micro-step (``(iterations_real + 1) % N ==
   0``), add the gradient to the accumulator and skip to 5; on the N-th, the gradient becomes ``(g + acc) / N``
   and the accumulator is zeroed after the update;
2. clip the gradient (clipnorm / clipvalue / global_clipnorm);
3. apply weight decay ``w = w - w wd alpha``;
4. apply the rule, with ``t = iterations + 1`` (``iterations`` counts updates: ``iterations_real // N``) and
   ``alpha`` the schedule's value at ``iterations_real`` (micro-steps);
5. with ``use_ema``: ``average = mu average + (1 - mu) w`` every micro-step, ``mu = 0`` while
   ``iterations == 0`` (the average starts as the weights) else ``ema_momentum``; every
   ``ema_overwrite_frequency`` updates (``(iterations + 1) % frequency == 0``) the weights become the average;
6. count the micro-step (``iterations_real += 1``).

The model's constraints come after all of this (the training step applies them), as in Keras's ``apply``.

**The contract** (a test runs every registered optimizer against it):

* ``update(w, g, lr, t)`` writes ``w`` and the optimizer's own state, never ``g``: callbacks such as
  ``GradientLogger`` read ``dJ/dW`` after the step. Clipping writes into a buffer of its own, not into the
  model's gradient vector. Intermediate results go into scratch vectors: an optimizer says how many it needs
  (``scratch_buffers``) and ``build`` allocates them (``self._scratch``; ``self._tmp`` is the first).
* Per-weight state ("slots") is declared by ``slot_specs()`` and lives in the parameter store
  (``store.slot(fill, scale)``); scalar state (Nadam's ``u_product``) is declared by ``scalar_specs()``.
  Both are reset by ``build``, saved and loaded without any code outside the optimizer. A slot the rule needs
  non-negative (a second moment) says so (``SlotSpec.nonnegative``): a file holding a negative one is refused.
* The base class adds its own slots for Keras's settings, before the optimizer's: the weights' moving average
  (``use_ema``) and the gradient accumulators (``gradient_accumulation_steps``). ``_snapshot()`` copies the
  whole state (counter, learning rate, every slot, scalars) and ``_restore(state)`` puts it back.
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
from ..schema import Bool, Name, Number, Off, Optional, Schema, short
from .fields import Count, LearningRate

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
    (``"momentum"``), Keras's initial value, the constant gradfit keeps it divided by (see Adam), and whether
    the rule needs it non-negative (a second moment under a square root: a file holding a negative one is
    refused)."""

    name: str
    keras_name: str
    fill: float = 0.0
    scale: float = 1.0
    nonnegative: bool = False


class ScalarSpec(NamedTuple):
    """One scalar of state: gradfit's attribute (``"u_product"``), its label in a saved file, its initial value
    and the range a loaded value must lie in (None: any finite number)."""

    name: str
    keras_name: str
    initial: float
    lo: float | None = None
    hi: float | None = None


#: the state the base class keeps for Keras's settings, in Keras's order (before the optimizer's own slots)
_AVERAGES = SlotSpec("averages", "average")  # use_ema: the moving average of the weights
_ACCUMULATORS = SlotSpec("gradient_accumulators", "gradient_accumulator")  # gradient_accumulation_steps


# ------------------------------------------------------------------------------------------- the base class


class Optimizer:
    """Base class: holds the learning rate, the step counter, the state vectors and scalars.

    Parameters
    ----------
    learning_rate : float or schedule
        ``alpha``; a schedule is evaluated at the step count before each step.
    weight_decay, clipnorm, clipvalue, global_clipnorm : float, optional
        As Keras's base optimizer.
    use_ema : bool
        Keep an exponential moving average of the weights (``average = mu average + (1 - mu) w`` after every
        step, ``mu = ema_momentum``), written into the model every ``ema_overwrite_frequency`` updates and at
        the end of ``fit`` (:meth:`finalize_variable_values`).
    ema_momentum : float in [0, 1]
    ema_overwrite_frequency : int >= 1, optional
        None (or 0, as Keras): only at the end of ``fit``.
    gradient_accumulation_steps : int >= 2, optional
        Update every N steps with the mean of the last N gradients (None or 0: every step). ``iterations``
        then counts updates; a learning-rate schedule still sees every step.
    loss_scale_factor
        Not implemented by gradfit: only None is accepted.
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
            "use_ema": Bool(False),
            "ema_momentum": Number(0.99, lo=0, hi=1),
            # None or 0 (Keras treats 0 as None): never in the middle of fit
            "ema_overwrite_frequency": Count(lo=1),
            "loss_scale_factor": Off(),
            "gradient_accumulation_steps": Count(lo=2),
        }
    )

    #: the update rule in the course's notation (``model.explain()`` shows it)
    rule = ""
    #: whether the rule divides by ``alpha`` (FTRL): then a learning rate of 0 is refused (Keras's weights become NaN)
    divides_by_learning_rate = False
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
        self.use_ema, self.ema_momentum = c["use_ema"], float(c["ema_momentum"])
        self.ema_overwrite_frequency = c["ema_overwrite_frequency"]
        self.gradient_accumulation_steps = c["gradient_accumulation_steps"]
        self._iterations = 0  # micro-steps taken (Keras's `_iterations`, the variable it saves)
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
        """The rate for the next step, checked (a schedule sees every micro-step, as Keras's ``_iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            raw = lr(self._iterations)
        elif callable(lr):  # any other callable takes no arguments, as in Keras 3 (e.g. learning_rate=lambda: 0.01)
            raw = lr()
        else:
            return lr
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            # raised before any state is written: a step that raises leaves the weights and the state as they were
            raise ValueError(
                f"{type(self).__name__}: the learning_rate schedule {lr!r} returned {short(raw)} at step "
                f"{self._iterations}; it must return a finite non-negative number."
            )
        return value

    # -- the step counter
    @property
    def iterations(self) -> int:
        """Updates applied: Keras's ``optimizer.iterations`` (micro-steps ``// gradient_accumulation_steps``
        when accumulating, else every step)."""
        steps = self.gradient_accumulation_steps
        return self._iterations // steps if steps else self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        # with accumulation, `iterations = k` means k updates done and nothing accumulated (micro-step k * N)
        steps = self.gradient_accumulation_steps
        self._iterations = int(value) * steps if steps else int(value)

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

    def _base_slot_specs(self) -> tuple[SlotSpec, ...]:
        """The state the base class keeps for Keras's settings, each a block of its own before the optimizer's
        slots in Keras's variables: the weights' moving average (``use_ema``), then the gradient accumulators."""
        return ((_AVERAGES,) if self.use_ema else ()) + ((_ACCUMULATORS,) if self.gradient_accumulation_steps else ())

    def _all_slot_specs(self) -> tuple[SlotSpec, ...]:
        return self._base_slot_specs() + tuple(self.slot_specs())

    def _all_layout(self) -> tuple[tuple[str, ...], ...]:
        return tuple((s.name,) for s in self._base_slot_specs()) + tuple(self.keras_layout())

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
        self._size = params.size
        self._segments = list(store.segments)
        self._parked = {}  # see rebuild
        # at least one: weight decay goes through the first before the rule overwrites it
        self._scratch = [np.empty_like(params) for _ in range(max(self.scratch_buffers, 1))]
        self._tmp = self._scratch[0]
        self._clipped = None  # the clipped gradient, allocated on first use
        # the mean of the accumulated gradients, read by the rule while it writes the scratch vectors
        self._mean = np.empty_like(params) if self.gradient_accumulation_steps else None
        self._slot_objects = {s.name: store.slot(s.fill, s.scale) for s in self._all_slot_specs()}
        self._slots = {name: slot.buffer for name, slot in self._slot_objects.items()}
        self._scales = {name: slot.scale for name, slot in self._slot_objects.items()}
        for s in self.scalar_specs():
            setattr(self, s.name, s.initial)
        # the rule's fixed coefficients as 0-d arrays of the weights' type: a Python float operand costs each
        # ufunc call ~0.3 us of conversion (2 us of RMSprop's 15 on the seeds' network)
        self._c = {k: np.asarray(v, dtype=params.dtype) for k, v in self._coefficients().items()}
        # the moving average's momentum as Keras computes it: cast(iterations != 0) * ema_momentum, in the
        # weights' type (a Python float operand takes the tensor's type), and 1 - that momentum in that type
        dtype = params.dtype.type
        self._ema = [(dtype(m), dtype(1) - dtype(m)) for m in (0.0, self.ema_momentum)]
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

    def __setstate__(self, state: dict) -> None:
        # an optimizer pickled before the EMA and accumulation settings existed kept its counter as `iterations`
        if "iterations" in state and "_iterations" not in state:
            state["_iterations"] = state.pop("iterations")
        for key, default in (("use_ema", False), ("ema_momentum", 0.99)):
            state.setdefault(key, default)
        state.setdefault("ema_overwrite_frequency", None)
        state.setdefault("gradient_accumulation_steps", None)
        if state.get("built") and "_size" not in state:
            state["_size"] = state["_store"].values.size
            state["_mean"] = None
            dtype = state["_store"].values.dtype.type
            state["_ema"] = [(dtype(m), dtype(1) - dtype(m)) for m in (0.0, state["ema_momentum"])]
        self.__dict__.update(state)

    def __getattr__(self, name: str):
        # opt.momentums, opt.velocities, ... read as Keras's values (only reached when normal lookup fails)
        if name in self.__dict__.get("_slot_objects", {}):
            return self.slot(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def variables(self) -> list[np.ndarray]:
        """The step counter (micro-steps, Keras's ``_iterations``), then each slot (flat: the weights' average
        and the gradient accumulators first, as Keras), then each scalar; empty before ``build`` (the first
        step)."""
        if not self.built:
            return []
        dtype = self._store.values.dtype
        return (
            [np.array(self._iterations)]
            + [self.slot(s.name) for s in self._all_slot_specs()]
            + [np.array(getattr(self, s.name), dtype=dtype) for s in self.scalar_specs()]
        )

    # -- saving: Keras's optimizer variables after `iterations` and `learning_rate`
    def keras_variable_specs(self, weight_shapes: list[tuple]) -> list[tuple[str, tuple]]:
        """Keras's optimizer variables after ``iterations`` and ``learning_rate``, in the order Keras saves
        them: ``(label, shape)`` each (``("momentum/0", (400, 25))``, …, ``("u_product", ())``). From the
        config and the weights' shapes only: nothing is allocated. With ``use_ema`` and
        ``gradient_accumulation_steps``, Keras's ``average/i`` and then ``gradient_accumulator/i`` come first."""
        keras_names = {s.name: s.keras_name for s in self._all_slot_specs()}
        out = [
            (f"{keras_names[name]}/{i}", tuple(shape))
            for group in self._all_layout()
            for i, shape in enumerate(weight_shapes)
            for name in group
        ]
        return out + [(s.keras_name, ()) for s in self.scalar_specs()]

    def _keras_order(self) -> list[tuple[str, int | None]]:
        """``(slot name, weight index)`` for each Keras variable, ``(scalar name, None)`` for each scalar."""
        n = len(self._store.shapes)
        order = [(name, i) for group in self._all_layout() for i in range(n) for name in group]
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

    def keras_variable_problem(self, label: str, value: np.ndarray) -> str | None:
        """What is wrong with ``value`` as Keras's variable ``label`` (from :meth:`keras_variable_specs`), or
        None: every value must be finite, a slot the rule needs non-negative (a second moment) must be, and a
        scalar must lie in its declared range. A loader refuses the file on any problem."""
        prefix, _, index = label.partition("/")
        bad = ~np.isfinite(value)
        if bad.any():
            where = f" at index {tuple(int(k) for k in np.argwhere(bad)[0])}" if np.ndim(value) else ""
            return f"holds a non-finite value ({value[bad].flat[0]}){where}"
        if index:
            spec = next((s for s in self._all_slot_specs() if s.keras_name == prefix), None)
            if spec is not None and spec.nonnegative and value.size and value.min() < 0:
                return f"must be non-negative (the update takes its square root or divides by it), got {value.min()}"
            return None
        spec = next((s for s in self.scalar_specs() if s.keras_name == prefix), None)
        if spec is not None and (
            (spec.lo is not None and float(value) < spec.lo) or (spec.hi is not None and float(value) > spec.hi)
        ):
            return f"must lie in [{spec.lo}, {spec.hi}], got {float(value)}"
        return None

    def assign_keras_variables(self, values: list[np.ndarray]) -> None:
        """Set the state from Keras's values (as :meth:`keras_variables` lists them), after ``build(store)``."""
        if not self.built:
            raise ValueError(f"{type(self).__name__}: build the optimizer before assigning its variables.")
        specs = self.keras_variable_specs(self._store.shapes)
        if len(values) != len(specs):
            raise ValueError(f"{type(self).__name__}: expected {len(specs)} optimizer variables, got {len(values)}.")
        checked = []  # every value checked before any is assigned: a refusal leaves the state as it was
        for (label, shape), value in zip(specs, values):
            value = np.asarray(value)
            if value.size != math.prod(shape):
                raise ValueError(f"{type(self).__name__}: {label} must have shape {shape}, got {value.shape}.")
            checked.append(value.reshape(shape))
        for value, (name, i) in zip(checked, self._keras_order()):
            if i is None:
                setattr(self, name, float(value))
            else:
                self._slot_objects[name].assign_weight(i, value)

    # -- one step
    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """One step, as Keras's ``apply`` less the constraints (the order is in the module's docstring):
        update ``params`` in place from ``grads`` (both flat, same shape); ``grads`` is only read.

        Everything that can refuse the step (the gradient's shape, a schedule's value) is checked before any
        weight or state is written.
        """
        if not self.built:
            self.build(params)
        if grads.shape != params.shape or params.size != self._size:
            raise ValueError(
                f"{type(self).__name__}: the gradient has shape {grads.shape} and the weights {params.shape}; the "
                f"optimizer was built for {self._size} weights. Both must be flat vectors of that size."
            )
        lr = self._learning_rate
        if lr.__class__ is not float:  # a schedule or a callable
            lr = self._current_lr()
            if self.divides_by_learning_rate and not lr > 0:
                raise ValueError(
                    f"{type(self).__name__}: the learning_rate schedule {self._learning_rate!r} returned 0 at step "
                    f"{self._iterations}; this optimizer divides by the learning rate, which must stay positive."
                )
        steps = self.gradient_accumulation_steps
        if steps:
            acc = self._slots["gradient_accumulators"]
            if (self._iterations + 1) % steps:  # not the N-th micro-step: accumulate only
                np.add(grads, acc, out=acc)
                grads = None
            else:  # the mean of the N gradients (Keras divides by N), then the update as without accumulation
                grads = np.add(grads, acc, out=self._mean)
                np.divide(grads, grads.dtype.type(steps), out=grads)
            updates = self._iterations // steps
        else:
            updates = self._iterations
        if grads is not None:
            if self.clipnorm or self.global_clipnorm or self.clipvalue:
                grads = self._clip(grads)
            if self.weight_decay:  # w = w - w wd alpha (Keras casts wd), through the scratch vector
                np.multiply(params, f32(self.weight_decay) * lr, out=self._scratch[0])
                params -= self._scratch[0]
            self.update(params, grads, lr, updates + 1)
            if steps:
                acc.fill(0)
        if self.use_ema:
            self._update_average(params, updates)
        self._iterations += 1
        if self._iterations % _FLUSH_EVERY == 0:
            self._flush_subnormals()

    def _update_average(self, params: np.ndarray, updates: int) -> None:
        """``average = mu average + (1 - mu) w`` (Keras's rounding: two products, then their sum), with
        ``mu = 0`` before the first update is counted (the average starts as the weights); then every
        ``ema_overwrite_frequency`` updates, the weights become the average."""
        average, tmp = self._slots["averages"], self._tmp
        mu, one_minus_mu = self._ema[updates != 0]
        np.multiply(average, mu, out=average)
        np.multiply(params, one_minus_mu, out=tmp)
        np.add(average, tmp, out=average)
        frequency = self.ema_overwrite_frequency
        if frequency and (updates + 1) % frequency == 0:
            np.copyto(params, average)

    def finalize_variable_values(self, var_list) -> None:
        """Set the model's weights to their moving average (with ``use_ema``; otherwise nothing): what Keras's
        ``fit`` does after the last epoch, before ``on_train_end``.

        ``var_list``: the flat weight vector the optimizer updates (``model.parameters``), the model's
        :class:`~gradfit.parameters.ParameterStore`, or the list of trainable weight arrays (as Keras's
        ``model.trainable_weights``).
        """
        if not (self.use_ema and self.built):
            return
        average = self._slot_objects["averages"]
        if isinstance(var_list, ParameterStore):
            var_list = var_list.values
        if isinstance(var_list, np.ndarray):
            if var_list.shape != average.buffer.shape:
                raise ValueError(
                    f"{type(self).__name__}: finalize_variable_values got a vector of shape {var_list.shape}; the "
                    f"moving average holds {average.buffer.size} weights."
                )
            np.copyto(var_list, average.buffer)
            return
        var_list = list(var_list)
        shapes = self._store.shapes
        if [tuple(np.shape(v)) for v in var_list] != [tuple(s) for s in shapes]:
            raise ValueError(
                f"{type(self).__name__}: finalize_variable_values got weights shaped "
                f"{[np.shape(v) for v in var_list]}; the moving average holds weights shaped {shapes}."
            )
        for i, v in enumerate(var_list):
            v[...] = average.weight(i)

    # -- a copy of the whole state (the training loop puts it back when a batch's loss is not finite)
    def _snapshot(self) -> dict:
        """A copy of everything a step changes: the step counter, the learning rate (a callback may set it),
        every slot buffer (the weights' average and the gradient accumulators included), the scalars, and the
        parked state of frozen weights. :meth:`_restore` puts it back."""
        state = {"iterations": self._iterations, "learning_rate": self._learning_rate, "built": self.built}
        if self.built:
            state["store"] = self._store
            state["slots"] = {name: buffer.copy() for name, buffer in self._slots.items()}
            state["scalars"] = {s.name: getattr(self, s.name) for s in self.scalar_specs()}
            state["parked"] = {
                key: (layer, shape, {name: value.copy() for name, value in values.items()})
                for key, (layer, shape, values) in self.__dict__.get("_parked", {}).items()
            }
        return state

    def _restore(self, state: dict) -> None:
        """Put back the state :meth:`_snapshot` copied, in place where the weights are the same (the slot
        buffers stay the same arrays). A snapshot taken before the first step resets the state to Keras's
        initial values; one taken for another set of weights (a callback froze a layer since) brings back that
        layout, which the next ``fit`` re-lays per weight (:meth:`rebuild`)."""
        self._iterations = state["iterations"]
        self._learning_rate = state["learning_rate"]
        if not state["built"]:
            if self.built:
                self.build(self._store)  # fresh state for the same weights: Keras's initial values
            return
        slots = state["slots"]
        same = (
            self.built
            and state["store"] is self._store
            and set(slots) == set(self._slots)
            and all(slots[k].shape == self._slots[k].shape for k in slots)
        )
        if not same:
            self.build(state["store"])
        for name, buffer in self._slots.items():
            np.copyto(buffer, slots[name])
        for name, value in state["scalars"].items():
            setattr(self, name, value)
        self._parked = {
            key: (layer, shape, {name: value.copy() for name, value in values.items()})
            for key, (layer, shape, values) in state["parked"].items()
        }

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
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict):
        if isinstance(config.get("learning_rate"), dict):
            config = {**config, "learning_rate": schedules.deserialize(config["learning_rate"])}
        return cls(**config)

    def describe(self) -> str:
        """The update rule with this optimizer's numbers (shown by ``model.explain()``)."""
        text = f"{type(self).__name__}: {self.rule}"
        steps = self.gradient_accumulation_steps
        if steps:
            text += f";  every {steps} steps, with g the mean of the last {steps} gradients"
        if self.use_ema:
            mu = self.ema_momentum
            text += f";  then average = {mu:g}*average + {1 - mu:g}*w"
            if self.ema_overwrite_frequency:
                text += f", and w = average every {self.ema_overwrite_frequency} updates"
            text += " (w = average at the end of fit)"
        return text


class _LearningRate(float):
    """A float that also answers ``.numpy()``, as a TensorFlow variable does in course code."""

    def numpy(self) -> float:
        return float(self)
