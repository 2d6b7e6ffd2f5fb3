"""Advice where learners often go wrong: a warning that says what is wrong, why it matters and what to write.

Advice never changes the model: it is only a ``GradfitAdvice`` warning, so ``warnings`` can silence it::

    import warnings
    import gradfit

    warnings.filterwarnings("ignore", category=gradfit.GradfitAdvice)

``compile`` checks the model's structure and loss when the model is already built; ``fit``, ``evaluate`` and
``train_on_batch`` check them (again) once the data's shapes are known, together with the targets and metrics.
Each cause is reported once per model, not on every call.

The cases:

* a hidden ``Dense`` layer with a linear activation feeding another ``Dense`` layer (the two collapse into one
  linear map; when every hidden layer is linear the network is a linear / logistic regression);
* a binary cross-entropy (``BinaryCrossentropy``, ``BinaryFocalCrossentropy``) on an output that is neither
  sigmoid nor read ``from_logits=True``;
* ``from_logits=True`` on a sigmoid or softmax output (squashing twice);
* a linear output read as probabilities by a cross-entropy (``from_logits=False``);
* ``'accuracy'`` (``BinaryAccuracy``, threshold 0.5) on a logits output, whose boundary is 0;
* integer class labels given to ``CategoricalCrossentropy`` (one-hot targets given to
  ``SparseCategoricalCrossentropy`` are already refused by the loss, with the same advice).

Which losses are cross-entropies, binary or categorical, sparse or not, is read off the loss's attributes
(``logits_activation``, ``expects``, ``sparse``, ``from_logits``), never off its class: a new loss that
declares them gets the same advice.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from .layers.dense import Dense
from .metrics import BinaryAccuracy

__all__ = ["GradfitAdvice", "check_data", "check_model"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SQUASHING = ("sigmoid", "softmax")  # output activations that already turn logits into probabilities
_PROBABILITY_OUTPUTS = ("sigmoid", "hard_sigmoid")  # outputs in [0, 1] that BinaryCrossentropy can read


class GradfitAdvice(UserWarning):
    """Advice about a model or its data that trains, but probably not as intended.

    Silence it with ``warnings.filterwarnings("ignore", category=gradfit.GradfitAdvice)``.
    """


# ------------------------------------------------------------------------------------------- helpers


def _user_stacklevel() -> int:
    """The ``stacklevel`` for ``_warn`` that points ``warnings.warn`` at the first frame outside gradfit."""
    frame = sys._getframe(1)  # _warn's frame: stacklevel 1 points here
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _warn(model, key: tuple, message: str) -> None:
    """Warn ``message`` unless this model was already told about ``key``."""
    given = model.__dict__.setdefault("_advice_given", set())
    if key in given:
        return
    warnings.warn(message, GradfitAdvice, stacklevel=_user_stacklevel())
    given.add(key)


def _activation(layer) -> str | None:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", None)


def _units(layer) -> str:
    units = getattr(layer, "units", None)
    return str(units) if units is not None else "units"


def _loss_code(loss, from_logits: bool) -> str:
    return f"{type(loss).__name__}(from_logits=True)" if from_logits else f"{type(loss).__name__}()"


def _squash_fn(loss) -> str:
    return loss.logits_activation or "sigmoid"


def _is_cross_entropy(loss) -> bool:
    """A loss on probabilities that undoes a sigmoid or softmax exactly (a cross-entropy, focal or not)."""
    return getattr(loss, "logits_activation", None) is not None and loss.expects in ("probabilities", "logits")


def _is_binary(loss) -> bool:
    """One yes/no probability per output unit: a binary cross-entropy."""
    return _is_cross_entropy(loss) and loss.logits_activation == "sigmoid"


# ------------------------------------------------------------------------------------------- the model


def check_model(model) -> None:
    """Advice on the model's structure and on its loss against its output layer; the model is only read."""
    layers = model.layers
    if not layers:
        return
    _check_linear_hidden(model, layers)
    loss = getattr(model, "_loss", None)
    if _is_cross_entropy(loss):
        _check_output_and_loss(model, layers[-1], loss)


def _check_linear_hidden(model, layers) -> None:
    flagged = [
        layer
        for layer, following in zip(layers, layers[1:])
        if isinstance(layer, Dense) and isinstance(following, Dense) and _activation(layer) == "linear"
    ]
    if not flagged:
        return
    names = ", ".join(f"{layer.name!r} (Dense({layer.units}))" for layer in flagged)
    plural = len(flagged) > 1
    if len(flagged) == len(layers) - 1:
        out_act = _activation(layers[-1])
        loss = getattr(model, "_loss", None)
        kind = {"sigmoid": "logistic regression", "softmax": "softmax regression"}.get(out_act)
        if out_act == "linear":
            kind = {"sigmoid": "logistic regression", "softmax": "softmax regression"}.get(
                getattr(loss, "logits_activation", None) if getattr(loss, "from_logits", False) else None,
                "linear regression",
            )
        collapse = (
            f"every hidden layer is linear, so the whole network computes the same functions as a single "
            f"Dense({_units(layers[-1])}, activation={out_act!r}) layer"
            + (f" ({kind})" if kind else "")
            + ": however many units you add, it can learn nothing a linear model cannot (no curved decision "
            "boundaries, no curved fits)"
        )
    else:
        collapse = (
            f"{'these layers add' if plural else 'this layer adds'} nothing a model without "
            f"{'them' if plural else 'it'} could not compute"
        )
    example = flagged[0]
    message = (
        f"Hidden layer{'s' if plural else ''} {names} {'have' if plural else 'has'} a linear activation "
        f"(activation=None or 'linear' means g(z) = z) and feed{'' if plural else 's'} straight into the next Dense "
        "layer. A linear layer followed by a Dense layer is one linear map, "
        "(x W1 + b1) W2 + b2 = x (W1 W2) + (b1 W2 + b2): "
        f"{collapse}. Give each hidden layer a nonlinear activation, e.g. "
        f"Dense({example.units}, activation='relu') (or activation='sigmoid', as in the course)."
    )
    _warn(model, ("linear_hidden", tuple(layer.name for layer in flagged)), message)


def _check_output_and_loss(model, out, loss) -> None:
    act = _activation(out)
    if act is None:  # not a layer with an activation we know
        return
    name, units, loss_name = out.name, _units(out), type(loss).__name__
    pair = _squash_fn(loss)  # the output activation this loss goes with: sigmoid or softmax
    if loss.from_logits and act in _SQUASHING:
        fused = act == loss.logits_activation and hasattr(out, "backward_from_logits")
        if fused:
            consequence = (
                f"gradfit, like TensorFlow's Keras (which warns about this too), notices the {act} output and "
                "computes the loss from the layer's pre-activation z instead, so training is not harmed here; "
                "but the code says something else: the same model squashes twice on Keras's JAX and PyTorch "
                "backends, and whenever the loss is applied to model.predict(X)."
            )
        else:
            consequence = (
                f"That really happens here: the loss computes {pair}({act}(z)), which lives in a narrow range, "
                "so the loss stays high, the gradients are small and the probabilities are wrong."
            )
        message = (
            f"{loss_name}(from_logits=True) says the model outputs logits (raw scores z), but the output layer "
            f"{name!r} already applies {act}: its outputs are probabilities, and the loss would squash them a "
            f"second time with {pair}. {consequence} Write either Dense({units}, activation={pair!r}) with "
            f"loss={loss_name}(), or a linear output Dense({units}, activation='linear') with "
            f"loss={loss_name}(from_logits=True) (the numerically stabler form; probabilities are then "
            f"tf.nn.{pair}(model.predict(X)))."
        )
        _warn(model, ("from_logits_on_probabilities", loss_name, act), message)
    elif not loss.from_logits and act == "linear":
        what = "a probability in [0, 1]" if _is_binary(loss) else "probabilities that sum to 1"
        message = (
            f"The output layer {name!r} is linear, so it outputs any real number z, but {loss_name}() "
            f"(from_logits=False) reads the output as {what}. It clips the outputs to [1e-07, 1 - 1e-07], and "
            "wherever z falls outside that range the gradient is zero, so training stalls and the loss is "
            f"meaningless. Write loss={loss_name}(from_logits=True) and keep the linear output (the course's "
            f"recommended, numerically stabler form; probabilities are then tf.nn.{pair}(model.predict(X))), "
            f"or give the output layer an activation: Dense({units}, activation={pair!r}) with loss={loss_name}()."
        )
        _warn(model, ("linear_output_probabilities", loss_name), message)
    elif _is_binary(loss) and not loss.from_logits and act not in _PROBABILITY_OUTPUTS:
        if act == "softmax" and units == "1":
            message = (
                f"The output layer {name!r} is Dense(1, activation='softmax'): a softmax over a single unit is "
                "e^z / e^z = 1.0 whatever the input, so the model predicts class 1 for every example and cannot "
                "learn (the gradient is zero). For two classes with one output unit write "
                f"Dense(1, activation='sigmoid') with loss={loss_name}(), or Dense(1) (linear) with "
                f"loss={loss_name}(from_logits=True)."
            )
        elif act == "softmax":
            message = (
                f"{loss_name} scores each of the {units} softmax outputs of {name!r} as its own yes/no "
                f"question, which is not the cross-entropy of one choice among {units} classes. If each example "
                "belongs to exactly one class, write loss=SparseCategoricalCrossentropy() for integer labels or "
                "loss=CategoricalCrossentropy() for one-hot rows; if several labels can be true at once "
                f"(multi-label), write Dense({units}, activation='sigmoid') with loss={loss_name}()."
            )
        else:
            formula = getattr(getattr(out, "activation", None), "formula", "")
            message = (
                f"{loss_name}() (from_logits=False) reads the output as a probability in [0, 1], but the "
                f"output layer {name!r} uses {act!r}" + (f" ({formula})" if formula else "") + ", whose values "
                "are not limited to [0, 1]. Outputs outside [1e-07, 1 - 1e-07] are clipped, where the gradient "
                "is zero, so training stalls or learns nonsense. Write "
                f"Dense({units}, activation='sigmoid') with loss={loss_name}(), or a linear output "
                f"Dense({units}) with loss={loss_name}(from_logits=True)."
            )
        _warn(model, ("bce_output_not_probability", act), message)


# ------------------------------------------------------------------------------------------- the data


def check_data(model, y, output_shape) -> None:
    """Advice on targets ``y`` and the compiled metrics for a model whose output has shape ``output_shape``.

    Called before the loss prepares the targets, so advice comes before any shape error it explains.
    """
    loss = getattr(model, "_loss", None)
    if loss is None or not model.layers:
        return
    out = model.layers[-1]
    _check_accuracy_on_logits(model, out, loss, output_shape)
    _check_labels_for_categorical(model, loss, np.asarray(y), output_shape)


def _binary_accuracy_ids(model, output_shape) -> list:
    """The metrics given to compile that measure BinaryAccuracy with threshold 0.5 on this output."""
    found = []
    for m in getattr(model, "_metric_ids", []):
        if isinstance(m, str):
            if (m.lower() in ("accuracy", "acc") and output_shape[-1] == 1) or m == "binary_accuracy":
                found.append(m)
        elif isinstance(m, BinaryAccuracy) and m.threshold == 0.5:
            found.append(m)
        elif isinstance(m, type) and issubclass(m, BinaryAccuracy):
            found.append(m)
    return found


def _check_accuracy_on_logits(model, out, loss, output_shape) -> None:
    if not (_is_binary(loss) and loss.from_logits and _activation(out) == "linear"):
        return
    for m in _binary_accuracy_ids(model, output_shape):
        shown = repr(m) if isinstance(m, str) else "BinaryAccuracy()"
        metric_name = m if isinstance(m, str) else getattr(m, "name", "binary_accuracy")
        message = (
            f"metrics=[{shown}] measures BinaryAccuracy here, which counts an example as class 1 when the output "
            f"is > 0.5. But with {type(loss).__name__}(from_logits=True) and the linear output layer {out.name!r}, "
            "the output is the logit z, whose decision boundary is z > 0 (sigmoid(z) > 0.5 exactly when z > 0): "
            "every example with 0 < z <= 0.5 is scored as class 0, so the reported accuracy is wrong (Keras does "
            "the same) even when the model is right. Write "
            f"metrics=[BinaryAccuracy(name={metric_name!r}, threshold=0.0)] "
            "(from gradfit.keras.metrics import BinaryAccuracy), or use a sigmoid output "
            f"Dense({_units(out)}, activation='sigmoid') with loss={type(loss).__name__}()."
        )
        _warn(model, ("accuracy_on_logits", metric_name), message)


def _check_labels_for_categorical(model, loss, y, output_shape) -> None:
    classes = output_shape[-1]
    if not (_is_cross_entropy(loss) and loss.logits_activation == "softmax" and not loss.sparse):
        return
    if classes is None or classes < 2:
        return
    if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)) or y.dtype.kind not in "biuf" or not y.size:
        return
    if y.min() < 0 or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        return
    args = "from_logits=True" if loss.from_logits else ""
    message = (
        f"CategoricalCrossentropy expects one-hot targets, one column per class (shape (m, {classes})), but y "
        f"has shape {y.shape}: one integer class label per example. Write "
        f"loss=SparseCategoricalCrossentropy({args}), the same loss for integer labels, or one-hot encode the "
        f"labels first: y = np.eye({classes})[y.reshape(-1).astype(int)]."
    )
    _warn(model, ("integer_labels_for_categorical", classes), message)
