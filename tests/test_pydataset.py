"""``PyDataset`` (``Sequence``), its worker pool (``BatchPool``) and its adapter: the batches in order or shuffled,
``on_epoch_begin`` / ``on_epoch_end``, threads and processes giving the same batches, loading that overlaps, a
worker's exception surfaced with its traceback, and no thread or process left behind on any way out."""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import threading
import time
import traceback
import warnings

import numpy as np
import pytest

from gradfit.adapters import pydataset
from gradfit.adapters.pydataset import BatchPool, PyDataset, PyDatasetAdapter, Sequence, adapter_for

# Datasets live at module level: a process pool started with "spawn" imports them by name.


class Batches(PyDataset):
    """``n`` batches; batch ``i``: ``x`` filled with ``i``, ``y`` = ``[i, i]``; optional delay and failing index."""

    def __init__(self, n=8, delay=0.0, fail_at=None, error=ValueError, **kwargs):
        super().__init__(**kwargs)
        self.n, self.delay, self.fail_at, self.error = n, delay, fail_at, error
        self.begins = self.ends = 0

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if self.delay:
            time.sleep(self.delay)
        if index == self.fail_at:
            raise self.error(f"batch {index} is broken")
        return np.full((2, 3), index, dtype=np.float32), np.array([index, index], dtype=np.float32)

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


class Infinite(PyDataset):
    @property
    def num_batches(self):
        return None

    def __getitem__(self, index):
        return np.full((1, 2), index, dtype=np.float32)


class Recording(Batches):
    """Records the indices its (thread) workers have started to load."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.started = []

    def __getitem__(self, index):
        self.started.append(index)
        return super().__getitem__(index)


class InterruptsItsWorker(Batches):
    """Sends Ctrl-C's signal to the worker process loading it (the whole process group gets it on a Ctrl-C)."""

    def __getitem__(self, index):
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGINT)
        return super().__getitem__(index)


class NoSuper(PyDataset):
    def __init__(self):  # forgets super().__init__()
        self.n = 2

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return np.zeros((1, 1))


WORKERS = {
    "main thread": {},
    "threads": {"workers": 3},
    "processes": {"workers": 2, "use_multiprocessing": True},
}


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test leaves no thread and no child process it started behind."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        children = multiprocessing.active_children()
        if not extra and not children:
            return
        time.sleep(0.02)
    raise AssertionError(f"left behind: threads {extra}, processes {children}")


def assert_nothing_running(before: set) -> None:
    """Right now (no grace period): no new thread, no child process."""
    assert [t for t in threading.enumerate() if t not in before and t.is_alive()] == []
    assert multiprocessing.active_children() == []


def indices_of(batches) -> list[int]:
    return [int(batch[1][0]) for batch in batches]


# ------------------------------------------------------------------------------------------------ PyDataset


def test_constructor_and_properties_as_keras():
    ds = Batches(workers=4, use_multiprocessing=True, max_queue_size=3)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (4, True, 3)
    ds.workers = 2
    assert ds.workers == 2
    plain = Batches()
    assert (plain.workers, plain.use_multiprocessing, plain.max_queue_size) == (1, False, 10)
    assert Sequence is PyDataset
    assert plain.num_batches == len(plain) == 8


def test_a_subclass_that_does_not_call_super_init_is_warned_and_gets_the_defaults():
    ds = NoSuper()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert ds.workers == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defaults are now set: no second warning
        assert (ds.use_multiprocessing, ds.max_queue_size) == (False, 10)


def test_num_batches_needs_len_or_an_override():
    class NoLength(PyDataset):
        def __getitem__(self, index):
            return np.zeros(1)

    with pytest.raises(NotImplementedError, match="num_batches"):
        _ = NoLength().num_batches
    with pytest.raises(NotImplementedError, match="__getitem__"):
        PyDataset()[0]


def test_iterating_by_hand_gives_every_batch_in_order_without_workers():
    ds = Batches(n=5, workers=4)
    before = set(threading.enumerate())
    assert indices_of(ds) == [0, 1, 2, 3, 4]
    assert_nothing_running(before)
    first = []
    for batch in Infinite():  # no length: forever
        first.append(int(batch[0, 0]))
        if len(first) == 4:
            break
    assert first == [0, 1, 2, 3]


# ------------------------------------------------------------------------------------------------ BatchPool


@pytest.mark.parametrize("kind", WORKERS)
def test_the_pool_yields_dataset_items_in_the_given_order(kind):
    ds = Batches(n=12, **WORKERS[kind])
    order = [5, 0, 11, 3, 3, 7, 1, 2, 10, 4, 9, 6, 8]
    with BatchPool(ds, order) as pool:
        batches = list(pool)
    assert indices_of(batches) == order
    for index, (x, _) in zip(order, batches):
        np.testing.assert_array_equal(x, ds[index][0])
        assert x.dtype == np.float32


def test_threads_processes_and_spawned_processes_give_the_same_batches(monkeypatch):
    order = list(range(10))
    random.Random(0).shuffle(order)
    results = {}
    for kind, kwargs in WORKERS.items():
        results[kind] = list(BatchPool(Batches(n=10, **kwargs), order))
    monkeypatch.setattr(pydataset, "START_METHOD", "spawn")
    results["spawn"] = list(BatchPool(Batches(n=10, workers=2, use_multiprocessing=True), order))
    reference = results["main thread"]
    for kind, batches in results.items():
        assert len(batches) == len(reference), kind
        for got, want in zip(batches, reference):
            np.testing.assert_array_equal(got[0], want[0], err_msg=kind)
            np.testing.assert_array_equal(got[1], want[1], err_msg=kind)


def timed_pass(ds, consumer_delay=0.0) -> float:
    start = time.perf_counter()
    for _ in BatchPool(ds, range(len(ds))):
        if consumer_delay:
            time.sleep(consumer_delay)
    return time.perf_counter() - start


def test_four_workers_load_a_slow_dataset_faster_than_one():
    serial = timed_pass(Batches(n=16, delay=0.03))
    parallel = timed_pass(Batches(n=16, delay=0.03, workers=4))
    assert parallel / serial < 0.6, (serial, parallel)  # ideal 0.25


def test_loading_overlaps_with_the_consumer():
    # the main thread loads then "trains" (2 x 0.03 s per batch); one extra worker loads the next batch meanwhile
    serial = timed_pass(Batches(n=12, delay=0.03), consumer_delay=0.03)
    overlapped = timed_pass(Batches(n=12, delay=0.03, workers=2), consumer_delay=0.03)
    assert overlapped / serial < 0.8, (serial, overlapped)  # ideal 0.5


def test_at_most_max_queue_size_batches_are_loaded_ahead():
    ds = Recording(n=20, workers=2, max_queue_size=3)
    with BatchPool(ds, range(20)) as pool:
        iterator = iter(pool)
        next(iterator)
        time.sleep(0.2)  # the workers have had all the time they need
        assert len(ds.started) == 1 + 3
        assert indices_of(iterator) == list(range(1, 20))


def test_a_worker_thread_exception_is_raised_with_its_traceback_and_the_batch():
    ds = Batches(n=10, fail_at=4, workers=3)
    seen = []
    with pytest.raises(ValueError, match="batch 4 is broken") as info:
        for batch in BatchPool(ds, range(10)):
            seen.append(int(batch[1][0]))
    assert seen == [0, 1, 2, 3]
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "__getitem__" in frames  # the worker's own frame
    assert any("Batches[4] in a worker thread" in note for note in info.value.__notes__)


def test_a_worker_process_exception_keeps_its_type_and_the_remote_traceback():
    ds = Batches(n=6, fail_at=2, error=KeyError, workers=2, use_multiprocessing=True)
    with pytest.raises(KeyError) as info:
        list(BatchPool(ds, range(6)))
    assert "__getitem__" in str(info.value.__cause__)  # the worker's traceback, as text
    assert any("Batches[2] in a worker process" in note for note in info.value.__notes__)


def test_worker_processes_leave_ctrl_c_to_the_main_process():
    # a worker that died of the SIGINT would break the pool; the main process handles Ctrl-C and shuts it down
    ds = InterruptsItsWorker(n=4, workers=2, use_multiprocessing=True)
    assert indices_of(BatchPool(ds, range(4))) == [0, 1, 2, 3]


def test_an_exception_without_workers_names_the_batch_too():
    with pytest.raises(ValueError, match="batch 1 is broken") as info:
        list(BatchPool(Batches(n=3, fail_at=1), range(3)))
    assert any("Batches[1]" in note for note in info.value.__notes__)


# ------------------------------------------------------------------------------- shutdown on every way out


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_workers_are_gone_after_a_normal_end(kind):
    before = set(threading.enumerate())
    pool = BatchPool(Batches(n=6, **WORKERS[kind]), range(6))
    assert len(list(pool)) == 6
    assert_nothing_running(before)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_workers_are_gone_after_a_worker_error(kind):
    before = set(threading.enumerate())
    with pytest.raises(ValueError):
        list(BatchPool(Batches(n=30, fail_at=3, delay=0.01, **WORKERS[kind]), range(30)))
    assert_nothing_running(before)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_workers_are_gone_when_the_consumer_stops_early(kind):
    before = set(threading.enumerate())
    with BatchPool(Batches(n=50, delay=0.01, **WORKERS[kind]), range(50)) as pool:
        for i, _ in enumerate(pool):
            if i == 2:
                break  # as fit's loop on model.stop_training
    assert_nothing_running(before)


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_workers_are_gone_after_a_keyboard_interrupt_in_the_consumer(kind):
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        with BatchPool(Batches(n=50, delay=0.01, **WORKERS[kind]), range(50)) as pool:
            for i, _ in enumerate(pool):
                if i == 1:
                    raise KeyboardInterrupt  # Ctrl-C during a training step
    assert_nothing_running(before)


def test_workers_are_gone_after_a_keyboard_interrupt_in_a_worker_thread():
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        list(BatchPool(Batches(n=20, fail_at=2, error=KeyboardInterrupt, workers=3), range(20)))
    assert_nothing_running(before)


def test_an_abandoned_pool_shuts_down_when_collected():
    iterator = iter(BatchPool(Batches(n=50, delay=0.01, workers=3), range(50)))
    next(iterator)
    del iterator  # neither exhausted nor closed; the no_leaks fixture checks the threads end
    gc.collect()


def test_close_is_idempotent_and_a_closed_pool_refuses_another_pass():
    pool = BatchPool(Batches(n=4, workers=2), range(4))
    pool.close()
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        iter(pool)
    used = BatchPool(Batches(n=2), range(2))
    list(used)
    with pytest.raises(RuntimeError):
        iter(used)


@pytest.mark.parametrize(
    "settings, message",
    [({"workers": -1}, "workers must be an integer >= 0"), ({"max_queue_size": 2.5}, "max_queue_size")],
)
def test_bad_pool_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        BatchPool(Batches(**settings), range(8))


def test_an_unbounded_queue_is_refused_for_an_infinite_dataset():
    ds = Infinite(workers=2, max_queue_size=0)
    with pytest.raises(ValueError, match="max_queue_size"):
        BatchPool(ds, iter(range(10**9)))
    assert len(list(BatchPool(Batches(n=5, workers=2, max_queue_size=0), range(5)))) == 5  # all at once


# ------------------------------------------------------------------------------------------------ adapter


def test_adapter_passes_in_order_with_epoch_hooks():
    ds = Batches(n=5)
    adapter = PyDatasetAdapter(ds)
    assert adapter.num_batches == 5 and adapter.kind == "PyDataset" and adapter.batch_size is None
    x, y, sw = adapter.peek()
    assert x.shape == (2, 3) and sw is None
    for epoch in range(2):
        batches = list(adapter.batches(epoch))
        assert indices_of(batches) == [0, 1, 2, 3, 4]
        assert all(len(batch) == 3 and batch[2] is None for batch in batches)
        assert (ds.begins, ds.ends) == (epoch + 1, epoch)
        adapter.on_epoch_end()
        assert ds.ends == epoch + 1
    adapter.close()


@pytest.mark.parametrize("kind", WORKERS)
def test_adapter_shuffles_the_batch_order_each_epoch_with_pythons_random(kind):
    adapter = PyDatasetAdapter(Batches(n=10, **WORKERS[kind]), shuffle=True)
    random.seed(3)
    expected = []
    for _ in range(2):
        order = list(range(10))
        random.shuffle(order)
        expected.append(order)
    random.seed(3)
    got = []
    for epoch in range(2):
        got.append(indices_of(adapter.batches(epoch)))
        adapter.on_epoch_end()
    assert got == expected and expected[0] != expected[1]
    adapter.close()


def test_adapter_close_after_a_partial_pass_stops_the_workers():
    before = set(threading.enumerate())
    adapter = PyDatasetAdapter(Batches(n=40, delay=0.01, workers=3), shuffle=True)
    batches = adapter.batches(0)
    next(batches)
    next(batches)
    adapter.close()  # fit's finally after stop_training / an error
    assert_nothing_running(before)
    adapter.close()


def test_adapter_starts_a_new_pass_after_an_unfinished_one():
    adapter = PyDatasetAdapter(Batches(n=6, workers=2))
    first = adapter.batches(0)
    next(first)
    assert indices_of(adapter.batches(1)) == list(range(6))
    adapter.close()


def test_an_infinite_dataset_continues_where_the_last_pass_stopped():
    adapter = PyDatasetAdapter(Infinite(workers=2, max_queue_size=4))
    assert adapter.num_batches is None
    seen = []
    for epoch in range(2):
        for step, (x, _, _) in enumerate(adapter.batches(epoch)):
            seen.append(int(x[0, 0]))
            if step == 2:
                break
        adapter.on_epoch_end()
    adapter.close()
    assert seen == [0, 1, 2, 3, 4, 5]


class Shapes(PyDataset):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return self.batch


def test_batches_are_standardized_as_keras():
    x = np.zeros((2, 1))
    assert PyDatasetAdapter(Shapes(x)).peek() == (x, None, None)
    assert PyDatasetAdapter(Shapes([x, x])).peek() == (x, x, None)
    assert PyDatasetAdapter(Shapes((x, x, x))).peek() == (x, x, x)
    with pytest.raises(ValueError, match=r"must return a tuple.*Batch 0"):
        PyDatasetAdapter(Shapes((x, x, x, x))).peek()
    with pytest.raises(ValueError, match="must return a tuple"):
        PyDatasetAdapter(Shapes(3.0)).peek()
    with pytest.raises(ValueError, match="dict"):
        list(PyDatasetAdapter(Shapes({"x": x})).batches(0))
    with pytest.raises(ValueError, match="length 0"):
        PyDatasetAdapter(Batches(n=0)).peek()


def test_adapter_for_follows_keras_argument_rules():
    ds = Batches(n=3)
    assert adapter_for(np.zeros((3, 2))) is None
    assert isinstance(adapter_for(ds), PyDatasetAdapter)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        adapter_for(ds, np.zeros(3))
    with pytest.raises(ValueError, match="`sample_weight` should not be passed"):
        adapter_for(ds, sample_weight=np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        adapter_for(ds, batch_size=32)
    with pytest.warns(UserWarning, match="infinite PyDataset"):
        adapter = adapter_for(Infinite(), shuffle=True)
    assert adapter.shuffle is False
