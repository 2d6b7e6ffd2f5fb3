"""The model's flat vector is re-gathered when what is trainable changes (freezing, unfreezing, add/pop, a layer
shared with another model): training must carry on with the weights the model holds, each weight keeping its
optimizer state (Keras keeps it per variable), and penalties and ``model.trainable`` must follow Keras."""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf

K = tf.keras


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, :1] * x[:, 1:2] > 0).astype("float32")


def _model(seed=0):
    tf.random.set_seed(seed)
    return K.Sequential([K.Input((4,)), K.layers.Dense(8, activation="tanh"), K.layers.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("trigger", ["predict", "parameters"])
def test_unfreezing_in_a_callback_keeps_training(trigger):
    # the classic fine-tuning schedule: a callback unfreezes a layer, another uses the model (which re-gathers the
    # vector); every later epoch must still move the weights the model predicts with
    x, y = _data(256)
    model = _model()
    model.layers[0].trainable = False
    model.compile(loss="binary_crossentropy", optimizer=K.optimizers.Adam(0.05))
    snapshots = []

    def on_epoch_end(epoch, logs):
        if epoch == 1:
            model.layers[0].trainable = True
        if trigger == "predict":
            model.predict(x[:4], verbose=0)
        else:
            assert model.parameters is not None
        snapshots.append([w.copy() for w in model.get_weights()])

    model.fit(
        x, y, epochs=5, verbose=0, shuffle=False, callbacks=[K.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)]
    )
    first_kernel = [s[0] for s in snapshots]
    assert np.array_equal(first_kernel[0], first_kernel[1])  # frozen for the first two epochs
    for a, b in zip(first_kernel[1:], first_kernel[2:]):
        assert np.abs(a - b).sum() > 1e-3  # then trained, every epoch
    last_kernel = [s[2] for s in snapshots]
    for a, b in zip(last_kernel, last_kernel[1:]):
        assert np.abs(a - b).sum() > 1e-3


def test_a_batch_callback_that_regathers_the_weights_does_not_detach_them():
    x, y = _data(128)
    model = _model()
    model.compile(loss="binary_crossentropy", optimizer=K.optimizers.SGD(0.5))
    calls = []

    def on_batch_end(batch, logs):
        model.layers[1].trainable = batch % 2 == 0  # toggled, then the model used: a new vector each time
        model.predict(x[:2], verbose=0)
        calls.append(model.get_weights()[0].copy())

    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False,
              callbacks=[K.callbacks.LambdaCallback(on_batch_end=on_batch_end)])  # fmt: skip
    moves = [np.abs(a - b).sum() for a, b in zip(calls, calls[1:])]
    assert min(moves) > 0, "a step after the re-gathering did not move the first layer's kernel"


def test_freezing_a_layer_keeps_the_other_layers_optimizer_state():
    # Keras keeps each variable's moments when the set of trainable variables changes; gradfit used to start
    # every moment afresh (while `iterations` kept counting, which Adam's bias correction then misreads)
    x, y = _data()
    model = _model()
    model.compile(loss="binary_crossentropy", optimizer=K.optimizers.Adam(0.01))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    opt = model.optimizer
    before = [opt._slot_objects["momentums"].weight(i) for i in range(4)]
    model.layers[0].trainable = False
    model.predict(x[:1], verbose=0)  # re-gathers: only the second layer's kernel and bias remain trainable
    assert opt.iterations == 8
    after = [opt._slot_objects["momentums"].weight(i) for i in range(2)]
    np.testing.assert_array_equal(after[0], before[2])
    np.testing.assert_array_equal(after[1], before[3])
    model.layers[0].trainable = True
    model.predict(x[:1], verbose=0)
    again = [opt._slot_objects["momentums"].weight(i) for i in range(4)]
    np.testing.assert_array_equal(again[0], before[0])  # the first layer's state was kept for it too
    np.testing.assert_array_equal(again[3], before[3])


def test_frozen_weights_add_no_penalty():
    # Keras sums the regularizers of trainable weights only (Layer._get_regularization_losses)
    x, y = _data()
    tf.random.set_seed(0)
    model = K.Sequential(
        [K.Input((4,)), K.layers.Dense(8, "relu", kernel_regularizer=K.regularizers.L2(1.0)), K.layers.Dense(1)]
    )
    model.compile(loss="mse")
    with_penalty = model.evaluate(x, y, verbose=0)
    assert len(model.losses) == 1 and model.losses[0] > 0
    model.layers[0].trainable = False
    assert model.losses == []
    without = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(with_penalty - without, float(np.sum(model.get_weights()[0] ** 2)), rtol=1e-5)


@pytest.mark.parametrize("how", ["constructor", "attribute"])
def test_a_frozen_model_trains_nothing(how):
    x, y = _data()
    tf.random.set_seed(0)
    layers = [K.Input((4,)), K.layers.Dense(3, "relu"), K.layers.Dense(1)]
    model = K.Sequential(layers, trainable=False) if how == "constructor" else K.Sequential(layers)
    if how == "attribute":
        model.trainable = False
    assert model.trainable_weights == [] and not any(layer.trainable for layer in model.layers)
    model.compile(loss="mse", optimizer="sgd")
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.trainable = True
    assert len(model.trainable_weights) == 4


def test_one_optimizer_instance_serves_one_model():
    # Keras refuses an optimizer built for another model's variables; gradfit crashed in NumPy (different sizes)
    # or silently carried the first model's moments over (equal sizes)
    x, y = _data()
    opt = K.optimizers.Adam(0.01)
    first, second = _model(0), _model(1)
    first.compile(loss="binary_crossentropy", optimizer=opt)
    first.fit(x, y, epochs=1, verbose=0)
    second.compile(loss="binary_crossentropy", optimizer=opt)
    with pytest.raises(ValueError, match="an optimizer instance serves one model"):
        second.fit(x, y, epochs=1, verbose=0)
    first.fit(x, y, epochs=1, verbose=0)  # its own model still trains with it


def test_a_fitted_model_pickles_and_copies_with_its_optimizer():
    import copy
    import pickle

    x, y = _data()
    model = _model()
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=1, verbose=0)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        twin.fit(x, y, epochs=1, verbose=0, shuffle=False)
        assert twin.optimizer.iterations == 2 * model.optimizer.iterations
