"""The parameter store: every trainable weight of a model in one flat vector, and its gradient in another.

The course writes the update ``w = w - alpha dJ/dw`` once per weight; gradfit does it once per model:
``model.parameters`` holds every ``W[l]`` and ``b[l]`` one after the other, ``model.parameter_gradients``
every ``dJ/dW[l]`` and ``dJ/db[l]`` in the same places, and each layer's ``kernel``, ``bias``,
``grad_kernel``, ``grad_bias`` are views into them. An optimizer step is then a handful of vector
operations however many layers there are.

This module owns everything about that storage, so that nothing else depends on it:

* the layout: which slice of the vector is which weight, and in which memory order a matrix lies
  (``_matrix_order``; ``outer_into`` writes a gradient ``x^T dz`` into a weight's gradient whatever its order);
* the optimizer state vectors (``Slot``), shaped like the parameters and possibly kept divided by a
  constant, with Keras's value readable and writable per weight;
* weight attributes (``weight_attribute``): ``layer.kernel = array`` copies ``array`` into the storage
  (shape- and finiteness-checked) instead of rebinding the attribute away from the model's vector;
* a weight's first values (``new_weight``): drawn straight into the model's vector when the model's layout is
  known before its layers are built (``preallocated``: the safe loader knows it from the config), so that
  building a model costs its weights' size once, not twice.
"""

from __future__ import annotations

import contextlib
import operator
import threading

import numpy as np

from . import initializers
from .backend import dot, floatx

__all__ = [
    "ParameterStore",
    "Slot",
    "assign",
    "checked_value",
    "declare",
    "new_gradient",
    "new_weight",
    "outer_into",
    "preallocated",
    "replace",
    "weight_attribute",
]

#: matrices with at least this many entries are stored row-major (see ``_matrix_order``)
_ROW_MAJOR_SIZE = 32_768


def _matrix_order(shape: tuple) -> str:
    """The memory order of a weight matrix in the flat vector: ``"F"`` (column-major) or ``"C"``.

    Measured with OpenBLAS on the shapes of the course's and MNIST-sized networks: a small kernel
    (400 x 25, batch 32, one BLAS thread) multiplies and gets its gradient ``dz^T x`` written ~25 % faster
    column-major; a large one (784 x 256, batch 128, two threads) gets its gradient ``x^T dz`` in ~300 us
    row-major against ~440 us column-major, and its forward product ~10 % faster. The threshold is where, at
    batch 32, fit switches to two BLAS threads (benchmarks/README.md).
    """
    return "C" if shape[0] * shape[1] >= _ROW_MAJOR_SIZE else "F"


def _weight_view(flat: np.ndarray, shape: tuple) -> np.ndarray:
    """``flat`` seen as a weight of ``shape``, matrices in the order of ``_matrix_order``."""
    if len(shape) == 2 and _matrix_order(shape) == "F":
        return flat.reshape(shape[::-1]).T
    return flat.reshape(shape)


def outer_into(x: np.ndarray, dz: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = x^T dz`` (Dense's ``dJ/dW``) for ``out`` a gradient of the store, whichever memory order it has.

    BLAS writes only C-contiguous outputs: a column-major ``out`` gets ``(x^T dz)^T = dz^T x`` written into its
    transpose (row by row), which is the same memory. The branch costs ~0.1 us; a product written into a
    temporary and copied would cost more than the layout saves.
    """
    if out.flags.f_contiguous:
        dot(dz.T, x, out=out.T)
    else:
        dot(x.T, dz, out=out)


class ParameterStore:
    """The flat vectors of one built model and their layout.

    Attributes
    ----------
    values : np.ndarray
        Every trainable weight, flat, in ``model.trainable_weights`` order (``model.parameters``).
    grads : np.ndarray
        ``dJ/dw`` for each of them, same layout (``model.parameter_gradients``).
    segments : list of slice
        Where each trainable weight lies in ``values``.
    shapes : list of tuple
        Each trainable weight's shape.
    """

    def __init__(self, shapes: list[tuple], dtype) -> None:
        self.shapes = [tuple(s) for s in shapes]
        self.dtype = np.dtype(dtype)
        sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.size = sum(sizes)
        self.values = np.empty(self.size, dtype=self.dtype)
        self.grads = np.zeros(self.size, dtype=self.dtype)
        self.segments: list[slice] = []
        offset = 0
        for n in sizes:
            self.segments.append(slice(offset, offset + n))
            offset += n
        self._owners: list[tuple[object, str]] = []

    @classmethod
    def for_vector(cls, values: np.ndarray, segments: list[slice] | None = None) -> ParameterStore:
        """A store around an existing flat vector, one 1-D weight per segment (an optimizer applied to a bare
        array: ``Adam().apply(w, g)``); ``values`` is used as it is, not copied."""
        segments = list(segments) if segments is not None else [slice(0, values.size)]
        store = cls([(s.stop - s.start,) for s in segments], values.dtype)
        if store.size != values.size or [(s.start, s.stop) for s in segments] != [
            (s.start, s.stop) for s in store.segments
        ]:
            raise ValueError(f"segments {segments} do not cover a vector of {values.size} values in order")
        store.values = values
        return store

    # ----------------------------------------------------------------- the layers' weights
    @classmethod
    def gather(cls, layers) -> ParameterStore:
        """A store holding the trainable weights of ``layers`` (in order), which from now on keep views into it.

        The weights' current values are copied in. The arrays the layers held before are made read-only: a
        reference kept to one of them can no longer be written to as if it were still the weight.
        """
        owners = [(layer, s.name) for layer in layers for s in layer.trainable_specs]
        current = [getattr(layer, name) for layer, name in owners]
        store = _adopt_pending(owners, current)
        if store is not None:  # the layers were built into a vector laid out for them: nothing to copy
            return store
        dtypes = {np.dtype(w.dtype) for w in current}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(floatx())
        store = cls([w.shape for w in current], dtype)
        for i, (layer, name) in enumerate(owners):
            old, current[i] = current[i], None  # the old weight is freed once copied, unless someone keeps it
            value, grad = store.view(store.values, i), store.view(store.grads, i)
            value[...] = old
            old_grad = getattr(layer, "grad_" + name, None)
            replace(layer, name, value)
            replace(layer, "grad_" + name, grad)
            for stale in (old, old_grad):
                if isinstance(stale, np.ndarray) and stale is not value and stale is not grad:
                    stale.flags.writeable = False
            old = old_grad = stale = None
        store._owners = owners
        return store

    def attached(self) -> bool:
        """Whether every layer still holds this store's views (another model sharing a layer may have taken it)."""
        values = self.values
        for layer, name in self._owners:
            w = getattr(layer, name, None)
            if w is None or w.base is not values:
                return False
        return True

    # ----------------------------------------------------------------- views of any vector laid out like values
    def view(self, flat: np.ndarray, i: int) -> np.ndarray:
        """Trainable weight ``i``'s part of ``flat`` (a vector shaped like ``values``), shaped and laid out as it."""
        return _weight_view(flat[self.segments[i]], self.shapes[i])

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Views of a vector shaped like ``values`` (an optimizer slot, say), one per trainable weight,
        shaped and laid out as the weights are."""
        return [_weight_view(flat[seg], shape) for seg, shape in zip(self.segments, self.shapes)]

    def weights(self) -> list[np.ndarray]:
        return self.views(self.values)

    def gradients(self) -> list[np.ndarray]:
        return self.views(self.grads)

    # ----------------------------------------------------------------- optimizer state
    def slot(self, fill: float = 0.0, scale: float = 1.0) -> Slot:
        """A new optimizer state vector shaped like ``values``, every entry holding Keras's value ``fill``."""
        return Slot(self, fill, scale)

    def __repr__(self) -> str:
        return f"<ParameterStore {len(self.shapes)} weights, {self.size} values, {self.dtype}>"


class Slot:
    """An optimizer state vector shaped like the parameters (a momentum, a velocity …).

    The update rule reads and writes ``buffer``. Where it saves a pass per step, the optimizer keeps the
    state divided by a constant (Adam's ``m / (1 - beta_1)``): ``buffer`` then holds ``keras_value / scale``,
    and ``value()``, ``weight(i)`` and ``assign_weight(i, v)`` translate, so that scaling stays in here.
    """

    def __init__(self, store: ParameterStore, fill: float = 0.0, scale: float = 1.0) -> None:
        self.store = store
        self.scale = float(scale)
        if fill == 0:
            self.buffer = np.zeros(store.size, dtype=store.dtype)
        else:
            self.buffer = np.full(store.size, fill, dtype=store.dtype)
            if self.scale != 1.0:
                self.buffer /= self.scale

    def value(self) -> np.ndarray:
        """Keras's value, flat: ``buffer`` itself if unscaled, else a read-only copy (writing into that copy
        would change nothing, so NumPy refuses it)."""
        if self.scale == 1.0:
            return self.buffer
        value = self.buffer * self.buffer.dtype.type(self.scale)
        value.flags.writeable = False
        return value

    def weight(self, i: int) -> np.ndarray:
        """Keras's value for trainable weight ``i``, shaped like it (a fresh C-ordered array)."""
        part = self.store.view(self.buffer, i)
        if self.scale == 1.0:
            return np.ascontiguousarray(part)
        return np.ascontiguousarray(part * self.buffer.dtype.type(self.scale))

    def assign_weight(self, i: int, value) -> None:
        """Write Keras's value for trainable weight ``i``."""
        view = self.store.view(self.buffer, i)
        value = np.asarray(value).reshape(view.shape)
        view[...] = value / self.scale if self.scale != 1.0 else value

    def __repr__(self) -> str:
        return f"<Slot size={self.buffer.size}, scale={self.scale}>"


# --------------------------------------------------------------------------------------- weight attributes


#: where a weight attribute keeps its array: ``layer.kernel`` reads ``layer._w_kernel``
_STORAGE = "_w_"


def weight_attribute(name: str, weight: str) -> property:
    """The class attribute behind ``name`` (a declared weight, or its ``grad_<weight>``) of a layer class.

    Assigning, ``layer.kernel = value``, copies ``value`` into the array the layer already holds (a view
    into the model's vector once bound), checked by ``assign``; nothing can rebind the attribute away from
    the model. Before the weight exists (``self.kernel = None`` in a constructor), or on a layer that does
    not declare it (``Dense(use_bias=False).bias``), the attribute is set as any other.

    Reading is the hot path (a dozen weight reads a step): a ``property`` whose getter is C
    (``operator.attrgetter``) costs ~30 ns a read. A descriptor that kept the array under the weight's own
    name would have to write the instance's ``__dict__``, which in CPython 3.11 turns the instance's inline
    attribute values into a dictionary, slowing every other attribute of the layer by ~20 ns a read and
    ~30 ns a write (~3 % of the seeds' step).
    """
    storage = _STORAGE + name

    def set_weight(layer, value) -> None:
        current = getattr(layer, storage, None)
        if not isinstance(current, np.ndarray) or not any(s.name == weight for s in layer._specs):
            object.__setattr__(layer, storage, value)
        elif value is not current:  # (`self.kernel = self.add_weight(...)` in a build assigns it to itself)
            assign(layer, name, value, check_finite=name == weight)

    def delete_weight(layer) -> None:
        raise AttributeError(
            f"Layer {layer.name!r}: {name!r} is a weight of the layer; it cannot be deleted "
            "(assign new values to it instead)."
        )

    set_weight.weight_attribute = name  # how `declare` recognises its own attributes
    return property(operator.attrgetter(storage), set_weight, delete_weight, f"The layer's {name!r} array.")


def is_weight_attribute(obj) -> bool:
    return isinstance(obj, property) and hasattr(obj.fset, "weight_attribute")


def declare(cls: type, name: str) -> None:
    """Make ``name`` and ``grad_<name>`` weight attributes of layer class ``cls`` (once per class; subclasses
    inherit them). A name ``cls`` already has for something of its own is left alone."""
    for attr in (name, "grad_" + name):
        if not hasattr(cls, attr):
            setattr(cls, attr, weight_attribute(attr, name))
            # an instance that never made this weight (LayerNormalization(center=False).beta, a layer not built
            # yet) reads None from the class instead of failing on the missing storage attribute
            if not hasattr(cls, _STORAGE + attr):
                setattr(cls, _STORAGE + attr, None)


def assign(layer, name: str, value, check_finite: bool = True) -> None:
    """Copy ``value`` into the array ``layer.<name>`` holds, or raise ``ValueError`` leaving it unchanged."""
    current = getattr(layer, _STORAGE + name)
    arr = checked_value(layer, name, current, value, check_finite, kinds="biuf")
    current[...] = arr


def checked_value(layer, name: str, current: np.ndarray, value, check_finite: bool = True, kinds="iuf"):
    """``value`` as an array that can be copied into the weight ``current`` of ``layer`` without loss, or a
    ``ValueError`` naming the layer and the weight: numbers (dtype kind in ``kinds``) of ``current``'s shape,
    and, unless ``check_finite=False`` (values the model held itself, restored as they were), finite, within
    the range of ``current``'s dtype (a float64 1e300 would become infinity in float32), and whole numbers
    for an integer weight."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"Layer {layer.name!r}: cannot assign {type(value).__name__} to {name!r}: {exc}") from None
    if arr.dtype.kind not in kinds or arr.dtype.names is not None:
        raise ValueError(f"Layer {layer.name!r}: {name!r} must be assigned numbers, got dtype {arr.dtype}.")
    if arr.shape != current.shape:
        raise ValueError(
            f"Layer {layer.name!r}: {name!r} has shape {current.shape}, got an array of shape {arr.shape}. "
            "Assigning copies new values into the weight (a view into the model's parameter vector), so "
            "the shape must match; build a new layer for another shape."
        )
    if not check_finite or not arr.size:
        return arr
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"Layer {layer.name!r}: {name!r} must be assigned finite numbers (no NaN or infinity).")
    target = current.dtype
    if (
        target.kind == "f"
        and arr.dtype.kind in "iuf"
        and (arr.dtype.kind != "f" or arr.dtype.itemsize > target.itemsize)
    ):
        largest = float(np.finfo(target).max)
        if arr.max() > largest or arr.min() < -largest:
            raise ValueError(
                f"Layer {layer.name!r}: {name!r} is {target}, whose numbers lie within ±{float(largest):.4g}; "
                f"got values up to {float(max(abs(arr.max()), abs(arr.min()))):.4g}, which would become infinity."
            )
    if target.kind in "iu":
        info = np.iinfo(target)
        if arr.dtype.kind == "f" and not (arr == np.round(arr)).all():
            raise ValueError(f"Layer {layer.name!r}: {name!r} holds whole numbers ({target}), got fractions.")
        if arr.dtype.kind in "iuf" and (arr.min() < info.min or arr.max() > info.max):
            raise ValueError(f"Layer {layer.name!r}: {name!r} is {target}; got values beyond its range.")
    return arr


# --------------------------------------------------------------------------------------- a weight's first values

_PENDING = threading.local()  # per thread: [store laid out ahead of a build, index of its next weight] or None


@contextlib.contextmanager
def preallocated(shapes: list[tuple], dtype):
    """Within this context, the trainable weights that layers create (``add_weight``), in order, are drawn
    straight into one new store laid out for ``shapes``, and the first model gathering exactly those weights
    takes that store as it is (``ParameterStore.gather``): building costs the weights' size once, not twice.

    A build that creates other weights than announced (another shape, dtype or order) simply falls back to
    fresh arrays and a copy when gathered: the layout is an offer, never a constraint.
    """
    store = ParameterStore(shapes, dtype)  # np.empty: the memory is touched only as the weights are drawn
    previous = getattr(_PENDING, "state", None)
    _PENDING.state = [store, 0]
    try:
        yield store
    finally:
        _PENDING.state = previous


def _pending_view(layer, shape, dtype, trainable: bool) -> np.ndarray | None:
    state = getattr(_PENDING, "state", None)
    if state is None or not (trainable and layer.trainable):
        return None
    store, i = state
    if i >= len(store.shapes) or store.shapes[i] != tuple(shape) or store.dtype != np.dtype(dtype):
        _PENDING.state = None  # the build left the announced layout: no more views from it
        return None
    state[1] = i + 1
    return store.view(store.values, i)


def _adopt_pending(owners, current) -> ParameterStore | None:
    """The pending store, if ``current`` (the weights being gathered) are exactly its views, in order."""
    state = getattr(_PENDING, "state", None)
    if state is None:
        return None
    store, used = state
    if not (used == len(store.shapes) == len(current)):
        return None
    for i, w in enumerate(current):
        v = store.view(store.values, i)
        if not (
            isinstance(w, np.ndarray)
            and w.base is store.values
            and w.shape == v.shape
            and w.strides == v.strides
            and w.ctypes.data == v.ctypes.data
        ):
            return None
    _PENDING.state = None  # one model takes it
    for i, (layer, name) in enumerate(owners):
        grad = getattr(layer, "grad_" + name, None)
        if not (isinstance(grad, np.ndarray) and grad.base is store.grads):
            replace(layer, "grad_" + name, store.view(store.grads, i))
    store._owners = list(owners)
    return store


def new_weight(layer, name: str, shape, dtype, initializer, trainable: bool) -> np.ndarray:
    """The array of a weight ``layer`` creates, holding ``initializer``'s values in ``dtype``: a view into the
    pending store when one was laid out for it (``preallocated``), else an array of its own. Non-finite
    initial values are refused (``initializers.initial_value``)."""
    view = _pending_view(layer, shape, dtype, trainable)
    return initializers.initial_value(initializer, shape, dtype, layer.name, name, out=view)


def new_gradient(value: np.ndarray) -> np.ndarray:
    """Zeros shaped and laid out like the weight ``value``: its gradient (the pending store's when ``value`` is
    a view into it; else ``np.zeros``, whose pages the system provides only when first written)."""
    state = getattr(_PENDING, "state", None)
    if state is not None and value.base is state[0].values:
        store = state[0]
        offset = (value.ctypes.data - store.values.ctypes.data) // store.dtype.itemsize
        for i, seg in enumerate(store.segments):
            if seg.start == offset and store.shapes[i] == value.shape:
                return store.view(store.grads, i)
    order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
    return np.zeros(value.shape, dtype=value.dtype, order=order)


def replace(layer, name: str, array: np.ndarray) -> None:
    """Make ``layer.<name>`` be ``array`` itself (for the store binding views, or a cast to another dtype)."""
    object.__setattr__(layer, _STORAGE + name, array)
