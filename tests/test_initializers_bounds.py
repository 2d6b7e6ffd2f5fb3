"""Initializers: values drawn in chunks straight into the weight's dtype are the numbers one float64 draw of the
whole shape gives; non-finite initial weights are refused at build; shapes are bounded; building a model read
from a config costs its weights' size once (the layers draw into the model's parameter vector)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from gradfit import backend, initializers, saving
from gradfit.keras import Input, Sequential, layers

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")


def _reference(name: str, shape, seed: int) -> np.ndarray:
    """What the initializers gave before they drew in chunks: one float64 draw of the whole shape."""
    rng = np.random.default_rng(seed)
    fan_in, fan_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
    if name == "RandomUniform":
        return rng.uniform(-0.05, 0.05, shape)
    if name == "RandomNormal":
        return rng.normal(0.0, 0.05, shape)
    if name == "GlorotUniform":
        limit = math.sqrt(3.0 / ((fan_in + fan_out) / 2))
        return rng.uniform(-limit, limit, shape)
    std = math.sqrt(1.0 / ((fan_in + fan_out) / 2)) / 0.87962566103423978  # GlorotNormal, truncated at 2 sd
    out = rng.normal(0.0, std, shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out


@pytest.mark.parametrize("name", ["RandomUniform", "RandomNormal", "GlorotUniform", "GlorotNormal"])
@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_chunked_draws_are_the_single_draws_values(monkeypatch, name, chunk):
    monkeypatch.setattr(initializers, "CHUNK", chunk)
    shape = (61, 37)
    for dtype in ("float32", "float64", "float16"):
        got = getattr(initializers, name)(seed=3)(shape, dtype=dtype)
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_array_equal(got, _reference(name, shape, 3).astype(dtype))


def test_the_global_stream_continues_as_after_a_single_draw(monkeypatch):
    monkeypatch.setattr(initializers, "CHUNK", 5)
    backend.set_seed(9)
    initializers.GlorotNormal()((40, 30))
    after = backend.rng().random(3)
    backend.set_seed(9)
    monkeypatch.setattr(initializers, "CHUNK", 1 << 20)
    initializers.GlorotNormal()((40, 30))
    np.testing.assert_array_equal(backend.rng().random(3), after)


@pytest.mark.parametrize(
    "initializer, name",
    [
        (initializers.RandomNormal(stddev=1e300, seed=1), "RandomNormal"),
        (initializers.RandomUniform(-1e300, 1e300, seed=1), "RandomUniform"),
        (initializers.Constant(1e39), "Constant"),
    ],
)
def test_non_finite_initial_weights_are_refused_at_build(initializer, name):
    layer = layers.Dense(3, kernel_initializer=initializer, name="wide")
    with pytest.raises(
        ValueError, match=rf"Layer 'wide'.*initializer {name}\(.*weight 'kernel'.*not finite in float32"
    ):
        Sequential([Input((4,)), layer])


def test_constant_beyond_float32_is_refused_for_the_bias_and_fine_in_float64():
    with pytest.raises(ValueError, match=r"Layer 'b'.*Constant\(value=1e\+39\).*weight 'bias'"):
        Sequential([Input((4,)), layers.Dense(3, bias_initializer=initializers.Constant(1e39), name="b")])
    model = Sequential([Input((4,)), layers.Dense(3, bias_initializer=initializers.Constant(1e39), dtype="float64")])
    assert model.layers[0].bias.dtype == np.float64 and np.all(model.layers[0].bias == 1e39)


@pytest.mark.parametrize(
    "shape, pattern",
    [
        ((-1, 3), "non-negative integer sizes"),
        ((2.5, 3), "non-negative integer sizes"),
        ((1,) * 9, "at most 8"),
        ((1 << 20, 1 << 20), r"1099511627776 values, more than the 2147483647"),
        (5, "must be a tuple of sizes"),
    ],
)
def test_initializer_shapes_are_bounded_before_allocating(shape, pattern):
    for init in (initializers.GlorotUniform(), initializers.Zeros(), initializers.RandomNormal()):
        with pytest.raises(ValueError, match=pattern):
            init(shape)


class _Shared(initializers.Initializer):
    """A user's initializer that hands out an array it keeps (or a wrong shape, or NaN)."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __call__(self, shape, dtype=None):
        return self.value


def test_a_subclass_writing_its_own_sample_is_still_used():
    class Doubled(initializers.RandomNormal):
        def sample(self, shape):
            return 2 * super().sample(shape)

    got = Doubled(seed=4)((30, 20))
    np.testing.assert_array_equal(got, (2 * _reference("RandomNormal", (30, 20), 4)).astype("f4"))


def test_seeds_are_non_negative_integers():
    for cls in (initializers.RandomNormal, initializers.RandomUniform, initializers.HeNormal):
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
            cls(seed=-1)
        with pytest.raises(ValueError, match=r"seed must be an integer"):
            cls(seed=1.5)


def test_an_initializer_handing_out_its_own_array_is_copied_and_checked():
    shared = np.ones((4, 3))
    model = Sequential([Input((4,)), layers.Dense(3, kernel_initializer=_Shared(shared))])
    kernel = model.layers[0].kernel
    assert kernel.dtype == np.float32 and not np.shares_memory(kernel, shared)
    with pytest.raises(ValueError, match=r"gave an array of shape \(2,\), not \(4, 3\)"):
        Sequential([Input((4,)), layers.Dense(3, kernel_initializer=_Shared(np.ones(2)))])
    with pytest.raises(ValueError, match="not finite"):
        Sequential([Input((4,)), layers.Dense(3, kernel_initializer=_Shared(np.full((4, 3), np.nan)))])


def _config(n_in: int, units: int) -> dict:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "big",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "registered_name": None,
                    "config": {"batch_shape": [None, n_in], "name": "input"},
                },
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "registered_name": None,
                    "config": {"name": "d", "units": units, "kernel_initializer": "glorot_normal"},
                },
            ],
        },
    }


def test_a_model_read_from_a_config_is_built_in_its_weights_size_once(monkeypatch):
    """The layers draw into the model's parameter vector (no float64 draw of the whole kernel, no copy when the
    model gathers its weights): the peak is the parameters and their gradients, plus a few MiB of chunks.
    Before, it was twice that plus the float64 draw (at the config-only cap of 2**27 parameters: 2.15 GB traced,
    1.62 GB resident; now 1.08 GB traced, 0.55 GB resident, the gradients' zeros being untouched pages)."""
    n_in, units = 1024, 2048
    values = n_in * units + units
    monkeypatch.setattr(initializers, "CHUNK", 1 << 16)  # 512 KiB of float64 scratch
    tracemalloc.start()
    try:
        model = saving.model_from_config(_config(n_in, units))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.count_params() == values
    weights_and_gradients = 2 * 4 * values
    # the old path: 2 x this + 8 bytes a value; now a few chunks, and the truncated normal's redraw positions
    assert peak < 1.5 * weights_and_gradients
    kernel = model.layers[0].kernel
    assert kernel.base is model.parameters and np.shares_memory(kernel, model.parameters)
    backend.set_seed(4)
    again = saving.model_from_config(_config(n_in, units))
    backend.set_seed(4)
    in_code = Sequential([Input((n_in,)), layers.Dense(units, kernel_initializer="glorot_normal", name="d")])
    np.testing.assert_array_equal(again.parameters, in_code.parameters)  # the same numbers either way


def test_a_layout_that_does_not_match_falls_back_to_a_copy():
    from gradfit import parameters

    with parameters.preallocated([(9, 9)], "float32"):
        model = Sequential([Input((4,)), layers.Dense(3), layers.Dense(2)])
    assert model.parameters.size == 4 * 3 + 3 + 3 * 2 + 2
    assert model.layers[1].kernel.base is model.parameters
