"""Dense layer and whole-model gradients against finite differences, in float64."""

import numpy as np
import pytest

import gradfit
from gradfit import backend, losses, optimizers, regularizers, training
from gradfit.keras import Input, Sequential
from gradfit.layers import Dense


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_grad(f, w, h=1e-6):
    """Central differences of the scalar f() with respect to each element of w, perturbing w in place."""
    g = np.zeros(w.shape)
    for idx in np.ndindex(w.shape):
        old = w[idx]
        w[idx] = old + h
        fp = f()
        w[idx] = old - h
        fm = f()
        w[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    return g


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


HAND_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True),
}


def random_weights(layer, seed, scale=0.8):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])


# --------------------------------------------------------------------------- the layer


def test_float64_fixture_builds_float64_weights(float64):
    layer = Dense(3)
    layer.build((None, 2))
    assert layer.kernel.dtype == np.float64 and layer.bias.dtype == np.float64


def test_default_weights_are_float32_glorot_uniform_and_zero_bias():
    assert backend.floatx() == "float32"
    layer = Dense(50)
    layer.build((None, 30))
    assert layer.kernel.shape == (30, 50) and layer.bias.shape == (50,)
    assert layer.kernel.dtype == np.float32
    limit = np.sqrt(6 / (30 + 50))
    assert np.abs(layer.kernel).max() <= limit
    assert np.abs(layer.kernel).max() > 0.8 * limit  # spread over the whole interval, not a narrower one
    np.testing.assert_array_equal(layer.bias, 0)


@pytest.mark.parametrize("activation", sorted(HAND_ACTIVATIONS))
def test_forward_is_x_at_w_plus_b_then_g(float64, activation):
    layer = Dense(4, activation=activation)
    layer.build((None, 3))
    random_weights(layer, 1)
    x = np.random.default_rng(2).normal(size=(5, 3))
    expected = HAND_ACTIVATIONS[activation](x @ layer.kernel + layer.bias)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12, atol=1e-15)


def test_forward_without_bias(float64):
    layer = Dense(2, activation="tanh", use_bias=False)
    layer.build((None, 3))
    assert layer.bias is None and len(layer.get_weights()) == 1
    random_weights(layer, 3)
    x = np.random.default_rng(4).normal(size=(4, 3))
    np.testing.assert_allclose(layer.forward(x), np.tanh(x @ layer.kernel), rtol=1e-13)


def test_call_casts_integer_and_list_input():
    layer = Dense(2, activation="relu")
    out = layer([[1, 2, 3]])
    assert out.shape == (1, 2) and out.dtype == np.float32


def layer_gradient_check(layer, x, seed=0):
    """Compare the layer's backward with finite differences of J = sum(da * layer(x)) + penalties."""
    da = np.random.default_rng(seed).normal(size=(x.shape[:-1]) + (layer.units,))

    def cost():
        return float(np.sum(da * layer.forward(x))) + layer.regularization_penalty()

    layer.forward(x)
    dx = layer.backward(da)
    for spec in layer._specs:
        if spec.regularizer is not None:
            spec.regularizer.add_grad(getattr(layer, spec.name), getattr(layer, "grad_" + spec.name))
    checks = {"kernel": (layer.grad_kernel.copy(), numerical_grad(cost, layer.kernel))}
    if layer.use_bias:
        checks["bias"] = (layer.grad_bias.copy(), numerical_grad(cost, layer.bias))
    checks["x"] = (dx, numerical_grad(cost, x))
    for name, (analytic, numeric) in checks.items():
        assert analytic.shape == numeric.shape, name
        assert np.abs(numeric).max() > 1e-4, name
        assert rel_error(analytic, numeric) < 1e-6, name


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", ["linear", "sigmoid", "tanh", "relu", "softplus", "elu", "softmax", "gelu"])
def test_backward_matches_finite_differences(float64, activation, use_bias):
    layer = Dense(4, activation=activation, use_bias=use_bias)
    layer.build((None, 3))
    random_weights(layer, 5)
    x = np.random.default_rng(6).normal(size=(6, 3))
    if activation in ("relu", "elu"):  # keep every z clear of the kink at 0
        z = x @ layer.kernel + (layer.bias if use_bias else 0)
        assert np.abs(z).min() > 1e-3
    layer_gradient_check(layer, x)


def test_backward_on_3d_input(float64):
    layer = Dense(3, activation="tanh")
    layer.build((None, 2, 4))
    random_weights(layer, 7)
    x = np.random.default_rng(8).normal(size=(2, 5, 4))
    assert layer.forward(x).shape == (2, 5, 3)
    layer_gradient_check(layer, x)


@pytest.mark.parametrize(
    "kernel_regularizer,bias_regularizer",
    [
        (regularizers.L2(0.01), None),
        (regularizers.L1(0.05), None),
        (regularizers.L1L2(l1=0.02, l2=0.03), regularizers.L2(0.5)),
        (None, regularizers.L1(0.1)),
        ("l2", "l1"),
    ],
)
def test_backward_with_regularizers(float64, kernel_regularizer, bias_regularizer):
    layer = Dense(3, activation="sigmoid", kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer)
    layer.build((None, 4))
    random_weights(layer, 9)
    assert np.abs(layer.kernel).min() > 1e-3 and np.abs(layer.bias).min() > 1e-3  # clear of |w|'s kink
    x = np.random.default_rng(10).normal(size=(5, 4))
    layer_gradient_check(layer, x)


@pytest.mark.parametrize(
    "reg,penalty,grad",
    [
        (regularizers.L1(0.03), lambda w: 0.03 * np.abs(w).sum(), lambda w: 0.03 * np.sign(w)),
        (regularizers.L2(0.02), lambda w: 0.02 * (w**2).sum(), lambda w: 0.04 * w),
        (
            regularizers.L1L2(l1=0.01, l2=0.2),
            lambda w: 0.01 * np.abs(w).sum() + 0.2 * (w**2).sum(),
            lambda w: 0.01 * np.sign(w) + 0.4 * w,
        ),
    ],
)
def test_regularizer_penalty_and_gradient(reg, penalty, grad):
    w = np.random.default_rng(11).normal(size=(4, 3))
    assert reg.penalty(w) == pytest.approx(penalty(w), rel=1e-13)
    assert reg(w) == pytest.approx(penalty(w), rel=1e-13)
    g = np.full(w.shape, 0.25)
    reg.add_grad(w, g)
    np.testing.assert_allclose(g, 0.25 + grad(w), rtol=1e-13)
    numeric = numerical_grad(lambda: reg.penalty(w), w)
    assert rel_error(g - 0.25, numeric) < 1e-6


def test_regularizer_defaults_are_keras_0_01():
    w = np.array([[1.0, -2.0]])
    assert regularizers.L2().penalty(w) == pytest.approx(0.05)  # no 1/2, no division by m
    assert regularizers.L1().penalty(w) == pytest.approx(0.03)
    assert type(regularizers.get("l2")) is regularizers.L2
    with pytest.raises(ValueError):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")


def test_layer_losses_report_the_penalties(float64):
    layer = Dense(2, kernel_regularizer=regularizers.L2(0.1), bias_regularizer=regularizers.L1(0.2))
    layer.build((None, 3))
    random_weights(layer, 12)
    expected = [0.1 * (layer.kernel**2).sum(), 0.2 * np.abs(layer.bias).sum()]
    np.testing.assert_allclose(layer.losses, expected, rtol=1e-13)
    assert layer.regularization_penalty() == pytest.approx(sum(expected), rel=1e-13)


# --------------------------------------------------------------------------- a whole model


def hand_forward(model, x):
    """The model's output and the output layer's z, computed here from the weights (not by gradfit)."""
    a = x
    z = None
    for layer in model.layers:
        z = a @ layer.kernel + (layer.bias if layer.use_bias else 0)
        a = HAND_ACTIVATIONS[layer.activation.__name__](z)
    return a, z


def hand_penalty(model):
    total = 0.0
    for layer in model.layers:
        for name, reg in (("kernel", layer.kernel_regularizer), ("bias", layer.bias_regularizer)):
            if reg is not None:
                w = getattr(layer, name)
                total += reg.l1 * np.abs(w).sum() + reg.l2 * (w**2).sum()
    return total


def bce_logits(y, z):
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(axis=-1)


def logsumexp(z):
    top = z.max(axis=-1, keepdims=True)
    return np.log(np.exp(z - top).sum(axis=-1)) + top[:, 0]


def hand_cost(kind, model, x, y, sw=None):
    """Keras's cost J: mean over the batch of the per-example loss, plus the penalties."""
    a, z = hand_forward(model, x)
    if kind.startswith("bce"):
        y = y.reshape(-1, 1)  # (m,) labels for a one-unit output
    if kind == "bce_sigmoid":  # computed from the logits, as TensorFlow does for a sigmoid output
        per = bce_logits(y, z)
    elif kind == "bce_from_logits":
        per = bce_logits(y, a)
    elif kind == "sparse_softmax":
        per = logsumexp(z) - z[np.arange(len(y)), y]
    elif kind == "cce_softmax_smooth":
        ys = y * (1 - 0.1) + 0.1 / y.shape[1]
        per = (ys * (logsumexp(z)[:, None] - z)).sum(axis=1)
    elif kind in ("mse", "mse_sigmoid"):
        per = ((a - y) ** 2).mean(axis=1)
    else:
        raise AssertionError(kind)
    if sw is not None:
        per = per * sw
    return per.sum() / len(x) + hand_penalty(model)


def make_model(kind, seed=0):
    rng = np.random.default_rng(seed)
    m = 7
    if kind == "bce_sigmoid":
        layers = [
            Input((4,)),
            Dense(5, "sigmoid", kernel_regularizer=regularizers.L2(0.01)),
            Dense(3, "sigmoid", bias_regularizer=regularizers.L1(0.02)),
            Dense(1, "sigmoid", kernel_regularizer=regularizers.L1L2(0.01, 0.03)),
        ]
        loss = losses.BinaryCrossentropy()
        x = rng.normal(size=(m, 4))
        y = rng.integers(0, 2, m).astype(float)
    elif kind == "bce_from_logits":
        layers = [Input((4,)), Dense(5, "tanh"), Dense(1, "linear", kernel_regularizer=regularizers.L2(0.05))]
        loss = losses.BinaryCrossentropy(from_logits=True)
        x = rng.normal(size=(m, 4))
        y = rng.integers(0, 2, m).astype(float)
    elif kind == "sparse_softmax":
        layers = [Input((4,)), Dense(6, "tanh", kernel_regularizer=regularizers.L2(0.02)), Dense(3, "softmax")]
        loss = losses.SparseCategoricalCrossentropy()
        x = rng.normal(size=(m, 4))
        y = np.array([0, 1, 2, 2, 1, 0, 1])
    elif kind == "cce_softmax_smooth":
        layers = [Input((4,)), Dense(5, "softplus"), Dense(3, "softmax")]
        loss = losses.CategoricalCrossentropy(label_smoothing=0.1)
        x = rng.normal(size=(m, 4))
        y = np.eye(3)[[0, 1, 2, 2, 1, 0, 1]]
    elif kind == "mse":
        layers = [
            Input((3,)),
            Dense(4, "tanh", kernel_regularizer=regularizers.L1L2(0.01, 0.02), bias_regularizer=regularizers.L2(0.1)),
            Dense(2, "linear"),
        ]
        loss = losses.MeanSquaredError()
        x = rng.normal(size=(m, 3))
        y = rng.normal(size=(m, 2))
    elif kind == "mse_sigmoid":  # a sigmoid output without cross-entropy: no fused path
        layers = [Input((3,)), Dense(4, "elu"), Dense(1, "sigmoid")]
        loss = losses.MeanSquaredError()
        x = rng.normal(size=(m, 3))
        y = rng.uniform(0, 1, (m, 1))
    else:
        raise AssertionError(kind)
    model = Sequential(layers)
    model.compile(loss=loss, optimizer=optimizers.SGD(0.1))
    for i, layer in enumerate(model.layers):
        random_weights(layer, seed + 100 + i)
    return model, x, y


MODEL_KINDS = ["bce_sigmoid", "bce_from_logits", "sparse_softmax", "cce_softmax_smooth", "mse", "mse_sigmoid"]


def step_gradient(model, x, y, sw=None):
    """The training step's cost and dJ/dw, computed the way fit computes them (without the update)."""
    step = training._Step(model)
    out = training.forward(model, x, training=True)
    y = model._loss.prepare_targets(np.asarray(y), out.shape)  # as fit prepares them, once
    value, d = step.loss_and_output_grad(y, sw, len(x))
    value += step.penalty()
    step.backward(d)
    return step, value, out, model.parameter_gradients.copy()


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_model_gradient_matches_finite_differences_of_the_cost(float64, kind):
    model, x, y = make_model(kind)
    assert model.parameters.dtype == np.float64
    step, value, out, grad = step_gradient(model, x, y)
    assert step.fused == (kind in ("bce_sigmoid", "sparse_softmax", "cce_softmax_smooth"))
    J = hand_cost(kind, model, x, y)
    assert value == pytest.approx(J, rel=1e-12)
    np.testing.assert_allclose(out, hand_forward(model, x)[0], rtol=1e-12)
    numeric = numerical_grad(lambda: hand_cost(kind, model, x, y), model.parameters)
    assert np.abs(numeric).max() > 1e-3
    assert rel_error(grad, numeric) < 1e-6
    # every layer's gradient is a view into the flat vector (small matrices laid out column by column)
    views = model.weight_views(grad)
    layer_grads = [g for layer in model.layers for g in layer.gradients]
    assert len(views) == len(layer_grads) and sum(v.size for v in views) == grad.size
    for g, view in zip(layer_grads, views):
        np.testing.assert_array_equal(g, view)
        assert np.shares_memory(g, model.parameter_gradients)


@pytest.mark.parametrize("kind", ["bce_sigmoid", "sparse_softmax", "mse"])
def test_model_gradient_with_sample_weights(float64, kind):
    model, x, y = make_model(kind, seed=3)
    sw = np.random.default_rng(4).uniform(0.2, 2.0, len(x))
    _, value, _, grad = step_gradient(model, x, y, sw)
    assert value == pytest.approx(hand_cost(kind, model, x, y, sw), rel=1e-12)
    numeric = numerical_grad(lambda: hand_cost(kind, model, x, y, sw), model.parameters)
    assert rel_error(grad, numeric) < 1e-6


def test_gradient_does_not_accumulate_between_steps(float64):
    model, x, y = make_model("bce_sigmoid", seed=5)
    _, _, _, first = step_gradient(model, x, y)
    _, _, _, second = step_gradient(model, x, y)
    np.testing.assert_allclose(second, first, rtol=1e-14)


@pytest.mark.parametrize("kind", ["bce_sigmoid", "sparse_softmax", "mse"])
def test_train_on_batch_takes_one_sgd_step_along_the_gradient(float64, kind):
    model, x, y = make_model(kind, seed=7)
    w0 = model.parameters.copy()
    J0 = hand_cost(kind, model, x, y)
    numeric = numerical_grad(lambda: hand_cost(kind, model, x, y), model.parameters)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(J0, rel=1e-12)  # the loss before the update, penalties included
    np.testing.assert_allclose(model.parameters, w0 - 0.1 * numeric, rtol=1e-7, atol=1e-9)
    assert not np.allclose(model.parameters, w0)


def test_evaluate_reports_the_cost_with_penalties(float64):
    model, x, y = make_model("mse", seed=9)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(hand_cost("mse", model, x, y), rel=1e-12)


def test_fit_uses_the_fused_logits_path_for_a_saturated_sigmoid(float64):
    # a sigmoid output saturated far on the wrong side still gets a gradient (sigmoid(z) - y), as in Keras
    model = Sequential([Input((1,)), Dense(1, "sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizers.SGD(1.0))
    model.set_weights([np.array([[40.0]]), np.array([0.0])])
    x = np.array([[1.0]])
    y = np.array([0.0])
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(40.0, rel=1e-12)  # exact logits loss, not clipped at -log(1e-7) = 16.1
    np.testing.assert_allclose(model.get_weights()[0], [[40.0 - sigmoid(40.0)]], rtol=1e-12)


def test_keras_namespace_dense_is_the_same_class():
    assert gradfit.keras.layers.Dense is Dense


def test_large_kernels_are_row_major_and_give_the_same_gradients(float64, monkeypatch, tmp_path):
    # kernels of >= 32768 entries sit row-major in the flat vector (their products run faster so), smaller
    # ones column-major; Dense's backward writes dJ/dW in either order: both give the same numbers
    from gradfit import parameters

    rng = np.random.default_rng(5)
    x = rng.normal(size=(24, 200))
    y = rng.integers(0, 3, 24)

    def gradients():
        backend.set_seed(0)
        model = Sequential([Input(shape=(200,)), Dense(200, activation="relu"), Dense(3)])
        model.compile(loss=losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
        return model, model.compute_gradients(x, y)

    model, (value, grads) = gradients()
    assert model.layers[0].kernel.flags.c_contiguous and not model.layers[0].kernel.flags.f_contiguous
    assert model.layers[1].kernel.flags.f_contiguous and not model.layers[1].kernel.flags.c_contiguous
    monkeypatch.setattr(parameters, "_ROW_MAJOR_SIZE", 10**9)  # every kernel column-major
    column_major, (value_f, grads_f) = gradients()
    assert column_major.layers[0].kernel.flags.f_contiguous
    assert value == pytest.approx(value_f, rel=1e-12)
    for g, g_f in zip(grads, grads_f, strict=True):
        np.testing.assert_allclose(g, g_f, rtol=1e-12, atol=1e-15)
    # the hand formula dJ/dW1 = x^T dz1 for the first layer
    z1 = x @ model.layers[0].kernel + model.layers[0].bias
    a1 = np.maximum(z1, 0)
    z2 = a1 @ model.layers[1].kernel + model.layers[1].bias
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(24), y] -= 1
    dz1 = (p / 24) @ model.layers[1].kernel.T * (z1 > 0)
    np.testing.assert_allclose(grads[0], x.T @ dz1, rtol=1e-10, atol=1e-14)
    # and a row-major model trains, saves and loads like any other
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gradfit.keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
