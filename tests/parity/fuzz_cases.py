"""Random Sequential configurations of the surface gradfit supports, for the differential fuzz against Keras
(``record_fuzz.py`` records them in TensorFlow, ``test_fuzz_parity.py`` replays them in gradfit). No TensorFlow
import: ``draw(seed)`` makes a spec (plain JSON), ``build(K, spec)`` builds it with ``keras`` or ``gradfit.keras``
and ``data(spec)`` makes its data with NumPy, so both sides see the same model, data and fit arguments.

A spec: ``input_shape``; ``layers`` as ``[class name, kwargs]`` (regularizers and constraints written as Keras's
serialized objects, which both libraries' ``get`` read); ``loss`` as ``[class name, kwargs]`` or a string;
``optimizer`` as ``[class name, kwargs]`` (a learning-rate schedule as ``{"schedule": [class name, kwargs]}``);
``metrics``; ``task`` (the kind of targets); ``train`` (False for models with random layers at work: only
``evaluate`` and ``predict`` are compared); ``fit``, ``data`` (sample weights, validation data), ``evaluate`` and
``predict`` arguments.
"""

from __future__ import annotations

import numpy as np

#: the activations both libraries have (Keras's glu, threshold and sparsemax are not in gradfit)
ACTIVATIONS = [
    "linear", "sigmoid", "tanh", "relu", "relu6", "leaky_relu", "elu", "selu", "exponential", "hard_sigmoid",
    "softmax", "softplus", "softsign", "silu", "swish", "gelu", "mish", "hard_silu", "hard_swish", "celu",
    "squareplus", "log_sigmoid", "log_softmax", "hard_tanh", "tanh_shrink", "soft_shrink", "hard_shrink",
    "sparse_plus", "sparse_sigmoid",
]  # fmt: skip
#: bounded, smooth-enough activations for hidden layers (exponential can overflow over three epochs)
HIDDEN_ACTIVATIONS = [a for a in ACTIVATIONS if a not in ("exponential",)]

OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Lion", "Adadelta", "Ftrl"]
SCHEDULES = [
    "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay", "CosineDecay",
    "CosineDecayRestarts",
]  # fmt: skip


def serialized(class_name: str, module: str, **config) -> dict:
    """Keras's serialized form of a regularizer or constraint."""
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _regularizer(rng) -> object:
    if rng.random() < 0.01:
        return "l1_l2"  # not a Keras identifier: Keras refuses it
    kind = rng.choice(["l1", "l2", "L1", "L2", "L1L2", "L1L2_l1_only"])
    if kind in ("l1", "l2"):
        return str(kind)
    value = float(rng.choice([1e-3, 1e-2, 0.05]))
    if kind == "L1":
        return serialized("L1", "keras.regularizers", l1=value)
    if kind == "L2":
        return serialized("L2", "keras.regularizers", l2=value)
    if kind == "L1L2":
        return serialized("L1L2", "keras.regularizers", l1=value, l2=float(rng.choice([1e-3, 1e-2])))
    return serialized("L1L2", "keras.regularizers", l1=value)  # l2 left at Keras's default 0.0


def _constraint(rng) -> dict:
    kind = rng.choice(["MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"])
    if kind == "MaxNorm":
        return serialized("MaxNorm", "keras.constraints", max_value=float(rng.choice([0.5, 1.0, 2.0])), axis=0)
    if kind == "NonNeg":
        return serialized("NonNeg", "keras.constraints")
    if kind == "UnitNorm":
        return serialized("UnitNorm", "keras.constraints", axis=0)
    return serialized(
        "MinMaxNorm", "keras.constraints", min_value=0.2, max_value=float(rng.choice([0.8, 1.5])),
        rate=float(rng.choice([1.0, 0.5])), axis=0,
    )  # fmt: skip


def _dense(rng, units: int, activation: str) -> list:
    kwargs: dict = {"units": units, "activation": activation}
    if rng.random() < 0.06:  # a function, or a layer object, as the activation
        kwargs["activation"] = {"function": activation}
    elif rng.random() < 0.04 and activation == "linear":
        kwargs["activation"] = {"layer": ["LeakyReLU", {"negative_slope": 0.2}]}
    if rng.random() < 0.3:
        kwargs["kernel_regularizer"] = _regularizer(rng)
    if rng.random() < 0.15:
        kwargs["bias_regularizer"] = _regularizer(rng)
    if rng.random() < 0.15:
        kwargs["activity_regularizer"] = _regularizer(rng)
    if rng.random() < 0.2:
        kwargs["kernel_constraint"] = _constraint(rng)
    if rng.random() < 0.1:
        kwargs["bias_constraint"] = serialized("NonNeg", "keras.constraints")
    if rng.random() < 0.1:
        kwargs["use_bias"] = False
        kwargs.pop("bias_regularizer", None)
        kwargs.pop("bias_constraint", None)
    return ["Dense", kwargs]


def _between_layer(rng, train: bool) -> list:
    """A layer without weights of its own or a normalization, between two Dense layers."""
    kind = rng.choice(
        ["Dropout", "BatchNormalization", "LayerNormalization", "GaussianNoise", "GaussianDropout", "Rescaling",
         "Identity", "Activation", "ReLU", "LeakyReLU"]
    )  # fmt: skip
    if kind == "Dropout":
        return ["Dropout", {"rate": 0.0 if train else float(rng.choice([0.2, 0.5]))}]
    if kind == "GaussianNoise":
        return ["GaussianNoise", {"stddev": 0.0 if train else 0.3}]
    if kind == "GaussianDropout":
        return ["GaussianDropout", {"rate": 0.0 if train else 0.3}]
    if kind == "BatchNormalization":
        kwargs = {"momentum": float(rng.choice([0.99, 0.9, 0.5])), "epsilon": float(rng.choice([1e-3, 1e-5]))}
        if rng.random() < 0.2:
            kwargs["center"] = False
        if rng.random() < 0.2:
            kwargs["scale"] = False
        return ["BatchNormalization", kwargs]
    if kind == "LayerNormalization":
        kwargs = {"epsilon": float(rng.choice([1e-3, 1e-6]))}
        if rng.random() < 0.2:
            kwargs["center"] = False
        if rng.random() < 0.2:
            kwargs["scale"] = False
        return ["LayerNormalization", kwargs]
    if kind == "Rescaling":
        return ["Rescaling", {"scale": float(rng.choice([0.5, 2.0])), "offset": float(rng.choice([0.0, 0.1]))}]
    if kind == "Identity":
        return ["Identity", {}]
    if kind == "Activation":
        return ["Activation", {"activation": str(rng.choice(HIDDEN_ACTIVATIONS))}]
    if kind == "ReLU":
        return ["ReLU", {}]
    return ["LeakyReLU", {"negative_slope": float(rng.choice([0.1, 0.3]))}]


def _reduction(rng, kwargs: dict) -> dict:
    if rng.random() < 0.2:
        kwargs["reduction"] = ["sum", "mean", "mean_with_sample_weight", "sum_over_batch_size", None][
            int(rng.integers(0, 5))
        ]
    return kwargs


def _output(rng, task: str, classes: int, out_dim: int) -> tuple[list, object, list]:
    """The output layer, the loss and the metrics for a task."""
    logits = rng.random() < 0.4
    if task in ("binary", "multilabel"):
        units = 1 if task == "binary" else classes
        layer = _dense(rng, units, "linear" if logits else "sigmoid")
        r = rng.random()
        if r < 0.15:
            loss: object = "binary_crossentropy" if not logits else ["BinaryCrossentropy", {"from_logits": True}]
        elif r < 0.35:
            kw = {"from_logits": logits, "gamma": float(rng.choice([0.0, 2.0]))}
            if rng.random() < 0.5:
                kw.update(apply_class_balancing=True, alpha=float(rng.choice([0.25, 0.6])))
            loss = ["BinaryFocalCrossentropy", _reduction(rng, kw)]
        else:
            kw = {"from_logits": logits}
            if rng.random() < 0.3:
                kw["label_smoothing"] = float(rng.choice([0.1, 0.2]))
            loss = ["BinaryCrossentropy", _reduction(rng, kw)]
        pool = [
            "accuracy", "binary_accuracy", ["BinaryAccuracy", {"threshold": 0.3}], ["AUC", {}],
            ["AUC", {"curve": "PR", "num_thresholds": 50, "name": "pr_auc"}], ["Precision", {}],
            ["Recall", {"thresholds": 0.4}], ["F1Score", {"threshold": 0.5, "average": "micro"}],
            ["FBetaScore", {"beta": 2.0, "threshold": 0.5, "average": "macro"}], "mse", "binary_crossentropy",
            ["F1Score", {"threshold": 0.5, "average": None, "name": "f1_per_class"}],
        ]  # fmt: skip
        if task == "multilabel":
            pool.append(["AUC", {"multi_label": True, "num_labels": units, "name": "ml_auc"}])
        if logits:  # thresholds on logits: keep the accuracy variants, whose thresholds the two libraries share
            pool = ["accuracy", "binary_accuracy", ["BinaryAccuracy", {"threshold": 0.0}], "mse",
                    ["AUC", {"from_logits": True}]]  # fmt: skip
    elif task in ("categorical", "sparse", "kld", "categorical_hinge"):
        layer = _dense(rng, classes, "linear" if logits and task in ("categorical", "sparse") else "softmax")
        if task == "categorical":
            kw = {"from_logits": logits}
            if rng.random() < 0.3:
                kw["label_smoothing"] = float(rng.choice([0.1, 0.2]))
            loss = ["CategoricalCrossentropy", _reduction(rng, kw)] if rng.random() < 0.8 else "crossentropy"
            pool = [
                "accuracy", "categorical_accuracy", ["TopKCategoricalAccuracy", {"k": 2}],
                ["F1Score", {"average": "macro"}], ["F1Score", {"average": "weighted", "name": "f1_weighted"}],
                ["AUC", {}], ["Precision", {}], ["Recall", {}], "categorical_crossentropy", "kl_divergence",
            ]  # fmt: skip
            if logits:
                pool = ["accuracy", "categorical_accuracy", ["TopKCategoricalAccuracy", {"k": 2}]]
        elif task == "sparse":
            kw = {"from_logits": logits}
            if rng.random() < 0.25:
                kw["ignore_class"] = int(rng.choice([0, classes - 1]))
            loss = ["SparseCategoricalCrossentropy", _reduction(rng, kw)]
            if rng.random() < 0.15:
                loss = "sparse_categorical_crossentropy" if not logits else loss
            pool = [
                "accuracy", "sparse_categorical_accuracy", ["SparseTopKCategoricalAccuracy", {"k": 2}],
                "sparse_categorical_crossentropy" if not logits else "accuracy",
            ]  # fmt: skip
        elif task == "kld":
            loss = ["KLDivergence", _reduction(rng, {})]
            pool = ["mae", "mse", "categorical_accuracy"]
        else:
            loss = ["CategoricalHinge", _reduction(rng, {})]
            pool = ["accuracy", "categorical_accuracy"]
    elif task == "hinge":
        layer = _dense(rng, 1, str(rng.choice(["tanh", "linear"])))
        loss = [str(rng.choice(["Hinge", "SquaredHinge"])), _reduction(rng, {})]
        pool = ["mae", "mse"]
    elif task == "poisson":
        layer = _dense(rng, out_dim, str(rng.choice(["softplus", "exponential"])))
        loss = ["Poisson", _reduction(rng, {})] if rng.random() < 0.8 else "poisson"
        pool = ["mae", "mse", ["RootMeanSquaredError", {}]]
    elif task == "mape":
        layer = _dense(rng, out_dim, str(rng.choice(["softplus", "linear"])))
        loss = ["MeanAbsolutePercentageError", _reduction(rng, {})] if rng.random() < 0.7 else "mape"
        pool = ["mae", "mape", ["R2Score", {}]]
    elif task == "msle":
        layer = _dense(rng, out_dim, "softplus")
        loss = ["MeanSquaredLogarithmicError", _reduction(rng, {})] if rng.random() < 0.7 else "msle"
        pool = ["mae", "msle", "mse"]
    else:  # regression
        layer = _dense(rng, out_dim, str(rng.choice(["linear", "tanh"])))
        r = rng.random()
        if r < 0.3:
            loss = ["MeanSquaredError", _reduction(rng, {})]
        elif r < 0.45:
            loss = ["MeanAbsoluteError", _reduction(rng, {})]
        elif r < 0.65:
            loss = ["Huber", _reduction(rng, {"delta": float(rng.choice([0.5, 1.0, 2.0]))})]
        elif r < 0.8:
            loss = ["LogCosh", _reduction(rng, {})]
        else:
            loss = str(rng.choice(["mse", "mae", "huber", "log_cosh"]))
        pool = [
            "mae", "mse", ["RootMeanSquaredError", {}], ["R2Score", {}],
            ["R2Score", {"class_aggregation": "variance_weighted_average", "name": "r2_vw"}], "mape",
            ["MeanAbsoluteError", {"name": "mae_metric"}], "huber", "log_cosh", "msle",
        ]  # fmt: skip
    count = int(rng.integers(0, 4))
    metrics = [pool[i] for i in rng.choice(len(pool), size=min(count, len(pool)), replace=False)]
    metrics = [m for i, m in enumerate(metrics) if m not in metrics[:i]]
    return layer, loss, metrics


def _optimizer(rng, steps_hint: int) -> list:
    name = str(rng.choice(OPTIMIZERS))
    lr = {"SGD": 0.05, "Adadelta": 1.0, "Ftrl": 0.1}.get(name, 0.01) * float(rng.choice([0.5, 1.0, 2.0]))
    kwargs: dict = {"learning_rate": lr}
    if name == "SGD":
        if rng.random() < 0.6:
            kwargs["momentum"] = float(rng.choice([0.5, 0.9]))
            if rng.random() < 0.5:
                kwargs["nesterov"] = True
    elif name in ("Adam", "AdamW"):
        if rng.random() < 0.4:
            kwargs["amsgrad"] = True
        if rng.random() < 0.3:
            kwargs["beta_1"] = 0.8
        if name == "AdamW":
            kwargs["weight_decay"] = float(rng.choice([0.004, 0.05]))
    elif name == "RMSprop":
        if rng.random() < 0.4:
            kwargs["momentum"] = 0.5
        if rng.random() < 0.4:
            kwargs["centered"] = True
        if rng.random() < 0.3:
            kwargs["rho"] = 0.8
    elif name == "Adagrad":
        if rng.random() < 0.4:
            kwargs["initial_accumulator_value"] = 0.5
    elif name == "Ftrl":
        if rng.random() < 0.5:
            kwargs["l1_regularization_strength"] = 0.01
        if rng.random() < 0.5:
            kwargs["l2_regularization_strength"] = 0.01
        if rng.random() < 0.3:
            kwargs["learning_rate_power"] = -0.8
    elif name == "Lion":
        kwargs["learning_rate"] = lr / 10
    if rng.random() < 0.15:
        epsilon = {"Adam": 1e-4, "AdamW": 1e-4, "Nadam": 1e-4, "Adamax": 1e-4, "RMSprop": 1e-4, "Adagrad": 1e-3}
        if name in epsilon:
            kwargs["epsilon"] = epsilon[name]
        elif name == "Lion":
            kwargs["beta_2"] = 0.9
    if rng.random() < 0.15 and name != "AdamW":
        kwargs["weight_decay"] = float(rng.choice([0.01, 0.1]))
    clip = rng.random()
    if clip < 0.1:
        kwargs["clipnorm"] = float(rng.choice([0.1, 1.0]))
    elif clip < 0.2:
        kwargs["clipvalue"] = float(rng.choice([0.05, 0.5]))
    elif clip < 0.3:
        kwargs["global_clipnorm"] = float(rng.choice([0.1, 1.0]))
    elif clip < 0.33:  # two clipping options at once: Keras refuses them
        kwargs["clipnorm"] = 1.0
        kwargs["global_clipnorm"] = 1.0
    if rng.random() < 0.15:
        kwargs["use_ema"] = True
        kwargs["ema_momentum"] = float(rng.choice([0.99, 0.5]))
        if rng.random() < 0.5:
            kwargs["ema_overwrite_frequency"] = int(rng.choice([2, 3]))
    if rng.random() < 0.1:
        kwargs["gradient_accumulation_steps"] = int(rng.choice([2, 3]))
    if rng.random() < 0.2:
        kwargs["learning_rate"] = {"schedule": _schedule(rng, lr, steps_hint)}
    return [name, kwargs]


def _schedule(rng, lr: float, steps: int) -> list:
    name = str(rng.choice(SCHEDULES))
    steps = max(steps, 2)
    if name == "ExponentialDecay":
        kw = {"initial_learning_rate": lr, "decay_steps": steps, "decay_rate": 0.5}
        if rng.random() < 0.5:
            kw["staircase"] = True
    elif name == "PiecewiseConstantDecay":
        kw = {"boundaries": [steps // 2, steps], "values": [lr, lr / 2, lr / 4]}
    elif name == "PolynomialDecay":
        kw = {"initial_learning_rate": lr, "decay_steps": steps, "end_learning_rate": lr / 10, "power": 2.0}
    elif name == "InverseTimeDecay":
        kw = {"initial_learning_rate": lr, "decay_steps": steps, "decay_rate": 1.0}
    elif name == "CosineDecay":
        kw = {"initial_learning_rate": lr, "decay_steps": steps, "alpha": 0.1}
        if rng.random() < 0.5:
            kw.update(warmup_target=lr * 2, warmup_steps=max(steps // 3, 1))
    else:
        kw = {"initial_learning_rate": lr, "first_decay_steps": max(steps // 2, 1), "alpha": 0.1}
    return [name, kw]


TASKS = [
    "binary", "binary", "binary", "multilabel", "categorical", "categorical", "sparse", "sparse", "kld",
    "categorical_hinge", "hinge", "poisson", "mape", "msle", "regression", "regression", "regression",
]  # fmt: skip


def draw(seed: int) -> dict:
    """One random configuration (plain JSON), from ``seed``."""
    rng = np.random.default_rng(seed)
    task = str(rng.choice(TASKS))
    classes = int(rng.integers(2, 5)) if task in ("categorical", "sparse", "kld", "categorical_hinge") else 1
    if task == "multilabel":
        classes = int(rng.integers(2, 4))
    out_dim = int(rng.choice([1, 1, 2])) if task in ("regression", "poisson", "mape", "msle") else 1
    features = int(rng.integers(2, 7))
    train = rng.random() < 0.88
    n = int(rng.choice([24, 32, 40, 48, 64]))
    input_shape = [features]
    layers: list = []
    if rng.random() < 0.1:  # adapted to the training data in build()
        layers.append(["Normalization", {}])
    if rng.random() < 0.12:  # 2-D examples flattened (after the Normalization, which is adapted to x as it is)
        input_shape = [2, features]
        layers.append(["Flatten", {}])
    for _ in range(int(rng.integers(0, 4))):
        if rng.random() < 0.35:
            layers.append(_between_layer(rng, train))
        layers.append(_dense(rng, int(rng.integers(2, 9)), str(rng.choice(HIDDEN_ACTIVATIONS))))
    if rng.random() < 0.2:
        layers.append(_between_layer(rng, train))
    output, loss, metrics = _output(rng, task, classes, out_dim)
    layers.append(output)
    if rng.random() < 0.12:  # a layer without its own activation after the output
        layers.append(
            [["Dropout", {"rate": 0.0}], ["Identity", {}], ["Activation", {"activation": "linear"}],
             ["BatchNormalization", {}], ["Rescaling", {"scale": 1.0}]][int(rng.integers(0, 5))]
        )  # fmt: skip
    fit: dict = {"epochs": int(rng.integers(1, 4))}
    batch_size = [None, 4, 8, 16, 32][int(rng.integers(0, 5))]
    if batch_size is not None:
        fit["batch_size"] = batch_size
    data_opts: dict = {}
    v = rng.random()
    if v < 0.25:
        fit["validation_split"] = float(rng.choice([0.2, 0.25]))
    elif v < 0.45:
        data_opts["validation_data"] = True
        if rng.random() < 0.3:
            data_opts["validation_sample_weight"] = True
    if ("validation_split" in fit or "validation_data" in data_opts) and fit["epochs"] > 1 and rng.random() < 0.3:
        fit["validation_freq"] = 2
    if task in ("binary", "sparse") and rng.random() < 0.2:
        k = 2 if task == "binary" else classes
        fit["class_weight"] = {str(c): float(rng.choice([0.5, 1.0, 2.0, 3.0])) for c in range(k) if rng.random() < 0.8}
    if rng.random() < 0.2 and ("class_weight" not in fit or rng.random() < 0.2):
        data_opts["sample_weight"] = True
    train_batches = -(-int(n * (1 - fit.get("validation_split", 0.0))) // (batch_size or 32))
    if rng.random() < 0.15:
        fit["steps_per_epoch"] = int(rng.integers(1, train_batches + 2))
    if ("validation_split" in fit or "validation_data" in data_opts) and rng.random() < 0.1:
        fit["validation_steps"] = 1
    evaluate: dict = {}
    predict: dict = {}
    if rng.random() < 0.5:
        evaluate["batch_size"] = int(rng.choice([4, 8, 16]))
    if rng.random() < 0.15:
        evaluate["steps"] = int(rng.integers(1, 4))
    if rng.random() < 0.5:
        predict["batch_size"] = int(rng.choice([4, 8, 16]))
    if rng.random() < 0.15:
        predict["steps"] = int(rng.integers(1, 4))
    if rng.random() < 0.03 and task in ("binary", "sparse"):  # Keras refuses class_weight with sample_weight
        fit["class_weight"] = {"0": 1.0, "1": 2.0}
        data_opts["sample_weight"] = True
    compile_extra: dict = {}
    if rng.random() < 0.12:
        compile_extra["loss_weights"] = [0.5, [2.0]][int(rng.integers(0, 2))]
    if rng.random() < 0.12:
        weighted = rng.choice(["mse", "mae", "accuracy"], size=2, replace=False)
        compile_extra["weighted_metrics"] = [str(m) for m in weighted]
    if fit["epochs"] > 1 and rng.random() < 0.08:
        fit["initial_epoch"] = 1
    if rng.random() < 0.08:
        fit["validation_batch_size"] = int(rng.choice([4, 8]))
    steps_hint = fit.get("steps_per_epoch", train_batches) * fit["epochs"]
    return {
        "seed": seed,
        "task": task,
        "classes": classes,
        "out_dim": out_dim,
        "n": n,
        "input_shape": input_shape,
        "layers": layers,
        "loss": loss,
        "optimizer": _optimizer(rng, steps_hint),
        "metrics": metrics,
        "compile": compile_extra,
        "train": bool(train),
        "fit": fit,
        "data": data_opts,
        "evaluate": evaluate,
        "predict": predict,
    }


def _targets(rng, spec: dict, x: np.ndarray) -> np.ndarray:
    n, task, k, d = len(x), spec["task"], spec["classes"], spec["out_dim"]
    flat = x.reshape(n, -1)
    score = flat @ np.linspace(-1.0, 1.0, flat.shape[1]) + 0.5 * rng.normal(size=n)
    if task == "binary":
        return (score > 0).astype(np.float32)[:, None]
    if task == "multilabel":
        return (rng.random((n, k)) < 0.5).astype(np.float32)
    labels = np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1])) if k > 1 else np.zeros(n, int)
    if task == "sparse":
        return labels.astype(np.int64)[:, None] if spec["seed"] % 2 else labels.astype(np.int64)
    if task in ("categorical", "categorical_hinge"):
        return np.eye(k, dtype=np.float32)[labels]
    if task == "kld":
        return rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    if task == "hinge":
        y = (score > 0).astype(np.float32)[:, None]
        return 2 * y - 1 if spec["seed"] % 2 else y
    if task == "poisson":
        return rng.poisson(1.5, size=(n, d)).astype(np.float32)
    if task == "mape":
        return rng.uniform(1.0, 3.0, size=(n, d)).astype(np.float32)
    if task == "msle":
        return rng.uniform(0.0, 3.0, size=(n, d)).astype(np.float32)
    return (score[:, None] * np.linspace(1.0, 0.5, d) + 0.1 * rng.normal(size=(n, d))).astype(np.float32)


def data(spec: dict) -> dict:
    """The spec's ``x``, ``y`` and, where asked, ``sample_weight`` and ``validation_data``, from its seed."""
    rng = np.random.default_rng(10_000 + spec["seed"])
    x = rng.normal(size=(spec["n"], *spec["input_shape"])).astype(np.float32)
    out = {"x": x, "y": _targets(rng, spec, x)}
    if spec["data"].get("sample_weight"):
        out["sample_weight"] = rng.choice([0.5, 1.0, 2.0], size=spec["n"]).astype(np.float32)
    if spec["data"].get("validation_data"):
        xv = rng.normal(size=(16, *spec["input_shape"])).astype(np.float32)
        val = (xv, _targets(rng, spec, xv))
        if spec["data"].get("validation_sample_weight"):
            val = (*val, rng.choice([0.5, 1.0, 2.0], size=16).astype(np.float32))
        out["validation_data"] = val
    return out


def _resolve(K, value):
    """A learning-rate schedule written as ``{"schedule": [name, kwargs]}`` built with ``K``."""
    if isinstance(value, dict) and "schedule" in value:
        name, kwargs = value["schedule"]
        return getattr(K.optimizers.schedules, name)(**kwargs)
    return value


def _metric(K, m):
    if isinstance(m, str):
        return m
    name, kwargs = m
    return getattr(K.metrics, name)(**kwargs)


def _activation(K, value):
    """An activation written as ``{"function": name}`` or ``{"layer": [class name, kwargs]}``, built with ``K``."""
    if isinstance(value, dict) and "function" in value:
        return getattr(K.activations, value["function"])
    if isinstance(value, dict) and "layer" in value:
        name, kwargs = value["layer"]
        return getattr(K.layers, name)(**kwargs)
    return value


def build(K, spec: dict, x: np.ndarray | None = None):
    """The spec's compiled model, built with ``K`` (``keras`` or ``gradfit.keras``), its Normalization layers
    adapted to ``x``; weights not yet set."""
    layers = [K.Input(shape=tuple(spec["input_shape"]))]
    for class_name, kwargs in spec["layers"]:
        kwargs = {key: _activation(K, value) if key == "activation" else value for key, value in kwargs.items()}
        layers.append(getattr(K.layers, class_name)(**kwargs))
        if class_name == "Normalization":
            layers[-1].adapt(x)
    model = K.Sequential(layers)
    loss = spec["loss"]
    if not isinstance(loss, str):
        loss = getattr(K.losses, loss[0])(**loss[1])
    opt_name, opt_kwargs = spec["optimizer"]
    opt_kwargs = {key: _resolve(K, value) for key, value in opt_kwargs.items()}
    model.compile(
        optimizer=getattr(K.optimizers, opt_name)(**opt_kwargs),
        loss=loss,
        metrics=[_metric(K, m) for m in spec["metrics"]],
        **spec.get("compile", {}),
    )
    return model


def fit_kwargs(spec: dict, arrays: dict) -> dict:
    """``fit``'s keyword arguments (class-weight keys back to ints, the data's sample and validation arrays)."""
    fit = dict(spec["fit"])
    if "class_weight" in fit:
        fit["class_weight"] = {int(c): w for c, w in fit["class_weight"].items()}
    for key in ("sample_weight", "validation_data"):
        if key in arrays:
            fit[key] = arrays[key]
    return {**fit, "shuffle": False, "verbose": 0}


def initial_weights(weights: list[tuple[np.ndarray, str]], seed: int) -> list[np.ndarray]:
    """From ``(value, path)`` in ``get_weights`` order: glorot-uniform kernels, small biases, BatchNormalization's
    moving variance and the normalizations' gamma in [0.5, 1.5], from ``seed``; an adapted Normalization's
    statistics kept as they are."""
    rng = np.random.default_rng(20_000 + seed)
    out = []
    for value, path in weights:
        shape = np.shape(value)
        if path.split("/")[-2:][0].startswith("normalization"):
            out.append(np.asarray(value))
            continue
        if len(shape) == 2:
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            w = rng.uniform(-limit, limit, size=shape)
        elif "variance" in path or "gamma" in path:
            w = rng.uniform(0.5, 1.5, size=shape)
        else:
            w = rng.uniform(-0.1, 0.1, size=shape)
        out.append(w.astype(np.float32))
    return out
