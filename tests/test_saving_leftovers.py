"""Saving what ``compile`` and the layers now accept, as Keras 3.15 writes it, and loading it back exactly.

* ``compile(loss_weights=, weighted_metrics=)`` in ``compile_config``, kept as given;
* ``loss='crossentropy'`` / ``'ce'`` (written as the name; resolved from the data's shapes once loaded);
* a loss object and a loss function given as metrics (a serialized loss, a function reference);
* a layer object as an activation: Keras's weights file holds its empty ``<layer>/activation/vars`` group;
* loading weights is atomic when the optimizer part of the file is what fails;
* ``Sequential`` draws the initial weights straight into the flat vector (no copy when building).

The ``saving_fixtures/compile_*`` and ``leaky_relu_object_activation_rmsprop`` files were recorded by Keras 3.15
(``saving_fixtures/record_keras.py``); their ``logs`` are Keras's logs of one more step after loading.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from gradfit import backend
from gradfit.keras import Input, Sequential, layers, losses, metrics, optimizers
from gradfit.keras.models import load_model
from gradfit.saving import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::gradfit.GradfitAdvice")

FIXTURES = Path(__file__).resolve().parent / "saving_fixtures"
RECORDED = ["compile_loss_weights_weighted_metrics", "compile_crossentropy_loss_function_metric"]
LAYER_ACTIVATION = "leaky_relu_object_activation_rmsprop"


def _data(n: int = 16, classes: int = 0, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    if classes:
        return x, np.eye(classes, dtype="float32")[np.argmax(x[:, :classes], axis=1)]
    return x, (x[:, :1] > 0).astype("float32")


def _compile_config(path_or_bytes) -> dict:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with zipfile.ZipFile(source) as zf:
        return json.loads(zf.read("config.json"))["compile_config"]


def _saved(model, tmp_path, name="m.keras") -> Path:
    path = tmp_path / name
    model.save(path)
    return path


def _snapshot(model):
    opt = model.optimizer
    state = [np.array(v).tobytes() for _, v in opt.keras_variables()] + [opt.iterations, float(opt.learning_rate)]
    return [w.tobytes() for w in model.get_weights()], state


# ------------------------------------------------------------------------------------------- Keras's files


@pytest.mark.parametrize("name", RECORDED + [LAYER_ACTIVATION])
def test_keras_file_resumes_with_keras_logs(name):
    """Keras's compile settings read back: one more step gives Keras's loss (loss_weights applied) and metrics."""
    with np.load(FIXTURES / f"{name}.expected.npz") as f:
        expected = {k: f[k] for k in f.files}
    model = load_model(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["pred"], atol=1e-6)
    logs = model.fit(expected["x_fit"], expected["y_fit"], epochs=1, batch_size=32, shuffle=False, verbose=0).history
    theirs = json.loads(str(expected["logs"]))
    assert sorted(logs) == sorted(theirs)
    for key, value in theirs.items():
        np.testing.assert_allclose(logs[key], value, rtol=1e-5, err_msg=key)


def test_keras_loss_weights_and_weighted_metrics_are_read_as_given():
    model = load_model(FIXTURES / "compile_loss_weights_weighted_metrics.keras")
    assert model._loss_weights == 0.5 and model._loss_weight == 0.5
    assert model._weighted_metric_ids[0] == "mae"
    assert isinstance(model._weighted_metric_ids[1], metrics.BinaryAccuracy)
    assert model._weighted_metric_ids[1].threshold == pytest.approx(0.4)
    assert isinstance(model._metric_ids[1], losses.BinaryCrossentropy)  # a loss given as a metric, as in Keras
    assert model._metric_ids[1].name == "smoothed_bce" and model._metric_ids[1].label_smoothing == 0.1
    other = load_model(FIXTURES / "compile_crossentropy_loss_function_metric.keras")
    assert other.loss == "crossentropy" and other._loss_weights == [2.0] and other._loss_weight == 2.0
    assert other._metric_ids[0] is losses.categorical_crossentropy  # the function, as Keras loads it


@pytest.mark.parametrize("name", RECORDED + [LAYER_ACTIVATION])
def test_gradfit_writes_keras_compile_config_back(name, tmp_path):
    """Loaded from Keras's file and saved by gradfit, ``compile_config`` is Keras's (the optimizer aside)."""
    theirs = _compile_config(FIXTURES / f"{name}.keras")
    ours = _compile_config(_saved(load_model(FIXTURES / f"{name}.keras"), tmp_path))
    for config in (theirs, ours):
        config.pop("optimizer")
        for m in (config.get("metrics") or []) + (config.get("weighted_metrics") or []):
            if isinstance(m, dict) and isinstance(m.get("config"), dict):
                m["config"].pop("dtype", None)  # Keras writes a metric's dtype; gradfit's may be None
    assert ours == theirs


# ------------------------------------------------------------------------------------------- gradfit's files


def test_loss_weights_and_weighted_metrics_round_trip(tmp_path):
    x, y = _data()
    w = np.linspace(0.1, 2.0, len(x)).astype("float32")
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        loss_weights={"out": 0.25},
        metrics=["mae"],
        weighted_metrics=["accuracy", metrics.BinaryAccuracy(threshold=0.3, name="low")],
    )
    model.fit(x, y, sample_weight=w, epochs=2, batch_size=8, verbose=0)
    config = _compile_config(_saved(model, tmp_path))
    assert config["loss_weights"] == {"out": 0.25}
    assert config["weighted_metrics"][0] == "accuracy"
    assert config["weighted_metrics"][1]["class_name"] == "BinaryAccuracy"
    assert config["weighted_metrics"][1]["config"]["threshold"] == 0.3
    again = load_model(tmp_path / "m.keras")
    assert again._loss_weights == {"out": 0.25} and again._loss_weight == 0.25
    ours = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    theirs = again.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert ours == theirs and set(theirs) == {"loss", "mae", "accuracy", "low"}
    h1 = model.fit(x, y, sample_weight=w, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    h2 = again.fit(x, y, sample_weight=w, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    assert h1 == h2


@pytest.mark.parametrize("loss_weights", [0.5, [2.0], (3.0,)])
def test_loss_weights_forms_are_written_as_keras_writes_them(loss_weights, tmp_path):
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", loss_weights=loss_weights)
    config = _compile_config(_saved(model, tmp_path))
    assert config["loss_weights"] == (list(loss_weights) if isinstance(loss_weights, tuple) else loss_weights)
    assert load_model(tmp_path / "m.keras")._loss_weight == float(np.ravel(loss_weights)[0])


@pytest.mark.parametrize(
    "bad, pattern",
    [
        ("2.0", "loss_weights.*float"),
        ([1.0, 2.0], "loss_weights.*1 loss.*2"),
        ([[1.0]], "finite number"),
        ({"a": "x"}, "finite number"),
        (True, "loss_weights"),
    ],
)
def test_bad_loss_weights_in_a_file_are_refused(bad, pattern, tmp_path):
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", loss_weights=0.5)
    path = _saved(model, tmp_path)
    _rewrite_compile_config(path, lambda c: c.update(loss_weights=bad))
    with pytest.raises(ModelFileError, match=f"compile_config.loss_weights.*{pattern}"):
        load_model(path)


def _rewrite_compile_config(path: Path, change) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    change(config["compile_config"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_unknown_weighted_metric_in_a_file_is_refused(tmp_path):
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", weighted_metrics=["accuracy"])
    path = _saved(model, tmp_path)
    _rewrite_compile_config(path, lambda c: c.update(weighted_metrics=["accuracy", "os.system"]))
    with pytest.raises(ModelFileError, match=r"weighted_metrics\[1\].*os.system"):
        load_model(path)


@pytest.mark.parametrize("name, classes", [("crossentropy", 0), ("ce", 3), ("CrossEntropy", 0)])
def test_crossentropy_loss_round_trips(name, classes, tmp_path):
    x, y = _data(classes=classes)
    units, act = (classes, "softmax") if classes else (1, "sigmoid")
    model = Sequential([Input((4,)), layers.Dense(units, activation=act)])
    model.compile(optimizer="adam", loss=name, metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    assert _compile_config(_saved(model, tmp_path))["loss"] == name  # as Keras writes it: the name as given
    again = load_model(tmp_path / "m.keras")
    assert again.loss == name
    assert again.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    h1 = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    h2 = again.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    assert h1 == h2


def test_loss_object_and_loss_function_metrics_round_trip(tmp_path):
    x, y = _data(classes=3)
    model = Sequential([Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=[losses.categorical_crossentropy, losses.CategoricalCrossentropy(label_smoothing=0.2, name="ls")],
    )
    model.fit(x, y, epochs=1, verbose=0)
    config = _compile_config(_saved(model, tmp_path))
    assert config["metrics"][0] == {
        "module": "builtins",
        "class_name": "function",
        "config": "categorical_crossentropy",
        "registered_name": "function",
    }
    assert config["metrics"][1]["module"] == "keras.losses"
    assert config["metrics"][1]["class_name"] == "CategoricalCrossentropy"
    again = load_model(tmp_path / "m.keras")
    assert again._metric_ids[0] is losses.categorical_crossentropy
    assert isinstance(again._metric_ids[1], losses.CategoricalCrossentropy)
    ours = model.evaluate(x, y, verbose=0, return_dict=True)
    assert again.evaluate(x, y, verbose=0, return_dict=True) == ours
    assert set(ours) == {"loss", "categorical_crossentropy", "ls"}


def test_unsaveable_metric_is_refused_at_save_naming_it(tmp_path):
    x, y = _data()
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])

    def my_metric(y_true, y_pred):
        return np.abs(y_true - y_pred).mean(axis=-1)

    model.compile(optimizer="sgd", loss="binary_crossentropy", weighted_metrics=[my_metric])
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"my_metric.*weighted_metrics=.*no code"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_loss_in_metrics_from_a_file_is_checked_by_its_schema(tmp_path):
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="mse", metrics=[losses.BinaryCrossentropy()])
    path = _saved(model, tmp_path)
    _rewrite_compile_config(path, lambda c: c["metrics"][0]["config"].update(from_logits="false"))
    with pytest.raises(ModelFileError, match=r"metrics\[0\].*from_logits"):
        load_model(path)


# ------------------------------------------------------------------------------------------- layer activations


def _h5_groups(data: bytes) -> dict:
    out = {}
    with h5py.File(io.BytesIO(data)) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, dict(obj.attrs)) if isinstance(obj, h5py.Group) else None)
    return out


def _weights_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read("model.weights.h5")


def test_layer_activation_groups_are_written_as_keras_writes_them(tmp_path):
    keras_groups = _h5_groups(_weights_bytes(FIXTURES / f"{LAYER_ACTIVATION}.keras"))
    model = load_model(FIXTURES / f"{LAYER_ACTIVATION}.keras")
    ours = _h5_groups(_weights_bytes(_saved(model, tmp_path)))
    strip = {"name"}  # layer names differ by the counters of the session that made them
    assert {k: set(v) - strip for k, v in ours.items()} == {k: set(v) - strip for k, v in keras_groups.items()}
    assert "layers/dense/activation/vars" in ours and "layers/dense_1/activation/vars" in ours
    assert ours["layers/dense/activation/vars"]["name"] == model.layers[0].activation.layer.name


def test_nested_layer_activation_weights_round_trip(tmp_path):
    x, _ = _data()
    model = Sequential([Input((4,)), layers.Dense(3, activation=layers.Activation(layers.LeakyReLU(0.3)))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :3], epochs=1, verbose=0)
    model.save_weights(tmp_path / "m.weights.h5")
    groups = _h5_groups((tmp_path / "m.weights.h5").read_bytes())
    assert "layers/dense/activation/activation/vars" in groups  # as Keras nests a layer's sub-layers
    again = Sequential([Input((4,)), layers.Dense(3, activation=layers.Activation(layers.LeakyReLU(0.3)))])
    again.compile(optimizer="adam", loss="mse")
    again.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def _with_activation_entry(path: Path, out: Path, key: str, value) -> None:
    """A copy of the archive at ``path`` with ``value`` stored under ``key`` in its weights file."""
    data = io.BytesIO(_weights_bytes(path))
    with h5py.File(data, "a") as f:
        f[key] = value
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, data.getvalue() if n == "model.weights.h5" else zin.read(n))


def test_layer_activation_group_that_holds_something_is_refused(tmp_path):
    bad = tmp_path / "bad.keras"
    _with_activation_entry(FIXTURES / f"{LAYER_ACTIVATION}.keras", bad, "layers/dense/activation/vars/0", [1.0])
    with pytest.raises(ModelFileError, match=r"/layers/dense/activation/vars.*LeakyReLU.*no weights.*1 entr"):
        load_model(bad)
    other = tmp_path / "other.keras"
    _with_activation_entry(FIXTURES / f"{LAYER_ACTIVATION}.keras", other, "layers/dense/activation/extra", [1.0])
    with pytest.raises(ModelFileError, match=r"/layers/dense/activation: unexpected entries \['extra'\]"):
        load_model(other)


def test_activation_group_of_a_layer_without_layer_activation_is_refused(tmp_path):
    x, _ = _data()
    model = Sequential([Input((4,)), layers.Dense(2, activation="relu")])
    model.compile(optimizer="sgd", loss="mse")
    path, bad = _saved(model, tmp_path), tmp_path / "bad.keras"
    _with_activation_entry(path, bad, "layers/dense/activation/vars/0", [1.0])
    before = model.get_weights()
    with pytest.raises(ModelFileError, match=r"/layers/dense: unexpected entries \['activation'\]"):
        load_model(bad)
    with pytest.raises(ModelFileError, match="unexpected entries"):
        model.load_weights(bad)
    for a, b in zip(before, model.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_file_without_the_activation_group_still_loads(tmp_path):
    """Files gradfit wrote before it wrote the group (Keras writes it) are read too."""
    path = tmp_path / "old.keras"
    data = io.BytesIO(_weights_bytes(FIXTURES / f"{LAYER_ACTIVATION}.keras"))
    with h5py.File(data, "a") as f:
        del f["layers/dense/activation"]
    with zipfile.ZipFile(FIXTURES / f"{LAYER_ACTIVATION}.keras") as zin, zipfile.ZipFile(path, "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, data.getvalue() if n == "model.weights.h5" else zin.read(n))
    with np.load(FIXTURES / f"{LAYER_ACTIVATION}.expected.npz") as f:
        x, pred = f["x"], f["pred"]
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), pred, atol=1e-6)


# ------------------------------------------------------------------------------------------- atomic loading


def _ftrl_model():
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Ftrl(0.1), loss="binary_crossentropy")
    return model


def test_refused_learning_rate_in_the_optimizer_state_changes_nothing(tmp_path):
    """The learning rate passes the generic check (finite, non-negative) but not Ftrl's own (positive): the file
    is refused before any layer weight is written."""
    x, y = _data()
    backend.set_seed(0)
    saved = _ftrl_model()
    saved.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.weights.h5"
    saved.save_weights(path)
    with h5py.File(path, "a") as f:
        f["optimizer/vars/1"][()] = 0.0
    backend.set_seed(1)
    model = _ftrl_model()
    model.fit(x, y, epochs=1, verbose=0)
    before = _snapshot(model)
    with pytest.raises(ModelFileError, match=r"/optimizer/vars/1 \(learning_rate\).*Ftrl.*positive"):
        model.load_weights(path)
    assert _snapshot(model) == before
    keras_path = tmp_path / "m.keras"
    saved.save(keras_path)
    _swap_weights(keras_path, path)
    with pytest.raises(ModelFileError, match="learning_rate"):
        load_model(keras_path)


def _swap_weights(keras_path: Path, weights_path: Path) -> None:
    with zipfile.ZipFile(keras_path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["model.weights.h5"] = weights_path.read_bytes()
    with zipfile.ZipFile(keras_path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_optimizer_state_that_does_not_fit_the_model_changes_nothing(monkeypatch, tmp_path):
    """The last check before assigning: the state's variables against the model's own trainable weights (here
    made to disagree by a reader that drops a weight's slot); nothing is written when it fails."""
    from gradfit.saving import optimizer_state

    x, y = _data()
    model = Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    model.fit(x, y, epochs=1, verbose=0)
    before = _snapshot(model)
    real = optimizer_state.read_optimizer

    def misread(*args):
        iterations, lr, variables = real(*args)
        return iterations, lr, [v[:1] if v.ndim else v for v in variables]

    monkeypatch.setattr(optimizer_state, "read_optimizer", misread)
    with pytest.raises(ModelFileError, match="optimizer state.*do not fit"):
        model.load_weights(path)
    assert _snapshot(model) == before


# ------------------------------------------------------------------------------------------- building copy-free


def _traced_peak(make) -> tuple[int, object]:
    tracemalloc.start()
    try:
        model = make()
        model.parameter_store  # noqa: B018 - bound, as at first use
        return tracemalloc.get_traced_memory()[1], model
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sequential([Input((512,)), layers.Dense(1024)]),
        lambda: _built(Sequential([layers.Dense(600), layers.Dense(400), layers.Dense(10)]), (None, 300)),
    ],
    ids=["input_dense", "build"],
)
def test_building_costs_the_weights_and_gradients_once(make, monkeypatch):
    from gradfit import initializers

    monkeypatch.setattr(initializers, "CHUNK", 1 << 12)  # the initializers' float64 chunk: small beside the weights
    peak, model = _traced_peak(make)
    store = model.parameter_store
    assert all(w.base is store.values for w in (lay.kernel for lay in model.layers))
    # the flat vector and its gradient (2 W); the copy of before made it 4 W
    assert peak < 2.5 * store.values.nbytes


def _built(model, shape):
    model.build(shape)
    return model


def test_copy_free_build_draws_the_same_numbers():
    """The numbers drawn are those of a build that gathers (a copy): the layout changes where, not what."""
    from gradfit import parameters

    def weights():
        backend.set_seed(7)
        model = Sequential(
            [Input((5,)), layers.Dense(4), layers.BatchNormalization(), layers.Dense(2, kernel_initializer="he_normal")]
        )
        return [w.copy() for w in model.get_weights()], model

    fresh, model = weights()
    assert model.layers[0].kernel.base is model.parameter_store.values
    with parameters.preallocated([(1,)], "float32"):  # someone else's layout: _build_layers does not lay its own
        gathered, other = weights()
    assert other.layers[0].kernel.base is other.parameter_store.values  # gathered into a store of its own
    for a, b in zip(fresh, gathered):
        assert a.tobytes() == b.tobytes()


def test_wrong_prediction_falls_back_to_gathering(monkeypatch):
    monkeypatch.setattr(layers.Dense, "keras_weights", lambda self, shape: [("kernel", (1, 1), True, "float32")])
    backend.set_seed(3)
    model = Sequential([Input((6,)), layers.Dense(3)])
    assert model.layers[0].kernel.shape == (6, 3) and model.layers[0].kernel.base is model.parameter_store.values
    monkeypatch.setattr(layers.Dense, "keras_weights", lambda self, shape: 1 / 0)
    model = Sequential([Input((6,)), layers.Dense(3)])
    assert model.parameter_store.size == 21


def test_run_options_round_trip(tmp_path):
    """``steps_per_execution``, ``run_eagerly`` and ``jit_compile`` are written as compile() kept them, and read."""
    model = Sequential([Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", steps_per_execution=4, run_eagerly=True)
    config = _compile_config(_saved(model, tmp_path))
    assert (config["steps_per_execution"], config["run_eagerly"], config["jit_compile"]) == (4, True, False)
    again = load_model(tmp_path / "m.keras")
    assert (again.steps_per_execution, again.run_eagerly, again.jit_compile) == (4, True, False)
