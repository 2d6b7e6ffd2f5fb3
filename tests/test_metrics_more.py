"""The metrics added for issue #11: ``F1Score``, ``FBetaScore``, ``R2Score``, ``'mape'`` / ``'msle'``, a loss object
or a function given as a metric, and ``AUC``'s bounded sizes.

Expected values are Keras 3.15's (its docstrings' examples, and its formulas from ``keras/src/metrics``); the
recorded comparisons with TensorFlow are in ``parity/test_losses_metrics_more_parity.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit.keras as K
from gradfit import losses, registry, schema
from gradfit import metrics as gm

Y3 = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
P3 = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)


def _result(metric, y, p, sample_weight=None):
    metric.update_state(y, p, sample_weight)
    return metric.result()


# ------------------------------------------------------------------------------------------ F-scores


def test_f1_score_is_keras_s_docstring_example():
    np.testing.assert_allclose(_result(K.metrics.F1Score(threshold=0.5), Y3, P3), [0.5, 0.8, 0.6666667], rtol=1e-6)


def test_fbeta_score_is_keras_s_docstring_example():
    metric = K.metrics.FBetaScore(beta=2.0, threshold=0.5)
    np.testing.assert_allclose(_result(metric, Y3, P3), [0.3846154, 0.90909094, 0.8333334], rtol=1e-6)


def _counts(y, p, threshold, w=None):
    pred = (p > threshold).astype(float) if threshold is not None else (p == p.max(axis=1, keepdims=True)) * 1.0
    w = np.ones(len(y)) if w is None else w
    tp = (w[:, None] * pred * y).sum(0)
    fp = (w[:, None] * pred * (1 - y)).sum(0)
    fn = (w[:, None] * (1 - pred) * y).sum(0)
    return tp, fp, fn, (w[:, None] * y).sum(0)


def _fbeta(tp, fp, fn, beta):
    eps = 1e-7
    precision, recall = tp / (tp + fp + eps), tp / (tp + fn + eps)
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall + eps)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_fbeta_averages(average, threshold):
    rng = np.random.default_rng(0)
    y = (rng.random((20, 4)) > 0.5).astype(float)
    p = rng.random((20, 4))
    w = rng.uniform(0.5, 2.0, size=20)
    metric = gm.FBetaScore(average=average, beta=0.5, threshold=threshold)
    metric.update_state(y[:8], p[:8])
    metric.update_state(y[8:], p[8:], sample_weight=w[8:])
    tp, fp, fn, support = (
        a + b for a, b in zip(_counts(y[:8], p[:8], threshold), _counts(y[8:], p[8:], threshold, w[8:]))
    )
    if average == "micro":
        expected = _fbeta(tp.sum(), fp.sum(), fn.sum(), 0.5)
    elif average == "macro":
        expected = _fbeta(tp, fp, fn, 0.5).mean()
    elif average == "weighted":
        expected = (_fbeta(tp, fp, fn, 0.5) * support / (support.sum() + 1e-7)).sum()
    else:
        expected = _fbeta(tp, fp, fn, 0.5)
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-6)
    metric.reset_state()
    assert metric.true_positives is not None and not np.any(metric.true_positives)


def test_fscore_arguments_are_refused_with_keras_s_messages():
    with pytest.raises(ValueError, match="Invalid `average` argument value"):
        gm.F1Score(average="samples")
    with pytest.raises(ValueError, match="Invalid `beta` argument value"):
        gm.FBetaScore(beta=0.0)
    with pytest.raises(ValueError, match="Invalid `threshold` argument value"):
        gm.F1Score(threshold=0.0)
    with pytest.raises(ValueError, match="expects 2D inputs"):
        gm.F1Score().update_state(np.ones(4), np.ones(4))
    assert "beta" not in gm.F1Score().get_config()
    assert gm.FBetaScore(beta=2.0).get_config()["beta"] == 2.0


def test_fscores_load_from_a_file_with_their_settings():
    for metric in (gm.F1Score(average="weighted", threshold=0.3), gm.FBetaScore(beta=0.5, average="micro")):
        serialized = {"class_name": type(metric).__name__, "config": metric.get_config()}
        loaded = schema.load_object(registry.METRICS, serialized, "metrics[0]")
        assert loaded.get_config() == metric.get_config()
    with pytest.raises(schema.ModelFileError, match="beta"):
        schema.load_object(registry.METRICS, {"class_name": "FBetaScore", "config": {"beta": "2"}}, "metrics[0]")


# ------------------------------------------------------------------------------------------ R2Score


def test_r2_score_is_keras_s_docstring_example():
    np.testing.assert_allclose(_result(gm.R2Score(), np.array([[1], [4], [3]]), np.array([[2], [4], [4]])), 0.5714286)


def test_r2_score_aggregations_and_adjustment():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(12, 3)) * [1.0, 2.0, 0.5]
    p = y + rng.normal(size=(12, 3))
    w = rng.uniform(0.5, 1.5, size=12)
    # the metric's inputs are cast to its dtype (float32) first, as Keras casts them: compare to 1e-6
    mean = (w[:, None] * y).sum(0) / w.sum()
    total = (w[:, None] * (y - mean) ** 2).sum(0)
    raw = 1 - (w[:, None] * (y - p) ** 2).sum(0) / total
    np.testing.assert_allclose(_result(gm.R2Score(class_aggregation=None), y, p, w), raw, rtol=1e-6)
    np.testing.assert_allclose(_result(gm.R2Score(), y, p, w), raw.mean(), rtol=1e-6)
    weighted = gm.R2Score(class_aggregation="variance_weighted_average")
    np.testing.assert_allclose(_result(weighted, y, p, w), (total * raw).sum() / total.sum(), rtol=1e-6)
    n = y.size  # Keras counts every target value
    adjusted = 1 - (1 - raw.mean()) * (n - 1) / (n - 4 - 1)
    np.testing.assert_allclose(_result(gm.R2Score(num_regressors=4), y, p, w), adjusted, rtol=1e-6)
    with pytest.warns(UserWarning, match="More independent predictors than datapoints"):
        assert _result(gm.R2Score(num_regressors=100), y, p, w) == pytest.approx(raw.mean())


def test_r2_score_arguments_are_refused():
    with pytest.raises(ValueError, match="class_aggregation"):
        gm.R2Score(class_aggregation="mean")
    with pytest.raises(ValueError, match="num_regressors"):
        gm.R2Score(num_regressors=-1)


# ------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mape", gm.MeanAbsolutePercentageError),
        ("MAPE", gm.MeanAbsolutePercentageError),
        ("mean_absolute_percentage_error", gm.MeanAbsolutePercentageError),
        ("msle", gm.MeanSquaredLogarithmicError),
        ("MSLE", gm.MeanSquaredLogarithmicError),
        ("mean_squared_logarithmic_error", gm.MeanSquaredLogarithmicError),
        ("f1_score", gm.F1Score),
        ("f_beta_score", gm.FBetaScore),
        ("r2_score", gm.R2Score),
    ],
)
def test_metric_strings_resolve_and_keep_their_name(name, cls):
    metric = gm.get(name)
    assert type(metric) is cls and metric.name == name


def test_mape_and_msle_metrics_average_keras_s_per_example_values():
    y = np.array([[2.0, 1.0], [-1.0, 3.0], [0.5, 0.5]])
    p = np.array([[1.0, 0.5], [-1.5, 2.0], [0.0, 1.0]])
    np.testing.assert_allclose(_result(gm.get("mape"), y, p), float(losses.get("mape")(y, p)))
    np.testing.assert_allclose(_result(gm.get("msle"), y, p), float(losses.get("msle")(y, p)))


# ------------------------------------------------------------------------------------------ losses as metrics


def _model(loss="categorical_crossentropy", metrics=()):
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss, metrics=list(metrics))
    return model


def _data():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=10)]


def test_a_loss_object_as_a_metric_averages_the_batches_losses():
    """Keras wraps the loss object in MeanMetricWrapper: each batch's reduced loss counts once, so with a last
    batch of 2 out of 10 the result is the mean of 3 batch means, not the mean over the 10 examples."""
    x, y = _data()
    model = _model(metrics=[losses.CategoricalCrossentropy(name="cce_object"), "categorical_crossentropy"])
    result = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    per_example = np.asarray(losses.categorical_crossentropy(y, p))
    batch_means = [per_example[i : i + 4].mean() for i in (0, 4, 8)]
    np.testing.assert_allclose(result["cce_object"], np.mean(batch_means), rtol=1e-6)
    np.testing.assert_allclose(result["categorical_crossentropy"], per_example.mean(), rtol=1e-6)
    assert abs(result["cce_object"] - result["categorical_crossentropy"]) > 1e-4


def test_a_loss_object_metric_reduces_as_its_loss_does():
    x, y = _data()
    model = _model(metrics=[losses.CategoricalCrossentropy(reduction="sum", name="total")])
    result = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    per_example = np.asarray(losses.categorical_crossentropy(y, model.predict(x, verbose=0)))
    np.testing.assert_allclose(result["total"], (per_example[:5].sum() + per_example[5:].sum()) / 2, rtol=1e-6)
    metric = gm.get(losses.CategoricalCrossentropy())
    with pytest.raises(ValueError, match="cannot be weighted per example"):
        metric.update_state(y, model.predict(x, verbose=0), sample_weight=np.ones(10))
    with pytest.raises(ValueError, match="cannot be saved as a metric"):
        metric.get_config()


def test_a_function_as_a_metric_is_a_mean_metric_wrapper():
    def half_error(y_true, y_pred):
        return 0.5 * np.abs(y_true - y_pred).mean(axis=-1)

    metric = gm.get(half_error)
    assert isinstance(metric, gm.MeanMetricWrapper) and metric.name == "half_error"
    np.testing.assert_allclose(_result(metric, np.array([[1.0], [2.0]]), np.array([[0.0], [2.0]])), 0.25)


# ------------------------------------------------------------------------------------------ AUC's sizes


def test_auc_sizes_a_config_can_ask_for_are_bounded():
    with pytest.raises(ValueError, match="num_thresholds"):
        gm.AUC(num_thresholds=10**9)
    with pytest.raises(ValueError, match="num_labels"):
        gm.AUC(multi_label=True, num_labels=10**9)
    with pytest.raises(ValueError, match="counts per array"):
        gm.AUC(multi_label=True, num_labels=50_000, num_thresholds=200)
    for config in ({"num_thresholds": 10**9}, {"multi_label": True, "num_labels": 10**9}):
        with pytest.raises(schema.ModelFileError):
            schema.load_object(registry.METRICS, {"class_name": "AUC", "config": config}, "metrics[0]")
    wide = gm.AUC(multi_label=True, num_thresholds=10**5)
    with pytest.raises(ValueError, match="counts per array"):
        wide.update_state(np.zeros((2, 100)), np.zeros((2, 100)))
    assert gm.AUC(num_thresholds=1000).true_positives.shape == (1000,)


def test_crossentropy_is_not_a_metric_name_as_in_keras():
    """Keras's compile resolves 'crossentropy' / 'ce' for the loss only; as a metric it is refused."""
    for name in ("crossentropy", "ce"):
        with pytest.raises(ValueError, match="Unknown metric"):
            gm.get(name, (8,), (8, 3))


def test_a_loss_class_as_a_metric_is_its_default_instance():
    metric = gm.get(losses.BinaryCrossentropy)
    assert metric.name == "binary_crossentropy"
    np.testing.assert_allclose(
        _result(metric, np.array([[1.0], [0.0]]), np.array([[0.8], [0.4]])),
        float(losses.BinaryCrossentropy()(np.array([[1.0], [0.0]]), np.array([[0.8], [0.4]]))),
        rtol=1e-6,
    )
