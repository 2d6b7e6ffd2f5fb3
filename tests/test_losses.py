"""Losses: gradients against finite differences, values against Keras's formulas written out by hand."""

import math
import warnings

import numpy as np
import pytest

import gradfit
from gradfit import losses, registry

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


def distribution_case(k):
    rng = np.random.default_rng(300 + k)
    y = rng.dirichlet(np.ones(k), M)
    p = rng.dirichlet(np.ones(k) * 2, M)
    return y, p


def count_case(units):
    rng = np.random.default_rng(400 + units)
    return rng.poisson(3.0, (M, units)).astype(np.float64), rng.uniform(0.5, 6.0, (M, units))


def margin_case(units, signed):
    """Labels 0/1 (converted to -1/1 by the loss) or -1/1, and scores clear of the kink y p = 1."""
    rng = np.random.default_rng(500 + units + 10 * signed)
    y = rng.integers(0, 2, (M, units)).astype(np.float64)
    s = 2 * y - 1
    margin = rng.uniform(-1.5, 1.5, (M, units))
    margin[np.abs(margin) < 0.1] += 0.3
    return (s if signed else y), s * (1 - margin)  # 1 - s p = margin


def categorical_margin_case(k):
    """One-hot targets and scores whose best wrong class is unique and whose margin is clear of 0."""
    rng = np.random.default_rng(600 + k)
    y = np.eye(k)[rng.integers(0, k, M)]
    p = rng.normal(0, 1, (M, k))
    for row in p:  # distinct scores, so the maximum over the wrong classes has no tie
        row += np.arange(k) * 0.05
    neg = ((1 - y) * p).max(axis=1)
    pos = (y * p).sum(axis=1)
    near = np.abs(neg - pos + 1) < 0.1
    p[near] += y[near] * 0.3
    return y, p


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
    ("log_cosh_1", losses.LogCosh(), lambda: regression_case(1)),
    ("log_cosh_3", losses.LogCosh(), lambda: regression_case(3)),
    ("kld", losses.KLDivergence(), lambda: distribution_case(4)),
    ("kld_one_hot", losses.KLDivergence(), lambda: (categorical_case(3)[0], distribution_case(3)[1])),
    ("poisson", losses.Poisson(), lambda: count_case(3)),
    ("mape", losses.MeanAbsolutePercentageError(), lambda: regression_case(3)),
    ("msle", losses.MeanSquaredLogarithmicError(), lambda: count_case(3)),
    ("hinge_01", losses.Hinge(), lambda: margin_case(2, signed=False)),
    ("hinge_pm1", losses.Hinge(), lambda: margin_case(3, signed=True)),
    ("squared_hinge_01", losses.SquaredHinge(), lambda: margin_case(2, signed=False)),
    ("squared_hinge_pm1", losses.SquaredHinge(), lambda: margin_case(1, signed=True)),
    ("categorical_hinge", losses.CategoricalHinge(), lambda: categorical_margin_case(4)),
    ("focal", losses.BinaryFocalCrossentropy(), lambda: binary_case(3)[:2]),
    ("focal_soft", losses.BinaryFocalCrossentropy(gamma=1.5), lambda: binary_case(2, soft=True)[:2]),
    (
        "focal_balanced_smooth",
        losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=3.0, label_smoothing=0.1),
        lambda: binary_case(1)[:2],
    ),
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
    assert checked == set(registry.LOSSES.objects())


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
    ("focal", lambda fl: losses.BinaryFocalCrossentropy(from_logits=fl), lambda: binary_case(3)),
    (
        "focal_balanced_smooth",
        lambda fl: losses.BinaryFocalCrossentropy(True, 0.3, 1.5, from_logits=fl, label_smoothing=0.2),
        lambda: binary_case(2, soft=True),
    ),
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
    a = sigmoid(z) if loss.logits_activation == "sigmoid" else softmax(z)
    a_copy = a.copy()
    np.testing.assert_allclose(loss.grad_logits(y, z, a), analytic, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a, a_copy)  # and without writing into the activation's output


@pytest.mark.parametrize("name,make,case", LOGIT_CASES, ids=[c[0] for c in LOGIT_CASES])
def test_logits_loss_equals_probability_loss_away_from_clipping(name, make, case):
    loss = make(False)
    y, _, z = case()
    a = sigmoid(z) if loss.logits_activation == "sigmoid" else softmax(z)
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


# --------------------------------------------------------------------------- the registry and the schemas


def test_every_loss_is_found_by_its_keras_names_and_function():
    for entry in registry.LOSSES:
        cls = entry.obj
        assert type(losses.get(entry.name)) is cls
        for alias in entry.aliases:
            assert type(losses.get(alias)) is cls, alias
        fn = cls.function
        assert fn.__name__ in entry.aliases  # the function's name is a registered name of its class
        assert getattr(losses, fn.__name__) is fn and getattr(gradfit.keras.losses, fn.__name__) is fn
        assert type(losses.get(fn)) is cls
        assert getattr(losses, entry.name) is cls
        assert cls.__name__ in losses.__all__ and fn.__name__ in losses.__all__
    assert losses.get("kld").__class__ is losses.KLDivergence
    assert losses.get("logcosh").__class__ is losses.LogCosh


def test_a_function_with_a_registered_name_is_not_taken_for_the_loss():
    def mse(y, p):
        return (y - p) ** 2

    with pytest.raises(ValueError, match="gradient"):
        losses.get(mse)


def test_unknown_names_are_listed_from_the_registry():
    with pytest.raises(ValueError, match="Did you mean 'kl_divergence'") as info:
        losses.get("kl_divergense")
    for name in registry.LOSSES.names():
        assert name in str(info.value)


def test_constructors_validate_through_the_schema():
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="from_logits"):
        losses.CategoricalCrossentropy(from_logits="false")
    with pytest.raises(ValueError, match="reduction"):
        losses.Poisson(reduction="average")
    with pytest.raises(ValueError, match="alpha"):
        losses.BinaryFocalCrossentropy(alpha=2.0)
    with pytest.raises(ValueError, match="gamma"):
        losses.BinaryFocalCrossentropy(gamma=-1.0)
    with pytest.raises(ValueError, match="ignore_class"):
        losses.SparseCategoricalCrossentropy(ignore_class="void")
    assert losses.BinaryCrossentropy(label_smoothing=np.float32(0.25)).label_smoothing == 0.25
    assert losses.BinaryCrossentropy(label_smoothing=0).get_config()["label_smoothing"] == 0.0


def test_schema_defaults_are_the_constructors_defaults():
    import inspect

    for entry in registry.LOSSES:
        cls = entry.obj
        params = inspect.signature(cls.__init__).parameters
        for key, default in cls.config_schema.defaults().items():
            if key in params:
                assert params[key].default == default, (cls.__name__, key)
        assert set(cls().get_config()) <= set(params), cls.__name__
        assert cls.from_config(cls().get_config()).get_config() == cls().get_config()


def test_loss_attributes_say_what_the_output_should_be():
    assert losses.BinaryCrossentropy().expects == "probabilities"
    assert losses.BinaryCrossentropy(from_logits=True).expects == "logits"
    assert losses.SparseCategoricalCrossentropy().sparse and losses.SparseCategoricalCrossentropy().logits_activation
    assert losses.Hinge().expects == "labels" and losses.CategoricalHinge().expects == "labels"
    assert losses.MeanSquaredError().expects == "values" and losses.Poisson().expects == "values"
    assert losses.KLDivergence().expects == "probabilities" and losses.KLDivergence().logits_activation is None
    assert losses.BinaryFocalCrossentropy().logits_activation == "sigmoid"
    for entry in registry.LOSSES:
        loss = entry.obj()
        assert loss.expects in ("probabilities", "logits", "labels", "values")
        assert loss.formula.startswith("L =")
        assert bool(loss.dz_formula) == (loss.logits_activation is not None)  # explain() shows dJ/dz when fused


# --------------------------------------------------------------------------- the training step's entry


BATCH_CASES = [
    ("bce", lambda: losses.BinaryCrossentropy(), lambda: binary_case(2)),
    ("bce_smooth", lambda: losses.BinaryCrossentropy(label_smoothing=0.1), lambda: binary_case(1)),
    ("cce", lambda: losses.CategoricalCrossentropy(), categorical_case),
    ("scce", lambda: losses.SparseCategoricalCrossentropy(), sparse_case),
    ("focal", lambda: losses.BinaryFocalCrossentropy(apply_class_balancing=True), lambda: binary_case(3)),
]


@pytest.mark.parametrize("name,make,case", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_batch_sum_and_grad_from_logits_fused_and_weighted_agree(name, make, case):
    y, _, z = case()
    a = sigmoid(z) if make().logits_activation == "sigmoid" else softmax(z)
    loss, from_logits = make(), type(make())(**{**make().get_config(), "from_logits": True})
    expected = float(loss.per_sample_logits(y, z).sum())
    # fused (the output layer's z given), from logits (a holds z), and on probabilities: the same J and gradients
    total, dz = loss.batch_sum_and_grad(y, a, z)
    assert total == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dz, loss.grad_logits(y, z), rtol=1e-10, atol=1e-15)
    total2, dz2 = from_logits.batch_sum_and_grad(y, z)
    assert total2 == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dz2, dz, rtol=1e-10, atol=1e-15)
    total3, da = loss.batch_sum_and_grad(y, a)
    assert total3 == pytest.approx(expected, rel=1e-9)
    np.testing.assert_allclose(da, loss.grad(y, a), rtol=1e-12)
    # sample weights: sum_i w_i L_i and the rows of the gradient scaled by w_i
    w = np.linspace(0.0, 2.0, len(z))
    wt, wd = loss.batch_sum_and_grad(y, a, z, sample_weight=w)
    assert wt == pytest.approx(float((loss.per_sample_logits(y, z) * w).sum()), rel=1e-12)
    np.testing.assert_allclose(wd, dz * w.reshape(-1, *([1] * (dz.ndim - 1))), rtol=1e-10, atol=1e-15)
    # a fresh array each time: the caller scales it in place
    a0, z0 = a.copy(), z.copy()
    d1 = loss.batch_sum_and_grad(y, a, z)[1]
    d1 *= 0
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(z, z0)


@pytest.mark.parametrize("entry", list(registry.LOSSES), ids=lambda e: e.name)
def test_batch_sum_and_grad_is_per_sample_and_grad_for_every_loss(entry):
    case = next(c for c in GRAD_CASES if type(c[1]) is entry.obj)
    loss = case[1]
    y, p = case[2]()
    total, d = loss.batch_sum_and_grad(y, p)
    assert total == pytest.approx(float(loss.per_sample(y, p).sum()), rel=1e-12)
    np.testing.assert_allclose(d, loss.grad(y, p), rtol=1e-12)
    assert loss.batch_divisor(len(p)) == len(p)
    # float32 in, float32 out: the gradient keeps the model's float type
    y32, p32 = (y if y.dtype.kind in "iu" else y.astype(np.float32)), p.astype(np.float32)
    assert loss.batch_sum_and_grad(y32, p32)[1].dtype == np.float32
    assert loss.per_sample(y32, p32).dtype == np.float32
    if loss.logits_activation is not None:
        assert loss.batch_sum_and_grad(y32, p32, p32)[1].dtype == np.float32


def test_batch_divisor_follows_the_reduction():
    w = np.array([0.5, 1.5, 3.0])
    assert losses.MeanSquaredError(reduction="sum").batch_divisor(3, w) == 1.0
    assert losses.MeanSquaredError(reduction="mean").batch_divisor(3, w) == 3.0
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight").batch_divisor(3, w) == 5.0
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight").batch_divisor(3) == 3.0
    y, p = np.zeros((3, 1)), np.array([[1.0], [2.0], [3.0]])
    assert float(losses.MeanSquaredError(reduction="mean_with_sample_weight")(y, p, sample_weight=w)) == (
        pytest.approx((0.5 + 6 + 27) / 5)
    )
    assert float(losses.MeanSquaredError(reduction="mean")(y, p)) == pytest.approx(14 / 3)


def test_sparse_fused_fast_path_is_no_slower_than_the_row_maximum_formulas():
    """The one speed trick of the sparse cross-entropy must pay: at 128 x 10, faster than the general path."""
    import timeit

    rng = np.random.default_rng(0)
    z = (rng.standard_normal((128, 10)) * 3).astype(np.float32)
    y = rng.integers(0, 10, 128)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    general = losses.Loss.sum_and_grad_logits
    fast = min(timeit.repeat(lambda: loss.sum_and_grad_logits(y, z), number=200, repeat=5))
    slow = min(timeit.repeat(lambda: general(loss, y, z), number=200, repeat=5))
    assert fast < slow


# --------------------------------------------------------------------------- the new losses, by hand


def test_hinge_converts_0_1_labels_per_batch_as_keras():
    p = np.array([[0.3], [2.0], [1.5]])
    # labels 0/1 -> -1/1: margins 1 - y p = 0.7, -1 (met: 0), 2.5 (y = -1)
    np.testing.assert_allclose(losses.hinge(np.array([[1.0], [1.0], [0.0]]), p), [0.7, 0.0, 2.5])
    np.testing.assert_allclose(losses.hinge(np.array([[1.0], [1.0], [-1.0]]), p), [0.7, 0.0, 2.5])
    # a label that is neither 0 nor 1 in the batch: no conversion (0 stays 0, margin 1)
    np.testing.assert_allclose(losses.hinge(np.array([[0.0], [1.0], [-1.0]]), p), [1.0, 0.0, 2.5])
    np.testing.assert_allclose(losses.squared_hinge(np.array([[1.0], [1.0], [0.0]]), p), [0.49, 0.0, 6.25])


def test_categorical_hinge_value():
    y = np.array([[0.0, 1.0, 0.0]])
    p = np.array([[0.5, 0.2, 0.9]])
    assert float(losses.categorical_hinge(y, p)[0]) == pytest.approx(0.9 - 0.2 + 1)


def test_kl_divergence_poisson_log_cosh_values():
    y = np.array([[0.25, 0.75]])
    p = np.array([[0.5, 0.5]])
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert float(losses.kl_divergence(y, p)[0]) == pytest.approx(expected, rel=1e-12)
    counts, rate = np.array([[2.0, 0.0]]), np.array([[1.5, 0.5]])
    assert float(losses.poisson(counts, rate)[0]) == pytest.approx((1.5 - 2 * math.log(1.5 + EPS) + 0.5) / 2)
    e = np.array([[0.1, -3.0, 40.0]])
    np.testing.assert_allclose(losses.log_cosh(np.zeros_like(e), e), [np.mean([math.log(math.cosh(v)) for v in e[0]])])


def test_binary_focal_crossentropy_with_gamma_0_is_binary_crossentropy():
    y, p, z = binary_case(3)
    np.testing.assert_allclose(
        losses.BinaryFocalCrossentropy(gamma=0.0).per_sample(y, p), losses.BinaryCrossentropy().per_sample(y, p)
    )
    np.testing.assert_allclose(
        losses.BinaryFocalCrossentropy(gamma=0.0).grad_logits(y, z), losses.BinaryCrossentropy().grad_logits(y, z)
    )
    assert losses.binary_focal_crossentropy(y, z, gamma=0.0, from_logits=True) == pytest.approx(
        losses.binary_crossentropy(y, z, from_logits=True)
    )


def test_losses_and_their_functions_pickle():
    import pickle

    loss = pickle.loads(pickle.dumps(losses.BinaryFocalCrossentropy(gamma=3.0, reduction="sum")))
    assert loss.get_config() == losses.BinaryFocalCrossentropy(gamma=3.0, reduction="sum").get_config()
    for entry in registry.LOSSES:
        assert pickle.loads(pickle.dumps(entry.obj.function)) is entry.obj.function
