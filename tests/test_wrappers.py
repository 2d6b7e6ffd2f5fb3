"""``gradfit.keras.wrappers``: Keras 3's scikit-learn estimators (``SKLearnClassifier``, ``SKLearnRegressor``,
``SKLearnTransformer``) around gradfit models: scikit-learn's own estimator checks, Keras's signatures and
target encoding, multilabel and multi-output targets, ``partial_fit`` / ``warm_start``, clone and pickle."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402
from sklearn.utils.multiclass import type_of_target  # noqa: E402

import gradfit  # noqa: E402
from gradfit.keras import Input, Sequential  # noqa: E402
from gradfit.keras.layers import Dense  # noqa: E402
from gradfit.keras.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402

QUIET = {"epochs": 5, "verbose": 0}


def build(
    X, y, loss="categorical_crossentropy", activation="softmax", hidden=8, learning_rate=0.001, optimizer="adam", seed=0
):
    """Keras's ``dynamic_model`` of its own wrapper tests, sized from the data; seeded, so fits repeat."""
    if seed is not None:
        gradfit.random.set_seed(seed)
    n_outputs = y.shape[1] if y.ndim > 1 else 1
    model = Sequential(
        [Input(shape=(X.shape[1],)), Dense(hidden, activation="relu"), Dense(n_outputs, activation=activation)]
    )
    model.compile(
        loss=loss,
        optimizer=gradfit.keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}}),
    )
    return model


def unseeded(X, y, **kwargs):
    return build(X, y, seed=None, **kwargs)


REGRESSION = {"loss": "mse", "activation": "linear"}


# ------------------------------------------------------------------------------------------- scikit-learn's checks
# With the wrappers' own tag (non_deterministic=True, as Keras sets it: initial weights and shuffling come from the
# global generator) scikit-learn skips, by its own rules, check_pipeline_consistency,
# check_methods_sample_order_invariance, check_methods_subset_invariance and (transformer)
# check_transformer_general / check_transformer_data_not_an_array, saying "... is non deterministic".
# The seeded estimators below (the builder seeds gradfit's generator) declare themselves deterministic, so
# those checks run too, and pass. check_array_api_input is skipped by scikit-learn unless SCIPY_ARRAY_API=1
# (it needs array-API inputs; gradfit works on NumPy arrays).


class SeededClassifier(SKLearnClassifier):
    """The classifier with a seeded builder: every fit repeats, so the deterministic-only checks apply."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class SeededRegressor(SKLearnRegressor):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class SeededTransformer(SKLearnTransformer):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


_BINARY_DECISION = (
    "decision_function is Keras's: the raw model output, of shape (n_samples, 2) for a binary target (Keras "
    "one-hot encodes it into two columns), where scikit-learn expects one margin per sample, shape (n_samples,)"
)

EXPECTED_FAILED_CHECKS = {
    "SKLearnClassifier": {
        "check_classifiers_train": _BINARY_DECISION,
        "check_classifiers_classes": _BINARY_DECISION + " (its binary case compares decision_function > 0 to predict)",
        "check_decision_proba_consistency": _BINARY_DECISION + " (it ranks that output against predict_proba[:, 1])",
    },
    "SKLearnRegressor": {},
    "SKLearnTransformer": {},
}

_REPRODUCIBLE = (
    "it fits twice (or two clones) and compares the predictions, assuming fit is reproducible; with an unseeded "
    "builder each fit draws other initial weights and shuffles (Keras marks it so too); the seeded estimator passes it"
)
#: the checks that fail only because the builder does not seed gradfit's generator (the Seeded* estimators pass
#: every one of them); with an unseeded builder some pass by chance on some runs, so they are not strict
UNSEEDED_EXPECTED_FAILURES = {
    "SKLearnClassifier": {
        "check_classifier_data_not_an_array": _REPRODUCIBLE,
        "check_classifiers_multilabel_representation_invariance": _REPRODUCIBLE,
        "check_fit_idempotent": _REPRODUCIBLE,
        "check_supervised_y_2d": _REPRODUCIBLE,
        "check_classifiers_one_label_sample_weights": (
            "5 epochs at Adam's default learning rate move the outputs too little to overrule what the initial "
            "weights predict on the test points; zero weights are honoured "
            "(test_zero_sample_weights_leave_only_the_remaining_class), and the seeded estimator passes it"
        ),
    },
    "SKLearnRegressor": {
        "check_fit_idempotent": _REPRODUCIBLE,
        "check_regressor_data_not_an_array": _REPRODUCIBLE,
        "check_regressors_int": _REPRODUCIBLE,
        "check_supervised_y_2d": _REPRODUCIBLE,
    },
    "SKLearnTransformer": {"check_fit_idempotent": _REPRODUCIBLE},
}


def expected_failed_checks(estimator) -> dict:
    for cls in type(estimator).__mro__:
        if cls.__name__ in EXPECTED_FAILED_CHECKS:
            expected = dict(EXPECTED_FAILED_CHECKS[cls.__name__])
            if type(estimator) is cls:  # the unseeded estimator
                expected.update(UNSEEDED_EXPECTED_FAILURES[cls.__name__])
            return expected
    raise AssertionError(type(estimator))


ESTIMATORS = [
    SKLearnClassifier(unseeded, fit_kwargs=QUIET),
    SKLearnRegressor(unseeded, model_kwargs=REGRESSION, fit_kwargs=QUIET),
    SKLearnTransformer(unseeded, model_kwargs=REGRESSION, fit_kwargs=QUIET),
    SeededClassifier(build, fit_kwargs=QUIET),
    SeededRegressor(build, model_kwargs=REGRESSION, fit_kwargs=QUIET),
    SeededTransformer(build, model_kwargs=REGRESSION, fit_kwargs=QUIET),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_the_expected_failures_are_the_binary_decision_function_only():
    """The classifier's three expected failures all come from decision_function's Keras shape: a classifier whose
    decision_function is hidden passes those checks (so nothing else in them fails)."""
    from sklearn.utils.estimator_checks import (
        check_classifiers_classes,
        check_classifiers_train,
        check_decision_proba_consistency,
    )

    class WithoutDecisionFunction(SeededClassifier):
        decision_function = property(lambda self: (_ for _ in ()).throw(AttributeError("decision_function")))

    estimator = WithoutDecisionFunction(build, fit_kwargs=QUIET)
    assert not hasattr(estimator, "decision_function")
    for check in (check_classifiers_train, check_classifiers_classes, check_decision_proba_consistency):
        check("SKLearnClassifier", estimator)
    with pytest.raises(AssertionError):
        check_classifiers_train("SKLearnClassifier", SeededClassifier(build, fit_kwargs=QUIET))


def test_zero_sample_weights_leave_only_the_remaining_class():
    """check_classifiers_one_label_sample_weights' case, trained long enough to leave the initial weights behind."""
    rng = np.random.RandomState(0)
    X_train, X_test = rng.uniform(size=(10, 10)), rng.uniform(size=(10, 10))
    y = np.arange(10) % 2
    clf = SKLearnClassifier(unseeded, model_kwargs={"learning_rate": 0.05}, fit_kwargs={"epochs": 40, "verbose": 0})
    np.testing.assert_array_equal(clf.fit(X_train, y, sample_weight=y.astype(float)).predict(X_test), np.ones(10))
    np.testing.assert_array_equal(clf.fit(X_train, y, sample_weight=1.0 - y).predict(X_test), np.zeros(10))


# ------------------------------------------------------------------------------------------- Keras's API
def test_keras_signatures_and_import_paths():
    """Keras 3.15's ``SKLBase.__init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None)`` and
    ``fit(self, X, y, **kwargs)``; the classes live in gradfit.wrappers, re-exported as Keras's module path."""
    import gradfit.keras
    import gradfit.wrappers

    for cls in (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer):
        parameters = inspect.signature(cls.__init__).parameters
        assert [(p.name, p.default) for p in parameters.values()] == [
            ("self", inspect.Parameter.empty),
            ("model", inspect.Parameter.empty),
            ("warm_start", False),
            ("model_kwargs", None),
            ("fit_kwargs", None),
        ]
        assert list(inspect.signature(cls.fit).parameters) == ["self", "X", "y", "kwargs"]
        assert getattr(gradfit.wrappers, cls.__name__) is cls
        assert getattr(gradfit.keras.wrappers, cls.__name__) is cls
    assert "wrappers" in gradfit.keras.__all__
    assert sorted(gradfit.keras.wrappers.__all__) == ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
    with pytest.raises(AttributeError, match="no attribute 'KerasClassifier'"):
        gradfit.keras.wrappers.KerasClassifier  # noqa: B018


def test_importing_gradfit_keras_does_not_import_sklearn():
    code = (
        "import sys, gradfit.keras; assert 'sklearn' not in sys.modules; "
        "from gradfit.keras.wrappers import SKLearnClassifier; assert 'sklearn' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, rng


def test_classifier_encodes_targets_as_keras_does():
    """Keras one-hot encodes binary and multiclass targets (float64, one column per class of np.unique(y), two
    for a binary target) before the model callable sees them; predict decodes the argmax to the labels."""
    X, _ = _blobs()
    seen = {}

    def spy(X, y, **kwargs):
        seen["y"] = y
        return build(X, y, **kwargs)

    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = SKLearnClassifier(spy, fit_kwargs=QUIET).fit(X, y)
    assert seen["y"].dtype == np.float64 and seen["y"].shape == (60, 2)
    np.testing.assert_array_equal(seen["y"][:, 1], (y == "yes").astype(float))
    assert clf.classes_.tolist() == ["no", "yes"]
    assert clf.n_features_in_ == 4
    prediction = clf.predict(X)
    assert prediction.dtype == y.dtype and set(prediction) <= {"no", "yes"}
    raw = clf.decision_function(X)
    assert raw.shape == (60, 2)
    np.testing.assert_array_equal(prediction, clf.classes_[raw.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_proba(X), raw, rtol=1e-7)  # softmax outputs are the probabilities
    assert clf.score(X, y) == np.mean(prediction == y)

    labels = np.array([3, 7, 9])[np.arange(60) % 3]
    clf = SKLearnClassifier(spy, fit_kwargs=QUIET).fit(X, labels)
    assert seen["y"].shape == (60, 3) and clf.classes_.tolist() == [3, 7, 9]
    assert set(clf.predict(X)) <= {3, 7, 9}


def test_predict_proba_from_logits_and_refused_for_raw_outputs():
    X, _ = _blobs()
    y = np.arange(60) % 3
    logits = gradfit.keras.losses.CategoricalCrossentropy(from_logits=True)
    clf = SKLearnClassifier(build, model_kwargs={"loss": logits, "activation": "linear"}, fit_kwargs=QUIET).fit(X, y)
    z = clf.decision_function(X).astype(np.float64)
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)

    raw = SKLearnClassifier(build, model_kwargs={"loss": "mse", "activation": "linear"}, fit_kwargs=QUIET).fit(X, y)
    assert not hasattr(raw, "predict_proba")
    with pytest.raises(AttributeError, match="last activation is 'linear'"):
        raw.predict_proba(X)
    assert raw.predict(X).shape == (60,)  # predict still works: the argmax of the raw outputs


def test_multilabel_classification_as_sklearn_defines_it():
    X, _ = _blobs(80)
    y = (X[:, :3] > 0).astype(int)
    assert type_of_target(y) == "multilabel-indicator"
    seen = {}

    def spy(X, y, **kwargs):
        seen["y"] = y
        return build(X, y, **kwargs)

    clf = SKLearnClassifier(
        spy,
        model_kwargs={"loss": "binary_crossentropy", "activation": "sigmoid", "learning_rate": 0.03},
        fit_kwargs={"epochs": 30, "verbose": 0},
    )
    clf.fit(X, y)
    np.testing.assert_array_equal(seen["y"], y.astype(float))  # the indicator matrix, as is
    np.testing.assert_array_equal(clf.classes_, np.arange(3))  # as MLPClassifier's (LabelBinarizer's)
    prediction = clf.predict(X)
    assert prediction.shape == (80, 3) and set(np.unique(prediction)) <= {0, 1}
    assert type_of_target(prediction) == type_of_target(y) == "multilabel-indicator"
    probabilities = clf.predict_proba(X)
    np.testing.assert_array_equal(prediction, (probabilities > 0.5).astype(int))
    np.testing.assert_allclose(probabilities, clf.decision_function(X), rtol=1e-7)
    assert clf.score(X, y) == sklearn.metrics.accuracy_score(y, prediction)  # subset accuracy
    assert clf.score(X, y) > 0.6 and np.mean(prediction == y) > 0.85  # it learnt the three signs

    logits = gradfit.keras.losses.BinaryCrossentropy(from_logits=True)
    clf = SKLearnClassifier(build, model_kwargs={"loss": logits, "activation": "linear"}, fit_kwargs=QUIET).fit(X, y)
    z = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), (z > 0).astype(int))  # logits: thresholded at 0
    np.testing.assert_allclose(clf.predict_proba(X), 1 / (1 + np.exp(-z.astype(np.float64))), rtol=1e-12)

    with pytest.raises(ValueError, match="multilabel-indicator"):
        clf.partial_fit(X, np.arange(80) % 2)  # fitted on multilabel: a 1-d y is refused


def test_multi_output_regression_as_sklearn_defines_it():
    X, rng = _blobs(80)
    Y = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]])
    assert type_of_target(Y) == "continuous-multioutput"
    reg = SKLearnRegressor(build, model_kwargs=REGRESSION, fit_kwargs={"epochs": 40, "verbose": 0}).fit(X, Y)
    prediction = reg.predict(X)
    assert prediction.shape == (80, 2) and prediction.dtype == np.float64
    assert type_of_target(prediction) == "continuous-multioutput"
    np.testing.assert_array_equal(prediction, reg.model_.predict(X, verbose=0).astype(np.float64))
    assert reg.score(X, Y) == sklearn.metrics.r2_score(Y, prediction)

    one = SKLearnRegressor(build, model_kwargs=REGRESSION, fit_kwargs=QUIET)
    assert one.fit(X, Y[:, 0]).predict(X).shape == (80,)  # Keras: a 1-d y reaches the model as one column
    assert one.fit(X, Y[:, :1]).predict(X).shape == (80, 1)  # a column stays a column, as in LinearRegression

    transformer = SKLearnTransformer(build, model_kwargs={**REGRESSION, "hidden": 3}, fit_kwargs=QUIET).fit(X, Y)
    out = transformer.transform(X)
    assert out.shape == (80, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, transformer.model_.predict(X, verbose=0))
    np.testing.assert_array_equal(clone(transformer).fit_transform(X, Y), out)  # seeded builder: same fit


def test_unsupported_inputs_are_refused():
    sparse = pytest.importorskip("scipy.sparse")
    X, _ = _blobs()
    y = np.arange(60) % 2
    clf = SKLearnClassifier(build, fit_kwargs=QUIET)
    with pytest.raises(TypeError, match="sparse y is not supported"):
        clf.fit(X, sparse.csr_matrix(np.eye(2)[y]))
    with pytest.raises(TypeError, match="[Ss]parse"):
        clf.fit(sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'"):
        clf.fit(X, X[:, 0])
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        clf.fit(X, np.column_stack([np.arange(60) % 3, np.arange(60) % 2]))
    with pytest.raises(ValueError, match="only one class"):
        clf.fit(X, np.zeros(60))
    clf.fit(X, y)
    with pytest.raises(TypeError, match="sparse X is not supported"):
        clf.predict(sparse.csr_matrix(X))
    with pytest.raises(ValueError, match=r"labels \[5\] that are not among the classes_"):
        clf.partial_fit(X, np.where(y == 1, 5, 0))
    with pytest.raises(TypeError, match="partial_fit trains exactly one epoch; it takes no epochs="):
        clf.partial_fit(X, y, epochs=3)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)

    uncompiled = Sequential([Input(shape=(4,)), Dense(2, activation="softmax")])
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(uncompiled).fit(X, y)
    with pytest.raises(RuntimeError, match="needs to be compiled"):
        SKLearnClassifier(lambda X, y: Sequential([Dense(2)])).fit(X, y)
    with pytest.raises(TypeError, match="must be a gradfit model"):
        SKLearnClassifier(lambda X, y: "not a model").fit(X, y)
    with pytest.raises(TypeError, match="must be a compiled gradfit model or a callable"):
        SKLearnClassifier(42).fit(X, y)
    with pytest.raises(sklearn.exceptions.NotFittedError):
        SKLearnRegressor(build).predict(X)


# ------------------------------------------------------------------------------------------- training continued
def _weights(estimator):
    return estimator.model_.get_weights()


def test_partial_fit_and_warm_start_continue_with_the_optimizer_state():
    """fit for 3 epochs == fit for 1 epoch, then partial_fit twice == fit for 1, then fit twice with
    warm_start=True: bitwise (shuffle=False; the Adam moments and step count carry over)."""
    X, _ = _blobs(50)
    y = np.arange(50) % 3
    once = {"verbose": 0, "shuffle": False, "batch_size": 16}
    three = SKLearnClassifier(build, fit_kwargs={**once, "epochs": 3}).fit(X, y)

    partial = SKLearnClassifier(build, fit_kwargs={**once, "epochs": 1}).fit(X, y)
    first_epoch = [w.copy() for w in _weights(partial)]
    partial.partial_fit(X, y)
    partial.partial_fit(X, y)

    warm = SKLearnClassifier(build, warm_start=True, fit_kwargs={**once, "epochs": 1}).fit(X, y)
    model = warm.model_
    warm.fit(X, y)
    warm.fit(X, y)
    assert warm.model_ is model

    for other in (partial, warm):
        for a, b in zip(_weights(three), _weights(other)):
            np.testing.assert_array_equal(a, b)
        assert other.model_.optimizer.iterations == three.model_.optimizer.iterations == 3 * 4
        assert other.epoch_ == three.epoch_ == 3
        assert other.history_.epoch == [2]  # the epoch count continues (epoch-based callbacks see it)
    assert three.history_.epoch == [0, 1, 2]
    np.testing.assert_array_equal(partial.predict_proba(X), three.predict_proba(X))
    assert not all(np.array_equal(a, b) for a, b in zip(first_epoch, _weights(three)))

    cold = SKLearnClassifier(build, fit_kwargs={**once, "epochs": 1}).fit(X, y)  # warm_start=False: a new model
    model = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not model and cold.epoch_ == 1
    for a, b in zip(first_epoch, _weights(cold)):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_from_scratch_and_with_classes():
    X, _ = _blobs()
    y = np.arange(60) % 3
    clf = SKLearnClassifier(build, fit_kwargs={"verbose": 0, "epochs": 7})
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # the first call builds; one epoch, not fit_kwargs' 7
    assert clf.epoch_ == 1 and clf.classes_.tolist() == [0, 1, 2] and clf.decision_function(X).shape == (60, 3)
    clf.partial_fit(X, y, classes=[2, 1, 0])  # the same classes again: fine
    assert clf.epoch_ == 2 and clf.model_.optimizer.iterations == 2 + 2  # ceil(40/32) + ceil(60/32) steps

    with pytest.raises(ValueError, match=r"classes=\[0, 1\] is not the classes_ \[0, 1, 2\]"):
        clf.partial_fit(X, y, classes=[0, 1])

    reg = SKLearnRegressor(build, model_kwargs=REGRESSION, fit_kwargs={"verbose": 0})
    for _ in range(3):
        reg.partial_fit(X, X[:, 0])
    assert reg.epoch_ == 3 and reg.predict(X).shape == (60,)
    with pytest.raises(ValueError, match="y has 2 column"):
        reg.partial_fit(X, X[:, :2])


def test_fit_keyword_arguments_override_fit_kwargs_without_changing_them():
    X, _ = _blobs()
    y = np.arange(60) % 2
    fit_kwargs = {"epochs": 4, "verbose": 0}
    clf = SKLearnClassifier(build, fit_kwargs=fit_kwargs).fit(X, y, epochs=2, batch_size=60)
    assert clf.fit_kwargs == {"epochs": 4, "verbose": 0} and clf.fit_kwargs is fit_kwargs
    assert clf.history_.params["epochs"] == 2 and clf.history_.params["steps"] == 1
    assert isinstance(clf.history_, gradfit.callbacks.History) and len(clf.history_.history["loss"]) == 2
    weights = np.linspace(0.5, 1.5, 60)
    clf.fit(X, y, sample_weight=weights)  # goes to model.fit
    assert clf.epoch_ == 4


# ------------------------------------------------------------------------------------------- model instances
def test_a_model_instance_is_cloned_with_fresh_weights_or_continued_with_warm_start():
    X, _ = _blobs()
    y = np.arange(60) % 2
    instance = build(X, np.zeros((1, 2)))
    before = [w.copy() for w in instance.get_weights()]
    clf = SKLearnClassifier(instance, fit_kwargs=QUIET).fit(X, y)
    assert clf.model_ is not instance and clf.model is instance
    assert clf.model_.get_config()["layers"][1:] == instance.get_config()["layers"][1:]
    assert type(clf.model_.optimizer) is type(instance.optimizer) and clf.model_.loss == instance.loss
    for a, b in zip(before, instance.get_weights()):
        np.testing.assert_array_equal(a, b)  # the user's model is untouched

    one_epoch = {"epochs": 1, "verbose": 0, "shuffle": False}
    by_hand = pickle.loads(pickle.dumps(instance))
    by_hand.fit(X, np.eye(2)[y], **one_epoch)
    warm = SKLearnClassifier(instance, warm_start=True, fit_kwargs=one_epoch).fit(X, y)
    for a, b in zip(by_hand.get_weights(), _weights(warm)):
        np.testing.assert_array_equal(a, b)  # warm_start: "the given model won't be cloned": it starts from its weights
    assert warm.model_ is not instance  # trained on a copy: fit does not change its parameters
    cold = SKLearnClassifier(instance, fit_kwargs=one_epoch).fit(X, y)
    assert not np.array_equal(_weights(cold)[0], by_hand.get_weights()[0])  # Keras's clone_model: fresh weights

    copy = clone(clf)
    assert copy.model is not instance and not hasattr(copy, "model_")
    for a, b in zip(before, copy.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unsavable_model_instance_is_refused_by_name():
    X, _ = _blobs()
    custom = gradfit.losses.custom(lambda t, p: ((t - p) ** 2).mean(axis=-1), grad=lambda t, p: 2 * (p - t) / 2)
    instance = Sequential([Input(shape=(4,)), Dense(2, activation="softmax")])
    instance.compile(loss=custom, optimizer="adam")
    with pytest.raises(ValueError, match="cannot be described.*Cannot save the loss"):
        SKLearnClassifier(instance, fit_kwargs=QUIET).fit(X, np.arange(60) % 2)


# ------------------------------------------------------------------------------------------- clone, params, pickle
def test_get_params_set_params_and_clone():
    clf = SKLearnClassifier(build, model_kwargs={"hidden": 4}, fit_kwargs=QUIET)
    assert clf.get_params() == {"model": build, "warm_start": False, "model_kwargs": {"hidden": 4}, "fit_kwargs": QUIET}
    X, _ = _blobs()
    y = np.arange(60) % 2
    clf.fit(X, y)
    twin = clone(clf)
    assert twin.get_params()["fit_kwargs"] == QUIET  # (Keras 3.15's clone drops fit_kwargs; scikit-learn's keeps them)
    assert not hasattr(twin, "model_")
    twin.set_params(model_kwargs={"hidden": 6}, warm_start=True)
    assert twin.fit(X, y).model_.layers[0].units == 6
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(X), clf.predict_proba(X))  # seeded builder


def test_fitted_estimators_pickle_predict_identically_and_continue():
    """The unpickled estimator predicts bitwise the same and partial_fit continues with the optimizer state:
    bitwise with RMSprop; with Adam to float32 rounding (gradfit keeps Adam's moments divided by 1 - beta, the
    .keras archive holds Keras's m and v: one float32 rounding each way, as for a model saved and loaded)."""
    X, _ = _blobs()
    y = np.arange(60) % 3
    for optimizer, rtol in (("rmsprop", 0), ("adam", 1e-5)):
        for estimator, target in (
            (SKLearnClassifier(build, model_kwargs={"optimizer": optimizer}, fit_kwargs=QUIET), y),
            (SKLearnRegressor(build, model_kwargs={**REGRESSION, "optimizer": optimizer}, fit_kwargs=QUIET), X[:, :2]),
            (SKLearnTransformer(build, model_kwargs={**REGRESSION, "optimizer": optimizer}, fit_kwargs=QUIET), X[:, 0]),
        ):
            estimator.fit(X, target)
            method = "transform" if isinstance(estimator, SKLearnTransformer) else "predict"
            again = pickle.loads(pickle.dumps(estimator))
            np.testing.assert_array_equal(getattr(again, method)(X), getattr(estimator, method)(X))
            assert again.epoch_ == estimator.epoch_ and again.n_features_in_ == 4
            assert again.model_.optimizer.iterations == estimator.model_.optimizer.iterations
            restarted = pickle.loads(pickle.dumps(estimator))  # the same weights, a fresh optimizer
            restarted.model_.compile(loss=restarted.model_.loss, optimizer=optimizer)
            for _ in range(3):
                for each in (estimator, again, restarted):
                    each.partial_fit(X, target, shuffle=False)
            for a, b in zip(_weights(estimator), _weights(again)):
                np.testing.assert_allclose(a, b, rtol=rtol, atol=0)  # the optimizer state travelled with the model
            assert not np.allclose(_weights(estimator)[0], _weights(restarted)[0], rtol=1e-4, atol=0)  # it mattered
    unfitted = pickle.loads(pickle.dumps(SKLearnClassifier(build, fit_kwargs=QUIET)))
    assert unfitted.get_params()["fit_kwargs"] == QUIET


def test_joblib_moves_estimators_holding_model_instances(tmp_path):
    """GridSearchCV pickles the estimator, whose ``model`` may be a compiled (unbuilt, or untrained) instance."""
    joblib = pytest.importorskip("joblib")
    from sklearn.model_selection import GridSearchCV

    X, _ = _blobs()
    y = np.arange(60) % 2
    unbuilt = Sequential([Dense(4, activation="relu"), Dense(2, activation="softmax")])
    unbuilt.compile(loss="categorical_crossentropy", optimizer="adam")
    for instance in (unbuilt, build(X, np.zeros((1, 2)))):
        clf = SKLearnClassifier(instance, fit_kwargs=QUIET)
        joblib.dump(clf, tmp_path / "clf.joblib")
        loaded = joblib.load(tmp_path / "clf.joblib")
        assert loaded.model.built == instance.built and loaded.model.compiled
        loaded.fit(X, y)
        search = GridSearchCV(clf, {"fit_kwargs": [{"epochs": 1, "verbose": 0}, QUIET]}, cv=2).fit(X, y)
        assert search.best_estimator_.epoch_ in (1, 5)
        joblib.dump(search, tmp_path / "search.joblib")
        np.testing.assert_array_equal(joblib.load(tmp_path / "search.joblib").predict(X), search.predict(X))


def test_metadata_routing_of_sample_weight():
    from sklearn.model_selection import cross_validate

    X, _ = _blobs()
    y = np.arange(60) % 2
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        SKLearnClassifier(build).set_fit_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = SKLearnClassifier(build, fit_kwargs=QUIET).set_fit_request(sample_weight=True)
        result = cross_validate(clf, X, y, cv=2, params={"sample_weight": np.ones(60)})
        assert len(result["test_score"]) == 2
