"""Pickling a model as Keras 3 does: ``Model.__reduce__`` hands pickle the model's in-memory ``.keras`` archive
(config, weights, optimizer state), and unpickling rebuilds it through the safe loader (``saving/pickling.py``)."""

from __future__ import annotations

import copy
import io
import pickle
import pickletools
import zipfile

import numpy as np
import pytest

import gradfit
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense, Dropout
from gradfit.saving import ModelFileError
from gradfit.saving.pickling import model_from_bytes, model_to_bytes


def _data(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def _model(optimizer="rmsprop"):
    gradfit.random.set_seed(1)
    model = Sequential([Input(shape=(3,)), Dense(5, activation="relu"), Dropout(0.1), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def _same_weights(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_the_pickle_holds_only_a_keras_archive_and_the_loader():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    payload = pickle.dumps(model, protocol=4)
    arguments = [arg for _, arg, _ in pickletools.genops(payload) if isinstance(arg, (str, bytes))]
    assert [a for a in arguments if isinstance(a, str)] == ["gradfit.saving.pickling", "model_from_bytes"]
    (archive_bytes,) = [a for a in arguments if isinstance(a, bytes)]
    assert archive_bytes.startswith(b"PK")  # the one object: the archive's bytes
    function, (data,) = model.__reduce__()
    assert function is model_from_bytes and isinstance(data, bytes)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]  # a .keras file, in memory


def test_a_fitted_model_comes_back_identical_and_continues():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert twin is not model and twin.name == model.name and twin.compiled and twin.built
        assert _same_weights(twin, model)
        np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
        assert twin.optimizer.iterations == model.optimizer.iterations and twin.optimizer is not model.optimizer
        assert twin.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)  # loss and accuracy
    twin = pickle.loads(pickle.dumps(model))
    gradfit.random.set_seed(5)
    model.fit(x, y, epochs=2, verbose=0)
    gradfit.random.set_seed(5)
    twin.fit(x, y, epochs=2, verbose=0)
    assert _same_weights(twin, model)  # RMSprop's state travelled: bitwise (Dropout and shuffling seeded alike)


def test_unbuilt_and_untrained_models_pickle_too():
    """GridSearchCV pickles the estimator, whose ``model`` may be a model not yet built, or compiled and unfit."""
    unbuilt = Sequential([Dense(4, activation="relu"), Dense(1)], name="later")
    again = pickle.loads(pickle.dumps(unbuilt))
    assert (
        not again.built and not again.compiled and again.name == "later" and [la.units for la in again.layers] == [4, 1]
    )
    unbuilt.compile(loss="mse", optimizer="adam")
    again = pickle.loads(pickle.dumps(unbuilt))
    assert not again.built and again.compiled and type(again.optimizer).__name__ == "Adam"
    with zipfile.ZipFile(io.BytesIO(model_to_bytes(unbuilt))) as zf:
        assert zf.namelist() == ["metadata.json", "config.json"]  # no weights yet
    x, y = _data()
    again.fit(x, y, epochs=1, verbose=0)
    assert again.built and again.optimizer.iterations == 2

    untrained = _model()
    again = pickle.loads(pickle.dumps(untrained))
    assert again.built and again.compiled and again.optimizer.iterations == 0 and _same_weights(again, untrained)


def test_unpickling_leaves_the_random_stream_alone():
    x, y = _data()
    model = _model()
    payload = pickle.dumps(model)
    gradfit.random.set_seed(9)
    expected = gradfit.backend.rng().random(3)
    gradfit.random.set_seed(9)
    pickle.loads(payload)  # building draws initial weights, overwritten by the pickled ones
    np.testing.assert_array_equal(gradfit.backend.rng().random(3), expected)


def test_a_model_with_custom_parts_says_what_cannot_be_pickled():
    def squared(t, p):
        return ((t - p) ** 2).mean(axis=-1)

    model = Sequential([Input(shape=(3,)), Dense(1)])
    model.compile(loss=gradfit.losses.custom(squared, grad=lambda t, p: 2 * (p - t)), optimizer="sgd")
    with pytest.raises(TypeError, match=r"cannot pickle the model 'sequential.*'.*Cannot save the loss.*squared"):
        pickle.dumps(model)


def test_deepcopy_copies_the_objects_custom_parts_and_optimizer_state_bit_for_bit():
    """``copy.deepcopy`` does not go through the file format: a custom loss copies, and Adam's moments (kept
    scaled in gradfit, unscaled float32 in a .keras file) come across exactly, so both twins train the same."""
    x, y = _data()
    model = Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(1)])
    model.compile(
        loss=gradfit.losses.custom(lambda t, p: ((t - p) ** 2).mean(axis=-1), grad=lambda t, p: 2 * (p - t)),
        optimizer="adam",
    )
    model.fit(x, y, epochs=2, verbose=0, shuffle=False)
    twin = copy.deepcopy(model)
    model.fit(x, y, epochs=2, verbose=0, shuffle=False)
    twin.fit(x, y, epochs=2, verbose=0, shuffle=False)
    assert _same_weights(model, twin)
    twin.layers[0].kernel[...] = 0.0  # independent storage
    assert np.abs(model.layers[0].kernel).sum() > 0


def test_unpickling_goes_through_the_safe_loader():
    """The bytes are checked as any .keras file is: a tampered pickle is refused by the loader, not run."""
    with pytest.raises(ModelFileError, match="<pickled model>.*not a .keras archive"):
        model_from_bytes(b"not a zip file")
    data = model_to_bytes(_model())
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
        target.writestr("payload.pkl", b"cos\nsystem\n")
    with pytest.raises(ModelFileError, match="unexpected archive member 'payload.pkl'"):
        model_from_bytes(buffer.getvalue())
