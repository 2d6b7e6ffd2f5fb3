"""scikit-learn estimators around gradfit models: Keras 3's ``keras.wrappers`` (``SKLearnClassifier``,
``SKLearnRegressor``, ``SKLearnTransformer``), with the same constructor, fitted attributes and target encoding,
so that code written for ``keras.wrappers`` runs with the import changed to ``gradfit.keras.wrappers``.

``model`` is either a callable ``model(X=X, y=y, **model_kwargs)`` that returns a compiled model (it sees the
validated ``X`` and the *encoded* ``y``, so it can size the input and output layers), or a compiled model
instance, which ``fit`` clones as Keras's ``clone_model`` does (same layers and compile settings, fresh
weights). ``fit(X, y, **kwargs)`` passes ``fit_kwargs`` updated by ``kwargs`` to ``model.fit``.

Targets, as in Keras:

* the classifier one-hot encodes binary and multiclass ``y`` over ``classes_ = np.unique(y)`` (a binary target
  gives two columns, as Keras's ``OneHotEncoder`` does), and ``predict`` is ``classes_[argmax(output)]``;
* the regressor and the transformer hand a 1-d ``y`` to the model as one column and return 1-d predictions.

Beyond Keras 3.15 (which has none of these), as scikit-learn defines them:

* ``partial_fit`` trains one more epoch of the same model with its optimizer state;
* ``warm_start=True`` makes ``fit`` continue training ``model_`` (Keras 3.15 accepts the flag and still
  rebuilds the model on every ``fit``);
* multilabel classification: a 0/1 indicator ``y`` of shape ``(n, k)`` (``type_of_target`` ``"multilabel-
  indicator"``) is given to the model as is, ``classes_`` is ``np.arange(k)`` (as ``MLPClassifier``'s), and
  ``predict`` thresholds each output at 0.5 (at 0 when the loss reads logits, ``from_logits=True``);
* multi-output regression: ``y`` of shape ``(n, k)`` is given to the model as is; predictions keep the shape
  of the ``y`` fitted, ``(n, 1)`` included, as scikit-learn's multi-output regressors do (Keras 3.15 refuses
  2-d targets);
* ``predict_proba`` (the classifier), when the outputs are probabilities (a softmax or sigmoid last layer) or
  logits (the loss has ``from_logits=True``);
* ``predict``, ``predict_proba``, ``decision_function`` and ``transform`` do not print a progress bar; the
  regressor returns float64 predictions (the float32 outputs widened, exactly).

Refused with an error rather than accepted: sparse ``X`` or ``y``, multiclass-multioutput and continuous
targets for the classifier, an uncompiled model, a ``partial_fit`` that asks for ``epochs``.

Fitting draws initial weights and shuffles from gradfit's global generator: seed it
(``gradfit.random.set_seed``, e.g. inside the ``model`` callable) for reproducible fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # scikit-learn missing, or older than 1.6 (no validate_data, no __sklearn_tags__)
    raise ImportError("gradfit.keras.wrappers needs scikit-learn 1.6 or newer: pip install 'gradfit[sklearn]'") from exc

from . import activations

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]

_SQUASHING = ("softmax", "sigmoid")


def _refuse_sparse(value, argument: str, owner: str) -> None:
    import scipy.sparse

    if scipy.sparse.issparse(value):
        raise TypeError(
            f"{owner}: a sparse {argument} is not supported (gradfit models train on dense arrays); "
            f"pass {argument}.toarray()."
        )


def _is_model(obj) -> bool:
    from .models import Sequential

    return isinstance(obj, Sequential)


def _check_compiled(model, owner: str) -> None:
    if not _is_model(model):
        raise TypeError(
            f"{owner}: model= must be a gradfit model or a callable model(X, y, **model_kwargs) that returns one; "
            f"got {model!r} of type {type(model).__name__}."
        )
    if not model.compiled or model.loss is None or model.optimizer is None:
        raise RuntimeError(
            f"{owner}: the model needs to be compiled, with a loss and an optimizer: call "
            "model.compile(loss=..., optimizer=...) before giving it (or in the callable that builds it)."
        )


def _clone_model(model, owner: str):
    """Keras's ``clone_model`` of a compiled model: the same layers and compile settings, fresh weights."""
    from .saving import model_from_config
    from .saving.serialize import keras_model_dict

    try:
        described = keras_model_dict(model)
    except ValueError as exc:
        raise ValueError(
            f"{owner}: fit clones the model instance given as model= (its config and compile settings, fresh "
            f"weights), and this one cannot be described: {exc} Give a callable that builds the model instead."
        ) from None
    return model_from_config(described)


def _last_activation(model) -> str | None:
    layers = model.layers
    if not layers:
        return None
    activation = getattr(layers[-1], "activation", None)
    name = getattr(activation, "__name__", None)
    if name is None and type(layers[-1]).__name__ == "Softmax":
        name = "softmax"
    return name


class _KerasEstimator(BaseEstimator):
    """What the three wrappers share: the model's making, ``fit``, ``partial_fit`` and ``predict``.

    Parameters (Keras 3's): ``model`` (a compiled gradfit model, or a callable ``model(X=X, y=y,
    **model_kwargs)`` returning one), ``warm_start`` (``fit`` continues training ``model_``, with its optimizer
    state), ``model_kwargs`` (given to the callable), ``fit_kwargs`` (given to ``model.fit``; ``fit``'s own
    keyword arguments take precedence).

    Fitted attributes: ``model_`` (the trained model), ``history_`` (the ``History`` of the last ``fit`` or
    ``partial_fit`` call), ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame), ``epoch_`` (epochs
    trained so far).
    """

    _y_numeric = True

    def __init__(
        self,
        model: Any,
        warm_start: bool = False,
        model_kwargs: dict | None = None,
        fit_kwargs: dict | None = None,
    ):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True  # initial weights and shuffling come from gradfit's global generator
        return tags

    @property
    def epoch_(self) -> int:
        """The number of epochs ``model_`` has been trained through this estimator (0 before ``fit``)."""
        return getattr(self, "_epochs_trained", 0)

    def set_fit_request(self, **kwargs) -> _KerasEstimator:
        """Request metadata (``sample_weight=True``, say) that a meta-estimator should route to ``fit``, as with
        scikit-learn's metadata routing (``sklearn.set_config(enable_metadata_routing=True)``)."""
        from sklearn.utils.metadata_routing import MetadataRequest

        if not sklearn.get_config().get("enable_metadata_routing", False):
            raise RuntimeError(
                "set_fit_request is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        request = getattr(self, "_metadata_request", None)
        if not isinstance(request, MetadataRequest):
            request = MetadataRequest(owner=type(self).__name__)
        for param, alias in kwargs.items():
            request.fit.add_request(param=param, alias=alias)
        self._metadata_request = request
        return self

    # ----------------------------------------------------------------- the model
    def _new_model(self, X, y):
        owner = type(self).__name__
        if _is_model(self.model):
            _check_compiled(self.model, owner)
            if self.warm_start:  # Keras: "the given model won't be cloned": start from its weights (a copy)
                from .saving.pickling import model_from_bytes, model_to_bytes

                model = model_from_bytes(model_to_bytes(self.model))
            else:
                model = _clone_model(self.model, owner)
        elif callable(self.model):
            model = self.model(X=X, y=y, **(self.model_kwargs or {}))
        else:
            raise TypeError(
                f"{owner}: model= must be a compiled gradfit model or a callable model(X, y, **model_kwargs) "
                f"that returns one; got {self.model!r}."
            )
        _check_compiled(model, owner)
        return model

    # ----------------------------------------------------------------- training
    def _train(self, X, y, fit_arguments: dict, *, keep: bool, one_epoch: bool, classes=None):
        owner = type(self).__name__
        _refuse_sparse(y, "y", owner)
        keep = keep and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not keep, multi_output=True, y_numeric=self._y_numeric)
        y_model = self._encode_target(y, reset=not keep, classes=classes)
        model = self.model_ if keep else self._new_model(X, y_model)
        arguments = {**(self.fit_kwargs or {}), **fit_arguments}
        done = self.epoch_ if keep else 0
        if one_epoch:
            for name in ("epochs", "initial_epoch"):
                if name in fit_arguments:
                    raise TypeError(
                        f"{owner}.partial_fit trains exactly one epoch; it takes no {name}= (use fit with "
                        "warm_start=True to train several epochs more)."
                    )
            arguments["epochs"] = 1
        if "initial_epoch" not in arguments:  # continue the epoch count (epoch-based callbacks see it)
            arguments["epochs"] = done + arguments.get("epochs", 1)
            arguments["initial_epoch"] = done
        history = model.fit(X, y_model, **arguments)
        self.model_ = model
        self.history_ = history
        self._epochs_trained = done + len(getattr(history, "epoch", []))
        return self

    def fit(self, X, y, **kwargs) -> _KerasEstimator:
        """Build the model (or, with ``warm_start=True`` and a fitted ``model_``, keep it) and train it:
        ``model.fit(X, encoded y, **{**fit_kwargs, **kwargs})``."""
        return self._train(X, y, kwargs, keep=self.warm_start, one_epoch=False)

    def partial_fit(self, X, y, **kwargs) -> _KerasEstimator:
        """Train ``model_`` one epoch more on ``X, y``, continuing with its optimizer state (the first call builds
        the model as ``fit`` does). ``kwargs`` (and ``fit_kwargs`` but their ``epochs``) go to ``model.fit``."""
        return self._train(X, y, kwargs, keep=True, one_epoch=True)

    # ----------------------------------------------------------------- prediction
    def _raw_output(self, X) -> np.ndarray:
        check_is_fitted(self)
        _refuse_sparse(X, "X", type(self).__name__)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.model_.predict(X, verbose=0))

    def predict(self, X) -> np.ndarray:
        """The model's predictions, decoded to the form of the ``y`` that was fitted."""
        return self._decode_output(self._raw_output(X))

    # ----------------------------------------------------------------- targets (regressor, transformer)
    def _encode_target(self, y, reset: bool, classes=None) -> np.ndarray:
        kind = type_of_target(y)
        if kind == "unknown":
            raise ValueError(f"{type(self).__name__}: unknown target type for y: {y!r}")
        columns = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self._target_ndim = y.ndim
            self._target_columns = columns
        elif columns != self._target_columns:
            raise ValueError(
                f"{type(self).__name__}: y has {columns} column(s), but the model was fitted on {self._target_columns}."
            )
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _decode_output(self, output: np.ndarray) -> np.ndarray:
        if self._target_ndim == 1 and output.ndim == 2 and output.shape[1] == 1:
            return output[:, 0]
        return output


class SKLearnClassifier(ClassifierMixin, _KerasEstimator):
    """A scikit-learn classifier around a gradfit model, as Keras 3's ``keras.wrappers.SKLearnClassifier``.

    Binary and multiclass ``y`` are one-hot encoded over ``classes_ = np.unique(y)`` (two columns for a binary
    target) before the model sees them; ``predict`` returns ``classes_[argmax(output, axis=1)]``. A
    multilabel-indicator ``y`` (0/1, shape ``(n, k)``) is given as is, with ``classes_ = np.arange(k)`` and
    ``predict`` thresholding each output (0.5 for probabilities, 0 for logits). ``decision_function`` is the raw
    model output (Keras's), ``predict_proba`` the probabilities (see ``predict_proba``).

    ``partial_fit(X, y, classes=None)``: ``classes`` (all the labels to expect, scikit-learn's convention) fixes
    the encoding on the first call when that call's ``y`` does not show every class.
    """

    _y_numeric = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a few epochs of a small network: scikit-learn's bar is not met
        tags.classifier_tags.multi_label = True
        return tags

    def partial_fit(self, X, y, classes=None, **kwargs) -> SKLearnClassifier:
        """One more epoch (see the base class); ``classes`` lists every label, for the first call."""
        return self._train(X, y, kwargs, keep=True, one_epoch=True, classes=classes)

    def _encode_target(self, y, reset: bool, classes=None) -> np.ndarray:
        owner = type(self).__name__
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"Unknown label type: {kind!r}. {owner} supports binary, multiclass and multilabel-indicator "
                "targets (a 1-d y of labels, or a 0/1 matrix of shape (n_samples, n_labels)); "
                "multiclass-multioutput and continuous targets are not supported."
            )
        if reset:
            if kind == "multilabel-indicator":
                all_classes = np.arange(y.shape[1])
                if classes is not None and not np.array_equal(np.asarray(classes), all_classes):
                    raise ValueError(f"{owner}: for a multilabel-indicator y, classes must be np.arange({y.shape[1]}).")
            else:
                if y.ndim == 2:  # a column vector (validate_data kept it, being told multi_output)
                    import warnings

                    from sklearn.exceptions import DataConversionWarning

                    warnings.warn(
                        "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
                        "(n_samples, ), for example using ravel().",
                        DataConversionWarning,
                        stacklevel=4,
                    )
                all_classes = np.unique(y if classes is None else np.asarray(classes))
                if len(all_classes) == 1:
                    raise ValueError("Classifier can't train when only one class is present.")
            self._multilabel = kind == "multilabel-indicator"
            self.classes_ = all_classes
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(
                f"{owner}.partial_fit: classes={list(classes)!r} is not the classes_ {self.classes_.tolist()} of the "
                "first call (scikit-learn's rule: every call gives the same classes, or none after the first)."
            )
        multilabel = kind == "multilabel-indicator"
        if multilabel != self._multilabel:
            raise ValueError(
                f"{owner}: y is {kind!r}, but the model was fitted on a "
                f"{'multilabel-indicator' if self._multilabel else 'binary or multiclass'} target."
            )
        if multilabel:
            if y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"{owner}: y has {y.shape[1]} labels, but the model was fitted on {len(self.classes_)}."
                )
            return np.asarray(y, dtype=np.float64)
        labels = y.ravel() if y.ndim == 2 else y
        positions = np.searchsorted(self.classes_, labels)
        positions = np.clip(positions, 0, len(self.classes_) - 1)
        unknown = self.classes_[positions] != labels
        if np.any(unknown):
            raise ValueError(
                f"{owner}: y holds labels {np.unique(labels[unknown]).tolist()} that are not among the classes_ "
                f"{self.classes_.tolist()} the model was fitted on (give partial_fit all labels with classes=)."
            )
        return np.eye(len(self.classes_), dtype=np.float64)[positions]  # Keras's OneHotEncoder output

    def _output_kind(self) -> str:
        """``"logits"`` when the loss reads logits, ``"probabilities"`` after a softmax or sigmoid, else ``"raw"``."""
        loss = getattr(self.model_, "_loss", None)
        if getattr(loss, "from_logits", False):
            return "logits"
        return "probabilities" if _last_activation(self.model_) in _SQUASHING else "raw"

    def _decode_output(self, output: np.ndarray) -> np.ndarray:
        if self._multilabel:
            threshold = 0.0 if self._output_kind() == "logits" else 0.5
            return (output > threshold).astype(np.int64)
        return self.classes_[np.argmax(output, axis=1)]

    def decision_function(self, X) -> np.ndarray:
        """The raw model output, shape ``(n_samples, n_classes)`` (Keras's: also for a binary target)."""
        return self._raw_output(X)

    def _has_probabilities(self) -> bool:
        if not hasattr(self, "model_"):
            return True  # predict_proba itself then says the estimator is not fitted
        if self._output_kind() == "raw":
            raise AttributeError(
                f"{type(self).__name__}.predict_proba needs a model whose outputs are probabilities (a softmax, or "
                f"sigmoid, last layer) or logits (a loss with from_logits=True); this model's last activation is "
                f"{_last_activation(self.model_)!r}. decision_function gives the raw outputs."
            )
        return True

    @property
    def predict_proba(self):
        """Class probabilities (see ``_predict_proba``); an ``AttributeError`` that says why when the model's outputs
        are neither probabilities nor logits, so that ``hasattr(estimator, "predict_proba")`` is False then, as
        scikit-learn's scorers and meta-estimators expect."""
        self._has_probabilities()
        return self._predict_proba

    def _predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)`` in the order of ``classes_``.

        The model's outputs when they are probabilities (softmax, or sigmoid, last layer), else the outputs of a
        ``from_logits=True`` loss turned into probabilities by its activation (softmax, or sigmoid). For a binary or
        multiclass target sigmoid outputs are divided by their sum, so that each row sums to 1; for a multilabel
        target each column is that label's probability."""
        output = self._raw_output(X).astype(np.float64)
        if self._output_kind() == "logits":
            squash = getattr(self.model_._loss, "logits_activation", None) or "sigmoid"
            squash = "sigmoid" if self._multilabel else squash
            output = np.asarray((activations.sigmoid if squash == "sigmoid" else activations.softmax)(output))
        else:
            squash = _last_activation(self.model_)
        if not self._multilabel and squash == "sigmoid":  # one probability per class: make the rows sum to 1
            output = output / np.maximum(output.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
        return output


class SKLearnRegressor(RegressorMixin, _KerasEstimator):
    """A scikit-learn regressor around a gradfit model, as Keras 3's ``keras.wrappers.SKLearnRegressor``.

    A 1-d ``y`` reaches the model as one column and ``predict`` returns 1-d predictions; a 2-d ``y`` (multi-output
    regression, ``(n, k)``) reaches the model as is and ``predict`` returns ``(n, k)``."""

    def predict(self, X) -> np.ndarray:
        """The model's predictions, as float64 (exact: float32 values widened, as scikit-learn's regressors
        return), 1-d for a 1-d ``y``."""
        return super().predict(X).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
        return tags


class SKLearnTransformer(TransformerMixin, _KerasEstimator):
    """A scikit-learn transformer around a gradfit model, as Keras 3's ``keras.wrappers.SKLearnTransformer``:
    ``fit(X, y)`` trains the model to map ``X`` to ``y``; ``transform(X)`` is ``model_.predict(X)`` (shape
    ``(n_samples, n_outputs)``, float32), e.g. an embedding fed to the next step of a pipeline."""

    def transform(self, X) -> np.ndarray:
        """``model_.predict(X)``: the model's outputs, one row per sample."""
        return self._raw_output(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # float32 out, whatever came in
        return tags
