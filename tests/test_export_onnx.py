"""``model.export(path, format="onnx")``: every built-in layer and activation as an ONNX graph that ONNX Runtime
(or, without it, ``onnx.reference``) runs to ``model.predict``'s numbers.

Tolerance: the predictions are compared in float64 with ``rtol=1e-6`` and ``atol=1e-6 * max|predict|`` (the
largest prediction of the batch): both sides compute in float32, whose rounding is relative to the size of the
terms summed (a Gemm's products, a normalisation's mean), not to the result, so an entry near 0 (a softmax
probability of 1e-9, a tanh of a cancelled sum) is compared to one millionth of the output's scale instead.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

import gradfit  # noqa: E402
import gradfit.keras as K  # noqa: E402
from gradfit import registry  # noqa: E402
from gradfit.export import onnx as gradfit_onnx  # noqa: E402
from gradfit.models import Sequential  # noqa: E402

L = K.layers
RTOL = 1e-6
#: test id -> (worst relative error over entries >= 1% of the output's largest, worst error / largest |prediction|)
WORST: dict[str, tuple[float, float]] = {}


# ------------------------------------------------------------------------------------------- helpers
def run_onnx(proto, x: np.ndarray) -> tuple[np.ndarray, str]:
    """The graph's output for ``x``, by ONNX Runtime where it imports, else by onnx's reference evaluator."""
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        (out,) = ReferenceEvaluator(proto).run(None, {proto.graph.input[0].name: x})
        return np.asarray(out), "reference"
    try:
        session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        # an ONNX Runtime older than the onnx package (the wheels for Python 3.10 stop at 1.23) cannot read the IR
        # version of the newest opsets: that graph is checked by the reference evaluator instead
        if "Unsupported model IR version" not in str(exc) and "opset" not in str(exc).lower():
            raise
        from onnx.reference import ReferenceEvaluator

        (out,) = ReferenceEvaluator(proto).run(None, {proto.graph.input[0].name: x})
        return np.asarray(out), "reference"
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    return out, "onnxruntime"


@pytest.fixture(params=["onnxruntime", "reference"])
def runtime(request, monkeypatch):
    """Each comparison twice: through ONNX Runtime, and through the fallback with onnxruntime made unimportable."""
    if request.param == "onnxruntime":
        pytest.importorskip("onnxruntime")
    else:
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    return request.param


def randomize(model, rng) -> None:
    """Non-trivial weights everywhere: kernels and shifts ~ N(0, 1), scales around 1, variances in (0.3, 3)."""
    for layer in model.layers:
        values = []
        for w in layer.weights:
            arr, name = w.numpy(), w.name
            if arr.dtype.kind != "f":  # Normalization's count
                values.append(arr)
            elif "variance" in name:
                values.append(rng.uniform(0.3, 3.0, arr.shape).astype(arr.dtype))
            elif name == "gamma":
                values.append(rng.uniform(0.5, 2.0, arr.shape).astype(arr.dtype))
            elif name == "kernel":
                values.append((rng.normal(size=arr.shape) * 1.5).astype(arr.dtype))
            else:
                values.append(rng.normal(size=arr.shape).astype(arr.dtype))
        if values:
            layer.set_weights(values)


def exported(model, tmp_path, **kwargs):
    """Export through ``model.export``, load the file back and check it fully."""
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", verbose=False, **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def assert_predicts_the_same(model, proto, x, key: str, rtol: float = RTOL) -> None:
    want = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    got, _ = run_onnx(proto, x.astype(np.float32))
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape
    atol = rtol * float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    scale = float(np.max(np.abs(want))) or 1.0
    large = np.abs(want) >= 0.01 * scale  # entries within two decades of the output's largest
    error = np.abs(got - want)
    WORST[key] = (float(np.max(error[large] / np.abs(want)[large])), float(np.max(error)) / scale)


# ------------------------------------------------------------------------------------------- every activation
ACTIVATIONS = registry.ACTIVATIONS.names()


@pytest.mark.parametrize("opset", [13, 17, 20])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_in_a_dense_layer(activation, opset, runtime, tmp_path):
    rng = np.random.default_rng(1)
    model = Sequential([L.Input((5,)), L.Dense(6), L.Dense(8, activation=activation)])
    randomize(model, rng)
    x = rng.normal(size=(64, 5)).astype(np.float32)  # pre-activations spread over about [-10, 10]
    proto = exported(model, tmp_path, opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert_predicts_the_same(model, proto, x, f"{activation}-{opset}-{runtime}")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_as_an_activation_layer(activation, tmp_path):
    rng = np.random.default_rng(2)
    model = Sequential([L.Input((5,)), L.Dense(6), L.Activation(activation)])
    randomize(model, rng)
    x = rng.normal(size=(32, 5)).astype(np.float32)
    assert_predicts_the_same(model, exported(model, tmp_path), x, f"Activation({activation})")


# ------------------------------------------------------------------------------------------- every layer
def _adapted(layer_factory, shape):
    def make():
        layer = layer_factory()
        layer.adapt(np.random.default_rng(3).normal(1.5, 2.5, size=(200, *shape)))
        return layer

    return make


#: (id, input shape of one example, the layer between two Denses); the Dense before maps to 6 features
LAYER_CASES = [
    ("Dense", (4,), lambda: L.Dense(5, activation="tanh")),
    ("Dense-no-bias", (4,), lambda: L.Dense(5, use_bias=False)),
    ("Dense-3d", (3, 4), lambda: L.Dense(5, activation="relu")),
    ("Activation", (4,), lambda: L.Activation("softplus")),
    ("ReLU", (4,), lambda: L.ReLU()),
    ("ReLU-max6", (4,), lambda: L.ReLU(max_value=6.0)),
    ("ReLU-max6-slope", (4,), lambda: L.ReLU(max_value=6.0, negative_slope=0.1)),
    ("ReLU-slope", (4,), lambda: L.ReLU(negative_slope=0.2)),
    ("ReLU-threshold", (4,), lambda: L.ReLU(threshold=0.8)),
    ("ReLU-all", (4,), lambda: L.ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5)),
    ("LeakyReLU", (4,), lambda: L.LeakyReLU()),
    ("LeakyReLU-0.05", (4,), lambda: L.LeakyReLU(negative_slope=0.05)),
    ("Softmax", (4,), lambda: L.Softmax()),
    ("Softmax-axis1-3d", (3, 4), lambda: L.Softmax(axis=1)),
    ("Softmax-axes-3d", (3, 4), lambda: L.Softmax(axis=[1, 2])),
    ("Dense-LeakyReLU-activation", (4,), lambda: L.Dense(5, activation=L.LeakyReLU(0.1))),
    ("Dense-ReLU-activation", (4,), lambda: L.Dense(5, activation=L.ReLU(max_value=1.5, threshold=0.2))),
    ("Dense-Softmax-activation", (4,), lambda: L.Dense(5, activation=L.Softmax())),
    ("BatchNormalization", (4,), lambda: L.BatchNormalization()),
    ("BatchNormalization-bare", (4,), lambda: L.BatchNormalization(center=False, scale=False, epsilon=0.01)),
    ("BatchNormalization-axis1-3d", (3, 4), lambda: L.BatchNormalization(axis=1)),
    ("Normalization", (4,), _adapted(lambda: L.Normalization(), (6,))),
    ("Normalization-invert", (4,), _adapted(lambda: L.Normalization(invert=True), (6,))),
    ("Normalization-given", (4,), lambda: L.Normalization(mean=[0.5] * 6, variance=[2.0] * 6)),
    ("Normalization-axis1-3d", (3, 4), _adapted(lambda: L.Normalization(axis=1), (3, 6))),
    ("LayerNormalization", (4,), lambda: L.LayerNormalization()),
    ("LayerNormalization-bare", (4,), lambda: L.LayerNormalization(center=False, scale=False)),
    ("LayerNormalization-trailing-3d", (3, 4), lambda: L.LayerNormalization(axis=[1, 2])),
    ("LayerNormalization-middle-3d", (3, 4), lambda: L.LayerNormalization(axis=1)),
    ("LayerNormalization-rms", (4,), lambda: L.LayerNormalization(rms_scaling=True)),
    ("Rescaling", (4,), lambda: L.Rescaling(1 / 255.0, offset=-1.0)),
    ("Rescaling-per-feature", (4,), lambda: L.Rescaling([0.5, 1, 2, 3, 4, 5], offset=[0, 1, 0, 1, 0, 1])),
    ("Flatten-3d", (3, 4), lambda: L.Flatten()),
    ("Flatten-channels-first-3d", (3, 4), lambda: L.Flatten(data_format="channels_first")),
    ("Dropout", (4,), lambda: L.Dropout(0.5)),
    ("GaussianNoise", (4,), lambda: L.GaussianNoise(0.5)),
    ("GaussianDropout", (4,), lambda: L.GaussianDropout(0.4)),
    ("Identity", (4,), lambda: L.Identity()),
]


def _layer_model(shape, factory, rng) -> Sequential:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # LayerNormalization(rms_scaling=True) is deprecated in Keras
        layer = factory()
    model = Sequential([L.Input(shape), L.Dense(6), layer, L.Dense(3)])
    randomize(model, rng)
    return model


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_every_layer_between_dense_layers(case, opset, runtime, tmp_path):
    name, shape, factory = case
    rng = np.random.default_rng(4)
    model = _layer_model(shape, factory, rng)
    x = rng.normal(size=(48, *shape)).astype(np.float32)
    proto = exported(model, tmp_path, opset_version=opset)
    assert_predicts_the_same(model, proto, x, f"{name}-{opset}-{runtime}")


REDUCING_CASES = [c for c in LAYER_CASES if c[0] in ("Softmax-axes-3d", "LayerNormalization-middle-3d")]


@pytest.mark.parametrize("opset", [18, onnx.defs.onnx_opset_version()])
@pytest.mark.parametrize("case", REDUCING_CASES, ids=[c[0] for c in REDUCING_CASES])
def test_reductions_take_their_axes_as_an_input_from_opset_18(case, opset, tmp_path):
    name, shape, factory = case
    rng = np.random.default_rng(4)
    model = _layer_model(shape, factory, rng)
    proto = exported(model, tmp_path, opset_version=opset)
    reductions = [n for n in proto.graph.node if n.op_type.startswith("Reduce")]
    assert reductions and all(len(n.input) == 2 and "axes" not in {a.name for a in n.attribute} for n in reductions)
    assert_predicts_the_same(model, proto, rng.normal(size=(16, *shape)).astype(np.float32), f"{name}-{opset}")


def test_the_layer_cases_cover_every_exporter():
    covered = set()
    for _, shape, factory in LAYER_CASES:
        model = _layer_model(shape, factory, np.random.default_rng(0))
        covered |= {type(layer) for layer in model.layers}
    missing = set(gradfit_onnx.LAYER_EXPORTERS) - covered - {gradfit.layers.InputLayer}
    assert not missing, f"layers with an exporter but no case in LAYER_CASES: {sorted(c.__name__ for c in missing)}"


def test_batch_normalization_with_moving_statistics_from_training(tmp_path):
    rng = np.random.default_rng(5)
    model = Sequential([L.Input((4,)), L.Dense(6), L.BatchNormalization(momentum=0.5), L.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(2.0, 3.0, size=(64, 4)).astype(np.float32)
    model.fit(x, rng.normal(size=(64, 2)), epochs=3, batch_size=16, verbose=0)
    bn = model.layers[1]
    assert np.abs(bn.moving_mean).max() > 0.1 and np.abs(bn.moving_variance - 1).max() > 0.1
    assert_predicts_the_same(model, exported(model, tmp_path), x, "BatchNormalization-trained")


def test_a_trained_model_with_dropout_and_normalisations(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:2] > 0).astype(np.float32)
    norm = L.Normalization()
    norm.adapt(x)
    model = Sequential(
        [
            L.Input((5,)),
            norm,
            L.Dense(16, activation="gelu"),
            L.Dropout(0.3),
            L.LayerNormalization(),
            L.Dense(8, activation=L.LeakyReLU(0.1)),
            L.BatchNormalization(),
            L.GaussianNoise(0.2),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert_predicts_the_same(model, exported(model, tmp_path), x, "trained")


def test_a_float64_model_exports_a_float32_graph(float64, tmp_path):
    rng = np.random.default_rng(7)
    model = Sequential([L.Input((4,)), L.Dense(6, activation="elu"), L.BatchNormalization(), L.Dense(2)])
    randomize(model, rng)
    proto = exported(model, tmp_path)
    assert {t.data_type for t in proto.graph.initializer} == {onnx.TensorProto.FLOAT}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    # the weights are rounded to float32: equal to the float64 predictions to float32's precision
    assert_predicts_the_same(model, proto, rng.normal(size=(32, 4)), "float64-model", rtol=1e-5)


# ------------------------------------------------------------------------------------------- the graph itself
def test_opset_names_and_shapes(tmp_path, capsys):
    model = Sequential([L.Input((3, 4), name="pixels"), L.Flatten(), L.Dense(5), L.Dense(2, activation="softmax")])
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx")
    assert capsys.readouterr().out == f"Saved artifact at '{path}'.\n"  # verbose=None prints, as in Keras
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].domain == "" and proto.opset_import[0].version == gradfit_onnx.DEFAULT_OPSET >= 13
    assert proto.ir_version == onnx.helper.find_min_ir_version_for(list(proto.opset_import))
    assert proto.producer_name == "gradfit"
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("pixels", "output_0")
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 4]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 2]
    assert {n.op_type for n in proto.graph.node} == {"Flatten", "Gemm", "Softmax"}
    for batch in (1, 7):  # the batch dimension is free
        got, _ = run_onnx(proto, np.ones((batch, 3, 4), np.float32))
        assert got.shape == (batch, 2)


def test_a_model_built_without_an_input_names_its_input_as_keras_does(tmp_path):
    model = Sequential([L.Dense(3)])
    model.build((None, 4))
    proto = exported(model, tmp_path)
    assert proto.graph.input[0].name == "input_layer"


def test_inference_only_layers_leave_no_node(tmp_path):
    model = Sequential([L.Input((4,)), L.Dropout(0.5), L.GaussianNoise(0.1), L.Identity()])
    proto = exported(model, tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["Identity"]  # input to output_0
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(run_onnx(proto, x)[0], x)
    model = Sequential([L.Input((4,)), L.Dense(3), L.Dropout(0.5), L.BatchNormalization(), L.GaussianDropout(0.2)])
    ops = [n.op_type for n in exported(model, tmp_path).graph.node]
    assert ops == ["Gemm", "Mul", "Add"]


def test_layer_normalization_is_the_opset_s_op_from_17_and_decomposed_before(tmp_path):
    model = Sequential([L.Input((4,)), L.LayerNormalization()])
    assert "LayerNormalization" in {n.op_type for n in exported(model, tmp_path, opset_version=17).graph.node}
    assert "LayerNormalization" not in {n.op_type for n in exported(model, tmp_path, opset_version=16).graph.node}


def test_input_signature_fixes_the_batch_and_names_the_input(tmp_path):
    class Spec:  # what keras.InputSpec / tf.TensorSpec carry
        shape, dtype, name = (5, 4), "float32", "features"

    model = Sequential([L.Input((4,)), L.Dense(2)])
    for signature in (Spec(), [Spec()]):
        proto = exported(model, tmp_path, input_signature=signature)
        (inp,) = proto.graph.input
        assert inp.name == "features"
        assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [5, 4]
        assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim] == [5, 2]
    proto = exported(model, tmp_path, input_signature=[np.zeros((3, 4), np.float32)])  # a tensor: batch free
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_verbose_false_prints_nothing(tmp_path, capsys):
    Sequential([L.Input((4,)), L.Dense(2)]).export(tmp_path / "m.onnx", format="onnx", verbose=False)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------- refusals
def test_a_custom_activation_is_refused_naming_the_layer_and_the_activation(tmp_path):
    def swish_beta(z):
        return z / (1 + np.exp(-1.5 * z))

    act = gradfit.activations.custom(swish_beta, derivative=lambda z: np.ones_like(z))
    model = Sequential([L.Input((4,)), L.Dense(3, activation=act, name="hidden")])
    with pytest.raises(ValueError, match=r"layer 'hidden' \(Dense\).*'swish_beta'.*custom"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_layer_of_one_s_own_is_refused_naming_it(tmp_path):
    class Doubling(L.Identity):
        def forward(self, x, training=False):
            return 2 * x

    model = Sequential([L.Input((4,)), Doubling(name="twice")])
    with pytest.raises(ValueError, match=r"layer 'twice' \(Doubling\).*built-in"):
        model.export(tmp_path / "m.onnx", format="onnx")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "tf_saved_model.*default.*gradfit supports format='onnx'"),
        ({"format": "torch"}, ValueError, "format='onnx'"),
        ({"format": "onxx"}, ValueError, "Unrecognized format='onxx'.*'onnx'"),
        ({"format": "onnx", "opset_version": 12}, ValueError, "opset_version=12.*13"),
        ({"format": "onnx", "opset_version": "17"}, TypeError, "opset_version"),
        ({"format": "onnx", "dynamic_axes": {}}, TypeError, "dynamic_axes"),
        ({"format": "onnx", "verbose": "yes"}, TypeError, "verbose"),
        ({"format": "onnx", "input_signature": [np.zeros((2, 5), np.float32)]}, ValueError, "input_signature"),
        ({"format": "onnx", "input_signature": [np.zeros((2, 4))]}, ValueError, "dtype float64.*float32"),
        ({"format": "onnx", "input_signature": "x"}, TypeError, "input_signature"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match, tmp_path):
    model = Sequential([L.Input((4,)), L.Dense(2)])
    with pytest.raises(error, match=match):
        model.export(tmp_path / "m.onnx", **kwargs)


def test_an_unbuilt_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not been built"):
        Sequential([L.Dense(2)]).export(tmp_path / "m.onnx", format="onnx")


def test_without_the_onnx_package_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    model = Sequential([L.Input((4,)), L.Dense(2)])
    with pytest.raises(ImportError, match=r'pip install "gradfit\[onnx\]"'):
        model.export(tmp_path / "m.onnx", format="onnx")


def test_every_registered_layer_and_activation_has_an_exporter_or_a_stated_refusal():
    exported_layers = {cls.__name__ for cls in gradfit_onnx.LAYER_EXPORTERS}
    layers = {entry.name for entry in registry.LAYERS}
    without = layers - exported_layers - set(gradfit_onnx.REFUSED_LAYERS)
    assert not without, f"layers with no ONNX exporter and no reason in REFUSED_LAYERS: {sorted(without)}"
    activations = {entry.name for entry in registry.ACTIVATIONS}
    without = activations - set(gradfit_onnx.ACTIVATION_EXPORTERS) - set(gradfit_onnx.REFUSED_ACTIVATIONS)
    assert not without, f"activations with no ONNX exporter and no reason in REFUSED_ACTIVATIONS: {sorted(without)}"
    assert not exported_layers - layers and not set(gradfit_onnx.ACTIVATION_EXPORTERS) - activations  # no stale names
    assert all(gradfit_onnx.REFUSED_LAYERS.values()) and all(gradfit_onnx.REFUSED_ACTIVATIONS.values())


def test_free_dimensions_besides_the_batch_stay_free(tmp_path):
    model = Sequential([L.Input((None, 3)), L.Dense(2, activation="tanh")])
    proto = exported(model, tmp_path)
    dims = [
        [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in (*proto.graph.input, *proto.graph.output)
    ]
    assert dims == [["batch", "input_dim_1", 3], ["batch", "output_dim_1", 2]]
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Add", "Tanh"]
    for steps in (1, 5):
        x = np.random.default_rng(steps).normal(size=(4, steps, 3)).astype(np.float32)
        assert_predicts_the_same(model, proto, x, f"free-dims-{steps}")


def test_report_the_worst_relative_error():
    """Runs last in this file: the worst errors of the comparisons above (shown with ``-s``).

    ONNX Runtime's float32 kernels are accurate to about 1e-7 *absolutely* (its Sigmoid of -12, 6.1e-6, is 1%
    off; its Elu is exp(x) - 1, not expm1), hence the atol; relative to the output's scale every comparison is
    within 1e-6 (1e-5 for the float64 model, whose weights are rounded to float32)."""
    if WORST:
        rel = max(WORST, key=lambda k: WORST[k][0])
        scaled = max(WORST, key=lambda k: WORST[k][1])
        print(
            f"\nONNX export, {len(WORST)} comparisons: worst relative error {WORST[rel][0]:.3g} ({rel}) over "
            f"entries >= 1% of the output's largest; worst error / largest |prediction| {WORST[scaled][1]:.3g} "
            f"({scaled})"
        )
        assert all(s <= (1e-5 if k == "float64-model" else RTOL) for k, (_, s) in WORST.items())
