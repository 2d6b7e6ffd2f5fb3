"""Streams of batches: Python generators and iterators, and re-iterable sources whose batches have ``.numpy()``.

* A generator or iterator yielding ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (or a bare ``x``), finite or
  infinite (``GeneratorAdapter``). As in Keras 3.15 (``GeneratorDataAdapter``), its first two batches are read
  ahead when ``fit`` starts (the first builds the model), and every new pass over it starts with those two again,
  then continues the generator where it stopped: an exhausted generator gives later epochs just those two
  batches (with Keras's "ran out of data" warning), an infinite one with ``steps_per_epoch`` continues.
* A re-iterable source (``iter(source)`` is a new iterator each time: a PyTorch ``DataLoader``, a
  ``tf.data.Dataset``), each pass a new ``iter(source)``, its length ``len(source)`` where it has one
  (``IterableAdapter``). Batches may be lists ``[x, y]`` (a DataLoader over a TensorDataset).

Batch items with ``.numpy()`` (torch and TensorFlow tensors) are turned into NumPy arrays here, duck-typed: gradfit
never imports those libraries.
"""

from __future__ import annotations

import collections.abc
import itertools
import warnings
from collections.abc import Iterator

import numpy as np

from . import Adapter

__all__ = ["GeneratorAdapter", "IterableAdapter", "adapter_for", "as_numpy", "batch_tuple"]

#: batches Keras reads ahead from a generator (``NUM_BATCHES_FOR_TENSOR_SPEC``) and replays on each new pass
PEEKED_BATCHES = 2


def as_numpy(item):
    """A batch item as a NumPy array where it is a tensor with ``.numpy()`` (torch: detached, on the CPU)."""
    if item is None or isinstance(item, np.ndarray):
        return item
    if hasattr(item, "numpy") and callable(item.numpy):
        if hasattr(item, "detach"):  # a torch tensor that requires grad refuses .numpy()
            item = item.detach()
        if hasattr(item, "cpu"):
            item = item.cpu()
        return item.numpy()
    return item


def batch_tuple(batch, kind: str, index: int, lists: bool = False) -> tuple:
    """A yielded batch as ``(x, y, sw)`` of NumPy arrays (or None): ``(x,)``, ``(x, y)``, ``(x, y, sw)`` or a bare
    array ``x``; ``lists``: a list of 1 to 3 items counts as a tuple (a torch DataLoader collates to lists)."""
    if lists and isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(
                f"Batch {index} of the {kind} is a tuple of {len(batch)} items; a {kind} must yield (x,), (x, y) or "
                "(x, y, sample_weight)."
            )
        batch = batch + (None,) * (3 - len(batch))
        return as_numpy(batch[0]), as_numpy(batch[1]), as_numpy(batch[2])
    if isinstance(batch, np.ndarray) or (hasattr(batch, "numpy") and hasattr(batch, "shape")):
        return as_numpy(batch), None, None
    raise ValueError(
        f"When passing a Python {kind} to a model, it must yield a tuple, either (input,) or (inputs, targets) or "
        f"(inputs, targets, sample_weights) (Keras's rule), or an array of inputs. Batch {index}: received "
        f"{str(batch)[:100]} of type {type(batch).__name__}."
    )


class GeneratorAdapter(Adapter):
    """A generator or iterator of batches; its first two are read now (Keras's ``peek_and_restore``)."""

    kind = "generator"

    def __init__(self, iterator: Iterator, kind: str = "generator"):
        self.kind = kind
        self.iterator = iterator
        self.num_batches = None
        self._peeked = list(itertools.islice(iterator, PEEKED_BATCHES))
        if not self._peeked:
            raise ValueError(
                f"When passing a Python {kind} to a model, the {kind} must yield at least one batch. Received an "
                f"empty {kind}."
            )
        self._first = batch_tuple(self._peeked[0], kind, 0)

    def peek(self) -> tuple:
        return self._first

    def batches(self, epoch: int) -> Iterator[tuple]:
        kind = self.kind
        for index, batch in enumerate(itertools.chain(self._peeked, self.iterator)):
            yield self._first if index == 0 else batch_tuple(batch, kind, index)


class IterableAdapter(Adapter):
    """A re-iterable source: each pass is a new ``iter(source)``; ``num_batches`` is ``len(source)`` if it has
    one."""

    def __init__(self, source, kind: str):
        self.source = source
        self.kind = kind
        try:
            self.num_batches = len(source)
        except TypeError:
            self.num_batches = None
        self._first = None

    def peek(self) -> tuple:
        if self._first is None:
            iterator = iter(self.source)
            try:
                first = next(iterator)
            except StopIteration:
                raise ValueError(f"The {self.kind} yields no batch; give at least one.") from None
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
            self._first = batch_tuple(first, self.kind, 0, lists=True)
        return self._first

    def batches(self, epoch: int) -> Iterator[tuple]:
        kind = self.kind
        for index, batch in enumerate(self.source):
            yield batch_tuple(batch, kind, index, lists=True)


def _kind_of(x) -> str:
    for cls in type(x).__mro__:
        if cls.__name__ == "DataLoader" and "torch" in cls.__module__:
            return "torch DataLoader"
        if cls.__name__ in ("DatasetV2", "Dataset") and "tensorflow" in cls.__module__:
            return "tf.data.Dataset"
    return type(x).__name__


def adapter_for(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, who: str = "fit"):
    """A ``GeneratorAdapter`` for a generator or iterator, an ``IterableAdapter`` for another iterable, else None;
    Keras's argument rules: the targets and sample weights come from the batches, ``shuffle`` is ignored (with
    Keras's warning) and so is ``batch_size``."""
    is_iterator = isinstance(x, collections.abc.Iterator)
    if not is_iterator and not isinstance(x, collections.abc.Iterable):
        return None
    kind = "generator" if is_iterator else _kind_of(x)
    for value, argument, what in ((y, "y", "the targets"), (sample_weight, "sample_weights", "the sample weights")):
        if value is not None:
            raise ValueError(
                f"When providing `x` as a {kind}, `{argument}` should not be passed. Instead, {what} should be "
                f"included as part of the {kind}."
            )
    if batch_size is not None:
        raise ValueError(
            f"{who}(batch_size={batch_size!r}) with a {kind}: the {kind} makes the batches, so batch_size would "
            "have no effect (Keras ignores it). Leave batch_size=None."
        )
    if shuffle:
        warnings.warn(
            f"`shuffle=True` was passed, but will be ignored since the data `x` was provided as a {kind}. The "
            f"{kind} is expected to yield already-shuffled data.",
            stacklevel=4,
        )
    if is_iterator:
        return GeneratorAdapter(x, kind)
    return IterableAdapter(x, kind)
