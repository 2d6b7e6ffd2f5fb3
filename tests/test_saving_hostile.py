"""Hostile weight files and configs beyond test_saving.py's: every malformed file ends in a ModelFileError whose
message names the problem, and the model's weights and optimizer state are bit-identical after the refusal.

Files are built with h5py from a valid save (``_copy_weights``), as test_saving.py builds its own.
"""

from __future__ import annotations

import copy
import io
import json
import struct
import warnings
import zipfile

import h5py
import numpy as np
import pytest

from gradfit import backend, saving
from gradfit.keras import Input, Sequential, layers
from gradfit.keras.models import load_model
from gradfit.saving import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")


def _trained():
    backend.set_seed(1)
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)
    return model


def _archive(config, weights: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", config if isinstance(config, (str, bytes)) else json.dumps(config))
        zf.writestr("model.weights.h5", weights)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """(config dict, weights bytes) of a small trained model."""
    path = tmp_path_factory.mktemp("valid") / "m.keras"
    _trained().save(path)
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json")), zf.read("model.weights.h5")


def _copy_weights(weights: bytes, edit) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        with h5py.File(io.BytesIO(weights)) as src:
            for key in src:
                src.copy(src[key], f, name=key)
        edit(f)
    return buffer.getvalue()


def _replace(path, value, **kwargs):
    def edit(f):
        del f[path]
        f.create_dataset(path, data=value, **kwargs)

    return edit


def _link(target: str, group: str, name: bytes):
    """A hard link named ``name`` (raw bytes, so possibly not UTF-8) in ``group`` to the object at ``target``."""

    def edit(f):
        h5py.h5o.link(f[target].id, f[group].id, name)

    return edit


def _attrs(path: str, names):
    def edit(f):
        for name in names:
            f[path].attrs.create(name, 1)

    return edit


def _state(model):
    opt = model.optimizer
    state = {"iterations": opt.iterations, "built": opt.built, "lr": float(opt.learning_rate)}
    if opt.built:
        state.update({label: np.array(value) for label, value in opt.keras_variables()})
    return [w.copy() for w in model.get_weights()], state


def _assert_unchanged(model, before) -> None:
    weights, state = _state(model)
    assert len(weights) == len(before[0])
    for a, b in zip(weights, before[0]):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert state.keys() == before[1].keys()
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            assert value.tobytes() == before[1][key].tobytes(), key
        else:
            assert value == before[1][key], key


def _refused_everywhere(valid, tmp_path, weights: bytes, pattern: str) -> None:
    """The edited weights are refused by load_model (inside an archive), by load_weights of a .weights.h5 and by
    load_weights of a .keras file, each time with ``pattern`` in the message and nothing changed."""
    config, _ = valid
    with pytest.raises(ModelFileError, match=pattern):
        load_model(io.BytesIO(_archive(config, weights)))
    model = _trained()
    before = _state(model)
    path = tmp_path / "bad.weights.h5"
    path.write_bytes(weights)
    with pytest.raises(ModelFileError, match=pattern):
        model.load_weights(path)
    _assert_unchanged(model, before)
    keras_path = tmp_path / "bad.keras"
    keras_path.write_bytes(_archive(config, weights))
    with pytest.raises(ModelFileError, match=pattern):
        model.load_weights(keras_path)
    _assert_unchanged(model, before)


NOT_UTF8 = r"not UTF-8 text"
CASES = {
    # names that are not UTF-8 (h5py hands them out as bytes: sorting them with str names raised TypeError)
    "link_in_layer_vars": (_link("layers/dense/vars/0", "layers/dense/vars", b"\xff\xfe"), NOT_UTF8),
    "link_in_layers": (_link("layers/dense", "layers", b"dense_\xec"), NOT_UTF8),
    "link_at_top": (_link("layers", "/", b"\xff"), NOT_UTF8),
    "link_in_optimizer_vars": (_link("optimizer/vars/0", "optimizer/vars", b"\xc3"), NOT_UTF8),
    "link_in_layer_group": (_link("layers/dense/vars", "layers/dense", b"\x80x"), NOT_UTF8),
    "attributes_bytes_and_text": (
        _attrs("layers/dense/vars/0", ["note", b"\xff\xfe"]),
        r"vars/0.*unexpected attributes",
    ),
    # values: NaN and infinity, float64 beyond float32's range, float16 overflowed to inf
    "nan_kernel": (
        lambda f: f["layers/dense_1/vars/0"].__setitem__(Ellipsis, np.nan),
        r"weight 'kernel' of layer 'dense_1'.*not finite \(NaN or infinity",
    ),
    "inf_bias": (
        _replace("layers/dense/vars/1", np.array([0, np.inf, 0], "f4")),
        r"weight 'bias' of layer 'dense'.*not finite",
    ),
    "float64_beyond_float32": (
        _replace("layers/dense/vars/1", np.array([0.0, 1e300, 0.0])),
        r"weight 'bias' of layer 'dense'.*1e\+300, beyond the range of float32",
    ),
    "float16_overflow": (
        _replace("layers/dense_1/vars/1", np.array([np.inf], "f2")),
        r"weight 'bias' of layer 'dense_1'.*not finite",
    ),
    # dtypes a weight cannot have
    "int_weight": (
        _replace("layers/dense/vars/1", np.arange(3, dtype="i4")),
        r"dtype int32 but the model needs float32",
    ),
    "bool_weight": (_replace("layers/dense/vars/1", np.ones(3, bool)), r"dtype bool but the model needs float32"),
    "string_weight": (
        _replace("layers/dense/vars/1", ["a", "b", "c"], dtype=h5py.string_dtype()),
        r"vars/1.*dtype object but the model needs float32",
    ),
    "compound_weight": (
        _replace("layers/dense/vars/1", np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])),
        r"vars/1.*dtype \[\('a', '<f4'\), \('b', '<f4'\)\] but the model needs float32",
    ),
    "subarray_weight": (
        _replace("layers/dense/vars/1", np.zeros(3, dtype=("f4", (2,)))),
        r"vars/1.*(shape|dtype)",
    ),
    "float128_weight": (
        _replace("layers/dense/vars/1", np.zeros(3, np.longdouble)),
        r"vars/1.*dtype float128 but the model needs float32",
    ),
    # shapes
    "zero_d_weight": (_replace("layers/dense/vars/1", np.float32(1)), r"vars/1.*shape \(\) but the model needs \(3,\)"),
    "huge_declared_shape": (
        _replace("layers/dense/vars/1", None, shape=(1 << 40,), dtype="f4"),
        r"vars/1.*shape \(1099511627776,\) but the model needs \(3,\)",
    ),
    "transposed_kernel": (
        _replace("layers/dense/vars/0", np.zeros((3, 4), "f4")),
        r"weight 'kernel' of layer 'dense'.*shape \(3, 4\) but the model needs \(4, 3\)",
    ),
    "empty_dataspace": (_replace("layers/dense/vars/1", h5py.Empty("f4")), r"vars/1.*null dataspace"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_weights_are_refused_naming_the_problem(valid, tmp_path, case):
    edit, pattern = CASES[case]
    _refused_everywhere(valid, tmp_path, _copy_weights(valid[1], edit), pattern)


def test_a_float64_file_within_float32_range_still_loads(valid, tmp_path):
    """Keras reads float64 weights into a float32 model: only values the cast would make infinite are refused."""
    config, weights = valid
    model = load_model(io.BytesIO(_archive(config, weights)))
    bias = model.layers[0].get_weights()[1].astype("f8")
    edited = _copy_weights(weights, _replace("layers/dense/vars/1", bias))
    again = load_model(io.BytesIO(_archive(config, edited)))
    np.testing.assert_array_equal(again.layers[0].get_weights()[1], bias.astype("f4"))


def test_skip_mismatch_skips_a_non_finite_layer_and_loads_the_rest(valid, tmp_path):
    _, weights = valid
    source = load_model(io.BytesIO(_archive(valid[0], weights)))
    edited = _copy_weights(weights, lambda f: f["layers/dense_1/vars/0"].__setitem__(Ellipsis, np.nan))
    path = tmp_path / "w.weights.h5"
    path.write_bytes(edited)
    model = _trained()
    kept = model.layers[1].get_weights()
    with pytest.warns(UserWarning, match="Skipping loading weights for layer 'dense_1'.*not finite"):
        model.load_weights(path, skip_mismatch=True)
    for a, b in zip(model.layers[0].get_weights(), source.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.layers[1].get_weights(), kept):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------- configs


def _config_with(valid, layer_index: int, **settings) -> dict:
    config = copy.deepcopy(valid[0])
    config["config"]["layers"][layer_index]["config"].update(settings)
    return config


def _initializer(class_name: str, **config) -> dict:
    return {"module": "keras.initializers", "class_name": class_name, "config": config, "registered_name": None}


@pytest.mark.parametrize(
    "initializer, name",
    [
        (_initializer("RandomNormal", mean=0.0, stddev=1e300, seed=1), "RandomNormal"),
        (_initializer("RandomUniform", minval=-1e300, maxval=1e300, seed=1), "RandomUniform"),
        (_initializer("Constant", value=1e39), "Constant"),
    ],
)
def test_initial_weights_beyond_float32_are_refused_at_load(valid, initializer, name):
    config = _config_with(valid, 1, kernel_initializer=initializer)
    pattern = rf"Layer 'dense'.*initializer {name}\(.*weight 'kernel'.*not finite in float32"
    with pytest.raises(ModelFileError, match=pattern):
        saving.model_from_config(config)
    with pytest.raises(ModelFileError, match=pattern):
        load_model(io.BytesIO(_archive(config, valid[1])))


def test_a_negative_initializer_seed_is_refused_naming_it(valid):
    config = _config_with(valid, 1, kernel_initializer=_initializer("GlorotUniform", seed=-3))
    with pytest.raises(ModelFileError, match=r"kernel_initializer\.seed: must be an integer >= 0, got -3"):
        saving.model_from_config(config)


def test_normalization_constants_as_large_as_the_input_are_bounded(valid):
    """Normalization's fixed mean and variance are constants, not weights, as large as the input: a config
    asking for an input of 2**30 values per example is refused before anything is allocated."""
    config = copy.deepcopy(valid[0])
    entries = config["config"]["layers"]
    entries[0]["config"]["batch_shape"] = [None, 1 << 30]
    norm = {
        "module": "keras.layers",
        "class_name": "Normalization",
        "config": {"name": "norm", "mean": 0.0, "variance": 1.0, "axis": -1},
        "registered_name": None,
    }
    config["config"]["layers"] = [entries[0], norm]
    with pytest.raises(ModelFileError, match=r"1073741824 values per example.*more than the 134217728"):
        saving.model_from_config(config)
    with pytest.raises(ModelFileError, match=r"values per example"):
        load_model(io.BytesIO(_archive(config, valid[1])))


def test_zip_member_name_that_is_not_utf8(valid):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config.json", json.dumps(valid[0]))
    raw = bytearray(buffer.getvalue().replace(b"config.json", b"config\xff.jso"))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # mark the names as UTF-8
        at = raw.find(signature)
        struct.pack_into("<H", raw, at + flag_at, struct.unpack_from("<H", raw, at + flag_at)[0] | 0x800)
    with pytest.raises(ModelFileError, match="not a .keras archive.*utf-8"):
        load_model(io.BytesIO(bytes(raw)))


def test_zip_member_with_a_corrupt_extra_field(valid):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("config.json")
        info.extra = struct.pack("<HH", 1, 40) + b"\x00" * 3
        zf.writestr(info, json.dumps(valid[0]))
    with pytest.raises(ModelFileError, match="not a .keras archive.*extra field"):
        load_model(io.BytesIO(buffer.getvalue()))


def test_random_byte_edits_of_a_weights_file_fail_only_with_model_file_errors(valid, tmp_path):
    """A seeded battery (h5py's own callbacks turn exceptions raised inside them into SystemError: none may)."""
    _, weights = valid
    rng = np.random.default_rng(5)
    model = _trained()
    path = tmp_path / "w.weights.h5"
    for _ in range(150):
        blob = bytearray(weights)
        for position in rng.integers(0, len(blob), rng.integers(1, 6)):
            blob[position] = int(rng.integers(0, 256))
        path.write_bytes(bytes(blob))
        before = _state(model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.load_weights(path)
        except ModelFileError:
            _assert_unchanged(model, before)


def test_a_config_nested_beyond_the_recursion_limit_is_a_model_file_error(valid, monkeypatch):
    """Every nesting gradfit reads is bounded by its schemas; a RecursionError anywhere under them is refused too."""
    from gradfit.saving import config as plans

    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(plans, "plan_from_serialized", deep)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        saving.model_from_config(valid[0])
    with pytest.raises(ModelFileError, match="config.json: nested too deeply"):
        load_model(io.BytesIO(_archive(valid[0], valid[1])))
