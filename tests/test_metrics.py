"""Metrics: values worked out by hand (one batch, several batches, sample weights), Keras's names in History and
``evaluate(return_dict=True)``, errors for unknown names, and AUC against scikit-learn and Keras.

The comments give the arithmetic. Keras's own numbers for many more cases are replayed by
``tests/parity/test_metrics_parity.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradfit as tf
from gradfit import metrics as gm
from gradfit.keras import Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.losses import BinaryCrossentropy, SparseCategoricalCrossentropy
from gradfit.keras.metrics import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    Precision,
    Recall,
    RootMeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)


def run(metric, *batches):
    """``update_state`` with each ``(y_true, y_pred[, sample_weight])`` in turn; the final ``result()``."""
    for batch in batches:
        metric.update_state(*batch)
    return metric.result()


# ------------------------------------------------------------------------------------------ accuracy family


def test_binary_accuracy():
    y, p = [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]
    assert run(BinaryAccuracy(), (y, p)) == pytest.approx(0.75)  # 0.6 > 0.5 is wrong for label 0
    assert run(BinaryAccuracy(), (y, p, [1, 0, 0, 1])) == pytest.approx(0.5)  # (1*1 + 1*0) / 2
    assert run(BinaryAccuracy(threshold=0.7), (y, p)) == 1.0  # 0.6 is now negative: right
    # p == threshold is negative (p > t); two batches: 2 right of 3, then 1 of 1 -> 3 / 4
    assert run(BinaryAccuracy(), ([[1], [0], [0]], [[0.5], [0.5], [0.2]]), ([[1]], [[0.7]])) == pytest.approx(0.75)


def test_accuracy_compares_exactly_after_casting_targets_to_the_output_type():
    y, p = [[1], [2], [3], [4]], [[0], [2], [3], [4]]
    assert run(Accuracy(), (y, p)) == pytest.approx(0.75)
    assert run(Accuracy(), (y, p, [1, 1, 0, 0])) == pytest.approx(0.5)
    assert run(Accuracy(), (np.array([[0.1]]), np.array([[0.1]], np.float32))) == 1.0  # 0.1 as float32 both sides
    assert run(Accuracy(), ([[1]], [[1]]), ([[1], [2], [3]], [[0], [0], [0]])) == pytest.approx(0.25)


def test_categorical_and_sparse_categorical_accuracy():
    p = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    assert run(CategoricalAccuracy(), ([[0, 0, 1], [0, 1, 0]], p)) == pytest.approx(0.5)
    assert run(CategoricalAccuracy(), ([[0, 0, 1], [0, 1, 0]], p, [0.7, 0.3])) == pytest.approx(0.3)
    assert run(SparseCategoricalAccuracy(), ([[2], [1]], p)) == pytest.approx(0.5)
    assert run(SparseCategoricalAccuracy(), ([2, 1], p, [0.7, 0.3])) == pytest.approx(0.3)
    # two batches: 0 of 1 right, then 2 of 2 -> 2 / 3
    assert run(SparseCategoricalAccuracy(), ([2], p[:1]), ([1, 0], [[0, 1, 0], [1, 0, 0]])) == pytest.approx(2 / 3)


def test_top_k_counts_ties_at_the_boundary_as_in_and_non_finite_rows_as_out():
    p = np.array(
        [
            [0.3, 0.3, 0.3, 0.1],  # label 2: no class scores higher -> in, although three tie for the top 2
            [0.5, 0.2, 0.2, 0.1],  # label 2: one class higher -> in
            [0.1, 0.2, 0.3, 0.4],  # label 0: three higher -> out
            [np.nan, 0.1, 0.5, 0.4],  # a NaN in the row -> out (tf.math.in_top_k)
            [0.1, 0.2, 0.3, np.inf],  # an inf in the row -> out
        ],
        dtype=np.float32,
    )
    labels = np.array([2, 2, 0, 2, 2])
    assert run(SparseTopKCategoricalAccuracy(k=2), (labels, p)) == pytest.approx(2 / 5)
    assert run(TopKCategoricalAccuracy(k=2), (np.eye(4)[labels], p)) == pytest.approx(2 / 5)
    assert run(SparseTopKCategoricalAccuracy(k=1), (labels, p)) == pytest.approx(1 / 5)  # only row 0
    assert run(SparseTopKCategoricalAccuracy(), (labels, p)) == pytest.approx(3 / 5)  # k=5 > 4 classes
    # weights 1, 0, 1, 1, 1 -> (1 + 0) / 4; two batches 2/3 and 0/2 -> 2/5
    assert run(SparseTopKCategoricalAccuracy(k=2), (labels, p, [1, 0, 1, 1, 1])) == pytest.approx(1 / 4)
    assert run(TopKCategoricalAccuracy(k=2), (np.eye(4)[labels[:3]], p[:3]), (np.eye(4)[labels[3:]], p[3:])) == 0.4


# --------------------------------------------------------------------------------------------- regression


def test_mse_mae_rmse():
    y, p = [[0, 1], [0, 0]], [[1, 1], [0, 0]]
    assert run(MeanSquaredError(), (y, p)) == pytest.approx(0.25)  # per example (1 + 0)/2 and 0
    assert run(MeanAbsoluteError(), (y, p)) == pytest.approx(0.25)
    assert run(RootMeanSquaredError(), (y, p)) == pytest.approx(0.5)  # sqrt(0.25)
    assert run(MeanSquaredError(), (y, p, [1, 0])) == pytest.approx(0.5)
    assert run(RootMeanSquaredError(), (y, p, [1, 0])) == pytest.approx(math.sqrt(0.5))
    assert run(MeanAbsoluteError(), ([[3.0]], [[1.0]], [3.0]), ([[0.0]], [[1.0]], [1.0])) == pytest.approx(7 / 4)


def test_rmse_is_the_root_of_the_accumulated_mean_not_the_mean_of_batch_roots():
    # squared errors 4 (batch 1) and 0 (batch 2): sqrt((4 + 0) / 2) = sqrt(2), not (2 + 0) / 2 = 1
    assert run(RootMeanSquaredError(), ([[0.0]], [[2.0]]), ([[0.0]], [[0.0]])) == pytest.approx(math.sqrt(2))
    assert run(RootMeanSquaredError(), ([[0.0]], [[2.0]], [3.0]), ([[0.0]], [[0.0]], [1.0])) == pytest.approx(
        math.sqrt(12 / 4)
    )


# ------------------------------------------------------------------------------------------ precision, recall


def test_precision_and_recall_at_the_default_threshold():
    y, p = [0, 1, 1, 1], [1, 0, 1, 1]  # predicted positive: 0, 2, 3 (TP 2, FP 1); positives 1, 2, 3 (FN 1)
    assert run(Precision(), (y, p)) == pytest.approx(2 / 3)
    assert run(Recall(), (y, p)) == pytest.approx(2 / 3)
    assert run(Precision(), (y, p, [0, 0, 1, 0])) == pytest.approx(1.0)
    # weights 2, 1, 3: TP 2 (first), FP 1 (second), FN 3 (third, 0.1 not above 0.5)
    assert run(Precision(), ([1, 0, 1], [0.9, 0.9, 0.1], [2, 1, 3])) == pytest.approx(2 / 3)
    assert run(Recall(), ([1, 0, 1], [0.9, 0.9, 0.1], [2, 1, 3])) == pytest.approx(2 / 5)
    assert run(Precision(), ([1, 1], [0.5, 0.2])) == 0.0  # 0.5 is not above 0.5: nothing predicted positive
    assert run(Recall(), ([0, 0], [0.9, 0.2])) == 0.0  # no positive example


def test_precision_accumulates_counts_over_batches():
    # batch 1: TP 1, FP 1 (precision 1/2); batch 2: TP 3 (precision 1): (1 + 3) / (2 + 3), not (1/2 + 1) / 2
    batches = (([1, 0], [0.9, 0.8]), ([1, 1, 1], [0.9, 0.9, 0.9]))
    assert run(Precision(), *batches) == pytest.approx(4 / 5)
    # recall: batch 1 TP 1; batch 2 TP 1, FN 2 -> 2 / 4
    assert run(Recall(), ([1, 0], [0.9, 0.8]), ([1, 1, 1], [0.9, 0.1, 0.2])) == pytest.approx(0.5)


def test_precision_and_recall_at_several_thresholds_give_arrays():
    y, p = [0, 1, 0, 1], [0.2, 0.4, 0.6, 0.9]
    # above 0.3: 0.4 (TP), 0.6 (FP), 0.9 (TP); above 0.5: 0.6 (FP), 0.9 (TP); above 0.8: 0.9 (TP)
    np.testing.assert_allclose(run(Precision(thresholds=[0.3, 0.5, 0.8]), (y, p)), [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(run(Recall(thresholds=[0.3, 0.5, 0.8]), (y, p)), [1, 1 / 2, 1 / 2])
    np.testing.assert_allclose(run(Recall(thresholds=[0.8, 0.3]), (y, p)), [1 / 2, 1])  # in the order given
    # evenly spaced thresholds (Keras's bucketed path): above 0: all four; above 0.5: two; above 1: none
    np.testing.assert_allclose(run(Precision(thresholds=[0.0, 0.5, 1.0]), (y, p)), [1 / 2, 1 / 2, 0])


def test_precision_top_k_and_class_id():
    # top_k: only each row's k highest count as predicted positive (ties: the lower index first)
    assert run(Precision(top_k=2), ([0, 0, 1, 1], [1, 1, 1, 1])) == 0.0  # indices 0, 1: both negative
    assert run(Precision(top_k=4), ([0, 0, 1, 1], [1, 1, 1, 1])) == pytest.approx(0.5)
    assert run(Recall(top_k=1), ([[1, 0, 1], [0, 1, 1]], [[0.2, 0.1, 0.9], [0.8, 0.3, 0.5]])) == pytest.approx(1 / 4)
    # class_id=0: column 0 only, predicted positive rows 0, 1; positive rows 0, 2 -> TP 1, FP 1, FN 1
    y, p = [[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.6, 0.7], [0.4, 0.8]]
    assert run(Precision(class_id=0), (y, p)) == pytest.approx(0.5)
    assert run(Recall(class_id=0), (y, p)) == pytest.approx(0.5)
    assert run(Precision(class_id=1), (y, p)) == pytest.approx(1.0)  # rows 1, 2: both positive
    assert run(Precision(class_id=0), (y, p, [1, 3, 1])) == pytest.approx(1 / 4)  # TP 1, FP 3


# ---------------------------------------------------------------------------------------------------- AUC


def test_auc_with_three_thresholds_by_hand():
    # thresholds -eps, 0.5, 1+eps. Above 0.5: 0.9 (positive) only; 0.5 itself is not above.
    # TP = [2, 1, 0], FP = [2, 0, 0] -> TPR = [1, 0.5, 0], FPR = [1, 0, 0]
    y, p = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9]
    assert run(AUC(num_thresholds=3), (y, p)) == pytest.approx(0.75)  # (1 - 0) * (1 + 0.5) / 2
    assert run(AUC(num_thresholds=3, summation_method="minoring"), (y, p)) == pytest.approx(0.5)  # 1 * min
    assert run(AUC(num_thresholds=3, summation_method="majoring"), (y, p)) == pytest.approx(1.0)  # 1 * max
    assert run(AUC(num_thresholds=3), (y, p, [1, 0, 0, 1])) == pytest.approx(1.0)  # only 0 and 0.9 count
    # PR, interpolated (Davis & Goadrich): predicted positive P = [4, 1, 0]; segment 1: slope dTP/dP = 1/3,
    # intercept 1 - 1/3 = 2/3, area (1/3) (1 + (2/3) ln 4) / 2; segment 2: slope 1, area 1 * 1 / 2
    expected = (1 + 2 / 3 * math.log(4)) / 6 + 0.5
    assert run(AUC(num_thresholds=3, curve="PR"), (y, p)) == pytest.approx(expected, rel=1e-6)
    # two batches accumulate the same counts as one
    assert run(AUC(num_thresholds=3), (y[:3], p[:3]), (y[3:], p[3:])) == pytest.approx(0.75)


def test_auc_perfect_and_reversed_scores():
    y, p = [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]
    assert run(AUC(), (y, p)) == pytest.approx(1.0)
    assert run(AUC(), (y, [0.9, 0.8, 0.2, 0.1])) == pytest.approx(0.0)
    assert run(AUC(curve="PR"), (y, p)) == pytest.approx(1.0)


def test_auc_multi_label_averages_the_columns():
    # column 0 separates perfectly (AUC 1); column 1 is the three-threshold example above (AUC 0.75)
    y = [[0, 0], [0, 0], [1, 1], [1, 1]]
    p = [[0.1, 0.0], [0.2, 0.5], [0.8, 0.3], [0.9, 0.9]]
    assert run(AUC(num_thresholds=3, multi_label=True), (y, p)) == pytest.approx(0.875)
    assert run(AUC(num_thresholds=3, multi_label=True, label_weights=[1, 3]), (y, p)) == pytest.approx(
        (1 + 3 * 0.75) / 4
    )
    # pooled (multi_label=False): 8 scores; above 0.5: 0.8, 0.9, 0.9 (TPR 3/4), no negative (FPR 0)
    assert run(AUC(num_thresholds=3), (y, p)) == pytest.approx((1 + 0.75) / 2)


def test_auc_integer_sample_weights_equal_repeated_rows():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(np.float32)
    p = rng.random(300).astype(np.float32)
    w = rng.integers(0, 4, size=300)
    for kwargs in ({}, {"curve": "PR"}, {"num_thresholds": 17}, {"thresholds": [0.2, 0.35, 0.9]}):
        weighted = run(AUC(**kwargs), (y[:100], p[:100], w[:100]), (y[100:], p[100:], w[100:]))
        repeated = run(AUC(**kwargs), (np.repeat(y, w), np.repeat(p, w)))
        assert weighted == pytest.approx(repeated, rel=1e-12), kwargs


def test_auc_from_logits_applies_a_sigmoid():
    z = np.random.default_rng(4).normal(scale=2, size=(200, 1)).astype(np.float32)
    y = (np.random.default_rng(5).random((200, 1)) < 1 / (1 + np.exp(-z))).astype(np.float32)
    expected = run(AUC(), (y, 1 / (1 + np.exp(-z))))
    assert run(AUC(from_logits=True), (y, z)) == pytest.approx(expected, abs=1e-6)


def test_auc_counts_match_thresholds_compared_one_by_one():
    """The single bincount gives the counts of ``p > t`` for each threshold ``t`` (float32), ties included."""
    rng = np.random.default_rng(6)
    y = (rng.random(500) < 0.5).astype(np.float32)
    p = np.round(rng.random(500), 2).astype(np.float32)  # many ties, many on the thresholds
    thresholds = [0.05, 0.1, 0.33, 0.5, 0.7, 0.71, 0.99]
    auc = AUC(thresholds=thresholds)
    auc.update_state(y, p)
    t = np.asarray(auc.thresholds, dtype=np.float32)
    above = p[None, :] > t[:, None]
    np.testing.assert_array_equal(auc.true_positives, (above & (y == 1)).sum(axis=1))
    np.testing.assert_array_equal(auc.false_positives, (above & (y == 0)).sum(axis=1))
    np.testing.assert_array_equal(auc.false_negatives, (~above & (y == 1)).sum(axis=1))
    np.testing.assert_array_equal(auc.true_negatives, (~above & (y == 0)).sum(axis=1))


def _auc_random_data():
    """The data of ``record_metrics.auc_random_data`` (Keras's AUC of it was recorded there)."""
    rng = np.random.default_rng(7)
    y = (rng.random(2000) < 0.4).astype(np.float32)
    p = (1 / (1 + np.exp(-(1.5 * y - 0.75 + rng.normal(size=2000))))).astype(np.float32)
    return y.reshape(-1, 1), p.reshape(-1, 1)


KERAS_AUC_RANDOM = 0.8466044068336487  # keras.metrics.AUC() over the three batches below (Keras 3.15, TF 2.21)


def test_auc_on_random_data_is_close_to_sklearn_and_equal_to_keras():
    metrics = pytest.importorskip("sklearn.metrics")
    y, p = _auc_random_data()
    auc = AUC()
    for start, end in ((0, 700), (700, 1500), (1500, 2000)):
        auc.update_state(y[start:end], p[start:end])
    assert auc.result() == pytest.approx(metrics.roc_auc_score(y.ravel(), p.ravel()), abs=1e-2)
    assert auc.result() == pytest.approx(KERAS_AUC_RANDOM, abs=1e-7)  # float32 rounding of Keras's last sum


def test_auc_update_is_fast_on_a_large_batch():
    """One vectorised pass per batch, whatever the number of thresholds."""
    import time

    rng = np.random.default_rng(8)
    y, p = (rng.random((200_000, 1)) < 0.5).astype(np.float32), rng.random((200_000, 1)).astype(np.float32)
    auc = AUC(num_thresholds=2000)
    start = time.perf_counter()
    auc.update_state(y, p)
    assert time.perf_counter() - start < 1.0
    assert auc.result() == pytest.approx(0.5, abs=0.01)


def test_reset_state_and_result_before_any_update():
    for metric in (Precision(), Recall(), AUC(), AUC(multi_label=True), RootMeanSquaredError()):
        assert metric.result() == 0.0
    auc = AUC(num_thresholds=3)
    auc.update_state([0, 1], [0.9, 0.1])
    auc.reset_state()
    assert run(auc, ([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])) == pytest.approx(0.75)


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]"):
        Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="Invalid AUC curve"):
        AUC(curve="XY")
    with pytest.raises(ValueError, match="summation method"):
        AUC(summation_method="riemann")
    with pytest.raises(ValueError, match="num_labels"):
        AUC(num_labels=3)


def test_config_round_trip():
    for metric in (Precision(thresholds=[0.2, 0.6], top_k=2, name="p"), AUC(curve="PR", num_thresholds=50)):
        again = type(metric).from_config(metric.get_config())
        assert again.get_config() == metric.get_config()
    assert gm.get({"class_name": "Recall", "config": {"class_id": 1}}).class_id == 1


# ------------------------------------------------------------------------------------------ names and fit


def test_default_names_count_up_like_keras():
    assert [Precision().name, Precision().name, Recall().name, AUC().name, AUC().name] == [
        "precision",
        "precision_1",
        "recall",
        "auc",
        "auc_1",
    ]
    tf.keras.backend.clear_session()
    assert AUC().name == "auc"
    assert Precision(name="p").name == "p"
    assert RootMeanSquaredError().name == "root_mean_squared_error"


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mse", MeanSquaredError),
        ("MSE", MeanSquaredError),
        ("mean_squared_error", MeanSquaredError),
        ("MeanSquaredError", MeanSquaredError),
        ("mae", MeanAbsoluteError),
        ("root_mean_squared_error", RootMeanSquaredError),
        ("RootMeanSquaredError", RootMeanSquaredError),
        ("precision", Precision),
        ("Precision", Precision),
        ("recall", Recall),
        ("auc", AUC),
        ("AUC", AUC),
        ("binary_accuracy", BinaryAccuracy),
        ("top_k_categorical_accuracy", TopKCategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", SparseTopKCategoricalAccuracy),
    ],
)
def test_names_resolve_like_keras_metrics_get_and_keep_the_string_as_name(name, cls):
    metric = gm.get(name)
    assert type(metric) is cls
    assert metric.name == name


def test_history_and_evaluate_use_keras_names(binary_data):
    x, y = binary_data
    tf.random.set_seed(0)
    model = Sequential([Dense(4, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(
        loss=BinaryCrossentropy(),
        optimizer="adam",
        metrics=["accuracy", Precision(), Recall(), AUC(), "mse", "RootMeanSquaredError", AUC(curve="PR")],
    )
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    names = ["accuracy", "auc", "auc_1", "loss", "mse", "precision", "recall", "RootMeanSquaredError"]
    assert sorted(history.history) == sorted(names + ["val_" + n for n in names])
    assert all(len(v) == 2 for v in history.history.values())
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(evaluated) == sorted(names)
    values = model.evaluate(x, y, verbose=0)
    assert values == pytest.approx([evaluated[n] for n in model.metrics_names])


def test_fit_and_evaluate_report_the_metrics_of_the_predictions(binary_data):
    """A frozen model (learning rate 0): the epoch's metrics equal the metrics of predict() over the data."""
    x, y = binary_data
    tf.random.set_seed(1)
    model = Sequential([Dense(3, activation="tanh"), Dense(1, activation="sigmoid")])
    metrics = [Precision(), Recall(), AUC(), "root_mean_squared_error"]
    model.compile(loss=BinaryCrossentropy(), optimizer=tf.keras.optimizers.SGD(learning_rate=0.0), metrics=metrics)
    x_val, y_val = x[:20] * 0.5, y[:20]
    history = model.fit(x, y, epochs=2, batch_size=7, validation_data=(x_val, y_val), verbose=0).history
    # validation ran last, on the same metric objects, but the training counts were restored after it
    assert model.compiled_metrics[2].result() == history["auc"][-1] != history["val_auc"][-1]
    p, p_val = model.predict(x, verbose=0), model.predict(x_val, verbose=0)
    for prefix, yy, pp in (("", y, p), ("val_", y_val, p_val)):
        tp = float(((pp > 0.5) & (yy == 1)).sum())
        assert history[prefix + "precision"] == pytest.approx([tp / (pp > 0.5).sum()] * 2)
        assert history[prefix + "recall"] == pytest.approx([tp / (yy == 1).sum()] * 2)
        assert history[prefix + "auc"] == pytest.approx([run(AUC(), (yy, pp))] * 2, abs=1e-12)
        rmse = math.sqrt(float(np.mean((pp.astype(np.float64) - yy) ** 2)))
        assert history[prefix + "root_mean_squared_error"] == pytest.approx([rmse] * 2, rel=1e-5)
    evaluated = model.evaluate(x, y, batch_size=11, verbose=0, return_dict=True)
    assert evaluated["auc"] == pytest.approx(history["auc"][0], abs=1e-12)


def test_top_k_names_in_history(multiclass_data):
    x, y = multiclass_data
    tf.random.set_seed(0)
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(
        loss=SparseCategoricalCrossentropy(),
        metrics=["accuracy", "sparse_top_k_categorical_accuracy", SparseTopKCategoricalAccuracy(k=2, name="top2")],
    )
    history = model.fit(x, y, epochs=1, verbose=0).history
    assert sorted(history) == ["accuracy", "loss", "sparse_top_k_categorical_accuracy", "top2"]
    assert history["sparse_top_k_categorical_accuracy"] == [1.0]  # k=5 > 3 classes: always in
    p = model.predict(x, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["top2"] == pytest.approx(
        run(SparseTopKCategoricalAccuracy(k=2), (y, p))
    )


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("precison", "precision"),
        ("recal", "recall"),
        ("auc_roc", "auc"),
        ("root_mean_square_error", "root_mean_squared_error"),
        ("top_k_categorical_acc", "top_k_categorical_accuracy"),
        ("Precission", "Precision"),
    ],
)
def test_unknown_name_suggests_the_closest(name, suggestion):
    model = Sequential([Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match=rf"Unknown metric '{name}'\. Did you mean '{suggestion}'\?"):
        model.compile(loss="binary_crossentropy", metrics=[name])


def test_keras_metric_not_in_gradfit_says_so():
    with pytest.raises(ValueError, match="'mean_io_u' is not implemented in gradfit yet"):
        gm.get("mean_io_u")


def test_metrics_with_the_same_name_are_numbered_as_keras_numbers_them():
    import gradfit as tf

    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
    model.compile(loss="mse", metrics=["mse", "mse", tf.keras.metrics.MeanAbsoluteError(), "mae"])
    history = model.fit(np.ones((4, 3)), np.ones(4), epochs=2, verbose=0)
    # recorded with Keras 3.15: ['loss', 'mean_absolute_error', 'mean_absolute_error_1', 'mse', 'mse_1']
    assert sorted(history.history) == ["loss", "mae", "mean_absolute_error", "mse", "mse_1"]
    assert history.history["mse"] == history.history["mse_1"]
