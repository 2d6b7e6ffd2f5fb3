"""``LivePlot``: the picture redrawn after each epoch holds the History so far; one notebook output, updated in place.

Headless: the callback draws on its own Agg figure (never pyplot's), so these tests need no display. The last test
runs a real notebook in a kernel of this interpreter (nbclient + ipykernel) and reads the executed cell's outputs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import gradfit  # noqa: E402
from gradfit import plot  # noqa: E402
from gradfit.callbacks import LambdaCallback, LivePlot, liveplot  # noqa: E402
from gradfit.keras import Input, Sequential  # noqa: E402
from gradfit.keras.layers import Dense  # noqa: E402
from gradfit.keras.optimizers import Adam  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _xor_data(m: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(m, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float32).reshape(-1, 1)
    return x, y


def _model(seed: int = 0, features: int = 2) -> Sequential:
    gradfit.keras.utils.set_random_seed(seed)
    model = Sequential([Input(shape=(features,)), Dense(8, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _lines(fig) -> dict:
    """``{panel title: {line label: (x, y)}}`` of the figure's history panels."""
    out = {}
    for ax in fig.axes:
        lines = {line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata())) for line in ax.lines}
        if lines:
            out[ax.get_title()] = lines
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


# ------------------------------------------------------------------------------------------- the figure's content


def test_after_each_epoch_the_curves_are_the_history_so_far(tmp_path):
    x, y = _xor_data()
    live = LivePlot(path=tmp_path / "live.png")
    seen = []

    def probe(epoch, logs):  # runs after LivePlot's on_epoch_end (the History records after every callback)
        seen.append((epoch, _lines(live.figure), live.figure))

    model = _model()
    history = model.fit(
        x,
        y,
        epochs=4,
        batch_size=32,
        validation_data=_xor_data(40, seed=1),
        callbacks=[live, LambdaCallback(on_epoch_end=probe)],
        verbose=0,
    ).history
    assert [epoch for epoch, _, _ in seen] == [0, 1, 2, 3]
    for epoch, panels, _ in seen:
        k = epoch + 1
        assert set(panels) == {"loss", "accuracy"}
        for name in ("loss", "accuracy"):
            assert set(panels[name]) == {name, "val_" + name}  # validation curves drawn when validation is given
            for label in (name, "val_" + name):
                xs, ys = panels[name][label]
                np.testing.assert_array_equal(xs, np.arange(1, k + 1))
                np.testing.assert_allclose(ys, history[label][:k], rtol=1e-12)
    assert all(fig is live.figure for _, _, fig in seen)  # one figure, redrawn
    assert live.drawn_epochs == [1, 2, 3, 4]
    assert live.figure.axes[0].get_title() == "loss"  # the loss first


def test_without_validation_there_are_no_val_curves_and_metrics_choose_the_panels(tmp_path):
    x, y = _xor_data()
    live = LivePlot(metrics=["loss"], path=tmp_path / "p.png")
    history = _model().fit(x, y, epochs=2, callbacks=[live], verbose=0).history
    panels = _lines(live.figure)
    assert list(panels) == ["loss"] and list(panels["loss"]) == ["loss"]  # no accuracy panel, no val curve
    np.testing.assert_allclose(panels["loss"]["loss"][1], history["loss"])


def test_validation_every_few_epochs_is_drawn_at_its_epochs(tmp_path):
    x, y = _xor_data()
    live = LivePlot(path=tmp_path / "p.png")
    history = (
        _model()
        .fit(x, y, epochs=5, validation_data=_xor_data(30, 2), validation_freq=2, callbacks=[live], verbose=0)
        .history
    )
    xs, ys = _lines(live.figure)["loss"]["val_loss"]
    np.testing.assert_array_equal(xs, [2, 4])
    np.testing.assert_allclose(ys, history["val_loss"])


def test_gradient_norms_share_one_log_panel(tmp_path):
    x, y = _xor_data()
    live = LivePlot(path=tmp_path / "p.png")
    model = _model()
    history = model.fit(x, y, epochs=2, callbacks=[gradfit.callbacks.GradientLogger(), live], verbose=0).history
    panel = _lines(live.figure)[plot.GRAD_NORM_TITLE]
    assert set(panel) == {layer.name for layer in model.layers}
    for layer in model.layers:
        np.testing.assert_allclose(panel[layer.name][1], history[f"grad_norm/{layer.name}"])


def test_the_decision_boundary_panel_is_what_the_model_predicts_and_changes_as_it_learns(tmp_path):
    x, y = _xor_data()
    live = LivePlot(decision_boundary=(x, y), resolution=30, path=tmp_path / "p.png")
    images = []
    _, _, grid = plot._plane_grid(x, 30, 0.1)

    def probe(epoch, logs):
        shown = np.asarray(live.boundary_image.get_array(), dtype=float)
        expected = model.predict(grid, batch_size=len(grid), verbose=0).reshape(shown.shape)
        np.testing.assert_allclose(shown, expected, rtol=1e-6)  # p(y = 1 | x) on the grid, at this epoch
        images.append(shown.copy())

    model = _model()
    model.fit(x, y, epochs=4, batch_size=16, callbacks=[live, LambdaCallback(on_epoch_end=probe)], verbose=0)
    assert len(images) == 4
    assert all(not np.array_equal(a, b) for a, b in zip(images, images[1:]))
    assert np.abs(images[-1] - images[0]).max() > 0.05
    titles = [ax.get_title() for ax in live.figure.axes]
    assert "decision boundary p = 0.5" in titles


def test_multiclass_boundary_shows_argmax_regions(tmp_path):
    x, _ = _xor_data()
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)  # 0, 1, 2
    gradfit.keras.utils.set_random_seed(0)
    model = Sequential([Input(shape=(2,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer=Adam(0.05), loss="sparse_categorical_crossentropy")
    live = LivePlot(decision_boundary=(x, labels), resolution=20, path=tmp_path / "p.png")
    model.fit(x, labels, epochs=2, callbacks=[live], verbose=0)
    _, _, grid = plot._plane_grid(x, 20, 0.1)
    regions = model.predict(grid, verbose=0).argmax(axis=1).reshape(20, 20)
    np.testing.assert_array_equal(np.asarray(live.boundary_image.get_array()), regions)


# ------------------------------------------------------------------------------------------- the PNG file


def test_the_png_is_written_every_n_epochs_and_after_the_last(tmp_path):
    x, y = _xor_data()
    path = tmp_path / "live.png"
    live = LivePlot(every=2, path=path)
    after = {}

    def probe(epoch, logs):
        after[epoch + 1] = path.read_bytes() if path.exists() else None

    _model().fit(x, y, epochs=5, callbacks=[live, LambdaCallback(on_epoch_end=probe)], verbose=0)
    assert after[1] is None  # not yet: every 2 epochs
    assert after[2] is not None and after[3] == after[2]
    assert after[4] != after[2]  # redrawn at epoch 4
    final = path.read_bytes()
    assert final != after[4] and final == live.png  # and after the last epoch (5), though 5 % 2 != 0
    assert live.drawn_epochs == [2, 4, 5]
    width, height = _png_size(final)
    dpi = live.figure.dpi
    w_in, h_in = live.figure.get_size_inches()
    assert (width, height) == (round(w_in * dpi), round(h_in * dpi))
    assert width > 300 and height > 200
    read_back = matplotlib.image.imread(path)  # a PNG matplotlib reads: not blank
    assert read_back.shape[:2] == (height, width) and read_back.std() > 0.05
    assert not (tmp_path / "live.png.partial").exists()


def test_outside_a_notebook_the_default_file_is_liveplot_png_in_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    x, y = _xor_data()
    _model().fit(x, y, epochs=1, callbacks=[LivePlot()], verbose=2)
    assert (tmp_path / "liveplot.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "LivePlot: drawing to liveplot.png" in capsys.readouterr().out


def test_no_figure_piles_up(tmp_path):
    """The callback draws on one figure of its own: pyplot's list never grows, the axes are replaced, not added."""
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    x, y = _xor_data()
    live = LivePlot(decision_boundary=(x, y), resolution=10, path=tmp_path / "p.png")
    axes_counts, figures = [], set()

    def probe(epoch, logs):
        axes_counts.append(len(live.figure.axes))
        figures.add(id(live.figure))
        assert plt.get_fignums() == before

    model = _model()
    model.fit(x, y, epochs=6, callbacks=[live, LambdaCallback(on_epoch_end=probe)], verbose=0)
    model.fit(x, y, epochs=2, callbacks=[live, LambdaCallback(on_epoch_end=probe)], verbose=0)
    assert plt.get_fignums() == before
    assert len(set(axes_counts)) == 1 and len(figures) == 1  # 2 curves + boundary + its colour bar, each time


# ------------------------------------------------------------------------------------------- in a notebook


class _FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, obj):
        self.log.append(("update", obj))


def test_in_a_notebook_one_display_is_made_and_then_updated(tmp_path, monkeypatch):
    log = []

    class FakeImage:
        def __init__(self, data, format):
            self.data, self.format = data, format

    def fake_display(obj, display_id=None):
        assert display_id is True
        log.append(("display", obj))
        return _FakeHandle(log)

    monkeypatch.setattr(liveplot, "in_notebook", lambda: True)
    monkeypatch.setattr(liveplot, "_ipython_display", lambda: (FakeImage, fake_display))
    monkeypatch.chdir(tmp_path)
    x, y = _xor_data()
    live = LivePlot()
    _model().fit(x, y, epochs=3, callbacks=[live], verbose=0)
    assert [kind for kind, _ in log] == ["display", "update", "update"]
    assert all(obj.format == "png" and obj.data[:8] == PNG_SIGNATURE for _, obj in log)
    assert log[-1][1].data == live.png
    assert not list(tmp_path.iterdir())  # in a notebook, no file unless path is given
    log.clear()
    _model().fit(x, y, epochs=1, callbacks=[live], verbose=0)  # a second fit: its own output
    assert [kind for kind, _ in log] == ["display"]


def test_display_false_never_displays_and_path_writes_in_a_notebook(tmp_path, monkeypatch):
    monkeypatch.setattr(liveplot, "in_notebook", lambda: True)
    monkeypatch.setattr(liveplot, "_ipython_display", lambda: pytest.fail("displayed although display=False"))
    x, y = _xor_data()
    _model().fit(x, y, epochs=1, callbacks=[LivePlot(display=False, path=tmp_path / "a.png")], verbose=0)
    assert (tmp_path / "a.png").exists()


def test_a_notebook_is_an_ipython_shell_with_a_kernel(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert liveplot.in_notebook() is False  # IPython not even imported: no kernel can be running
    fake = types.ModuleType("IPython")
    shell = types.SimpleNamespace()
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert liveplot.in_notebook() is False  # a terminal IPython: no kernel
    shell.kernel = object()
    assert liveplot.in_notebook() is True
    fake.get_ipython = lambda: None  # IPython imported, but not running
    assert liveplot.in_notebook() is False


# ------------------------------------------------------------------------------------------- errors


def test_bad_arguments_are_refused_by_name(tmp_path):
    x, y = _xor_data()
    with pytest.raises(ValueError, match="every"):
        LivePlot(every=0)
    with pytest.raises(ValueError, match="display"):
        LivePlot(display="yes")
    with pytest.raises(TypeError, match="path"):
        LivePlot(path=3)
    with pytest.raises(ValueError, match="resolution"):
        LivePlot(resolution=1)
    with pytest.raises(ValueError, match="metrics"):
        LivePlot(metrics=[])
    with pytest.raises(ValueError, match="exactly 2 features"):
        LivePlot(decision_boundary=(np.zeros((5, 3)), np.zeros(5)))
    with pytest.raises(ValueError, match="5 examples but y has 4"):
        LivePlot(decision_boundary=(np.zeros((5, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="pair"):
        LivePlot(decision_boundary=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="no series \\['acc'\\]"):
        _model().fit(x, y, epochs=1, callbacks=[LivePlot(metrics=["acc"], path=tmp_path / "p.png")], verbose=0)
    wide = np.zeros((6, 3), np.float32)
    with pytest.raises(ValueError, match="2-feature inputs only"):
        _model(features=3).fit(wide, np.zeros(6), callbacks=[LivePlot(decision_boundary=(x, y))], verbose=0)


def test_missing_matplotlib_or_ipython_names_the_notebook_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "gradfit\[notebook\]"'):
        LivePlot()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    with pytest.raises(ImportError, match=r'pip install "gradfit\[notebook\]"'):
        LivePlot(display=True)


def test_import_gradfit_imports_neither_matplotlib_nor_ipython():
    import subprocess

    code = "import sys, gradfit; print('matplotlib' in sys.modules, 'IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------------------------------- a real notebook

NOTEBOOK_CODE = """\
import numpy as np
import gradfit.keras as keras
from gradfit.callbacks import LivePlot

rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, size=(80, 2)).astype("float32")
y = (x[:, 0] * x[:, 1] > 0).astype("float32")
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(6, activation="tanh"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
live = LivePlot(decision_boundary=(x, y), resolution=20)
history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, callbacks=[live], verbose=0)
"""


def test_in_a_real_notebook_the_cell_has_one_output_updated_in_place(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if importlib.util.find_spec("ipykernel") is None:  # found, not imported: gradfit's progress bar reads
        pytest.skip("ipykernel is not installed")  # "ipykernel" in sys.modules as "in a notebook"
    # a kernel of this very interpreter (the one with gradfit and matplotlib), found through JUPYTER_PATH
    spec_dir = tmp_path / "jupyter" / "kernels" / "gradfit-test"
    spec_dir.mkdir(parents=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gradfit test",
        "language": "python",
        "env": {"PYTHONPATH": pythonpath, "MPLBACKEND": "Agg"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(NOTEBOOK_CODE),
        nbformat.v4.new_code_cell(
            "import hashlib, sys\n"
            "print(live.drawn_epochs, live._show, live._file, hashlib.sha256(live.png).hexdigest(), sys.executable)"
        ),
    ]
    client = nbclient.NotebookClient(
        nb, kernel_name="gradfit-test", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    outputs = nb.cells[0].outputs
    assert len(outputs) == 1, f"the fit cell has {len(outputs)} outputs: {[o.output_type for o in outputs]}"
    (shown,) = outputs
    assert shown.output_type == "display_data" and "image/png" in shown.data
    png = base64.b64decode(shown.data["image/png"])
    assert png[:8] == PNG_SIGNATURE
    printed = nb.cells[1].outputs[0].text.split()
    drawn, notebook, file, digest, executable = " ".join(printed[:-4]), printed[-4], printed[-3], *printed[-2:]
    assert drawn == "[1, 2, 3, 4]" and notebook == "True" and file == "None"  # drawn 4 times, shown, no file
    assert hashlib.sha256(png).hexdigest() == digest  # the cell shows the last drawing: updated in place
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert not list(tmp_path.glob("*.png"))


def test_a_plane_of_one_class_draws_no_boundary_and_no_warning(tmp_path):
    """Before training the whole plane may be one side of p = 0.5 (or one argmax class): there is no line to draw,
    so no empty contour set is added (matplotlib versions that warn "No contour levels were found" would warn every
    epoch)."""
    import warnings

    x, y = _xor_data()
    for units, activation in ((1, "sigmoid"), (3, "softmax")):
        model = Sequential([Input(shape=(2,)), Dense(units, activation=activation)])
        model.compile(optimizer=Adam(0.0), loss="mse")
        kernel, bias = model.layers[0].get_weights()
        bias[0] = -5.0 if units == 1 else 5.0  # p = sigmoid(-5) everywhere; class 0 everywhere
        model.layers[0].set_weights([np.zeros_like(kernel), bias])
        live = LivePlot(decision_boundary=(x, y), resolution=10, path=tmp_path / "p.png")
        targets = np.zeros((len(x), units), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(x, targets, epochs=1, callbacks=[live], verbose=0)
        boundary_axes = [ax for ax in live.figure.axes if ax.get_title().startswith("decision")]
        assert len(boundary_axes) == 1 and not boundary_axes[0].collections[:-2]  # the two scatters only
