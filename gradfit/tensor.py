"""Array results that also answer TensorFlow's ``.numpy()`` and print as TensorFlow prints them, the weights as
Keras 3's ``Variable``s, and the symbolic shapes of ``Input``.

``Tensor`` and ``Variable`` are NumPy arrays in every way but their printing and a few TensorFlow methods: code
written for NumPy keeps working on them, and what a learner prints looks as it does with TensorFlow 2.21.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SymbolicTensor", "Tensor", "TensorShape", "Variable"]


def _numpy_text(array: np.ndarray, is_repr: bool) -> str:
    """NumPy's ``str`` (or ``repr``) of the values, on a line of its own when it takes several, as TensorFlow."""
    if is_repr:  # a scalar as the Python number it is (TensorFlow: ``repr(value.item())``)
        text = repr(array.item()) if array.ndim == 0 else repr(array)
    else:
        text = str(array)
    return "\n" + text if "\n" in text else text


def _shape_text(shape: tuple) -> str:
    """TensorFlow's ``TensorShape`` string: ``()``, ``(3,)``, ``(1, 1)`` (a tuple's, ``None`` for unknown sizes)."""
    return str(tuple(shape))


class Tensor(np.ndarray):
    """A NumPy array with TensorFlow's ``.numpy()``, returned where course code expects a tensor
    (``model(x)``, ``layer(x)``, ``tf.nn.softmax(z)``). It prints as TensorFlow's eager tensor
    (``tf.Tensor([[0.02]], shape=(1, 1), dtype=float32)``) and is an ``ndarray`` in every other way."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)

    def __str__(self) -> str:
        values = self.view(np.ndarray)
        return f"tf.Tensor({_numpy_text(values, False)}, shape={_shape_text(self.shape)}, dtype={self.dtype.name})"

    def __repr__(self) -> str:
        values = self.view(np.ndarray)
        return (
            f"<tf.Tensor: shape={_shape_text(self.shape)}, dtype={self.dtype.name}, numpy={_numpy_text(values, True)}>"
        )


class Variable(np.ndarray):
    """A layer's weight as ``layer.weights`` hands it out: a view of the weight's array (writing into it writes the
    weight) that prints as Keras 3's ``Variable`` (``<Variable path=my_model/dense_2/kernel, shape=(15, 1),
    dtype=float32, value=[...]>``) and has its ``path``, ``name``, ``trainable``, ``numpy()``, ``value`` and
    ``assign(value)``. Arithmetic on it gives a :class:`Tensor`, as TensorFlow's does."""

    path: str | None = None
    trainable: bool = True
    _owner = None  # the layer whose weight this is, so that ``assign`` checks and writes the live weight
    _attribute: str | None = None

    @classmethod
    def of(cls, array: np.ndarray, path: str, trainable: bool, owner=None, attribute: str | None = None) -> Variable:
        """A Variable viewing ``array`` (no copy)."""
        var = array.view(cls)
        var.path, var.trainable, var._owner, var._attribute = path, bool(trainable), owner, attribute
        return var

    @property
    def name(self) -> str | None:
        """The weight's own name (``kernel``), the last part of ``path``."""
        return None if self.path is None else self.path.rsplit("/", 1)[-1]

    def numpy(self) -> np.ndarray:
        """A copy of the values (as TensorFlow's ``Variable.numpy()``: later training does not change it)."""
        return np.array(self.view(np.ndarray))

    @property
    def value(self) -> Tensor:
        """The current values, as a :class:`Tensor` viewing the weight."""
        return self.view(Tensor)

    def assign(self, value) -> Variable:
        """Copy ``value`` into the weight (same shape; finite numbers for a float weight), as Keras's ``assign``."""
        if self._owner is not None and self._attribute is not None:
            setattr(self._owner, self._attribute, value)  # the layer's checked copy into its current array
            current = getattr(self._owner, self._attribute)
            if not np.shares_memory(current, self):  # this view is of an array the model has since replaced
                self.view(np.ndarray)[...] = current
            return self
        arr = np.asarray(value)
        if arr.shape != self.shape:
            raise ValueError(f"Variable {self.path!r}: assign needs a value of shape {self.shape}, got {arr.shape}.")
        self.view(np.ndarray)[...] = arr
        return self

    def assign_add(self, delta) -> Variable:
        return self.assign(self.view(np.ndarray) + np.asarray(delta))

    def assign_sub(self, delta) -> Variable:
        return self.assign(self.view(np.ndarray) - np.asarray(delta))

    def __array_wrap__(self, array, context=None, return_scalar=False):
        # the result of arithmetic on a weight is a new tensor, not the weight
        if return_scalar:
            return array[()]
        return array.view(Tensor)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return item.view(Tensor) if isinstance(item, np.ndarray) else item

    def __repr__(self) -> str:
        return (
            f"<Variable path={self.path}, shape={_shape_text(self.shape)}, dtype={self.dtype.name}, "
            f"value={self.view(np.ndarray)}>"
        )

    __str__ = __repr__

    def __reduce__(self):  # pickles (and deep-copies) as the plain array it views
        return self.view(np.ndarray).__reduce__()


class TensorShape(tuple):
    """A symbolic tensor's shape: a tuple (``== (None, 400)``, indexing, unpacking, ``len``), as in Keras 3, that
    also has Keras 2 / TensorFlow's ``as_list()``, ``rank`` and ``ndims``, so that tests written for Keras 2
    (``model.input.shape.as_list() == [None, 400]``) pass too. ``None`` stands for an unknown size (the batch)."""

    def __new__(cls, dims=()):
        return super().__new__(cls, (None if d is None else int(d) for d in dims))

    def as_list(self) -> list:
        """The sizes as a list, ``None`` for unknown ones: ``[None, 400]``."""
        return list(self)

    @property
    def rank(self) -> int:
        return len(self)

    ndims = rank

    @property
    def dims(self) -> list:
        return list(self)

    def is_fully_defined(self) -> bool:
        return all(d is not None for d in self)

    def num_elements(self) -> int | None:
        """The number of elements, None when a size is unknown."""
        return int(np.prod(self, dtype=np.int64)) if self.is_fully_defined() else None

    def as_tuple(self) -> tuple:
        return tuple(self)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return TensorShape(item) if isinstance(index, slice) else item


class SymbolicTensor:
    """What ``Input(shape=…)`` and ``layer.output`` stand for: a shape (batch first, None) and a dtype."""

    def __init__(self, shape, dtype: str = "float32", name: str | None = None, input_layer=None):
        self.shape = TensorShape(shape)
        self.dtype = dtype
        self.name = name
        self._input_layer = input_layer

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={tuple(self.shape)}, dtype={self.dtype}, name={self.name}>"
