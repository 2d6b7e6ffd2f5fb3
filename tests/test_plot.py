"""``gradfit.plot``: every figure is rendered headless (Agg) and its content checked, not only that it ran."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import gradfit  # noqa: E402
from gradfit import plot  # noqa: E402
from gradfit.keras import Sequential  # noqa: E402
from gradfit.keras.layers import Dense  # noqa: E402
from gradfit.keras.losses import SparseCategoricalCrossentropy  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def agg(monkeypatch):
    """Draw with the non-interactive Agg backend and close every figure after each test."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


# --------------------------------------------------------------------------------------------- data and models


@pytest.fixture
def blobs2d() -> tuple[np.ndarray, np.ndarray]:
    """60 points in the plane, label 1 where x1 + x2 > 0 (column of 0/1)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X.sum(axis=1) > 0).astype(np.float64).reshape(-1, 1)
    return X, y


@pytest.fixture
def binary_model(blobs2d) -> Sequential:
    """The coffee-roasting lab's shape: 2 inputs, 3 sigmoid units, 1 sigmoid output, trained a few epochs."""
    gradfit.keras.utils.set_random_seed(1)
    X, y = blobs2d
    model = Sequential([Dense(3, activation="sigmoid", name="layer1"), Dense(1, activation="sigmoid", name="layer2")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, y, epochs=5, verbose=0)
    return model


@pytest.fixture
def three_classes() -> tuple[np.ndarray, np.ndarray]:
    """90 points in the plane in 3 classes (integer labels, shape (m,))."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(90, 2))
    y = np.argmax(np.column_stack([X[:, 0], X[:, 1], -X[:, 0] - X[:, 1]]), axis=1)
    return X, y


@pytest.fixture
def softmax_model(three_classes) -> Sequential:
    """2 inputs, 3 softmax outputs."""
    gradfit.keras.utils.set_random_seed(3)
    X, y = three_classes
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(X, y, epochs=5, verbose=0)
    return model


def grid_points(X: np.ndarray, resolution: int, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first and last grid point the plots evaluate: the lower-left and upper-right corners."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = (hi - lo) * margin
    return lo - pad, hi + pad


def line_styles(ax) -> list[str]:
    return [line.get_linestyle() for line in ax.get_lines()]


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


# --------------------------------------------------------------------------------------------- import and backend


def test_importing_gradfit_does_not_import_matplotlib():
    code = "import sys, gradfit, gradfit.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_a_display_the_agg_backend_is_used():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    code = (
        "import matplotlib, gradfit.plot as p; "
        "fig = p.plot_history({'loss': [1.0, 0.5]}); print(matplotlib.get_backend().lower())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "agg"


# --------------------------------------------------------------------------------------------- plot_history


def test_history_draws_one_panel_per_metric_with_validation_dashed(binary_model, blobs2d):
    X, y = blobs2d
    history = binary_model.fit(X, y, epochs=4, validation_split=0.25, verbose=0)
    fig = plot.plot_history(history)
    assert sorted(titles(fig)) == ["accuracy", "loss"]
    for ax in fig.axes:
        name = ax.get_title()
        assert line_styles(ax) == ["-", "--"]
        train, val = ax.get_lines()
        assert train.get_label() == name and val.get_label() == "val_" + name
        np.testing.assert_allclose(train.get_ydata(), history.history[name])
        np.testing.assert_allclose(val.get_ydata(), history.history["val_" + name])
        np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
        assert ax.get_xlabel() == "epoch"


def test_history_without_validation_has_solid_lines_only():
    fig = plot.plot_history({"loss": [0.9, 0.7, 0.6]})
    (ax,) = fig.axes
    assert ax.get_title() == "loss"
    assert line_styles(ax) == ["-"]
    assert ax.get_yscale() == "linear"


def test_history_metrics_argument_selects_panels():
    logs = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.9], "val_loss": [1.1, 0.6]}
    fig = plot.plot_history(logs, metrics=["loss"])
    assert titles(fig) == ["loss"]
    assert line_styles(fig.axes[0]) == ["-", "--"]


def test_history_gradient_norms_share_one_log_scaled_panel():
    logs = {
        "loss": [1.0, 0.8, 0.7],
        "val_loss": [1.1, 0.9, 0.8],
        "grad_norm/dense": [1e-2, 1e-4, 1e-6],
        "grad_norm/dense_1": [0.5, 0.4, 0.3],
        "grad_norm/dense_2": [1.0, 0.9, 0.8],
    }
    fig = plot.plot_history(logs)
    assert titles(fig) == ["loss", "gradient norm per layer"]
    grad_ax = fig.axes[1]
    assert grad_ax.get_yscale() == "log"
    assert [line.get_label() for line in grad_ax.get_lines()] == ["dense", "dense_1", "dense_2"]
    np.testing.assert_allclose(grad_ax.get_lines()[0].get_ydata(), [1e-2, 1e-4, 1e-6])
    assert fig.axes[0].get_yscale() == "linear"
    assert not any(t.startswith("grad_norm/") for t in titles(fig))


def test_history_zero_gradient_norm_leaves_a_gap_on_the_log_axis():
    fig = plot.plot_history({"loss": [1.0, 0.9], "grad_norm/dense": [0.0, 0.1]})
    line = fig.axes[1].get_lines()[0]
    assert np.isnan(line.get_ydata()[0]) and line.get_ydata()[1] == pytest.approx(0.1)


def test_history_with_only_gradient_norms_selected():
    logs = {"loss": [1.0, 0.9], "grad_norm/dense": [0.2, 0.1]}
    fig = plot.plot_history(logs, metrics=["grad_norm/dense"])
    assert titles(fig) == ["gradient norm per layer"]


def test_history_wraps_many_panels_into_rows():
    logs = {name: [1.0, 0.5] for name in ("loss", "accuracy", "mse", "mae", "auc")}
    fig = plot.plot_history(logs)
    assert len(fig.axes) == 5
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(rows) == 2


def test_history_errors_are_clear():
    with pytest.raises(ValueError, match="empty"):
        plot.plot_history({})
    with pytest.raises(ValueError, match="no series 'accuracy'"):
        plot.plot_history({"loss": [1.0]}, metrics=["accuracy"])


# --------------------------------------------------------------------------------------------- plot_digits


@pytest.fixture
def tiny_digits() -> tuple[np.ndarray, np.ndarray]:
    """12 random 4x4 'images' with labels 0..2."""
    rng = np.random.default_rng(4)
    return rng.random((12, 16)), (np.arange(12) % 3).reshape(-1, 1)


def test_digits_titles_label_and_prediction_with_mistakes_in_red(tiny_digits):
    X, y = tiny_digits
    y_pred = y[:, 0].copy()
    y_pred[[1, 5, 7]] = (y_pred[[1, 5, 7]] + 1) % 3
    fig = plot.plot_digits(X, y, y_pred, n=12)
    assert fig._suptitle.get_text() == "label,yhat"
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 12
    red = 0
    for ax in shown:
        label, yhat = ax.get_title().split(",")
        colour = matplotlib.colors.to_hex(ax.title.get_color())
        assert colour == ("#ff0000" if label != yhat else "#000000")
        red += label != yhat
        assert ax.images[0].get_array().shape == (4, 4)
    assert red == 3


def test_digits_images_are_column_major_as_in_the_course(tiny_digits):
    X, y = tiny_digits
    fig = plot.plot_digits(X[:1], y[:1], n=1)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), X[0].reshape(4, 4).T)
    assert fig._suptitle.get_text() == "label"
    assert fig.axes[0].get_title() == "0"


def test_digits_turn_probabilities_into_labels(tiny_digits):
    X, y = tiny_digits
    probs = np.eye(3)[y[:, 0]] * 0.8 + 0.05  # the argmax is the true label everywhere
    fig = plot.plot_digits(X, y, probs, n=12)
    assert all(ax.get_title().split(",")[0] == ax.get_title().split(",")[1] for ax in fig.axes if ax.images)
    binary = np.where(np.arange(12) % 2 == 0, 0.9, 0.2)
    fig = plot.plot_digits(X, np.arange(12) % 2 == 0, binary, n=12)
    assert not any(matplotlib.colors.to_hex(ax.title.get_color()) == "#ff0000" for ax in fig.axes if ax.images)


def test_digits_refuse_rows_that_are_not_square_images():
    with pytest.raises(ValueError, match="not square"):
        plot.plot_digits(np.zeros((3, 10)), np.zeros(3))


# --------------------------------------------------------------------------------------------- plot_decision_boundary


def test_decision_boundary_binary_shades_probability_and_draws_the_half_contour(binary_model, blobs2d):
    X, y = blobs2d
    fig = plot.plot_decision_boundary(binary_model, X, y, resolution=40)
    ax = fig.axes[0]
    assert "p = 0.5" in ax.get_title()
    assert "sigmoid" not in ax.get_title()
    (image,) = ax.images
    shading = np.asarray(image.get_array())
    assert shading.shape == (40, 40)
    assert shading.min() >= 0 and shading.max() <= 1
    lo, hi = grid_points(X, 40)
    corners = binary_model.predict(np.array([lo, hi]), verbose=0)[:, 0]
    np.testing.assert_allclose([shading[0, 0], shading[-1, -1]], corners, rtol=1e-5)
    contours = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(contours) == 1 and list(contours[0].levels) == [0.5]
    points = [c for c in ax.collections if not hasattr(c, "levels")]
    assert len(points) == 2
    assert sum(len(c.get_offsets()) for c in points) == len(X)
    assert ax.get_xlim()[0] < X[:, 0].min() and ax.get_xlim()[1] > X[:, 0].max()
    assert ax.get_ylim()[0] < X[:, 1].min() and ax.get_ylim()[1] > X[:, 1].max()
    assert len(fig.axes) == 2  # the plot and its colour bar


def test_decision_boundary_multiclass_colours_argmax_regions(softmax_model, three_classes):
    X, y = three_classes
    fig = plot.plot_decision_boundary(softmax_model, X, y, resolution=30)
    ax = fig.axes[0]
    assert "argmax of 3" in ax.get_title()
    regions = np.asarray(ax.images[0].get_array())
    assert regions.shape == (30, 30)
    assert set(np.unique(regions)) <= {0, 1, 2}
    lo, hi = grid_points(X, 30)
    corners = softmax_model.predict(np.array([lo, hi]), verbose=0).argmax(axis=1)
    np.testing.assert_array_equal([regions[0, 0], regions[-1, -1]], corners)
    points = [c for c in ax.collections if not hasattr(c, "levels")]
    assert len(points) == 3
    assert [len(c.get_offsets()) for c in points] == [int((y == k).sum()) for k in range(3)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = 0", "y = 1", "y = 2"]


def test_decision_boundary_accepts_one_hot_labels_and_logits(three_classes):
    X, y = three_classes
    gradfit.keras.utils.set_random_seed(5)
    model = Sequential([Dense(4, activation="relu"), Dense(3)])
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    model.fit(X, y, epochs=2, verbose=0)
    fig = plot.plot_decision_boundary(model, X, np.eye(3)[y], resolution=20)
    points = [c for c in fig.axes[0].collections if not hasattr(c, "levels")]
    assert len(points) == 3


def test_decision_boundary_binary_logits_go_through_sigmoid(blobs2d):
    X, y = blobs2d
    gradfit.keras.utils.set_random_seed(6)
    model = Sequential([Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X, 5 * (y - 0.5), epochs=3, verbose=0)
    fig = plot.plot_decision_boundary(model, X, y, resolution=20)
    ax = fig.axes[0]
    assert "sigmoid" in ax.get_title()
    shading = np.asarray(ax.images[0].get_array())
    assert shading.min() >= 0 and shading.max() <= 1


def test_decision_boundary_needs_two_features(binary_model):
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot.plot_decision_boundary(binary_model, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="exactly 2 features"):
        plot.plot_decision_boundary(binary_model, np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="4 examples but y has 5"):
        plot.plot_decision_boundary(binary_model, np.zeros((4, 2)), np.zeros(5))


# --------------------------------------------------------------------------------------------- plot_activations


def test_activations_one_panel_each_with_function_solid_and_derivative_dashed():
    fig = plot.plot_activations()
    assert len(fig.axes) == 5
    names = ["sigmoid", "relu", "linear", "tanh", "softmax"]
    for ax, name in zip(fig.axes, names):
        assert ax.get_title().startswith(name)
        assert "g(z" in ax.get_title()  # the formula
        assert line_styles(ax) == ["-", "--"]
    assert gradfit.activations.sigmoid.formula in fig.axes[0].get_title()
    assert "[z, 0, -z]" in fig.axes[4].get_title()


def test_activation_derivatives_are_what_gradfit_computes():
    fig = plot.plot_activations()
    curves = {ax.get_title().split("\n")[0].split(":")[0]: ax.get_lines() for ax in fig.axes}
    z = curves["sigmoid"][0].get_xdata()
    sig_g, sig_d = (line.get_ydata() for line in curves["sigmoid"])
    np.testing.assert_allclose(sig_d, sig_g * (1 - sig_g))
    assert sig_d.max() == pytest.approx(0.25, abs=1e-4)
    np.testing.assert_array_equal(curves["relu"][1].get_ydata(), (z > 0).astype(float))
    np.testing.assert_array_equal(curves["linear"][1].get_ydata(), np.ones_like(z))
    np.testing.assert_allclose(curves["tanh"][1].get_ydata(), 1 - np.tanh(z) ** 2, atol=1e-12)
    soft_g, soft_d = (line.get_ydata() for line in curves["softmax"])
    assert soft_g[len(z) // 2] == pytest.approx(1 / 3)  # z = 0: three equal inputs
    np.testing.assert_allclose(soft_d[1:-1], (soft_g[2:] - soft_g[:-2]) / (z[2:] - z[:-2]), atol=1e-3)


def test_activations_can_be_chosen_by_name():
    fig = plot.plot_activations(["gelu", "leaky_relu"], z_range=(-2, 2))
    assert [t.split("\n")[0] for t in titles(fig)] == ["gelu", "leaky_relu"]
    assert fig.axes[0].get_lines()[0].get_xdata()[[0, -1]].tolist() == [-2, 2]
    with pytest.raises(ValueError, match="Unknown activation"):
        plot.plot_activations(["sigmoidd"])


# --------------------------------------------------------------------------------------------- plot_units


def test_units_of_a_2d_model_are_heat_maps_of_their_activation(binary_model, blobs2d):
    X, _ = blobs2d
    fig = plot.plot_units(binary_model, X, resolution=25)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("unit")]
    assert [ax.get_title() for ax in panels] == ["unit 0", "unit 1", "unit 2"]
    assert all(len(ax.images) == 1 for ax in panels)
    assert len(fig.axes) == 6  # each panel has its colour bar
    layer = binary_model.layers[0]
    lo, hi = grid_points(X, 25)
    corners = np.array([lo, hi])
    expected = 1 / (1 + np.exp(-(corners @ np.asarray(layer.kernel) + np.asarray(layer.bias))))
    for j, ax in enumerate(panels):
        heat = np.asarray(ax.images[0].get_array())
        assert heat.shape == (25, 25)
        np.testing.assert_allclose([heat[0, 0], heat[-1, -1]], expected[:, j], rtol=1e-5)
        assert len(ax.collections[0].get_offsets()) == len(X)  # the examples on top
    assert "layer1" in fig._suptitle.get_text()


def test_units_of_a_later_layer_run_the_layers_before_it(binary_model, blobs2d):
    X, _ = blobs2d
    fig = plot.plot_units(binary_model, X, layer="layer2", resolution=10)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("unit")]
    assert [ax.get_title() for ax in panels] == ["unit 0"]
    lo, hi = grid_points(X, 10)
    expected = binary_model.predict(np.array([lo, hi]), verbose=0)[:, 0]
    heat = np.asarray(panels[0].images[0].get_array())
    np.testing.assert_allclose([heat[0, 0], heat[-1, -1]], expected, rtol=1e-5)
    same = plot.plot_units(binary_model, X, layer=-1, resolution=10)
    np.testing.assert_allclose(same.axes[0].images[0].get_array(), heat)


def test_units_of_a_wide_input_show_incoming_weights_as_images():
    gradfit.keras.utils.set_random_seed(7)
    model = Sequential([Dense(5, activation="relu"), Dense(1, activation="sigmoid")])
    model.build((None, 16))
    fig = plot.plot_units(model, np.zeros((2, 16)))
    assert titles(fig) == [f"unit {j}" for j in range(5)]
    kernel = np.asarray(model.layers[0].kernel)
    for j, ax in enumerate(fig.axes):
        (image,) = ax.images
        np.testing.assert_allclose(image.get_array(), kernel[:, j].reshape(4, 4).T)
    second = plot.plot_units(model, np.zeros((2, 16)), layer=1)
    assert np.asarray(second.axes[0].images[0].get_array()).shape == (1, 5)  # not pixels: one row


def test_units_of_a_one_feature_model_are_curves():
    gradfit.keras.utils.set_random_seed(8)
    model = Sequential([Dense(2, activation="relu")])
    model.build((None, 1))
    fig = plot.plot_units(model, np.linspace(-1, 1, 5).reshape(-1, 1), resolution=11)
    assert titles(fig) == ["unit 0", "unit 1"]
    kernel, bias = np.asarray(model.layers[0].kernel), np.asarray(model.layers[0].bias)
    for j, ax in enumerate(fig.axes):
        (line,) = ax.get_lines()
        x = line.get_xdata()
        np.testing.assert_allclose(line.get_ydata(), np.maximum(x * kernel[0, j] + bias[j], 0), rtol=1e-5, atol=1e-6)


def test_units_errors_are_clear(binary_model, blobs2d):
    X, _ = blobs2d
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        plot.plot_units(binary_model, X, layer="nope")
    with pytest.raises(ValueError, match="index below 2"):
        plot.plot_units(binary_model, X, layer=2)
    with pytest.raises(ValueError, match="not built"):
        plot.plot_units(Sequential([Dense(2)]), X)


# --------------------------------------------------------------------------------------------- saving


def test_every_figure_saves_to_png(tmp_path, binary_model, blobs2d, tiny_digits):
    X, y = blobs2d
    figures = {
        "history": plot.plot_history({"loss": [1.0, 0.5], "grad_norm/layer1": [0.1, 0.01]}),
        "digits": plot.plot_digits(*tiny_digits, n=4),
        "boundary": plot.plot_decision_boundary(binary_model, X, y, resolution=20),
        "activations": plot.plot_activations(),
        "units": plot.plot_units(binary_model, X, resolution=20),
    }
    for name, fig in figures.items():
        assert isinstance(fig, matplotlib.figure.Figure)
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=40)
        assert path.read_bytes()[:8] == PNG_SIGNATURE
