"""Record the `.keras` interop fixtures: run by hand with TensorFlow in a throwaway environment, never by CI.

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/saving_fixtures/record_keras.py

For every case below this builds a small Keras 3 model, trains it a little (so the optimizer has state),
saves it with ``model.save('<name>.keras')`` and writes ``<name>.expected.npz`` (plain arrays, no pickles):

* ``x`` and ``pred``: inputs and Keras's ``predict(x)`` for the saved model;
* ``x_fit``, ``y_fit``, ``loss_next`` and ``pred_next``: the file loaded back with ``keras.saving.load_model``
  and trained one more full-batch step without shuffling, its loss and its predictions after that step
  (``resume`` is 0 where the step is random, e.g. with Dropout).

gradfit's tests load each file and must predict within 1e-6, and continue training to the same numbers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def cases():
    import keras
    from keras import layers, losses, metrics, optimizers, regularizers

    def binary(n, f, seed):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, f)).astype("float32")
        return x, (x @ rng.normal(size=f) > 0).astype("float32").reshape(n, 1)

    def classes(n, f, k, seed, onehot=False):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, f)).astype("float32")
        y = np.argmax(x @ rng.normal(size=(f, k)), axis=1)
        return x, (np.eye(k, dtype="float32")[y] if onehot else y)

    def regression(n, f, out, seed):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, f)).astype("float32")
        return x, (x @ rng.normal(size=(f, out)) + 0.1).astype("float32")

    yield dict(
        name="dense_relu_sigmoid_adam_l2",
        model=lambda: keras.Sequential(
            [
                keras.Input((4,)),
                layers.Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
                layers.Dense(1, activation="sigmoid"),
            ]
        ),
        compile=dict(optimizer=optimizers.Adam(0.01), loss=losses.BinaryCrossentropy(), metrics=["accuracy"]),
        data=binary(32, 4, 0),
    )
    yield dict(
        name="normalization_dropout_sgd_nesterov_mse",
        model=lambda: keras.Sequential(
            [
                keras.Input((3,)),
                layers.Normalization(),
                layers.Dense(6, activation="tanh"),
                layers.Dropout(0.25),
                layers.Dense(1),
            ]
        ),
        compile=dict(optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True), loss="mse", metrics=["mae"]),
        data=regression(32, 3, 1, 1),
        adapt=True,
        resume=False,  # the Dropout mask of the next step is random
    )
    yield dict(
        name="no_input_elu_softmax_rmsprop_centered",
        model=lambda: keras.Sequential(
            [
                layers.Dense(
                    5,
                    activation="elu",
                    kernel_regularizer=regularizers.L1L2(1e-3, 2e-3),
                    bias_regularizer=regularizers.L1(1e-3),
                ),
                layers.Dense(3, activation="softmax"),
            ]
        ),
        compile=dict(
            optimizer=optimizers.RMSprop(momentum=0.5, centered=True),
            loss=losses.SparseCategoricalCrossentropy(),
            metrics=[metrics.SparseCategoricalAccuracy()],
        ),
        data=classes(32, 4, 3, 2),
    )
    yield dict(
        name="flatten_gelu_adam_amsgrad_categorical",
        model=lambda: keras.Sequential(
            [
                keras.Input((2, 3)),
                layers.Flatten(),
                layers.Dense(4, activation="gelu", kernel_initializer="he_normal"),
                layers.Dense(3, activation="softmax"),
            ]
        ),
        compile=dict(
            optimizer=optimizers.Adam(amsgrad=True),
            loss=keras.losses.categorical_crossentropy,
            metrics=[metrics.CategoricalAccuracy()],
        ),
        data=(lambda x, y: (x.reshape(-1, 2, 3), y))(*classes(32, 6, 3, 3, onehot=True)),
    )
    yield dict(
        name="selu_softplus_softsign_adagrad_schedule_huber",
        model=lambda: keras.Sequential(
            [
                keras.Input((2,)),
                layers.Dense(4, activation="selu", kernel_initializer="lecun_normal"),
                layers.Dense(4, activation="softplus"),
                layers.Dense(4, activation="softsign", use_bias=False),
                layers.Dense(1),
            ]
        ),
        compile=dict(
            optimizer=optimizers.Adagrad(optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
            loss=losses.Huber(delta=0.5),
        ),
        data=regression(32, 2, 1, 4),
    )
    yield dict(
        name="swish_leaky_hard_sigmoid_relu6_adamw_mae",
        model=lambda: keras.Sequential(
            [
                keras.Input((3,)),
                layers.Dense(4, activation="swish"),
                layers.Dense(4, activation="leaky_relu"),
                layers.Dense(4, activation="hard_sigmoid"),
                layers.Dense(4, activation="relu6"),
                layers.Dense(4, activation="silu"),
                layers.Dense(2, activation="linear"),
            ]
        ),
        compile=dict(
            optimizer=optimizers.AdamW(0.01, weight_decay=0.01, clipnorm=1.0),
            loss=losses.MeanAbsoluteError(),
            metrics=["mse"],
        ),
        data=regression(32, 3, 2, 5),
    )
    yield dict(
        name="compiled_untrained_sgd",
        model=lambda: keras.Sequential(
            [keras.Input((2,)), layers.Dense(3, activation="exponential"), layers.Dense(1, activation="tanh")]
        ),
        compile=dict(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy"),
        data=binary(32, 2, 6),
        epochs=0,
    )
    yield dict(
        name="batchnorm_rmsprop",
        model=lambda: keras.Sequential(
            [
                keras.Input((4,)),
                layers.Dense(5),
                layers.BatchNormalization(),
                layers.Dense(1, activation="sigmoid"),
            ]
        ),
        compile=dict(optimizer=optimizers.RMSprop(0.01), loss="binary_crossentropy"),
        data=binary(32, 4, 7),
    )
    yield dict(
        name="activation_layers_adam",
        model=lambda: keras.Sequential(
            [
                keras.Input((4,)),
                layers.Dense(6),
                layers.ReLU(),
                layers.Dense(6),
                layers.LeakyReLU(negative_slope=0.1),
                layers.Dense(3),
                layers.Activation("tanh"),
                layers.Dense(3),
                layers.Softmax(),
            ]
        ),
        compile=dict(optimizer=optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"),
        data=classes(32, 4, 3, 8),
    )
    # Keras's next classes (issue #10, item 10): each optimizer's state, the new layers, losses and activations
    for i, opt in enumerate(
        [
            optimizers.Nadam(0.01),
            optimizers.Adamax(0.01),
            optimizers.Lion(0.001),
            optimizers.Adadelta(1.0),
            optimizers.Ftrl(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.01),
        ]
    ):
        yield dict(
            name=f"optimizer_{type(opt).__name__.lower()}",
            model=lambda: keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(2)]),
            compile=dict(optimizer=opt, loss="mse"),
            data=regression(32, 3, 2, 20 + i),
        )
    yield dict(
        name="new_layers_nadam",
        model=lambda: keras.Sequential(
            [
                keras.Input((4,)),
                layers.Rescaling(0.5, offset=0.1),
                layers.Dense(6, activation="mish"),
                layers.LayerNormalization(),
                layers.GaussianNoise(0.1),
                layers.Dense(6, activation="hard_silu"),
                layers.GaussianDropout(0.1),
                layers.Identity(),
                layers.Dense(5, activation="relu6"),
                layers.Dense(3, activation="log_softmax"),
            ]
        ),
        compile=dict(optimizer=optimizers.Nadam(0.01), loss="mse"),
        data=regression(32, 4, 3, 30),
        resume=False,  # the noise layers draw while training
    )
    for i, (loss, kind) in enumerate(
        [
            (losses.KLDivergence(), "onehot"),
            (losses.Poisson(), "counts"),
            (losses.LogCosh(), "regression"),
            (losses.BinaryFocalCrossentropy(gamma=2.0), "binary"),
            (losses.Hinge(), "signs"),
            (losses.SquaredHinge(), "signs"),
            (losses.CategoricalHinge(), "onehot"),
        ]
    ):
        head = {"onehot": (3, "softmax"), "binary": (1, "sigmoid"), "counts": (2, "softplus")}.get(kind, (2, None))
        if kind == "onehot":
            data = classes(32, 4, 3, 40 + i, onehot=True)
        elif kind in ("binary", "signs"):
            x, y = binary(32, 4, 40 + i)
            data = (x, y if kind == "binary" else 2 * y - 1)
            head = head if kind == "binary" else (1, None)
        else:
            x, y = regression(32, 4, 2, 40 + i)
            data = (x, np.abs(y) if kind == "counts" else y)
        yield dict(
            name=f"loss_{type(loss).__name__.lower()}",
            model=lambda head=head: keras.Sequential(
                [keras.Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(head[0], activation=head[1])]
            ),
            compile=dict(optimizer=optimizers.Adam(0.01), loss=loss),
            data=data,
        )
    # saving/ leftovers (issue #11): compile_config's loss_weights and weighted_metrics, a loss object and a loss
    # function given as metrics, loss='crossentropy', a layer object as an activation (its empty weights group)
    yield dict(
        name="compile_loss_weights_weighted_metrics",
        model=lambda: keras.Sequential(
            [keras.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(1, activation="sigmoid")]
        ),
        compile=dict(
            optimizer=optimizers.Adam(0.01),
            loss="binary_crossentropy",
            loss_weights=0.5,
            metrics=["accuracy", losses.BinaryCrossentropy(label_smoothing=0.1, name="smoothed_bce")],
            weighted_metrics=["mae", metrics.BinaryAccuracy(threshold=0.4)],
        ),
        data=binary(32, 4, 50),
        logs=True,
    )
    yield dict(
        name="compile_crossentropy_loss_function_metric",
        model=lambda: keras.Sequential(
            [keras.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(3, activation="softmax")]
        ),
        compile=dict(
            optimizer=optimizers.SGD(0.1, momentum=0.5),
            loss="crossentropy",
            loss_weights=[2.0],
            metrics=[keras.losses.categorical_crossentropy, losses.KLDivergence()],
        ),
        data=classes(32, 4, 3, 51, onehot=True),
        logs=True,
    )
    yield dict(
        name="leaky_relu_object_activation_rmsprop",
        model=lambda: keras.Sequential(
            [
                keras.Input((4,)),
                layers.Dense(5, activation=layers.LeakyReLU(negative_slope=0.2)),
                layers.Dense(2, activation=layers.ReLU(max_value=3.0)),
            ]
        ),
        compile=dict(optimizer=optimizers.RMSprop(0.01), loss="mse", metrics=[losses.MeanAbsoluteError()]),
        data=regression(32, 4, 2, 52),
        logs=True,
    )


def record(case) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = case["model"]()
    x, y = case["data"]
    if case.get("adapt"):
        model.layers[0].adapt(x)
    model.compile(**case["compile"])
    if case.get("epochs", 2):
        model.fit(x, y, epochs=case.get("epochs", 2), batch_size=8, shuffle=False, verbose=0)
    path = HERE / f"{case['name']}.keras"
    model.save(path)
    x_pred = np.random.default_rng(100).normal(size=(8,) + x.shape[1:]).astype("float32")
    pred = model.predict(x_pred, verbose=0)
    resume = case.get("resume", True)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x_pred, verbose=0), pred)
    history = loaded.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    np.savez(
        HERE / f"{case['name']}.expected.npz",
        x=x_pred,
        pred=pred,
        x_fit=x,
        y_fit=y,
        loss_next=np.float64(history.history["loss"][0]),
        pred_next=loaded.predict(x_pred, verbose=0),
        resume=np.int64(resume),
        # the logs of that step (the loss and every metric, by Keras's names) where the case asks for them
        **({"logs": np.array(json.dumps(history.history, sort_keys=True))} if case.get("logs") else {}),
    )
    print(f"{path.name}: {path.stat().st_size} bytes")


def main(names) -> None:
    for case in cases():
        if not names or case["name"] in names:
            record(case)


if __name__ == "__main__":
    main(sys.argv[1:])
