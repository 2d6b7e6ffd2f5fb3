"""``model.explain()`` asks each layer (``Layer.describe``), the loss (``formula``) and the optimizer
(``describe()``): no layer type is known to ``gradfit.explain``, so a new layer explains itself."""

from __future__ import annotations

import re
import warnings

import gradfit
from gradfit import registry
from gradfit.layers.base import Layer

K = gradfit.keras
L = gradfit.keras.layers


def _every_layer_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return K.Sequential(
            [
                K.Input((3, 4)),
                L.Rescaling(1 / 255, offset=-0.5),
                L.Normalization(axis=-1),
                L.GaussianNoise(0.1),
                L.Flatten(),
                L.Dense(8),
                L.BatchNormalization(),
                L.Activation("tanh"),
                L.Dense(7, activation="relu"),
                L.LayerNormalization(),
                L.ReLU(max_value=6.0),
                L.Dropout(0.2),
                L.GaussianDropout(0.3),
                L.Identity(),
                L.Dense(6),
                L.LeakyReLU(),
                L.LayerNormalization(rms_scaling=True),
                L.Dense(3),
                L.Softmax(),
            ]
        )


def _text(model) -> str:
    return model.explain(print_fn=lambda s: None)


def test_every_layer_explains_itself_with_its_number_and_shapes():
    model = _every_layer_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    text = _text(model)
    forward = text.split("  f(X) =")[0]
    for index, layer in enumerate(model.layers, start=1):
        # each layer's line: a[l] = …, its shapes, and its name
        assert re.search(rf"^  a\[{index}\] = .*\[{re.escape(layer.name)}[;\]]", forward, re.M), layer.name
        assert f"{type(layer).__name__}(" not in forward  # no layer falls back to the default "Name(input)"
    assert "a[1] = X * 0.00392157 - 0.5  (m,3,4) -> (m,3,4)" in text
    assert "a[5] = linear(a[4] @ W[5] + b[5])  (m,12)@(12,8) -> (m,8)" in text
    assert "a[6] = gamma[6] * (a[5] - mu) / sqrt(var + 0.001) + beta[6]" in text
    assert "a[9] = gamma[9] * (a[8] - mu) / sqrt(var + 0.001) + beta[9]" in text
    assert "a[11] = a[10] * mask / (1 - 0.2) while training" in text
    assert "a[12] = a[11] * n while training (n ~ N(1, 0.428571) per entry)" in text
    assert "a[13] = a[12]  (m,7) -> (m,7)" in text
    assert "a[3] = a[2] + 0.1 n while training" in text
    assert "a[16] = gamma[16] * a[15] / sqrt(var + 0.001)" in text
    assert "f(X) = a[18]" in text


def test_weights_backward_pass_and_fusion():
    model = _every_layer_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    text = _text(model)
    assert "W[5] (12,8), b[5] (8,)   [dense]" in text
    assert "moving_mean[6] (8,) (not trained)" in text
    assert "gamma[9] (7,), beta[9] (7,)" in text
    assert "mean[2] (4,) (not trained)" in text
    backward = text.split("Backward pass")[1].split("Update")[0].splitlines()[1:]
    # last layer first; the fused softmax output gets dJ/dz from the loss; nothing before the first Dense
    assert backward[0].strip() == "da[17] = (f(X) - onehot(y)) / m, from the loss (a[17] holds the logits)"
    assert backward[1].startswith("  dz[17] = da[17] * g'(z[17]);  dW[17] = a[16].T @ dz[17]")
    assert any("da[12] = da[13]" in line for line in backward)  # Identity
    assert any("da[11] = da[12] * n" in line for line in backward)  # GaussianDropout
    assert any("dgamma[9] = sum over the batch of da[9] * x_hat" in line for line in backward)
    assert backward[-1].startswith("  dz[5] = da[5] * g'(z[5]);  dW[5] = a[4].T @ dz[5]")
    assert not any("da[3]" in line or "da[1]" in line for line in backward)
    assert "Update, once per batch: Adam" in text


def test_dense_only_models_read_as_before():
    model = K.Sequential([K.Input((400,)), L.Dense(25, activation="sigmoid"), L.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    text = _text(model)
    assert "  a[1] = sigmoid(X @ W[1] + b[1])  (m,400)@(400,25) -> (m,25)   [dense" in text
    assert "  a[2] = sigmoid(a[1] @ W[2] + b[2])  (m,25)@(25,1) -> (m,1)" in text
    assert "dz[2] = (f(X) - y) / m, from the loss;  dW[2] = a[1].T @ dz[2];  db[2] = sum over the batch" in text
    assert "dz[1] = da[1] * g'(z[1]);  dW[1] = X.T @ dz[1]" in text
    no_bias = K.Sequential([K.Input((2,)), L.Dense(3, use_bias=False)])
    no_bias.compile(loss="mse")
    assert "a[1] = linear(X @ W[1])  (m,2)@(2,3) -> (m,3)" in _text(no_bias)
    assert "db[1]" not in _text(no_bias)


class Doubler(Layer):
    """A user's layer that knows nothing of explain: ``y = 2 x``."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, dy):
        return 2 * dy


class Halver(Doubler):
    def forward(self, x, training=False):
        return x / 2

    def backward(self, dy):
        return dy / 2

    def describe(self, inp, out, index):
        return {"forward": [f"{out} = {inp} / 2"], "backward": [f"d{inp} = d{out} / 2"], "weights": [], "note": "half"}


def test_a_new_layer_is_asked_not_switched_on():
    model = K.Sequential([K.Input((2,)), Doubler(), L.Dense(1), Halver()])
    model.compile(loss="mse", optimizer="sgd")
    text = _text(model)
    assert "a[1] = Doubler(X)  (m,2) -> (m,2)" in text  # the default describe
    assert re.search(r"a\[3\] = a\[2\] / 2  \(m,1\) -> \(m,1\)   \[halver\w*; half\]", text)
    assert "da[2] = da[3] / 2" in text
    assert "dX" not in text  # Doubler sits before the first trainable layer: fit never backpropagates into it


def test_every_registered_layer_writes_its_own_describe():
    import gradfit.layers  # noqa: F401  (registers the built-in layers)

    missing = [e.name for e in registry.LAYERS if isinstance(e.obj, type) and e.obj.describe is Layer.describe]
    assert not missing, f"layers without describe(): {missing}"
    for name in ("GaussianNoise", "GaussianDropout", "LayerNormalization", "Rescaling", "Identity"):
        assert registry.LAYERS.lookup(name) is not None


def test_describe_returns_lines_for_every_part():
    model = _every_layer_model()
    model.build((None, 3, 4))
    for index, layer in enumerate(model.layers, start=1):
        d = layer.describe(f"a[{index - 1}]", f"a[{index}]", index)
        assert isinstance(d["forward"], list) and d["forward"] and all(isinstance(s, str) for s in d["forward"])
        assert isinstance(d["backward"], list) and all(isinstance(s, str) for s in d["backward"])
        assert len(d["weights"]) == len(layer._specs)
    assert "Cost" not in _text(model) and "Backward pass" in _text(model)  # not compiled: no loss to show


def test_fused_backward_line_takes_the_losses_own_dz_formula():
    # the output layer writes a placeholder; explain() puts the loss's dJ/dz there (the focal loss's is not a - y)
    import gradfit as tf
    from gradfit.explain import DZ_FROM_LOSS

    model = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="relu"), tf.keras.layers.Dense(1, "sigmoid")])
    model.build((None, 4))
    model.compile(loss=tf.keras.losses.BinaryFocalCrossentropy())
    text = model.explain(print_fn=lambda s: None)
    assert DZ_FROM_LOSS not in text
    assert f"dz[2] = {tf.keras.losses.BinaryFocalCrossentropy.dz_formula}, from the loss" in text
    model.compile(loss="binary_crossentropy")
    assert "dz[2] = (f(X) - y) / m, from the loss" in model.explain(print_fn=lambda s: None)
