"""Losses: gradients against finite differences, values against Keras's formulas written out by hand."""

import math
import warnings

import numpy as np
import pytest

import gradfit
from gradfit import losses

EPS = 1e-7


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_grad(f, p, h=1e-6):
    """Central differences of the scalar f(p) with respect to each element of p."""
    g = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        pp, pm = p.copy(), p.copy()
        pp[idx] += h
        pm[idx] -= h
        g[idx] = (f(pp) - f(pm)) / (2 * h)
    return g


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


RNG = np.random.default_rng(0)
M = 6


def binary_case(units, soft=False):
    rng = np.random.default_rng(units + 10 * soft)
    y = rng.uniform(0, 1, (M, units)) if soft else rng.integers(0, 2, (M, units)).astype(np.float64)
    p = rng.uniform(0.05, 0.95, (M, units))
    z = rng.normal(0, 2, (M, units))
    return y, p, z


def categorical_case(k=4):
    rng = np.random.default_rng(k)
    y = np.eye(k)[rng.integers(0, k, M)]
    p = rng.uniform(0.05, 1.0, (M, k))  # not normalised on purpose: Keras renormalises
    z = rng.normal(0, 2, (M, k))
    return y, p, z


def sparse_case(k=4):
    rng = np.random.default_rng(100 + k)
    y = rng.integers(0, k, M)
    y[:k] = np.arange(k)  # every class appears
    p = rng.uniform(0.05, 1.0, (M, k))
    z = rng.normal(0, 2, (M, k))
    return y, p, z


def regression_case(units, away_from=(0.0,)):
    """Targets and outputs whose differences stay clear of the losses' kinks (|e| = each of away_from)."""
    rng = np.random.default_rng(200 + units)
    y = rng.normal(0, 1, (M, units))
    e = rng.uniform(0.1, 3.0, (M, units)) * rng.choice([-1, 1], (M, units))
    for k in away_from:
        near = np.abs(np.abs(e) - k) < 0.05
        e[near] += np.sign(e[near]) * 0.2
    return y, y + e


# --------------------------------------------------------------------------- gradients vs finite differences


GRAD_CASES = [
    ("bce_1", losses.BinaryCrossentropy(), lambda: binary_case(1)[:2]),
    ("bce_3", losses.BinaryCrossentropy(), lambda: binary_case(3)[:2]),
    ("bce_soft", losses.BinaryCrossentropy(), lambda: binary_case(2, soft=True)[:2]),
    ("bce_smooth", losses.BinaryCrossentropy(label_smoothing=0.2), lambda: binary_case(3)[:2]),
    ("cce", losses.CategoricalCrossentropy(), lambda: categorical_case()[:2]),
    ("cce_smooth", losses.CategoricalCrossentropy(label_smoothing=0.1), lambda: categorical_case(5)[:2]),
    ("scce", losses.SparseCategoricalCrossentropy(), lambda: sparse_case()[:2]),
    ("mse_1", losses.MeanSquaredError(), lambda: regression_case(1)),
    ("mse_3", losses.MeanSquaredError(), lambda: regression_case(3)),
    ("mae_1", losses.MeanAbsoluteError(), lambda: regression_case(1)),
    ("mae_3", losses.MeanAbsoluteError(), lambda: regression_case(3)),
    ("huber", losses.Huber(), lambda: regression_case(2, away_from=(0.0, 1.0))),
    ("huber_delta_2", losses.Huber(delta=2.0), lambda: regression_case(3, away_from=(0.0, 2.0))),
]


@pytest.mark.parametrize("name,loss,case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grad_matches_finite_differences(name, loss, case):
    y, p = case()
    analytic = loss.grad(y, p)
    assert analytic.shape == p.shape
    numeric = numerical_grad(lambda q: loss.per_sample(y, q).sum(), p)
    assert np.abs(numeric).max() > 1e-3
    assert rel_error(analytic, numeric) < 1e-6


def test_every_loss_class_has_a_gradient_check():
    checked = {type(c[1]) for c in GRAD_CASES}
    assert checked == set(losses._CLASSES.values())


def test_gradient_check_catches_a_wrong_gradient():
    # MSE's per-example loss paired with MAE's gradient must fail the same check
    y, p = regression_case(2)
    wrong = losses.MeanAbsoluteError().grad(y, p)
    numeric = numerical_grad(lambda q: losses.MeanSquaredError().per_sample(y, q).sum(), p)
    assert rel_error(wrong, numeric) > 1e-2


LOGIT_CASES = [
    ("bce_1", lambda fl: losses.BinaryCrossentropy(from_logits=fl), lambda: binary_case(1)),
    ("bce_3", lambda fl: losses.BinaryCrossentropy(from_logits=fl), lambda: binary_case(3)),
    ("bce_soft", lambda fl: losses.BinaryCrossentropy(from_logits=fl), lambda: binary_case(2, soft=True)),
    ("bce_smooth", lambda fl: losses.BinaryCrossentropy(fl, label_smoothing=0.3), lambda: binary_case(2)),
    ("cce", lambda fl: losses.CategoricalCrossentropy(from_logits=fl), categorical_case),
    ("cce_smooth", lambda fl: losses.CategoricalCrossentropy(fl, label_smoothing=0.2), categorical_case),
    ("scce", lambda fl: losses.SparseCategoricalCrossentropy(from_logits=fl), sparse_case),
]


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("name,make,case", LOGIT_CASES, ids=[c[0] for c in LOGIT_CASES])
def test_grad_logits_matches_finite_differences(name, make, case, from_logits):
    loss = make(from_logits)
    y, _, z = case()
    analytic = loss.grad_logits(y, z)
    assert analytic.shape == z.shape
    numeric = numerical_grad(lambda q: loss.per_sample_logits(y, q).sum(), z)
    assert np.abs(numeric).max() > 1e-3
    assert rel_error(analytic, numeric) < 1e-6
    # given the activation's output a = sigmoid(z) / softmax(z), the same gradient
    a = sigmoid(z) if isinstance(loss, losses.BinaryCrossentropy) else softmax(z)
    a_copy = a.copy()
    np.testing.assert_allclose(loss.grad_logits(y, z, a), analytic, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a, a_copy)  # and without writing into the activation's output


@pytest.mark.parametrize("name,make,case", LOGIT_CASES, ids=[c[0] for c in LOGIT_CASES])
def test_logits_loss_equals_probability_loss_away_from_clipping(name, make, case):
    loss = make(False)
    y, _, z = case()
    a = sigmoid(z) if isinstance(loss, losses.BinaryCrossentropy) else softmax(z)
    np.testing.assert_allclose(loss.per_sample_logits(y, z), loss.per_sample(y, a), rtol=1e-9)


# --------------------------------------------------------------------------- values written out by hand


def test_bce_value_and_clipping_at_1e_minus_7():
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    p = np.array([[0.9], [0.2], [0.0], [1.0]])
    expected = (-math.log(0.9) - math.log(0.8) - math.log(EPS) - math.log(EPS)) / 4
    assert float(losses.BinaryCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-6)
    # the clipped value is finite: -log(1e-7) = 16.118…
    assert float(losses.BinaryCrossentropy()(np.array([[1.0]]), np.array([[0.0]]))) == pytest.approx(16.11809565, 1e-8)


def test_bce_is_the_mean_over_the_last_axis_then_over_the_batch():
    y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    p = np.array([[0.7, 0.4], [0.1, 0.3], [0.6, 0.95]])
    per_example = [
        (-math.log(0.7) - math.log(0.6)) / 2,
        (-math.log(0.9) - math.log(0.7)) / 2,
        (-math.log(0.6) - math.log(0.95)) / 2,
    ]
    np.testing.assert_allclose(losses.BinaryCrossentropy(reduction="none")(y, p), per_example, rtol=1e-12)
    np.testing.assert_allclose(losses.binary_crossentropy(y, p), per_example, rtol=1e-12)
    assert float(losses.BinaryCrossentropy()(y, p)) == pytest.approx(sum(per_example) / 3, rel=1e-12)
    assert float(losses.BinaryCrossentropy(reduction="sum")(y, p)) == pytest.approx(sum(per_example), rel=1e-12)


def test_bce_from_logits_is_exact_without_clipping():
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    z = np.array([[2.0], [-1.0], [0.0], [100.0], [-30.0]])
    per_example = [
        math.log(1 + math.exp(-2)),
        math.log(1 + math.exp(-1)),
        math.log(2),
        100.0,
        math.log1p(math.exp(-30)),
    ]
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert float(loss(y, z)) == pytest.approx(sum(per_example) / 5, rel=1e-12)
    # on probabilities the same confident mistake is capped at -log(1e-7)
    p = sigmoid(z)
    assert float(losses.BinaryCrossentropy(reduction="none")(y, p)[3]) == pytest.approx(-math.log(EPS), rel=1e-6)
    assert losses.BinaryCrossentropy(from_logits=True, reduction="none")(y, z)[3] == pytest.approx(100.0, rel=1e-12)


def test_bce_label_smoothing_moves_targets_toward_one_half():
    s = 0.2
    y = np.array([[1.0], [0.0]])
    p = np.array([[0.8], [0.3]])
    # y = 1 -> 0.9, y = 0 -> 0.1
    expected = (-(0.9 * math.log(0.8) + 0.1 * math.log(0.2)) - (0.1 * math.log(0.3) + 0.9 * math.log(0.7))) / 2
    assert float(losses.BinaryCrossentropy(label_smoothing=s)(y, p)) == pytest.approx(expected, rel=1e-12)
    z = np.array([[1.5], [-0.5]])
    expected_logits = (
        -(0.9 * math.log(sigmoid(1.5)) + 0.1 * math.log(1 - sigmoid(1.5)))
        - (0.1 * math.log(sigmoid(-0.5)) + 0.9 * math.log(1 - sigmoid(-0.5)))
    ) / 2
    smoothed = losses.BinaryCrossentropy(from_logits=True, label_smoothing=s)
    assert float(smoothed(y, z)) == pytest.approx(expected_logits, rel=1e-12)


def test_m_targets_with_m_by_1_outputs_do_not_broadcast_to_m_by_m():
    y = np.array([1.0, 0.0, 1.0])
    p = np.array([[0.9], [0.2], [0.6]])
    expected = (-math.log(0.9) - math.log(0.8) - math.log(0.6)) / 3
    assert float(losses.BinaryCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-12)
    assert losses.BinaryCrossentropy(reduction="none")(y, p).shape == (3,)
    # MSE: errors 0, 0, 1 -> 1/3 (broadcasting would also compare each output with every target)
    assert float(losses.MeanSquaredError()([1.0, 2.0, 3.0], np.array([[1.0], [2.0], [4.0]]))) == pytest.approx(1 / 3)
    assert float(losses.MeanAbsoluteError()([1.0, 2.0, 3.0], np.array([[1.0], [2.5], [4.0]]))) == pytest.approx(0.5)
    # and (m, 1) targets with (m,) outputs
    assert float(losses.MeanSquaredError()(np.array([[1.0], [2.0]]), np.array([1.0, 4.0]))) == pytest.approx(2.0)


def test_mismatched_target_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        losses.MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 3)))


def test_categorical_crossentropy_renormalises_and_clips():
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[1.0, 3.0, 1.0], [0.0, 1.0, 0.0]])  # rows sum to 5 and 1
    expected = (-math.log(3 / 5) - math.log(EPS)) / 2
    assert float(losses.CategoricalCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p), [-math.log(0.6), -math.log(EPS)], rtol=1e-6)


def test_categorical_crossentropy_from_logits_and_smoothing():
    y = np.array([[0.0, 0.0, 1.0]])
    z = np.array([[1.0, 2.0, 0.5]])
    lse = math.log(math.exp(1.0) + math.exp(2.0) + math.exp(0.5))
    assert float(losses.CategoricalCrossentropy(from_logits=True)(y, z)) == pytest.approx(lse - 0.5, rel=1e-12)
    # smoothing s over k classes: y <- y (1 - s) + s / k
    s, k = 0.3, 3
    ys = [s / k, s / k, 1 - s + s / k]
    expected = sum(t * (lse - zj) for t, zj in zip(ys, [1.0, 2.0, 0.5]))
    smoothed = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=s)
    assert float(smoothed(y, z)) == pytest.approx(expected, rel=1e-12)
    p = softmax(z)
    expected_p = -sum(t * math.log(q) for t, q in zip(ys, p[0]))
    smoothed_p = losses.CategoricalCrossentropy(label_smoothing=s)
    assert float(smoothed_p(y, p)) == pytest.approx(expected_p, rel=1e-12)


def test_sparse_categorical_crossentropy_values():
    p = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    y = np.array([1, 2, 0])
    expected = (-math.log(0.7) - math.log(0.4) - math.log(0.6)) / 3
    assert float(losses.SparseCategoricalCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-12)
    # (m, 1) float labels are accepted too
    yc = np.array([[1.0], [2.0], [0.0]])
    assert float(losses.SparseCategoricalCrossentropy()(yc, p)) == pytest.approx(expected, rel=1e-12)
    # unnormalised probabilities are renormalised (Keras clips p to [eps, 1 - eps], then takes softmax of log p)
    q = np.array([[0.2, 0.6]])
    assert float(losses.SparseCategoricalCrossentropy()([1], q)) == pytest.approx(-math.log(0.75), rel=1e-12)
    q = np.array([[2.0, 3.0, 0.0]])  # clipped to [1 - eps, 1 - eps, eps]
    assert float(losses.SparseCategoricalCrossentropy()([0], q)) == pytest.approx(-math.log(0.5), rel=1e-6)
    # from logits: logsumexp(z) - z_y
    z = np.array([[2.0, -1.0, 0.5]])
    lse = math.log(math.exp(2.0) + math.exp(-1.0) + math.exp(0.5))
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)([2], z)) == pytest.approx(lse - 0.5, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [1.0, 30.0, 200.0])
def test_sparse_fused_sum_and_grad_agrees_with_per_sample_formulas(dtype, spread):
    # the fused path shifts by the batch's largest logit; rows far below it (spread 200) take the row-maximum path
    rng = np.random.default_rng(int(spread))
    z = (rng.standard_normal((64, 10)) * 3 + rng.uniform(-spread, spread, (64, 1))).astype(dtype)
    y = rng.integers(0, 10, 64)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        total, d = loss.sum_and_grad_logits(y, z)
    z64 = z.astype(np.float64)
    top = z64.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z64 - top).sum(axis=1)) + top[:, 0]
    expected_d = np.exp(z64 - lse[:, None])
    expected_d[np.arange(64), y] -= 1
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert d.dtype == dtype
    assert total == pytest.approx(float((lse - z64[np.arange(64), y]).sum()), rel=tol)
    np.testing.assert_allclose(d, expected_d, atol=tol)


def test_sparse_categorical_crossentropy_refuses_bad_labels():
    p = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        losses.SparseCategoricalCrossentropy()([0, 3], p)
    with pytest.raises(ValueError, match="one-hot"):
        losses.SparseCategoricalCrossentropy()(np.eye(3)[:2], p)


def test_mse_mae_are_the_mean_over_the_last_axis_then_over_the_batch():
    y = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]])
    p = np.array([[1.0, 1.0], [0.0, 1.0], [0.5, 2.5]])
    # squared errors per row: (1 + 0)/2, (4 + 4)/2, (0 + 4)/2
    assert float(losses.MeanSquaredError()(y, p)) == pytest.approx((0.5 + 4.0 + 2.0) / 3, rel=1e-12)
    np.testing.assert_allclose(losses.mean_squared_error(y, p), [0.5, 4.0, 2.0], rtol=1e-12)
    # absolute errors per row: (1 + 0)/2, (2 + 2)/2, (0 + 2)/2
    assert float(losses.MeanAbsoluteError()(y, p)) == pytest.approx((0.5 + 2.0 + 1.0) / 3, rel=1e-12)
    np.testing.assert_allclose(losses.mean_absolute_error(y, p), [0.5, 2.0, 1.0], rtol=1e-12)


def test_huber_values():
    y = np.zeros((3, 1))
    p = np.array([[0.5], [-2.0], [1.0]])
    # delta = 1: e^2/2 inside, delta (|e| - delta/2) outside
    expected = (0.125 + (2.0 - 0.5) + 0.5) / 3
    assert float(losses.Huber()(y, p)) == pytest.approx(expected, rel=1e-12)
    # delta = 1.5: 0.125, 1.5 * (2 - 0.75), 0.5
    assert float(losses.Huber(delta=1.5)(y, p)) == pytest.approx((0.125 + 1.875 + 0.5) / 3, rel=1e-12)
    np.testing.assert_allclose(losses.huber(y, p), [0.125, 1.5, 0.5], rtol=1e-12)


def test_sample_weight_and_reductions():
    y = np.array([[1.0], [0.0], [3.0]])
    p = np.array([[2.0], [0.0], [1.0]])  # squared errors 1, 0, 4
    w = np.array([0.5, 2.0, 1.0])
    # sum_over_batch_size divides by the batch size, not by the sum of the weights
    assert float(losses.MeanSquaredError()(y, p, sample_weight=w)) == pytest.approx((0.5 + 0 + 4) / 3)
    assert float(losses.MeanSquaredError(reduction="sum")(y, p, sample_weight=w)) == pytest.approx(4.5)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(y, p, sample_weight=w), [0.5, 0.0, 4.0])
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_huge_logits_give_no_warnings():
    y = np.array([[1.0], [0.0]])
    z = np.array([[-1000.0], [1000.0]])
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        assert float(losses.BinaryCrossentropy(from_logits=True)(y, z)) == pytest.approx(1000.0)
        zc = np.array([[1000.0, -1000.0]])
        assert float(losses.CategoricalCrossentropy(from_logits=True)([[0.0, 1.0]], zc)) == pytest.approx(2000.0)
        assert float(losses.SparseCategoricalCrossentropy(from_logits=True)([1], zc)) == pytest.approx(2000.0)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name,cls",
    [
        ("mse", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("MSE", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("mean_absolute_error", losses.MeanAbsoluteError),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("huber", losses.Huber),
        ("BinaryCrossentropy", losses.BinaryCrossentropy),
    ],
)
def test_string_aliases(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert not loss.from_logits
    assert loss.reduction == "sum_over_batch_size"


def test_get_accepts_objects_classes_and_functions():
    obj = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    assert type(losses.get(losses.Huber)) is losses.Huber
    assert type(losses.get(losses.mean_squared_error)) is losses.MeanSquaredError
    assert (
        type(losses.get(gradfit.keras.losses.sparse_categorical_crossentropy)) is losses.SparseCategoricalCrossentropy
    )
    assert losses.mse is losses.mean_squared_error


def test_unknown_loss_names_suggest_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'binary_crossentropy'"):
        losses.get("binary_crossentropyy")
    with pytest.raises(ValueError, match="Did you mean 'mse'"):
        losses.get("mss")
    with pytest.raises(ValueError, match="Unknown loss"):
        losses.get("hinge_of_fate")
    with pytest.raises(ValueError, match="gradient"):
        losses.get(lambda y, p: (y - p) ** 2)


def test_loss_names_match_keras():
    assert losses.BinaryCrossentropy().name == "binary_crossentropy"
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert losses.Huber().name == "huber_loss"
