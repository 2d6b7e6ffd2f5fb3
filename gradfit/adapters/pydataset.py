"""``keras.utils.PyDataset`` (also ``keras.utils.Sequence``), the worker pool that loads its batches, and its
adapter for ``fit`` / ``evaluate`` / ``predict`` (Keras 3.15's semantics).

A ``PyDataset`` is indexable: ``dataset[i]`` is batch ``i`` (``x``, ``(x,)``, ``(x, y)`` or
``(x, y, sample_weight)``), ``len(dataset)`` (or the ``num_batches`` property; None: infinite) the number of
batches. ``workers`` / ``use_multiprocessing`` / ``max_queue_size`` (given to its constructor, never to ``fit``)
say how ``fit`` loads them: with ``workers > 1`` (or ``workers >= 1`` and ``use_multiprocessing``) a pool of
threads (or processes) loads up to ``max_queue_size`` batches ahead, in order, while the model trains on the
current one. Iterating a ``PyDataset`` by hand (``for batch in dataset``) uses no workers, as in Keras.

Processes: the pool starts its processes with multiprocessing's default start method, as Keras's
``multiprocessing.Pool`` does (``fork`` on Linux before Python 3.14; ``spawn`` on macOS and Windows, where the
dataset must be picklable, its class importable, and the script's entry point under
``if __name__ == "__main__":``); set ``gradfit.adapters.pydataset.START_METHOD`` to choose another. The dataset
goes to each process once, as the initializer's argument (Keras's approach), not with every batch. The worker
processes ignore Ctrl-C: the main process gets the ``KeyboardInterrupt`` and shuts the pool down.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import multiprocessing
import random
import signal
import threading
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from . import Adapter

__all__ = ["START_METHOD", "BatchPool", "PyDataset", "PyDatasetAdapter", "Sequence", "adapter_for", "is_pydataset"]

#: multiprocessing start method of the process pool ("fork", "spawn", "forkserver"); None: Python's default
START_METHOD: str | None = None

# what a PyDataset whose subclass did not call super().__init__() gets, with a warning (Keras's defaults)
_POOL_DEFAULTS = {"_workers": 1, "_use_multiprocessing": False, "_max_queue_size": 10}


class PyDataset:
    """Base class of a dataset written in Python: batch ``i`` is ``self[i]``, ``len(self)`` batches.

    A subclass implements ``__getitem__(index)`` (a whole batch: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` of NumPy arrays) and ``__len__()`` (the number of batches), or, for an infinite
    dataset, the property ``num_batches`` returning None. ``on_epoch_begin()`` / ``on_epoch_end()`` are called by
    ``fit`` around every epoch (e.g. to reshuffle the rows). The constructor's arguments configure how ``fit``
    loads the batches; pass them through: ``super().__init__(**kwargs)``.

    Args:
        workers: threads (or processes) that load batches in parallel; 1: the main thread loads them.
        use_multiprocessing: processes instead of threads (CPU-bound ``__getitem__``; the dataset must then be
            picklable where the start method is ``spawn``).
        max_queue_size: batches loaded ahead of the one the model trains on.

    ``keras.utils.Sequence`` is this class under its older name.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [name for name in _POOL_DEFAULTS if not hasattr(self, name)]
        for name in missing:
            setattr(self, name, _POOL_DEFAULTS[name])
        if missing:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. `**kwargs` "
                "can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass these arguments to "
                "`fit()`, as they will be ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int):
        """Batch ``index``: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), returning batch index.")

    def __iter__(self) -> Iterator:
        """``self[0]``, ``self[1]`` … (forever where ``num_batches`` is None or not implemented); no workers."""
        try:
            count = self.num_batches
        except NotImplementedError:
            count = None
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]

    @property
    def num_batches(self) -> int | None:
        """Batches in one pass: ``len(self)``; a subclass without ``__len__`` overrides it (None: infinite)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} needs __len__ (the number of batches) or the num_batches property:\n\n"
            "@property\ndef num_batches(self):\n    return ...  # None for an infinite dataset"
        )

    def on_epoch_begin(self) -> None:
        """Called by ``fit`` at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Called by ``fit`` at the end of every epoch."""


#: Keras's older name for PyDataset (the same class)
Sequence = PyDataset


def is_pydataset(x) -> bool:
    """Whether ``x`` is a ``PyDataset`` (``Sequence``): Keras dispatches on the class, not on duck typing."""
    return isinstance(x, PyDataset)


# ------------------------------------------------------------------------------------------------ the pool


def _pool_settings(dataset) -> tuple[int, bool, int]:
    """``(workers, use_multiprocessing, max_queue_size)`` of ``dataset``, checked."""
    workers = getattr(dataset, "workers", 1)
    use_multiprocessing = getattr(dataset, "use_multiprocessing", False)
    max_queue_size = getattr(dataset, "max_queue_size", 10)
    name = type(dataset).__name__
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ValueError(f"{name}.workers must be an integer >= 0 (1: no worker threads), got {workers!r}.")
    if not isinstance(use_multiprocessing, (bool, np.bool_)):
        raise ValueError(f"{name}.use_multiprocessing must be True or False, got {use_multiprocessing!r}.")
    if isinstance(max_queue_size, bool) or not isinstance(max_queue_size, (int, np.integer)):
        raise ValueError(f"{name}.max_queue_size must be an integer, got {max_queue_size!r}.")
    return int(workers), bool(use_multiprocessing), int(max_queue_size)


def _uses_workers(workers: int, use_multiprocessing: bool) -> bool:
    # Keras's rule (PyDatasetAdapter): one thread is the main thread itself; one process is a real worker
    return workers > 1 or (workers > 0 and use_multiprocessing)


# the dataset a worker process loads from: set once per process by the pool's initializer
_WORKER_DATASET = None


def _start_worker_process(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset
    # Ctrl-C reaches the whole process group: the main process handles it (and shuts the pool down); a worker
    # that died of it would break the pool instead
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load_in_worker_process(index: int):
    return _WORKER_DATASET[index]


def _add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)`` (Python 3.11+); on 3.10 the same ``__notes__`` list, which tracebacks there don't
    print but callers (and the tests) can read."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]


class BatchPool:
    """``dataset[i]`` for every ``i`` of ``order``, in that order, loaded by the dataset's workers.

    With workers (see ``PyDataset``), up to ``max_queue_size`` batches (all of them where it is <= 0 and
    ``order`` is finite, as Keras's unbounded queue) are submitted ahead of the one being consumed, so loading
    overlaps with whatever the consumer does between batches. Without workers, the batches are loaded in the
    consumer's thread when asked for. A worker's exception is raised in the consumer's thread, as the same
    exception (its traceback includes the worker's frames; for a process, the worker's traceback is chained as
    its cause), with a note naming the batch. The workers are shut down when the pass ends, on any exception
    (``KeyboardInterrupt`` included), when the consumer stops early and calls ``close()`` (or leaves the
    ``with`` block), and, at the latest, when the pool is garbage collected.

    One pass: iterate a ``BatchPool`` once.
    """

    def __init__(self, dataset, order: Iterable[int]) -> None:
        self.dataset = dataset
        self.order = order
        self.workers, self.use_multiprocessing, self.max_queue_size = _pool_settings(dataset)
        self.parallel = _uses_workers(self.workers, self.use_multiprocessing)
        if self.parallel and self.max_queue_size <= 0 and not hasattr(order, "__len__"):
            raise ValueError(
                f"{type(dataset).__name__}.max_queue_size is {self.max_queue_size} (no limit) and the dataset is "
                "infinite: the workers would load batches without end. Give max_queue_size >= 1."
            )
        self._executor: concurrent.futures.Executor | None = None
        self._pending: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._iterated = False
        self._closed = False

    @property
    def worker_kind(self) -> str:
        return "process" if self.use_multiprocessing else "thread"

    def _make_executor(self) -> concurrent.futures.Executor:
        if self.use_multiprocessing:
            context = multiprocessing.get_context(START_METHOD)
            return concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_start_worker_process,
                initargs=(self.dataset,),
            )
        return concurrent.futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gradfit_pydataset")

    def __iter__(self) -> Iterator:
        if self._closed:
            raise RuntimeError("This BatchPool is closed; make a new one for another pass.")
        if self._iterated:
            raise RuntimeError("A BatchPool makes one pass over its order; make a new one for another pass.")
        self._iterated = True
        if not self.parallel:
            return self._serial()
        indices = iter(self.order)
        with self._lock:
            self._executor = self._make_executor()
            try:  # the first window starts loading now, before the first batch is asked for
                self._submit_ahead(indices)
            except BaseException:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
                raise
        return self._parallel(indices)

    def _serial(self) -> Iterator:
        try:
            for index in self.order:
                if self._closed:
                    return
                try:
                    batch = self.dataset[index]
                except Exception as exc:
                    _add_note(exc, f"(raised by {type(self.dataset).__name__}[{index}])")
                    raise
                yield batch
        finally:
            self.close()

    def _submit_ahead(self, indices: Iterator[int]) -> None:
        """Submit batches until ``max_queue_size`` are in flight (or ``indices`` is exhausted)."""
        limit = self.max_queue_size if self.max_queue_size > 0 else None
        load = _load_in_worker_process if self.use_multiprocessing else self.dataset.__getitem__
        while limit is None or len(self._pending) < limit:
            index = next(indices, None)
            if index is None:
                return
            self._pending.append((index, self._executor.submit(load, index)))

    def _parallel(self, indices: Iterator[int]) -> Iterator:
        try:
            while self._pending and not self._closed:
                index, future = self._pending.popleft()
                try:
                    batch = future.result()
                except BrokenProcessPool as exc:
                    raise RuntimeError(
                        f"A worker process of {type(self.dataset).__name__} died while loading batch {index} "
                        "(killed, out of memory, or os._exit in __getitem__); the pool is shut down."
                    ) from exc
                except BaseException as exc:
                    if future.done() and not future.cancelled() and future.exception() is exc:
                        _add_note(
                            exc, f"(raised by {type(self.dataset).__name__}[{index}] in a worker {self.worker_kind})"
                        )
                    raise
                with self._lock:
                    if self._executor is None:
                        return
                    self._submit_ahead(indices)
                yield batch
        finally:
            self.close()

    def close(self, wait: bool = True) -> None:
        """Cancel the batches not yet started and shut the workers down (``wait``: join them). Idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            pending, self._pending = self._pending, collections.deque()
        for _, future in pending:
            future.cancel()
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> BatchPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # the collector may run in any thread, a worker's included: don't join there
        try:
            self.close(wait=False)
        except Exception:  # interpreter shutdown: modules already torn down
            pass


# ------------------------------------------------------------------------------------------------ the adapter


def standardize_batch(batch, index: int, name: str = "PyDataset") -> tuple:
    """``dataset[index]`` as ``(x, y, sample_weight)`` (Keras's ``_standardize_batch``): an array is ``(x,)``,
    a list a tuple; a tuple must have 1 to 3 items."""
    if isinstance(batch, dict):
        raise ValueError(
            f"{name}.__getitem__({index}) returned a dict; gradfit's models take one input: return x, (x,), "
            "(x, y) or (x, y, sample_weight)."
        )
    if isinstance(batch, np.ndarray):
        batch = (batch,)
    elif isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        raise ValueError(
            f"{name}.__getitem__() must return a tuple, ordered either (inputs,) or (inputs, targets) or "
            f"(inputs, targets, sample_weights). Batch {index}: received {str(batch)[:100]}... of type "
            f"{type(batch)}."
        )
    return batch + (None,) * (3 - len(batch))


class PyDatasetAdapter(Adapter):
    """Raw batches ``(x, y, sw)`` of a ``PyDataset``, one pass per ``batches(epoch)``, loaded by a ``BatchPool``.

    ``shuffle`` (True or ``"batch"``) shuffles the order of the batches every pass, with Python's ``random``
    module as Keras does (``keras.utils.set_random_seed`` / ``gradfit.keras.utils.set_random_seed`` seed it);
    the rows within a batch are the dataset's business. An infinite dataset (``num_batches`` None) is not
    shuffled, and each pass continues from the batch after the last one consumed.
    """

    kind = "PyDataset"
    batch_size = None

    def __init__(self, dataset: PyDataset, *, shuffle=False) -> None:
        self.dataset = dataset
        self.name = type(dataset).__name__
        self.num_batches = dataset.num_batches
        _pool_settings(dataset)  # checked now, not at the first epoch
        self.shuffle = bool(shuffle) and self.num_batches is not None
        self._pool: BatchPool | None = None
        self._within_epoch = False
        self._next_index = 0  # infinite datasets: where the next pass starts
        self._peeked: tuple | None = None

    def peek(self) -> tuple:
        """Batch 0 as ``(x, y, sw)`` (loaded once, in this thread)."""
        if self._peeked is None:
            if self.num_batches == 0:
                raise ValueError(f"The {self.name} has length 0: __len__ returned 0, there is no batch to train on.")
            self._peeked = standardize_batch(self.dataset[0], 0, self.name)
        return self._peeked

    def on_epoch_begin(self) -> None:
        """The dataset's ``on_epoch_begin`` (``batches`` calls it where the loop did not)."""
        self._within_epoch = True
        self.dataset.on_epoch_begin()

    def batches(self, epoch: int) -> Iterator[tuple]:
        """One pass: ``(x, y, sw)`` per batch, in order or shuffled; ends a previous pass left unfinished."""
        self._close_pool()
        if not self._within_epoch:
            self.on_epoch_begin()
        if self.num_batches is None:
            order: Iterable[int] = itertools.count(self._next_index)
        else:
            order = list(range(self.num_batches))
            if self.shuffle:
                random.shuffle(order)
        pool = BatchPool(self.dataset, order)
        self._pool = pool
        # iter() starts the workers now: the first batches load while the loop sets the epoch up
        return self._standardized(pool, iter(pool), order if isinstance(order, list) else None)

    def _standardized(self, pool: BatchPool, loaded: Iterator, order: list[int] | None) -> Iterator[tuple]:
        with pool:
            for position, batch in enumerate(loaded):
                index = order[position] if order is not None else self._next_index
                if order is None:
                    self._next_index += 1
                yield standardize_batch(batch, index, self.name)

    def on_epoch_end(self) -> None:
        """The dataset's ``on_epoch_end``."""
        self.dataset.on_epoch_end()
        self._within_epoch = False

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def close(self) -> None:
        """Shut down the workers of a pass left unfinished (early stop, error). Idempotent."""
        self._close_pool()


def adapter_for(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, who: str = "fit"):
    """A ``PyDatasetAdapter`` for ``x`` if it is a ``PyDataset``, else None; Keras's argument rules: the targets
    and sample weights come from the dataset, and an infinite dataset is not shuffled (a warning)."""
    if not is_pydataset(x):
        return None
    for value, argument, what in ((y, "y", "the targets"), (sample_weight, "sample_weight", "the sample weights")):
        if value is not None:
            raise ValueError(
                f"When providing `x` as a PyDataset, `{argument}` should not be passed. Instead, {what} should be "
                "included as part of the PyDataset."
            )
    if batch_size is not None:
        raise ValueError(
            f"{who}(batch_size={batch_size!r}) with a PyDataset: the dataset's __getitem__ makes the batches, "
            "so batch_size would have no effect (Keras ignores it). Leave batch_size=None."
        )
    if shuffle and x.num_batches is None:
        warnings.warn(
            "`shuffle=True` was passed, but will be ignored since the data `x` was provided as an infinite "
            "PyDataset. The PyDataset is expected to already be shuffled.",
            stacklevel=3,
        )
    return PyDatasetAdapter(x, shuffle=shuffle)
