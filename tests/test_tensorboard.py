"""The ``TensorBoard`` callback, read back with TensorBoard's own event readers.

``event_accumulator.EventAccumulator`` (the classic reader: scalars, histograms, images) checks the values against
the History, the weights and ``compute_gradients``; ``plugin_event_accumulator.EventAccumulator`` (what the
TensorBoard server reads, every summary as a tensor with its plugin) checks that the tags, plugins and steps of a
Keras 3.15 run (``KERAS_RUN``, recorded by hand) are all in gradfit's.
"""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator  # noqa: E402

import gradfit  # noqa: E402
from gradfit import registry  # noqa: E402

K = gradfit.keras
TB = K.callbacks.TensorBoard
EVERYTHING = {
    "scalars": 0,
    "histograms": 0,
    "images": 0,
    "tensors": 0,
    "compressedHistograms": 0,
    "audio": 0,
}

#: Keras 3.15.1 (TF 2.21) with tensorboard 2.20: 40 rows of 2 features, ``Dense(3, relu)``, ``Dense(1, sigmoid)``,
#: ``SGD(ExponentialDecay(0.1, 2, 0.5))``, binary cross-entropy, ``metrics=["accuracy"]``, ``fit(batch_size=10,
#: epochs=3, validation_split=0.25)`` with ``TensorBoard(log_dir, histogram_freq=1, update_freq="batch",
#: write_images=True, write_steps_per_second=True)``; each run read with ``plugin_event_accumulator``:
#: ``{tag: [plugin, steps]}``.
KERAS_RUN = {
    "train": {
        "batch_accuracy": ["scalars", [1, 2, 3, 4, 5, 6, 7, 8, 9]],
        "batch_loss": ["scalars", [1, 2, 3, 4, 5, 6, 7, 8, 9]],
        "batch_steps_per_second": ["scalars", [1, 2, 3, 4, 5, 6, 7, 8, 9]],
        "epoch_accuracy": ["scalars", [0, 1, 2]],
        "epoch_learning_rate": ["scalars", [0, 1, 2]],
        "epoch_loss": ["scalars", [0, 1, 2]],
        "epoch_steps_per_second": ["scalars", [0, 1, 2]],
        "keras": ["graph_keras_model", [0]],
        "sequential/dense/bias/histogram": ["histograms", [0, 1, 2]],
        "sequential/dense/bias/image": ["images", [0, 1, 2]],
        "sequential/dense/kernel/histogram": ["histograms", [0, 1, 2]],
        "sequential/dense/kernel/image": ["images", [0, 1, 2]],
        "sequential/dense_1/bias/histogram": ["histograms", [0, 1, 2]],
        "sequential/dense_1/kernel/histogram": ["histograms", [0, 1, 2]],
        "sequential/dense_1/kernel/image": ["images", [0, 1, 2]],
    },
    "validation": {
        "epoch_accuracy": ["scalars", [0, 1, 2]],
        "epoch_loss": ["scalars", [0, 1, 2]],
        "evaluation_accuracy_vs_iterations": ["scalars", [3, 6, 9]],
        "evaluation_loss_vs_iterations": ["scalars", [3, 6, 9]],
    },
}


def _data(m=40, features=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    return x, y


def _model(activation="relu", schedule=True, features=2):
    K.utils.set_random_seed(0)
    model = K.Sequential(
        [K.Input((features,)), K.layers.Dense(3, activation=activation), K.layers.Dense(1, activation="sigmoid")]
    )
    rate = K.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5) if schedule else 0.1
    model.compile(optimizer=K.optimizers.SGD(rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _read(directory) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(directory), size_guidance=EVERYTHING)
    acc.Reload()
    return acc


def _scalars(acc, tag):
    events = acc.Scalars(tag)
    return [e.step for e in events], np.array([e.value for e in events])


def _tags(acc, kind="scalars") -> set[str]:
    return set(acc.Tags()[kind])


# ----------------------------------------------------------------------------------------- scalars


def test_epoch_scalars_are_the_history_with_keras_s_tags_and_steps(tmp_path):
    x, y = _data()
    model = _model()
    tb = TB(log_dir=tmp_path)
    history = model.fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0, callbacks=[tb])
    h = history.history
    train, val = _read(tmp_path / "train"), _read(tmp_path / "validation")
    assert _tags(train) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert _tags(val) == {
        "epoch_loss",
        "epoch_accuracy",
        "evaluation_loss_vs_iterations",
        "evaluation_accuracy_vs_iterations",
    }
    for name in ("loss", "accuracy"):
        steps, values = _scalars(train, f"epoch_{name}")
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, h[name], rtol=1e-6)  # the events hold float32
        steps, values = _scalars(val, f"epoch_{name}")
        assert steps == [0, 1, 2]
        np.testing.assert_allclose(values, h[f"val_{name}"], rtol=1e-6)
        # after each validation, at optimizer.iterations (3 batches an epoch)
        steps, values = _scalars(val, f"evaluation_{name}_vs_iterations")
        assert steps == [3, 6, 9]
        np.testing.assert_allclose(values, h[f"val_{name}"], rtol=1e-6)
    # the schedule's rate at optimizer.iterations after each epoch: 0.1 * 0.5 ** (iterations / 2)
    steps, values = _scalars(train, "epoch_learning_rate")
    assert steps == [0, 1, 2]
    np.testing.assert_allclose(values, [0.1 * 0.5 ** (i / 2) for i in (3, 6, 9)], rtol=1e-6)
    assert not _tags(train, "histograms") and not _tags(train, "images")


def test_a_learning_rate_changed_by_a_callback_is_the_one_written(tmp_path):
    x, y = _data()
    model = _model(schedule=False)
    scheduler = K.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    model.fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[scheduler, TB(tmp_path)])
    steps, values = _scalars(_read(tmp_path / "train"), "epoch_learning_rate")
    np.testing.assert_allclose(values, [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    assert not (tmp_path / "validation").exists()  # no validation: no validation run, as Keras


@pytest.mark.parametrize("update_freq, expected", [(2, [2, 4, 6, 8]), ("batch", list(range(1, 10)))])
def test_batch_scalars_every_n_batches(tmp_path, update_freq, expected):
    x, y = _data(30)
    model = _model()
    seen = {}
    record = K.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.setdefault(len(seen) + 1, logs))
    tb = TB(tmp_path, update_freq=update_freq, write_steps_per_second=True)
    assert tb.uses_batch_hooks()
    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[record, tb]).history
    train = _read(tmp_path / "train")
    for name in ("loss", "accuracy"):
        steps, values = _scalars(train, f"batch_{name}")
        assert steps == expected  # batches since fit began, from 1, every N-th
        np.testing.assert_allclose(values, [seen[s][name] for s in expected], rtol=1e-6)
    steps, values = _scalars(train, "batch_steps_per_second")
    assert steps == expected and np.all(values > 0)
    # every epoch's summaries, whatever the batch count (Keras 3.15 drops those at a count not a multiple of N)
    steps, values = _scalars(train, "epoch_loss")
    assert steps == [0, 1, 2]
    np.testing.assert_allclose(values, history["loss"], rtol=1e-6)
    steps, values = _scalars(train, "epoch_steps_per_second")
    assert steps == [0, 1, 2] and np.all(values > 0)


def test_epoch_update_freq_runs_no_batch_hook_and_writes_no_batch_tag(tmp_path):
    tb = TB(tmp_path)
    assert not tb.uses_batch_hooks()
    x, y = _data()
    _model().fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[tb])
    assert not any(tag.startswith("batch_") for tag in _tags(_read(tmp_path / "train")))


def test_the_tags_plugins_and_steps_of_a_keras_run_are_all_written(tmp_path):
    """The recorded Keras run's ``{tag: [plugin, steps]}`` is a part of gradfit's, as TensorBoard's server reads
    them; gradfit's other tags are its additions only."""
    x, y = _data()
    model = _model()
    tb = TB(tmp_path, histogram_freq=1, update_freq="batch", write_images=True, write_steps_per_second=True)
    model.fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0, callbacks=[tb])
    for run, expected in KERAS_RUN.items():
        acc = plugin_event_accumulator.EventAccumulator(str(tmp_path / run), size_guidance={"tensors": 0})
        acc.Reload()
        got = {
            tag: [acc.SummaryMetadata(tag).plugin_data.plugin_name, [e.step for e in acc.Tensors(tag)]]
            for tag in acc.Tags()["tensors"]
        }
        missing = {tag: value for tag, value in expected.items() if got.get(tag) != value}
        assert not missing, f"{run}: Keras's tags written differently or not at all: {missing} (got {got})"
        extra = set(got) - set(expected)
        # the text, and the op graph of the layers (which the server's reader files as a tensor of the graphs plugin)
        gradfit_own = {"model/summary/text_summary", "model/explain/text_summary", "__run_graph__"}
        # histogram_freq without sample_data: fit's first batch, its gradients, activations and the plane
        gradfit_own |= {
            f"sequential/{layer}/{w}/gradient" for layer in ("dense", "dense_1") for w in ("kernel", "bias")
        }
        gradfit_own |= {"sequential/dense/activation", "sequential/dense_1/activation", "decision_boundary"}
        gradfit_own = gradfit_own if run == "train" else set()
        assert extra == gradfit_own, run


def test_evaluate_with_the_callback_writes_the_evaluation_at_the_iterations(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    tb = TB(tmp_path)  # kept: its file is closed by on_test_end (no on_train_end comes), not by the collector
    logs = model.evaluate(x, y, batch_size=10, verbose=0, callbacks=[tb], return_dict=True)
    val = _read(tmp_path / "validation")
    for name in ("loss", "accuracy"):
        steps, values = _scalars(val, f"evaluation_{name}_vs_iterations")
        assert steps == [4]
        np.testing.assert_allclose(values, [logs[name]], rtol=1e-6)
    assert not (tmp_path / "train").exists()


# ----------------------------------------------------------------------------------------- histograms


def _histogram(acc, tag):
    return {e.step: e.histogram_value for e in acc.Histograms(tag)}


def test_weight_gradient_and_activation_histograms_every_histogram_freq_epochs(tmp_path):
    x, y = _data()
    sample = (x[:16], y[:16])
    model = _model()
    tb = TB(tmp_path, histogram_freq=2, sample_data=sample, decision_boundary_freq=0)
    model.fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[tb])
    train = _read(tmp_path / "train")
    weights = model.weights
    paths = [w.path for w in weights]
    assert paths == [
        "sequential/dense/kernel",
        "sequential/dense/bias",
        "sequential/dense_1/kernel",
        "sequential/dense_1/bias",
    ]
    expected = {f"{p}/histogram" for p in paths} | {f"{p}/gradient" for p in paths}
    expected |= {"sequential/dense/activation", "sequential/dense_1/activation"}
    assert _tags(train, "histograms") == expected
    # epochs 0 and 2 (epoch % 2 == 0); the last one holds the weights fit ended with
    _, gradients = model.compute_gradients(*sample)
    outputs = model.activations(sample[0])
    for weight, gradient in zip(weights, gradients):
        by_step = _histogram(train, f"{weight.path}/histogram")
        assert sorted(by_step) == [0, 2]
        last = by_step[2]
        assert last.num == weight.size
        np.testing.assert_allclose(
            [last.min, last.max, last.sum], [weight.min(), weight.max(), weight.sum()], rtol=1e-5
        )
        assert sum(last.bucket) == weight.size
        last = _histogram(train, f"{weight.path}/gradient")[2]
        assert last.num == gradient.size
        np.testing.assert_allclose([last.sum, last.sum_squares], [gradient.sum(), (gradient**2).sum()], rtol=1e-4)
    for name, a in outputs.items():
        last = _histogram(train, f"sequential/{name}/activation")[2]
        assert last.num == a.size == 16 * a.shape[1]
        np.testing.assert_allclose(last.sum, a.sum(), rtol=1e-5)
    # the same fixed rows every time: epoch 0's activations are of the same 16 rows
    assert _histogram(train, "sequential/dense_1/activation")[0].num == 16


def test_a_weight_gone_non_finite_is_histogrammed_over_its_finite_values(tmp_path):
    x, y = _data(10)
    model = _model(schedule=False)

    def spoil(epoch, logs):
        model.layers[0].kernel[0, 0] = np.nan

    tb = TB(tmp_path, histogram_freq=1, write_graph=False)
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[K.callbacks.LambdaCallback(on_epoch_end=spoil), tb])
    hist = _histogram(_read(tmp_path / "train"), "sequential/dense/kernel/histogram")[0]
    assert hist.num == 5  # 6 values, one NaN


def _gradient_spread(directory, model, layer):
    hist = _histogram(_read(directory), f"{model.name}/{layer}/kernel/gradient")[0]
    return np.sqrt(max(hist.sum_squares / hist.num - (hist.sum / hist.num) ** 2, 0.0))


def test_vanishing_gradients_of_sigmoid_layers_show_against_relu(tmp_path):
    """Five hidden layers: with sigmoid the first kernel's gradients are a narrow spike next to the last's, with
    ReLU they keep their spread."""
    x, y = _data(64, features=4)
    ratios = {}
    for activation in ("sigmoid", "relu"):
        K.utils.set_random_seed(1)
        layers = [K.Input((4,))] + [K.layers.Dense(16, activation=activation, name=f"h{i}") for i in range(5)]
        model = K.Sequential(layers + [K.layers.Dense(1, activation="sigmoid", name="out")])
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        tb = TB(tmp_path / activation, histogram_freq=1, sample_data=(x, y), write_graph=False)
        model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[tb])
        run = tmp_path / activation / "train"
        ratios[activation] = _gradient_spread(run, model, "h0") / _gradient_spread(run, model, "h4")
    assert ratios["sigmoid"] < 0.1 * ratios["relu"], ratios


def test_sample_data_with_sample_weight_weights_the_gradients(tmp_path):
    x, y = _data(8)
    weights = np.linspace(0.0, 2.0, 8).astype(np.float32)
    model = _model(schedule=False)
    tb = TB(tmp_path, histogram_freq=1, sample_data=(x, y, weights), write_graph=False, decision_boundary_freq=0)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[tb])
    _, gradients = model.compute_gradients(x, y, weights)
    got = _histogram(_read(tmp_path / "train"), "sequential/dense/kernel/gradient")[0]
    np.testing.assert_allclose(got.sum, gradients[0].sum(), rtol=1e-4)


# ----------------------------------------------------------------------------------------- text, graph, images


def test_the_graph_summary_and_explanation_are_written_once_at_step_0(tmp_path):
    from tensorboard.plugins.graph import keras_util
    from tensorboard.util import tensor_util

    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[TB(tmp_path)])
    acc = plugin_event_accumulator.EventAccumulator(str(tmp_path / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    texts = {}
    for name in ("summary", "explain"):
        (event,) = acc.Tensors(f"model/{name}/text_summary")
        assert event.step == 0
        texts[name] = tensor_util.make_ndarray(event.tensor_proto).reshape(-1)[0].decode()
        assert acc.SummaryMetadata(f"model/{name}/text_summary").plugin_data.plugin_name == "text"
    printed = []
    model.summary(print_fn=printed.append)
    assert texts["summary"] == f"```\n{printed[0].rstrip()}\n```"
    assert texts["explain"] == f"```\n{model.explain(print_fn=lambda s: None).rstrip()}\n```"
    (event,) = acc.Tensors("keras")
    assert event.step == 0
    assert acc.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"
    config = json.loads(tensor_util.make_ndarray(event.tensor_proto).item().decode())
    assert config == json.loads(model.to_json())
    # what TensorBoard's Graphs dashboard draws: one node per layer, each fed by the one before
    graph = keras_util.keras_model_to_graph_def(config)
    nodes = {node.name: list(node.input) for node in graph.node}
    assert nodes["sequential/dense"] == ["sequential/input_layer"]
    assert nodes["sequential/dense_1"] == ["sequential/dense"]
    # gradfit's op graph of the layers: a GraphDef event, read back as TensorBoard reads it
    graph = _read(tmp_path / "train").Graph()
    nodes = {node.name: node for node in graph.node}
    assert list(nodes) == ["sequential/input", "sequential/dense", "sequential/dense_1"]
    assert [nodes[n].op for n in nodes] == ["Input", "Dense", "Dense"]
    assert list(nodes["sequential/dense_1"].input) == ["sequential/dense"]
    shapes = [[d.size for d in nodes[n].attr["_output_shapes"].list.shape[0].dim] for n in nodes]
    assert shapes == [[-1, 2], [-1, 3], [-1, 1]]
    assert nodes["sequential/dense"].attr["weights"].s == b"kernel (2, 3), bias (3,)"
    assert json.loads(nodes["sequential/dense"].attr["config"].s)["units"] == 3


def test_write_graph_false_writes_no_graph_and_no_text(tmp_path):
    x, y = _data()
    _model().fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[TB(tmp_path, write_graph=False)])
    acc = _read(tmp_path / "train")
    assert not acc.Tags()["tensors"] and not acc.Tags()["graph"]
    assert _tags(acc) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}


def _image(acc, tag, step):
    from PIL import Image

    event = {e.step: e for e in acc.Images(tag)}[step]
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))


def test_weights_as_images_when_asked_as_keras_draws_them(tmp_path):
    pytest.importorskip("PIL")
    x, y = _data()
    model = _model()
    model.fit(
        x,
        y,
        batch_size=10,
        epochs=2,
        verbose=0,
        callbacks=[TB(tmp_path, histogram_freq=1, write_images=True, decision_boundary_freq=0)],
    )
    train = _read(tmp_path / "train")
    # a kernel (2, 3) as it is, a bias (3,) as a column, the kernel (3, 1) squeezed to a column; the bias (1,) is
    # a scalar once squeezed: no image (Keras writes none either)
    assert _tags(train, "images") == {
        "sequential/dense/kernel/image",
        "sequential/dense/bias/image",
        "sequential/dense_1/kernel/image",
    }
    kernel = np.asarray(model.layers[0].kernel)
    pixels = _image(train, "sequential/dense/kernel/image", 1)
    assert pixels.shape[:2] == (2, 3)
    expected = np.minimum(np.clip(kernel, 0, 1) * 255.5, 255).astype(np.uint8)  # tf.summary.image's conversion
    np.testing.assert_array_equal(pixels.reshape(2, 3, -1)[..., 0], expected)
    assert _image(train, "sequential/dense/bias/image", 0).shape[:2] == (3, 1)
    assert _image(train, "sequential/dense_1/kernel/image", 0).shape[:2] == (3, 1)


def test_no_image_unless_asked(tmp_path):
    x, y = _data()
    tb = TB(tmp_path, histogram_freq=1, decision_boundary_freq=0)
    _model().fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[tb])
    assert not _tags(_read(tmp_path / "train"), "images")


def test_without_sample_data_the_fixed_batch_is_fits_first_batch_before_shuffling(tmp_path):
    """histogram_freq alone: the gradients and activations of the first batch_size rows as given, every time (the
    same histograms as sample_data=those rows, although fit shuffles); the decision boundary of those rows."""
    pytest.importorskip("matplotlib")
    x, y = _data()
    runs = {}
    for name, sample in (("default", None), ("given", (x[:10], y[:10]))):
        tb = TB(tmp_path / name, histogram_freq=1, sample_data=sample, decision_boundary_freq=2, write_graph=False)
        K.backend.clear_session()  # the same layer names, so the same tags, in both runs
        model = _model()
        model.fit(x, y, batch_size=10, epochs=3, verbose=0, shuffle=True, callbacks=[tb])
        runs[name] = _read(tmp_path / name / "train")
    default, given = runs["default"], runs["given"]
    assert _tags(default, "histograms") == _tags(given, "histograms")
    assert "sequential/dense/kernel/gradient" in _tags(default, "histograms")
    for tag in ("sequential/dense/kernel/gradient", "sequential/dense_1/activation"):
        for step in (0, 1, 2):
            a, b = _histogram(default, tag)[step], _histogram(given, tag)[step]
            assert a.num == b.num == (10 if "activation" in tag else 6)
            np.testing.assert_allclose([a.sum, a.sum_squares], [b.sum, b.sum_squares], rtol=1e-6)
    assert [e.step for e in default.Images("decision_boundary")] == [0, 2]

    # a generator has no first batch to spare: Keras's histograms only
    def batches():
        while True:
            yield x[:10], y[:10]

    tb = TB(tmp_path / "stream", histogram_freq=1, write_graph=False)
    _model().fit(batches(), steps_per_epoch=2, epochs=1, verbose=0, shuffle=False, callbacks=[tb])
    tags = _tags(_read(tmp_path / "stream" / "train"), "histograms")
    assert any(t.endswith("/kernel/histogram") for t in tags) and not any(t.endswith("/gradient") for t in tags)


def test_the_decision_boundary_every_few_epochs_for_two_features(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = _data()
    tb = TB(tmp_path / "plane", sample_data=(x, y), decision_boundary_freq=2, write_graph=False)
    _model().fit(x, y, batch_size=20, epochs=3, verbose=0, callbacks=[tb])
    train = _read(tmp_path / "plane" / "train")
    assert [e.step for e in train.Images("decision_boundary")] == [0, 2]
    picture = _image(train, "decision_boundary", 2)
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[0] > 100 and picture.std() > 0
    assert not _tags(train, "histograms")  # histogram_freq=0: the boundary alone
    # three features: no plane to draw
    x3, y3 = _data(features=3)
    tb = TB(tmp_path / "space", sample_data=(x3, y3), decision_boundary_freq=1, write_graph=False)
    _model(features=3).fit(x3, y3, batch_size=20, epochs=1, verbose=0, callbacks=[tb])
    assert not _tags(_read(tmp_path / "space" / "train"), "images")


def test_without_matplotlib_the_boundary_is_skipped_with_one_warning(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    x, y = _data()
    tb = TB(tmp_path, histogram_freq=1, sample_data=(x, y), decision_boundary_freq=1, write_graph=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _model().fit(x, y, batch_size=20, epochs=3, verbose=0, callbacks=[tb])
    messages = [str(w.message) for w in caught if "decision-boundary" in str(w.message)]
    assert len(messages) == 1 and "matplotlib" in messages[0]
    train = _read(tmp_path / "train")
    assert not _tags(train, "images")
    assert "sequential/dense/kernel/gradient" in _tags(train, "histograms")


# ----------------------------------------------------------------------------------------- files


def _event_files(directory):
    return sorted(Path(directory).glob("events.out.tfevents.*"))


def test_two_fits_into_one_log_dir_append_as_keras(tmp_path):
    x, y = _data()
    model = _model()
    tb = TB(tmp_path)
    first = model.fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[tb]).history
    second = model.fit(x, y, batch_size=10, epochs=4, initial_epoch=2, verbose=0, callbacks=[tb]).history
    assert len(_event_files(tmp_path / "train")) == 2  # one file per fit, as Keras's writers
    steps, values = _scalars(_read(tmp_path / "train"), "epoch_loss")
    assert steps == [0, 1, 2, 3]
    np.testing.assert_allclose(values, first["loss"] + second["loss"], rtol=1e-6)


def test_an_interrupted_fit_leaves_no_thread_and_its_files_are_closed_and_complete(tmp_path):
    x, y = _data()
    model = _model()
    tb = TB(tmp_path)  # no histogram: nothing forces a flush, the events wait in the file's buffer

    def fail(epoch, logs):
        if epoch == 1:
            raise RuntimeError("stop here")

    threads = threading.active_count()
    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(
            x, y, batch_size=10, epochs=5, verbose=0, callbacks=[tb, K.callbacks.LambdaCallback(on_epoch_end=fail)]
        )
    assert threading.active_count() == threads  # the writers are synchronous: nothing is left running
    # the next fit with the callback closes the interrupted fit's files first, then adds its own
    model.fit(x, y, batch_size=10, epochs=3, initial_epoch=2, verbose=0, callbacks=[tb])
    files = _event_files(tmp_path / "train")
    assert len(files) == 2
    interrupted = event_accumulator.EventAccumulator(str(files[0]), size_guidance=EVERYTHING)
    interrupted.Reload()
    assert _scalars(interrupted, "epoch_loss")[0] == [0, 1]  # epoch 1 was written before the failing callback ran
    assert _scalars(_read(tmp_path / "train"), "epoch_loss")[0] == [0, 1, 2]

    # a callback dropped after an interrupted fit closes its files when it is collected
    other = tmp_path / "dropped"
    tb = TB(other)
    with pytest.raises(RuntimeError, match="stop here"):
        model.fit(
            x, y, batch_size=10, epochs=5, verbose=0, callbacks=[tb, K.callbacks.LambdaCallback(on_epoch_end=fail)]
        )
    del tb
    gc.collect()
    assert _scalars(_read(other / "train"), "epoch_loss")[0] == [0, 1]


# ----------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, error, named",
    [
        ({"profile_batch": 2}, ValueError, "profile_batch"),
        ({"profile_batch": (10, 20)}, ValueError, "profile_batch"),
        ({"profile_batch": "1,3"}, ValueError, "profile_batch"),
        ({"embeddings_freq": 1}, NotImplementedError, "embeddings_freq"),
        ({"embeddings_metadata": {"embedding": "meta.tsv"}}, NotImplementedError, "embeddings_metadata"),
        ({"update_freq": "sometimes"}, ValueError, "update_freq"),
        ({"update_freq": 0}, ValueError, "update_freq"),
        ({"histogram_freq": -1}, ValueError, "histogram_freq"),
        ({"histogram_freq": 1.5}, ValueError, "histogram_freq"),
        ({"write_graph": "yes"}, ValueError, "write_graph"),
        ({"decision_boundary_freq": -2}, ValueError, "decision_boundary_freq"),
        ({"sample_data": np.zeros((3, 2))}, ValueError, "sample_data"),
        ({"sample_data": (np.zeros((3, 2)), None)}, ValueError, "sample_data"),
        ({"log_dir": 3}, TypeError, "log_dir"),
    ],
)
def test_what_gradfit_does_not_do_is_refused_naming_the_argument(tmp_path, kwargs, error, named):
    kwargs = {"log_dir": tmp_path, **kwargs}
    with pytest.raises(error, match=named):
        TB(**kwargs)
    assert not any(tmp_path.iterdir())


def test_keras_s_defaults_and_the_profile_batch_keras_accepts():
    tb = TB(profile_batch=0)
    assert (tb.log_dir, tb.histogram_freq, tb.write_graph, tb.write_images) == ("logs", 0, True, False)
    assert (tb.write_steps_per_second, tb.update_freq, tb.embeddings_freq, tb.embeddings_metadata) == (
        False,
        "epoch",
        0,
        None,
    )
    assert TB(update_freq="batch").update_freq == 1


def test_without_tensorboardx_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r'pip install "gradfit\[tensorboard\]"'):
        TB()


def test_registered_and_exported_as_keras_callbacks_tensorboard():
    entry = registry.CALLBACKS.entry("TensorBoard")
    assert entry.obj is TB is gradfit.callbacks.TensorBoard
    assert entry.keras_path == "keras.callbacks.TensorBoard"


def test_importing_gradfit_imports_no_writer_library():
    libraries = "('tensorboardX', 'tensorboard', 'matplotlib')"
    code = f"import gradfit, sys; print(sorted(m for m in {libraries} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
