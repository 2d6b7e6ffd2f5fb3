"""``model.activations(x)``: every layer's output ``a[l]``, named by layer, as a forward pass computes it."""

from __future__ import annotations

import numpy as np
import pytest

from gradfit.keras import Sequential
from gradfit.keras.layers import BatchNormalization, Dense, Dropout, Input


def _model(seed: int = 0) -> Sequential:
    import gradfit

    gradfit.keras.utils.set_random_seed(seed)
    return Sequential(
        [
            Input(shape=(3,)),
            Dense(5, activation="relu", name="hidden"),
            Dropout(0.5, name="drop"),
            BatchNormalization(name="norm"),
            Dense(2, activation="softmax", name="out"),
        ]
    )


def _x(m: int = 70, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(m, 3)).astype(np.float32)


def test_each_entry_is_the_layer_s_output_of_a_manual_forward_pass():
    model, x = _model(), _x()
    acts = model.activations(x)
    assert list(acts) == [layer.name for layer in model.layers] == ["hidden", "drop", "norm", "out"]
    a = x
    for layer in model.layers:  # a[l] = layer_l(a[l-1]), in inference mode, by hand
        a = np.asarray(layer(a, training=False))
        np.testing.assert_allclose(acts[layer.name], a, rtol=1e-6, atol=1e-7)
    kernel, bias = model.get_layer("hidden").kernel, model.get_layer("hidden").bias
    np.testing.assert_allclose(acts["hidden"], np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(acts["drop"], acts["hidden"])  # inference: Dropout passes its input through


def test_the_last_entry_is_predict_s_result_for_any_batch_size():
    model, x = _model(), _x(m=70)
    for batch_size in (None, 7, 70, 1000):
        acts = model.activations(x, batch_size=batch_size)
        np.testing.assert_array_equal(acts["out"], model.predict(x, batch_size=batch_size, verbose=0))
    whole = model.activations(x, batch_size=len(x))
    batched = model.activations(x, batch_size=8)  # 9 batches, the last of 6 rows
    for name in whole:
        np.testing.assert_allclose(batched[name], whole[name], rtol=1e-6, atol=1e-7)


def test_names_are_unique_and_arrays_are_new():
    model, x = _model(), _x()
    first = model.activations(x)
    assert len(set(first)) == len(model.layers)
    ids = {id(a) for a in first.values()}
    assert len(ids) == len(first)  # Dropout's output is its input: still a separate array
    kept = {k: v.copy() for k, v in first.items()}
    model.activations(_x(seed=2))  # the layers' buffers are reused; the first result must not change
    model.predict(_x(seed=3), verbose=0)
    for name in kept:
        np.testing.assert_array_equal(first[name], kept[name])
    first["hidden"][...] = 0  # nor does writing into a result touch the next one
    assert np.any(model.activations(x)["hidden"] != 0)


def test_an_unbuilt_model_is_built_for_x_as_predict_builds_it():
    import gradfit

    gradfit.keras.utils.set_random_seed(3)
    model = Sequential([Dense(4, activation="tanh", name="a"), Dense(1, name="b")])
    assert not model.built
    acts = model.activations(_x(m=5))
    assert model.built and model.input_shape == (None, 3)
    assert acts["a"].shape == (5, 4) and acts["b"].shape == (5, 1)
    np.testing.assert_array_equal(acts["b"], model.predict(_x(m=5), verbose=0))


def test_training_true_runs_the_layers_as_fit_does():
    model, x = _model(), _x(m=64)
    moving_before = np.array(model.get_layer("norm").moving_mean)
    acts = model.activations(x, batch_size=64, training=True)
    dropped = acts["drop"] == 0
    assert dropped.any() and not (acts["hidden"] == 0).all()  # Dropout(0.5) drops while training
    kept = ~dropped
    np.testing.assert_allclose(acts["drop"][kept], 2 * acts["hidden"][kept], rtol=1e-6)  # 1 / (1 - rate)
    np.testing.assert_allclose(acts["norm"].mean(axis=0), 0, atol=1e-5)  # the batch's own statistics
    assert not np.array_equal(model.get_layer("norm").moving_mean, moving_before)  # and the moving averages move


def test_empty_x_gives_empty_outputs_of_the_layers_shapes():
    model = _model()
    acts = model.activations(np.zeros((0, 3), np.float32))
    assert {k: v.shape for k, v in acts.items()} == {"hidden": (0, 5), "drop": (0, 5), "norm": (0, 5), "out": (0, 2)}


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="no layers"):
        Sequential().activations(_x())
    model = _model()
    with pytest.raises(ValueError, match="features per example"):
        model.activations(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="reshape"):
        model.activations(np.zeros(3))
    with pytest.raises(ValueError, match="NaN|finite"):
        model.activations(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="batch_size"):
        model.activations(_x(), batch_size=0)
    with pytest.raises(ValueError, match="training"):
        model.activations(_x(), training="yes")
    model.get_layer("drop").name = "hidden"  # renamed after it was added: two outputs by one name
    with pytest.raises(ValueError, match="unique name"):
        model.activations(_x())


def test_plot_units_draws_the_layer_s_entry_of_model_activations(monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from gradfit import plot

    model = Sequential([Input(shape=(2,)), Dense(3, activation="sigmoid", name="units"), Dense(1)])
    calls = []
    original = Sequential.activations

    def recording(self, x, *args, **kwargs):
        result = original(self, x, *args, **kwargs)
        calls.append((len(x), kwargs.get("training", False)))
        return result

    monkeypatch.setattr(Sequential, "activations", recording)
    x = np.random.default_rng(0).normal(size=(10, 2))
    fig = plot.plot_units(model, x, layer="units", resolution=7)
    assert calls == [(49, False)]  # the 7 x 7 grid, in inference mode
    grid = plot._plane_grid(x, 7, 0.1)[2]
    expected = original(model, grid)["units"]
    shown = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images][:3]
    for j, image in enumerate(shown):
        np.testing.assert_allclose(image.ravel(), expected[:, j], rtol=1e-6)
    import matplotlib.pyplot as plt

    plt.close(fig)
