"""Saving and loading: Keras 3's file formats both ways, exact round trips, and hostile files refused safely.

The ``saving_fixtures/*.keras`` files were written by Keras 3.15 (``saving_fixtures/record_keras.py``, run by
hand); ``saving_fixtures/check_in_keras.py`` checks the other direction (gradfit's files in Keras) by hand.
"""

from __future__ import annotations

import ast
import base64
import copy
import io
import json
import marshal
import os
import resource
import struct
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradfit
from gradfit import backend, saving
from gradfit.keras import Input, Sequential, layers, losses, metrics, optimizers, regularizers
from gradfit.keras.models import load_model, model_from_json
from gradfit.saving import ModelFileError

FIXTURES = Path(__file__).resolve().parent / "saving_fixtures"
KERAS_FILES = sorted(FIXTURES.glob("*.keras"))

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")


# ------------------------------------------------------------------------------------------- models and data


def _data(kind: str, shape=(4,), n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + tuple(shape)).astype("float32")
    flat = x.reshape(n, -1)
    w = rng.normal(size=(flat.shape[1], 3))
    if kind == "binary":
        return x, (flat @ w[:, 0] > 0).astype("float32").reshape(-1, 1)
    if kind == "sparse":
        return x, np.argmax(flat @ w, axis=1)
    if kind == "onehot":
        return x, np.eye(3, dtype="float32")[np.argmax(flat @ w, axis=1)]
    return x, (flat @ w[:, :2]).astype("float32")


def _every_activation():
    names = gradfit.registry.ACTIVATIONS.names()
    hidden = [layers.Dense(4, activation=a, kernel_initializer="lecun_normal") for a in names if a != "softmax"]
    return Sequential([Input((4,)), *hidden, layers.Dense(3, activation="softmax")])


# name -> (model maker, compile kwargs, data kind, example shape)
CASES = {
    "dense_relu_sigmoid_adam_l2_bce": (
        lambda: Sequential(
            [
                Input((4,)),
                layers.Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
                layers.Dense(1, activation="sigmoid"),
            ]
        ),
        dict(optimizer=optimizers.Adam(0.01), loss=losses.BinaryCrossentropy(), metrics=["accuracy"]),
        "binary",
        (4,),
    ),
    "every_activation_adamw_sparse_string": (
        _every_activation,
        dict(
            optimizer=optimizers.AdamW(0.01, weight_decay=0.01, clipnorm=1.0),
            loss="sparse_categorical_crossentropy",
            metrics=["sparse_categorical_accuracy"],
        ),
        "sparse",
        (4,),
    ),
    "normalization_batchnorm_relu_softmax_rmsprop_centered": (
        lambda: Sequential(
            [
                Input((4,)),
                layers.Normalization(mean=[0.1, 0.2, -0.1, 0.0], variance=[1.0, 2.0, 0.5, 1.5]),
                layers.Dense(6, kernel_regularizer=regularizers.L1L2(1e-3, 1e-3), bias_regularizer="l1"),
                layers.BatchNormalization(),
                layers.ReLU(max_value=6.0),
                layers.Dense(3),
                layers.Softmax(),
            ]
        ),
        dict(
            optimizer=optimizers.RMSprop(momentum=0.5, centered=True),
            loss=losses.SparseCategoricalCrossentropy(),
            metrics=[metrics.SparseCategoricalAccuracy()],
        ),
        "sparse",
        (4,),
    ),
    "adapted_normalization_leaky_activation_sgd_nesterov": (
        lambda: Sequential(
            [
                layers.Normalization(input_shape=(4,)),
                layers.Dense(5, activation="tanh", kernel_initializer=gradfit.initializers.RandomNormal(0, 0.3, 7)),
                layers.LeakyReLU(negative_slope=0.1),
                layers.Dense(3, bias_initializer=gradfit.initializers.Constant(0.1)),
                layers.Activation("softmax"),
            ]
        ),
        dict(
            optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True),
            loss=losses.CategoricalCrossentropy(label_smoothing=0.1),
            metrics=[metrics.CategoricalAccuracy(), "mse"],
        ),
        "onehot",
        (4,),
    ),
    "flatten_dropout_adagrad_schedule_huber": (
        lambda: Sequential(
            [
                Input((2, 2)),
                layers.Flatten(),
                layers.Dense(6, activation="elu", kernel_initializer="he_uniform"),
                layers.Dropout(0.3),
                layers.Dense(2, use_bias=False),
            ]
        ),
        dict(
            optimizer=optimizers.Adagrad(optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
            loss=losses.Huber(0.5),
        ),
        "regression",
        (2, 2),
    ),
    "no_input_amsgrad_cosine_mae_function": (
        lambda: Sequential([layers.Dense(4, activation="gelu"), layers.Dense(2)]),
        dict(
            optimizer=optimizers.Adam(optimizers.schedules.CosineDecay(0.01, 20), amsgrad=True),
            loss=losses.mean_absolute_error,
            metrics=[metrics.MeanSquaredError()],
        ),
        "regression",
        (4,),
    ),
    "frozen_layer_sgd_bce_logits": (
        lambda: Sequential(
            [Input((4,)), layers.Dense(3, activation="selu", trainable=False), layers.Dense(1, activation="linear")]
        ),
        dict(optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True), metrics=["binary_accuracy"]),
        "binary",
        (4,),
    ),
    "rmsprop_momentum_mse_piecewise": (
        lambda: Sequential([Input((4,)), layers.Dense(4, activation="softplus"), layers.Dense(2)]),
        dict(
            optimizer=optimizers.RMSprop(
                optimizers.schedules.PiecewiseConstantDecay([4, 8], [0.01, 0.005, 0.001]), momentum=0.9
            ),
            loss=losses.MeanSquaredError(),
            metrics=["mae"],
        ),
        "regression",
        (4,),
    ),
    "sgd_momentum_mae_l1": (
        lambda: Sequential(
            [Input((4,)), layers.Dense(3, activation="softsign", kernel_regularizer="l1"), layers.Dense(2)]
        ),
        dict(optimizer=optimizers.SGD(0.01, momentum=0.5), loss=losses.MeanAbsoluteError()),
        "regression",
        (4,),
    ),
}


def _trained(name: str, epochs: int = 2):
    make, compile_kwargs, kind, shape = CASES[name]
    backend.set_seed(0)
    model = make()
    x, y = _data(kind, shape)
    first = model.layers[0]
    if isinstance(first, layers.Normalization) and first.input_mean is None:
        first.adapt(x)
    model.compile(**copy.deepcopy(compile_kwargs))
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0)
    return model, x, y


def _rng_state():
    return copy.deepcopy(backend.rng().bit_generator.state)


def _set_rng_state(state) -> None:
    backend.rng().bit_generator.state = copy.deepcopy(state)


def _optimizer_state(model) -> dict:
    opt = model.optimizer
    state = {"iterations": opt.iterations, "built": opt.built}
    if opt.built:
        state.update({label: np.array(value) for label, value in opt.keras_variables()})
    return state


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key


# ------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_is_exact_and_training_resumes(name, tmp_path):
    model, x, y = _trained(name)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)

    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    assert loaded.get_compile_config() == model.get_compile_config()
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    _assert_same_state(_optimizer_state(loaded), _optimizer_state(model))

    # fit from the saved state = fit without stopping (same data order: the shuffling generator is replayed).
    # Adam and RMSprop keep their moments divided by 1 - beta (optimizers.py), and the file holds Keras's
    # values, so a loaded moment can differ from the one in memory by one float32 rounding: equal to 1e-6.
    state = _rng_state()
    expected = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    _set_rng_state(state)
    resumed = loaded.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert resumed.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(resumed[key], expected[key], rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_round_trip_float64_model(tmp_path):
    backend.set_floatx("float64")
    model = Sequential([Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3))
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    backend.set_floatx("float32")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.layers[0].kernel.dtype == np.float64
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    _assert_same_state(_optimizer_state(loaded), _optimizer_state(model))


def test_unbuilt_and_uncompiled_models_round_trip(tmp_path):
    unbuilt = Sequential([layers.Dense(3, activation="relu"), layers.Dense(1)], name="later")
    unbuilt.compile(optimizer=optimizers.RMSprop(0.01), loss="mse")
    with pytest.warns(UserWarning, match="not yet been built"):
        unbuilt.save(tmp_path / "unbuilt.keras")
    loaded = load_model(tmp_path / "unbuilt.keras")
    assert not loaded.built and loaded.compiled and loaded.get_config() == unbuilt.get_config()
    assert isinstance(loaded.optimizer, optimizers.RMSprop) and loaded.optimizer.learning_rate == 0.01

    plain = Sequential([Input((2,)), layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    loaded = load_model(tmp_path / "plain.keras")
    assert loaded.built and not loaded.compiled
    np.testing.assert_array_equal(loaded.get_weights()[0], plain.get_weights()[0])
    with h5py.File(io.BytesIO(zipfile.ZipFile(tmp_path / "plain.keras").read("model.weights.h5"))) as f:
        assert "optimizer" not in f


def test_compiled_but_untrained_keeps_a_fresh_optimizer(tmp_path):
    model = Sequential([Input((2,)), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.keras")
    with h5py.File(io.BytesIO(zipfile.ZipFile(tmp_path / "m.keras").read("model.weights.h5"))) as f:
        assert sorted(f["optimizer/vars"].keys()) == ["0", "1"]  # iterations and learning rate, as Keras
    loaded = load_model(tmp_path / "m.keras")
    assert not loaded.optimizer.built and loaded.optimizer.iterations == 0


def test_compile_false(tmp_path):
    model, x, _ = _trained("dense_relu_sigmoid_adam_l2_bce")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled and loaded.optimizer is None
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_weights_load_weights(tmp_path):
    model, x, y = _trained("normalization_batchnorm_relu_softmax_rmsprop_centered")
    model.save_weights(tmp_path / "w.weights.h5")
    other = CASES["normalization_batchnorm_relu_softmax_rmsprop_centered"][0]()
    other.compile(optimizer=optimizers.RMSprop(momentum=0.5, centered=True), loss="sparse_categorical_crossentropy")
    other.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    _assert_same_state(_optimizer_state(other), _optimizer_state(model))
    # weights from a .keras archive, too
    model.save(tmp_path / "m.keras")
    third = CASES["normalization_batchnorm_relu_softmax_rmsprop_centered"][0]()
    third.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(third.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_weights_with_wrong_shapes_changes_nothing(tmp_path):
    source = Sequential([Input((4,)), layers.Dense(3), layers.Dense(1)])
    source.save_weights(tmp_path / "w.weights.h5")
    target = Sequential([Input((4,)), layers.Dense(3), layers.Dense(2)])
    target.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in target.get_weights()]
    with pytest.raises(ModelFileError, match=r"layers/dense_1/vars/0.*shape \(3, 1\).*\(3, 2\)"):
        target.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(target.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match=r"Skipping loading weights for layer 'dense_3'.*layers/dense_1/vars/0"):
        target.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(target.layers[0].kernel, source.layers[0].kernel)
    np.testing.assert_array_equal(target.layers[1].kernel, before[2])


def test_load_weights_needs_a_built_model(tmp_path):
    with pytest.raises(ValueError, match="not yet been built"):
        Sequential([layers.Dense(2)]).load_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="not yet been built"):
        Sequential([layers.Dense(2)]).save_weights(tmp_path / "w.weights.h5")


def test_to_json_and_model_from_json():
    model, x, _ = _trained("adapted_normalization_leaky_activation_sgd_nesterov")
    text = model.to_json()
    top = json.loads(text)
    assert top["class_name"] == "Sequential" and top["module"] == "keras"
    again = model_from_json(text)
    assert again.get_config() == model.get_config()
    assert again.get_compile_config() == model.get_compile_config()
    assert again.optimizer.iterations == 0  # the JSON has no state: fresh optimizer, fresh weights
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_from_config_round_trips_every_layer():
    for name in CASES:
        model, _, _ = _trained(name, epochs=1)
        clone = Sequential.from_config(model.get_config())
        assert clone.get_config() == model.get_config(), name
        for layer in model.layers:  # each layer's own config round-trips through the allow-list too
            entry = {"class_name": type(layer).__name__, "config": layer.get_config()}
            rebuilt, _, _ = saving.layer_from_entry(json.loads(json.dumps(entry)), "layer")
            assert rebuilt.get_config() == layer.get_config(), (name, layer.name)
            assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_missing_optional_keys_take_keras_defaults():
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "minimal",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 3]}},
                {"class_name": "Dense", "config": {"units": 2}},  # Keras 2 style: no "module"
                {"class_name": "BatchNormalization", "config": {}},
                {"class_name": "Dropout", "config": {"rate": 0.5}},
                {"class_name": "LeakyReLU", "config": {}},
            ],
        },
        "compile_config": {"optimizer": {"class_name": "Adam", "config": {}}, "loss": "mse"},
    }
    model = saving.model_from_config(config)
    dense, bn, dropout, leaky = model.layers
    expected = layers.Dense(2, name=dense.name).get_config()
    assert {k: v for k, v in dense.get_config().items() if k != "batch_input_shape"} == expected
    assert (bn.momentum, bn.epsilon, bn.center, bn.scale, bn.axis) == (0.99, 0.001, True, True, -1)
    assert dropout.rate == 0.5 and dropout.noise_shape is None and leaky.negative_slope == 0.3
    opt = model.optimizer
    assert (opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon, opt.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)


def test_load_from_file_object():
    model, x, _ = _trained("dense_relu_sigmoid_adam_l2_bce", epochs=1)
    buffer = io.BytesIO(_saved_bytes(model))
    np.testing.assert_array_equal(load_model(buffer).predict(x, verbose=0), model.predict(x, verbose=0))


def _saved_bytes(model) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.keras"
        model.save(path)
        return path.read_bytes()


# ------------------------------------------------------------------------------------------- Keras's own files


@pytest.mark.parametrize("path", KERAS_FILES, ids=[p.stem for p in KERAS_FILES])
def test_keras_file_loads_and_predicts(path):
    with np.load(path.with_suffix(".expected.npz")) as f:
        expected = {k: f[k] for k in f.files}
    model = load_model(path)
    np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["pred"], rtol=0, atol=1e-6)
    if expected["resume"]:  # one more step from Keras's optimizer state, as Keras took it
        x, y = expected["x_fit"], expected["y_fit"]
        loss = model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history["loss"][0]
        np.testing.assert_allclose(loss, expected["loss_next"], rtol=1e-6)
        np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["pred_next"], atol=1e-6)
    # and gradfit writes it back in a form it reads identically
    again = load_model(io.BytesIO(_saved_bytes(model)))
    assert again.get_config() == model.get_config()


def test_keras_fixture_optimizer_state_is_mapped():
    model = load_model(FIXTURES / "no_input_elu_softmax_rmsprop_centered.keras")
    opt = model.optimizer
    assert isinstance(opt, optimizers.RMSprop) and opt.centered and opt.momentum == 0.5
    with zipfile.ZipFile(FIXTURES / "no_input_elu_softmax_rmsprop_centered.keras") as zf:
        with h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as f:
            v = f["optimizer/vars"]
            assert opt.iterations == int(v["0"][()])
            # Keras: velocities of the 4 trainable weights, then momentums, then average gradients
            np.testing.assert_array_equal(model.weight_views(opt.velocities)[0], v["2"][()])
            np.testing.assert_array_equal(model.weight_views(opt.momentums)[1], v["7"][()])
            np.testing.assert_array_equal(model.weight_views(opt.average_gradients)[3], v["13"][()])


def _h5_tree(data: bytes) -> dict:
    tree = {}
    with h5py.File(io.BytesIO(data)) as f:
        f.visititems(
            lambda name, obj: tree.__setitem__(
                name,
                (tuple(obj.shape), str(obj.dtype)) if isinstance(obj, h5py.Dataset) else dict(obj.attrs),
            )
        )
    return tree


def test_file_layout_matches_what_keras_writes(tmp_path):
    """The same model saved by gradfit and by Keras 3: same members, same HDF5 paths, same config keys."""
    keras_path = FIXTURES / "dense_relu_sigmoid_adam_l2.keras"
    model = Sequential(
        [
            Input((4,)),
            layers.Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=optimizers.Adam(0.01), loss=losses.BinaryCrossentropy(), metrics=["accuracy"])
    x, y = _data("binary")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    ours, theirs = zipfile.ZipFile(tmp_path / "m.keras"), zipfile.ZipFile(keras_path)

    info = lambda zf: [(i.filename, i.compress_type, i.external_attr) for i in zf.infolist()]  # noqa: E731
    assert (
        info(ours)
        == info(theirs)
        == [
            ("metadata.json", zipfile.ZIP_STORED, 0o600 << 16),
            ("config.json", zipfile.ZIP_STORED, 0o600 << 16),
            ("model.weights.h5", zipfile.ZIP_STORED, 0o600 << 16),
        ]
    )
    ours_meta, theirs_meta = json.loads(ours.read("metadata.json")), json.loads(theirs.read("metadata.json"))
    assert set(theirs_meta) <= set(ours_meta) and ours_meta["keras_version"].startswith("3.")
    assert len(ours_meta["date_saved"]) == len(theirs_meta["date_saved"])

    # HDF5: the same groups, datasets, shapes, dtypes and 'name' attributes (Keras names layers by class)
    ours_tree, theirs_tree = _h5_tree(ours.read("model.weights.h5")), _h5_tree(theirs.read("model.weights.h5"))
    assert ours_tree.keys() == theirs_tree.keys()
    for key in theirs_tree:
        if isinstance(theirs_tree[key], dict):
            assert ours_tree[key].keys() == theirs_tree[key].keys(), key
        else:
            assert ours_tree[key] == theirs_tree[key], key
    assert ours_tree["layers/dense/vars/0"] == ((4, 8), "float32")
    assert ours_tree["optimizer/vars/0"] == ((), "int64") and ours_tree["optimizer/vars/1"] == ((), "float32")
    assert ours_tree["layers/dense_1/vars"] == {"name": "dense_1"} and ours_tree["vars"] == {"name": "sequential"}

    # config.json: Keras's schema and keys; gradfit writes a subset of Keras's optional settings
    ours_cfg, theirs_cfg = json.loads(ours.read("config.json")), json.loads(theirs.read("config.json"))
    assert list(ours_cfg) == list(theirs_cfg)
    assert (ours_cfg["module"], ours_cfg["class_name"]) == ("keras", "Sequential")
    assert ours_cfg["config"].keys() == theirs_cfg["config"].keys()
    assert ours_cfg["build_config"] == theirs_cfg["build_config"] == {"input_shape": [None, 4]}
    assert ours_cfg["compile_config"].keys() == theirs_cfg["compile_config"].keys()
    for a, b in zip(ours_cfg["config"]["layers"], theirs_cfg["config"]["layers"], strict=True):
        assert a.keys() == b.keys() and a["class_name"] == b["class_name"] and a["module"] == b["module"]
        assert set(a["config"]) - {"activity_regularizer"} <= set(b["config"]), a["class_name"]
        assert a.get("build_config") == b.get("build_config")
    for key in ("optimizer", "loss"):
        a, b = ours_cfg["compile_config"][key], theirs_cfg["compile_config"][key]
        assert (a["module"], a["class_name"]) == (b["module"], b["class_name"]) and set(a["config"]) <= set(b["config"])
    assert ours_cfg["compile_config"]["metrics"] == theirs_cfg["compile_config"]["metrics"] == ["accuracy"]


def test_keras_layer_paths_follow_keras_naming():
    paths = saving.keras_layer_paths(["Dense", "BatchNormalization", "Dense", "LeakyReLU", "ReLU", "Dense"])
    assert paths == [
        "layers/dense",
        "layers/batch_normalization",
        "layers/dense_1",
        "layers/leaky_re_lu",
        "layers/re_lu",
        "layers/dense_2",
    ]


def test_every_gradfit_layer_is_readable():
    exported = {n for n in gradfit.layers.__all__ if n not in ("Layer", "Input")}
    assert exported <= set(saving.supported_layers()), exported - set(saving.supported_layers())


# ------------------------------------------------------------------------------------------- writing safely


def test_save_is_atomic_when_a_write_fails(tmp_path, monkeypatch):
    model, _, _ = _trained("dense_relu_sigmoid_adam_l2_bce", epochs=1)
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]  # no temporary file left behind

    weights = tmp_path / "w.weights.h5"
    model.save_weights(weights)
    before = weights.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError, match="crash"):
        model.save_weights(weights)
    monkeypatch.undo()
    assert weights.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "w.weights.h5"]


def test_overwrite_false_and_suffix_rules(tmp_path):
    model = Sequential([Input((2,)), layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ModelFileError, match="legacy HDF5"):
        load_model(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="File format not supported"):
        load_model(tmp_path / "m.txt")
    with pytest.raises(ModelFileError, match="pickled"):
        model.load_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="custom objects"):
        load_model(tmp_path / "m.keras", custom_objects={"X": object})
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError):
        model.load_weights(tmp_path / "missing.weights.h5")


def test_public_entry_points():
    assert gradfit.keras.models.load_model is saving.load_model
    assert gradfit.keras.models.model_from_json is saving.model_from_json
    assert gradfit.keras.saving.load_model is saving.load_model
    assert issubclass(ModelFileError, ValueError)


def test_saving_module_cannot_run_code():
    """No pickle, marshal or dynamic import anywhere in the loader, and no eval/exec."""
    banned = {"pickle", "marshal", "importlib", "dill", "cloudpickle", "shelve", "joblib"}
    modules = sorted(Path(saving.__file__).parent.glob("*.py"))
    assert len(modules) >= 5  # the package's modules, each read
    for node in (n for path in modules for n in ast.walk(ast.parse(path.read_text()))):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & banned
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("eval", "exec", "__import__", "compile")
        if isinstance(node, ast.keyword):
            assert node.arg != "allow_pickle"


# ------------------------------------------------------------------------------------------- hostile files


def _archive(config, weights: bytes | None = None, extra: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", config if isinstance(config, (str, bytes)) else json.dumps(config))
        if weights is not None:
            zf.writestr("model.weights.h5", weights)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _small_model():
    backend.set_seed(1)
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)
    return model


@pytest.fixture
def valid():
    """(model, archive bytes, config dict, weights bytes) of a small trained model."""
    model = _small_model()
    data = _saved_bytes(model)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return model, data, json.loads(zf.read("config.json")), zf.read("model.weights.h5")


def _load_bytes(data: bytes, **kwargs):
    return load_model(io.BytesIO(data), **kwargs)


def _with_layer(config: dict, entry, index: int = 1) -> dict:
    config = copy.deepcopy(config)
    config["config"]["layers"].insert(index, entry)
    return config


def test_lambda_layer_is_refused_and_never_runs(valid, tmp_path):
    _, _, config, weights = valid
    marker = tmp_path / "ran"
    code = compile(f"lambda x: open({str(marker)!r}, 'w')", "<evil>", "eval").co_consts[0]
    payload = base64.b64encode(marshal.dumps(code)).decode()
    function = {"class_name": "__lambda__", "config": {"value": payload}}
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "lambda", "function": function, "arguments": {}},
        "registered_name": None,
    }
    with pytest.raises(ModelFileError, match="refusing layer 'Lambda': a Lambda layer holds Python code"):
        _load_bytes(_archive(_with_layer(config, lam), weights))
    bad = copy.deepcopy(config)
    bad["config"]["layers"][1]["config"]["activation"] = function
    with pytest.raises(ModelFileError, match="lambda"):
        _load_bytes(_archive(bad, weights))
    assert not marker.exists()


def _os_system_variants(config: dict, marker: Path):
    call = f"touch {marker}"
    system = {"module": "os", "class_name": "system", "config": call, "registered_name": None}
    function = {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"}
    registered = {
        "module": "keras.layers",
        "class_name": "Dense",
        "config": {"units": 1},
        "registered_name": "os>system",
    }
    variants = {"layer": _with_layer(config, system), "registered layer": _with_layer(config, registered)}
    for key, value in (("activation", function), ("kernel_initializer", system), ("kernel_regularizer", system)):
        c = copy.deepcopy(config)
        c["config"]["layers"][1]["config"][key] = value
        variants[key] = c
    for key, value in (("loss", function), ("optimizer", system), ("metrics", [function]), ("loss", system)):
        c = copy.deepcopy(config)
        c["compile_config"][key] = value
        variants[f"compile {key} {value['class_name'] if isinstance(value, dict) else 'list'}"] = c
    c = copy.deepcopy(config)
    c["compile_config"]["optimizer"]["config"]["learning_rate"] = system
    variants["schedule"] = c
    c = copy.deepcopy(config)
    c["config"]["layers"][1]["config"]["dtype"] = {"module": "os", "class_name": "system", "config": {"name": call}}
    variants["dtype policy"] = c
    c = copy.deepcopy(config)
    c["module"], c["class_name"] = "os", "system"
    variants["model"] = c
    return variants


def test_config_naming_os_system_is_refused_everywhere(valid, tmp_path):
    _, _, config, weights = valid
    marker = tmp_path / "marker"
    for where, bad in _os_system_variants(config, marker).items():
        with pytest.raises(ModelFileError) as info:
            _load_bytes(_archive(bad, weights))
        message = str(info.value)
        assert "os" in message and ("system" in message or "function" in message), (where, message)
        with pytest.raises(ModelFileError):
            saving.model_from_config(bad)
    assert not marker.exists()


def test_unknown_module_or_class_is_refused_by_name(valid, tmp_path, monkeypatch):
    _, _, config, weights = valid
    marker = tmp_path / "imported"
    (tmp_path / "evil_layers.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Dense: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    evil = _with_layer(config, {"module": "evil_layers", "class_name": "Dense", "config": {"units": 1}})
    with pytest.raises(ModelFileError, match=r"refusing layer 'evil_layers\.Dense'"):
        _load_bytes(_archive(evil, weights))
    conv = _with_layer(config, {"module": "keras.layers", "class_name": "Conv2D", "config": {"filters": 2}})
    with pytest.raises(ModelFileError, match=r"unknown layer 'keras\.layers\.Conv2D'; gradfit has: .*Dense"):
        _load_bytes(_archive(conv, weights))
    odd = copy.deepcopy(config)
    odd["config"]["layers"][1]["config"]["kernel_constraint"] = {"class_name": "RadialConstraint", "config": {}}
    with pytest.raises(ModelFileError, match="kernel_constraint: unknown constraint 'RadialConstraint'"):
        _load_bytes(_archive(odd, weights))
    odd = copy.deepcopy(config)
    odd["config"]["layers"][1]["config"]["units_typo"] = 3
    with pytest.raises(ModelFileError, match="unknown setting 'units_typo'"):
        _load_bytes(_archive(odd, weights))
    odd = copy.deepcopy(config)
    odd["compile_config"]["optimizer"]["config"]["loss_scale_factor"] = 2.0
    with pytest.raises(ModelFileError, match="does not support loss_scale_factor=2.0"):
        _load_bytes(_archive(odd, weights))
    odd = copy.deepcopy(config)
    odd["config"]["layers"][1]["config"]["activation"] = "swoosh"
    with pytest.raises(ModelFileError, match="Unknown activation 'swoosh'.*Known activations: .*relu"):
        _load_bytes(_archive(odd, weights))
    functional = copy.deepcopy(config)
    functional["class_name"] = "Functional"
    with pytest.raises(ModelFileError, match="Sequential models only"):
        _load_bytes(_archive(functional, weights))
    assert not marker.exists() and "evil_layers" not in sys.modules


def test_npz_weights_are_never_unpickled(valid, tmp_path):
    _, _, config, _ = valid
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    npz = io.BytesIO()
    np.savez(npz, **{"layers/dense/vars/0": np.array([Payload()], dtype=object)})
    archive = _archive(config, extra={"model.weights.npz": npz.getvalue()})
    with pytest.raises(ModelFileError, match=r"model\.weights\.npz.*pickled"):
        _load_bytes(archive)
    (tmp_path / "w.npz").write_bytes(npz.getvalue())
    with pytest.raises(ModelFileError, match="pickled"):
        _small_model().load_weights(tmp_path / "w.npz")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/gradfit-evil.txt", "assets/../../evil.txt", "a\\..\\..\\b"])
def test_paths_in_the_archive_are_refused(valid, tmp_path, name):
    _, _, config, weights = valid
    path = tmp_path / "inner" / "m.keras"
    path.parent.mkdir()
    path.write_bytes(_archive(config, weights, extra={name: b"owned"}))
    with pytest.raises(ModelFileError, match="unexpected archive member"):
        load_model(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["inner", "m.keras"]
    assert not Path("/tmp/gradfit-evil.txt").exists()


def _zip_with_raw_member(config: bytes, raw: bytes, crc: int, size: int, declared: int) -> bytes:
    """A zip holding config.json (stored) and model.weights.h5 as the given raw deflate stream, whose
    headers declare ``declared`` bytes uncompressed (the stream really inflates to ``size``)."""
    out, central = io.BytesIO(), []
    members = [(b"config.json", 0, config, zlib.crc32(config), len(config), len(config))]
    members.append((b"model.weights.h5", 8, raw, crc, size if declared is None else declared, len(raw)))
    for name, method, data, member_crc, usize, csize in members:
        offset = out.tell()
        out.write(
            struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, member_crc, csize, usize, len(name), 0)
            + name
            + data
        )
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                member_crc,
                csize,
                usize,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), start, 0))
    return out.getvalue()


def _zeros_deflated(mib: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)  # each further MiB deflates the same way
    return chunk * mib + b"\x03\x00"


@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_decompression_bomb_fails_fast_in_little_memory(valid, tmp_path, declared):
    _, _, config, _ = valid
    mib = 1536  # 1.5 GiB of zeros, about 1.6 MB on disk
    raw = _zeros_deflated(mib)
    size = mib << 20
    data = _zip_with_raw_member(json.dumps(config).encode(), raw, 0, size, size if declared == "honest" else 20_000)
    path = tmp_path / "bomb.keras"
    path.write_bytes(data)
    assert path.stat().st_size < 3 << 20
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match="model.weights.h5"):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 2.0
    assert peak < 32 << 20
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) * 1024 < 200 << 20


def test_config_declaring_huge_weights_is_refused_before_allocating(valid):
    _, _, config, weights = valid
    big = copy.deepcopy(config)
    big["config"]["layers"][0]["config"]["batch_shape"] = [None, 1 << 16]
    big["config"]["layers"][1]["config"]["units"] = 1 << 16  # a 16 GiB kernel
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="too few for the"):
            _load_bytes(_archive(big, weights))
        with pytest.raises(ModelFileError, match="a config alone may"):
            saving.model_from_config(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


def test_weights_member_far_larger_than_the_config_is_refused(valid):
    _, _, config, weights = valid
    padded = weights + bytes(8 << 20)
    with pytest.raises(ModelFileError, match="far more than the"):
        _load_bytes(_archive(config, padded))


def _h5(build) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        build(f)
    return buffer.getvalue()


def _copy_weights(weights: bytes, edit) -> bytes:
    def build(f):
        with h5py.File(io.BytesIO(weights)) as src:
            for key in src:
                src.copy(src[key], f, name=key)
        edit(f)

    return _h5(build)


def _replace(path, value, **kwargs):
    def edit(f):
        del f[path]
        f.create_dataset(path, data=value, **kwargs)

    return edit


def test_bad_weights_are_refused_and_name_the_entry(valid, tmp_path):
    model, _, config, weights = valid
    cases = {
        r"layers/dense/vars/0.*shape \(5, 3\).*\(4, 3\)": _replace("layers/dense/vars/0", np.zeros((5, 3), "f4")),
        r"layers/dense/vars/1.*dtype": _replace("layers/dense/vars/1", np.array([b"a", b"b", b"c"])),
        r"layers/dense/vars/1.*dtype complex64": _replace("layers/dense/vars/1", np.zeros(3, "c8")),
        r"compressed or filtered": _replace("layers/dense/vars/1", np.zeros(3, "f4"), compression="gzip"),
        r"SoftLink": lambda f: (
            f.__delitem__("layers/dense/vars/0"),
            f.__setitem__("layers/dense/vars/0", h5py.SoftLink("/layers/dense_1/vars/0")),
        ),
        r"ExternalLink": lambda f: (
            f.__delitem__("layers/dense/vars/0"),
            f.__setitem__("layers/dense/vars/0", h5py.ExternalLink("/etc/passwd", "/x")),
        ),
        r"external files": _replace(
            "layers/dense/vars/1", None, shape=(3,), dtype="f4", external=[("/etc/hostname", 0, 12)]
        ),
        r"has 2 weights .* holds 3": lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(2)),
        r"layers the config does not have": lambda f: f.create_dataset("layers/conv2d/vars/0", data=np.zeros(2)),
        r"unexpected entries": lambda f: f.create_group("backdoor"),
        r"iterations.*non-negative": _replace("optimizer/vars/0", np.int64(-5)),
    }
    for pattern, edit in cases.items():
        with pytest.raises(ModelFileError, match=pattern):
            _load_bytes(_archive(config, _copy_weights(weights, edit)))
        path = tmp_path / "bad.weights.h5"
        path.write_bytes(_copy_weights(weights, edit))
        before = [w.copy() for w in model.get_weights()], _optimizer_state(model)
        with pytest.raises(ModelFileError):
            model.load_weights(path)
        for a, b in zip(model.get_weights(), before[0], strict=True):
            np.testing.assert_array_equal(a, b)
        _assert_same_state(_optimizer_state(model), before[1])


def test_not_an_archive_or_not_hdf5(valid, tmp_path):
    _, data, config, _ = valid
    with pytest.raises(ModelFileError, match="not a .keras archive"):
        _load_bytes(b"this is not a zip file at all")
    with pytest.raises(ModelFileError, match="no config.json"):
        _load_bytes(_zip({"metadata.json": b"{}"}))
    with pytest.raises(ModelFileError, match="not an HDF5 file"):
        _load_bytes(_archive(config, b"\x00" * 5000))
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(ModelFileError, match="not an HDF5 file"):
        _small_model().load_weights(path)
    for cut in (10, 100, len(data) // 2, len(data) - 30, len(data) - 1):
        with pytest.raises(ModelFileError):
            _load_bytes(data[:cut])


def _zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_hostile_json(valid):
    _, _, config, weights = valid
    text = json.dumps(config)
    for bad, pattern in (
        (text.replace('"units": 3', '"units": NaN'), "NaN is not a valid JSON value"),
        (text.replace('"units": 3', '"units": 3, "units": 4'), "appears twice"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ('{"class_name": "Sequential", "config": ' + "[" * 500 + "]" * 500 + "}", "expected a Sequential config"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("1" * 5000, "not valid JSON"),
    ):
        with pytest.raises(ModelFileError, match=pattern):
            _load_bytes(_archive(bad, weights))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        zf.writestr("config.json", text)
        zf.writestr("config.json", text)
        zf.writestr("model.weights.h5", weights)
    with pytest.raises(ModelFileError, match="two members"):
        _load_bytes(buffer.getvalue())


@pytest.fixture(scope="module")
def fuzz_base():
    backend.set_seed(3)
    model = Sequential([Input((3,)), layers.Dense(2, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    return _saved_bytes(model), model.predict(x, verbose=0), x


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_corrupted_archives_load_or_fail_cleanly(fuzz_base, data):
    """Random bit flips and truncations of a valid file: the model loads unchanged, or a ModelFileError."""
    original, prediction, x = fuzz_base
    blob = bytearray(original)
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 7)), max_size=4))
    for position, bit in flips:
        blob[position] ^= 1 << bit
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_model(io.BytesIO(bytes(blob)))
    except ModelFileError:
        return
    np.testing.assert_array_equal(model.predict(x, verbose=0), prediction)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_corrupted_weight_files_load_or_fail_cleanly(fuzz_base, data, tmp_path_factory):
    """HDF5 has no checksum: flipped bits may load other numbers, or fail, but only with a ModelFileError."""
    original, _, _ = fuzz_base
    with zipfile.ZipFile(io.BytesIO(original)) as zf:
        blob = bytearray(zf.read("model.weights.h5"))
    for position, bit in data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 7)), max_size=4)):
        blob[position] ^= 1 << bit
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = tmp_path_factory.mktemp("fuzz") / "w.weights.h5"
    path.write_bytes(bytes(blob))
    model = Sequential([Input((3,)), layers.Dense(2, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except ModelFileError:
        pass
