"""Check by hand that files gradfit saves open in Keras 3 and compute the same numbers (never run by CI).

    /tmp/tfenv/bin/python tests/saving_fixtures/check_in_keras.py [model names…]

For models covering every gradfit layer, activation, loss, optimizer (with state), initializer, regularizer
and schedule (the registries are enumerated: a class registered anywhere is checked too), this
trains the model a little in gradfit, saves ``m.keras`` and ``m.weights.h5``, and then in Keras 3:

* ``keras.saving.load_model('m.keras')`` must predict what gradfit predicts (max |difference| printed);
* one more full-batch training step from the loaded optimizer state, in Keras and in gradfit (from its own
  loaded file), must give the same loss and predictions: the optimizer state was read as Keras means it;
* ``keras.models.model_from_json(model.to_json())`` + ``load_weights('m.weights.h5')`` must predict the same.

It exits with status 1 if any difference exceeds the tolerance (1e-6; float32 arithmetic in both).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TOLERANCE = 1e-6


def models():
    import gradfit
    from gradfit.keras import Input, Sequential, layers, losses, metrics, optimizers, regularizers

    schedules = optimizers.schedules
    rng = np.random.default_rng(0)
    x4 = rng.normal(size=(32, 4)).astype("float32")
    binary = (x4 @ rng.normal(size=4) > 0).astype("float32").reshape(-1, 1)
    labels = np.argmax(x4 @ rng.normal(size=(4, 3)), axis=1)
    onehot = np.eye(3, dtype="float32")[labels]
    target2 = (x4 @ rng.normal(size=(4, 2))).astype("float32")
    acts = gradfit.registry.ACTIVATIONS.names()

    yield (
        "dense_adam_l2_bce",
        (
            lambda: Sequential(
                [
                    Input((4,)),
                    layers.Dense(8, activation="relu", kernel_regularizer=regularizers.L2(0.01)),
                    layers.Dense(1, activation="sigmoid"),
                ]
            ),
            dict(optimizer=optimizers.Adam(0.01), loss=losses.BinaryCrossentropy(), metrics=["accuracy"]),
            x4,
            binary,
        ),
    )
    yield (
        "every_activation_adamw_mse",
        (
            lambda: Sequential(
                [Input((4,))]
                + [layers.Dense(4, activation=a, kernel_initializer="lecun_normal") for a in acts if a != "softmax"]
                + [layers.Dense(2, activation="softmax")]
            ),
            dict(optimizer=optimizers.AdamW(0.01, weight_decay=0.01, clipnorm=1.0), loss="mse", metrics=["mae"]),
            x4,
            np.abs(target2) / (1 + np.abs(target2)),
        ),
    )
    yield (
        "normalization_batchnorm_rmsprop_centered_sparse",
        (
            lambda: Sequential(
                [
                    Input((4,)),
                    layers.Normalization(mean=[0.1, 0.2, -0.1, 0.0], variance=[1.0, 2.0, 0.5, 1.5]),
                    layers.Dense(6, kernel_regularizer=regularizers.L1L2(1e-3, 1e-3), bias_regularizer="l1"),
                    layers.BatchNormalization(),
                    layers.ReLU(max_value=6.0),
                    layers.Dense(3),
                    layers.Softmax(),
                ]
            ),
            dict(
                optimizer=optimizers.RMSprop(momentum=0.5, centered=True),
                loss=losses.SparseCategoricalCrossentropy(),
                metrics=[metrics.SparseCategoricalAccuracy()],
            ),
            x4,
            labels,
        ),
    )
    yield (
        "adapted_normalization_sgd_nesterov_categorical",
        (
            lambda: Sequential(
                [
                    layers.Normalization(input_shape=(4,)),
                    layers.Dense(5, activation="tanh", kernel_initializer=gradfit.initializers.RandomNormal(0, 0.3)),
                    layers.LeakyReLU(negative_slope=0.1),
                    layers.Dense(3),
                    layers.Activation("softmax"),
                ]
            ),
            dict(
                optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                loss=losses.CategoricalCrossentropy(label_smoothing=0.1),
                metrics=[metrics.CategoricalAccuracy()],
            ),
            x4,
            onehot,
        ),
    )
    yield (
        "flatten_dropout_adagrad_schedule_huber",
        (
            lambda: Sequential(
                [
                    Input((2, 2)),
                    layers.Flatten(),
                    layers.Dense(6, activation="elu"),
                    layers.Dropout(0.0),
                    layers.Dense(2, use_bias=False),
                ]
            ),
            dict(optimizer=optimizers.Adagrad(schedules.ExponentialDecay(0.1, 10, 0.9)), loss=losses.Huber(0.5)),
            x4.reshape(-1, 2, 2),
            target2,
        ),
    )
    yield (
        "amsgrad_mae_function_loss",
        (
            lambda: Sequential([layers.Dense(4, activation="gelu"), layers.Dense(2)]),
            dict(optimizer=optimizers.Adam(amsgrad=True), loss=losses.mean_absolute_error),
            x4,
            target2,
        ),
    )
    yield (
        "sgd_plain_bce_logits",
        (
            lambda: Sequential([Input((4,)), layers.Dense(3, activation="selu"), layers.Dense(1)]),
            dict(optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True)),
            x4,
            binary,
        ),
    )
    # compile_config's loss_weights / weighted_metrics, loss and loss-function metrics, 'crossentropy', and layer
    # objects as activations (their empty weights groups)
    yield (
        "leftovers_loss_weights_loss_metrics_layer_activation",
        (
            lambda: Sequential(
                [
                    Input((4,)),
                    layers.Dense(5, activation=layers.LeakyReLU(negative_slope=0.2)),
                    layers.Dense(3, activation="softmax"),
                ]
            ),
            dict(
                optimizer=optimizers.Adam(0.01),
                loss="crossentropy",
                loss_weights=[0.5],
                metrics=[losses.categorical_crossentropy, losses.KLDivergence(name="kl")],
                weighted_metrics=["accuracy", metrics.CategoricalAccuracy(name="cat_acc")],
            ),
            x4,
            onehot,
        ),
    )
    yield (
        "leftovers_ce_binary_loss_object_metric",
        (
            lambda: Sequential([Input((4,)), layers.Dense(3, activation=layers.ReLU()), layers.Dense(1, "sigmoid")]),
            dict(
                optimizer="sgd", loss="ce", loss_weights=2.0, metrics=[losses.BinaryCrossentropy(label_smoothing=0.1)]
            ),
            x4,
            binary,
        ),
    )
    # and every registered class, straight from the registries: a class added anywhere is checked here too
    registry = gradfit.registry
    for entry in registry.OPTIMIZERS:
        yield (
            f"optimizer_{entry.name}",
            (
                lambda: Sequential([Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)]),
                dict(optimizer=entry.obj(learning_rate=0.01), loss="mse"),
                x4,
                target2,
            ),
        )
    made = {"Dense": dict(units=4), "Dropout": dict(rate=0.0), "Activation": dict(activation="tanh")}
    made |= {"GaussianNoise": dict(stddev=0.0), "GaussianDropout": dict(rate=0.0), "Rescaling": dict(scale=0.5)}
    stack = [e for e in registry.LAYERS if e.name != "InputLayer"]
    yield (
        "every_layer",
        (
            lambda: Sequential(
                [Input((4,))]
                + [e.obj(**made.get(e.name, {})) for e in stack if e.name not in ("Softmax", "Flatten")]
                + [layers.Flatten(), layers.Dense(3), layers.Softmax()]
            ),
            dict(optimizer="adam", loss="categorical_crossentropy"),
            x4,
            onehot,
        ),
    )
    regs = [e.obj() for e in registry.REGULARIZERS]
    inits = list(registry.INITIALIZERS)
    yield (
        "every_initializer_and_regularizer",
        (
            lambda: Sequential(
                [Input((4,))]
                + [
                    layers.Dense(
                        4, activation="tanh", kernel_initializer=e.obj(), kernel_regularizer=regs[i % len(regs)]
                    )
                    for i, e in enumerate(inits)
                ]
                + [layers.Dense(2)]
            ),
            dict(optimizer="adam", loss="mse"),
            x4,
            target2,
        ),
    )
    examples = {  # a schedule's required arguments
        "ExponentialDecay": (0.05, 3, 0.5),
        "InverseTimeDecay": (0.05, 3, 0.5),
        "PolynomialDecay": (0.05, 5),
        "CosineDecay": (0.05, 5),
        "CosineDecayRestarts": (0.05, 2),
        "PiecewiseConstantDecay": ([2, 5], [0.05, 0.02, 0.01]),
    }
    for entry in registry.SCHEDULES:
        if entry.name not in examples:
            print(f"no example arguments for the schedule {entry.name}: add them to check_in_keras.py")
            continue
        yield (
            f"schedule_{entry.name}",
            (
                lambda: Sequential([Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)]),
                dict(optimizer=optimizers.Adam(entry.obj(*examples[entry.name])), loss="mse"),
                x4,
                target2,
            ),
        )
    for entry in registry.LOSSES:
        cls = entry.obj
        if cls.sparse:
            head, y = (3, "softmax"), labels
        elif "Categorical" in entry.name or entry.name == "KLDivergence":
            head, y = (3, "softmax"), onehot
        elif cls.reads == "probabilities":
            head, y = (1, "sigmoid"), binary
        elif cls.reads == "labels":
            head, y = (1, None), 2 * binary - 1
        elif entry.name == "Poisson":
            head, y = (2, "softplus"), np.abs(target2)
        else:
            head, y = (2, None), target2
        yield (
            f"loss_{entry.name}",
            (
                lambda head=head: Sequential([Input((4,)), layers.Dense(5, activation="relu"), layers.Dense(*head)]),
                dict(optimizer="adam", loss=cls()),
                x4,
                y,
            ),
        )


def main() -> int:
    import keras

    import gradfit
    from gradfit.keras.models import load_model

    warnings.filterwarnings("ignore")
    try:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # retracing notices
    except ImportError:  # another Keras backend
        pass
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (make, compile_kwargs, x, y) in models():
            if sys.argv[1:] and name not in sys.argv[1:]:  # the names given on the command line only
                continue
            gradfit.backend.set_seed(0)
            model = make()
            if isinstance(model.layers[0], gradfit.layers.Normalization) and model.layers[0].input_mean is None:
                model.layers[0].adapt(x)
            model.compile(**compile_kwargs)
            model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
            keras_path, weights_path = os.path.join(tmp, f"{name}.keras"), os.path.join(tmp, f"{name}.weights.h5")
            model.save(keras_path)
            model.save_weights(weights_path)
            ours = model.predict(x, verbose=0)

            theirs_model = keras.saving.load_model(keras_path)
            d_load = float(np.abs(theirs_model.predict(x, verbose=0) - ours).max())

            again = load_model(keras_path)
            ours_logs = again.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history
            theirs_logs = theirs_model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0).history
            ours_loss, theirs_loss = ours_logs["loss"][0], theirs_logs["loss"][0]
            if sorted(ours_logs) != sorted(theirs_logs):
                print(f"{name}: gradfit logs {sorted(ours_logs)}, Keras logs {sorted(theirs_logs)}")
                worst = max(worst, 1.0)
            for key in set(ours_logs) & set(theirs_logs):  # each metric of the compile config read back
                worst = max(worst, abs(ours_logs[key][0] - theirs_logs[key][0]) / max(1.0, abs(theirs_logs[key][0])))
            d_loss = abs(ours_loss - theirs_loss) / max(1.0, abs(theirs_loss))
            d_step = float(np.abs(theirs_model.predict(x, verbose=0) - again.predict(x, verbose=0)).max())

            from_json = keras.models.model_from_json(model.to_json())
            from_json.load_weights(weights_path)
            d_json = float(np.abs(from_json.predict(x, verbose=0) - ours).max())

            worst = max(worst, d_load, d_loss, d_step, d_json)
            print(
                f"{name:50s} load_model: {d_load:.1e}  next step loss {ours_loss:.6f} vs {theirs_loss:.6f} "
                f"({d_loss:.1e}), predictions after it {d_step:.1e}  model_from_json+load_weights: {d_json:.1e}"
            )
    print(f"largest difference: {worst:.2e} (tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
