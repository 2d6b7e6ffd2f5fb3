"""The losses added for issue #11: ``SparseCategoricalCrossentropy(ignore_class=)``, every reduction, ``'crossentropy'``
resolved from the shapes, MAPE / MSLE, and a loss function of one's own with its gradient (``losses.custom``).

Values are Keras 3.15's (its formulas, read from ``keras/src/losses``); the recorded comparisons with TensorFlow
are in ``parity/test_losses_metrics_more_parity.py``. Gradients are checked with float64 finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit
import gradfit.keras as K
from gradfit import losses, registry, schema

from .finite_differences import numeric, rel

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


@pytest.fixture(autouse=True)
def _float64():
    gradfit.backend.set_floatx("float64")
    yield
    gradfit.backend.set_floatx("float32")


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sparse_case(ignored=-1, m=8, k=4, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(m, k))
    y = rng.integers(0, k, size=m)
    y[[1, 5, 6]] = ignored
    w = rng.uniform(0.3, 2.0, size=m)
    return y, z, w


# ------------------------------------------------------------------------------------------ ignore_class


def test_ignore_class_averages_over_the_counted_examples_only():
    y, z, _ = _sparse_case()
    p = _softmax(z)
    keep = y != -1
    per_example = -np.log(p[np.arange(len(y)), np.where(keep, y, 0)])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    np.testing.assert_allclose(loss(y, p), per_example[keep].mean(), rtol=1e-12)
    np.testing.assert_allclose(
        losses.sparse_categorical_crossentropy(y, p, ignore_class=-1), np.where(keep, per_example, 0), rtol=1e-12
    )
    # the out-of-range label -1 is refused without ignore_class
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        losses.SparseCategoricalCrossentropy()(y, p)


def test_ignore_class_keeps_refusing_other_bad_labels():
    y, z, _ = _sparse_case()
    y[0] = 7
    with pytest.raises(ValueError, match="besides the ignored class -1"):
        losses.SparseCategoricalCrossentropy(ignore_class=-1)(y, _softmax(z))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignore_class_reductions_follow_keras_mask(reduction):
    """Keras folds the mask into the weights: mean -> sum(w L) / n_valid, mean_with_sample_weight -> sum(w L) /
    sum(w over the counted), sum -> sum(w L), none -> w L with 0 where ignored."""
    y, z, w = _sparse_case()
    keep = y != -1
    values = losses.sparse_categorical_crossentropy(y, z, from_logits=True, ignore_class=-1)
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=reduction)
    got = np.asarray(loss(y, z, sample_weight=w))
    expected = {
        "sum_over_batch_size": (w * values).sum() / keep.sum(),
        "mean": (w * values).sum() / keep.sum(),
        "sum": (w * values).sum(),
        "mean_with_sample_weight": (w * values).sum() / w[keep].sum(),
    }.get(reduction, w * values)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("path", ["probabilities", "logits", "fused"])
@pytest.mark.parametrize("weighted", [False, True])
def test_ignore_class_training_gradient_matches_finite_differences(reduction, path, weighted):
    """What the training step gets (``batch_sum_and_grad``, then its division by ``batch_divisor``) is Keras's
    reduced loss and its exact gradient, through probabilities, logits and the fused softmax."""
    y, z, w = _sparse_case(ignored=2)
    sw = w if weighted else None
    loss = losses.SparseCategoricalCrossentropy(ignore_class=2, from_logits=path == "logits", reduction=reduction)
    divisor = 1.0 if reduction in ("none", None) else None

    def step():  # the training step's J
        if path == "fused":
            total, d = loss.batch_sum_and_grad(y, _softmax(z), z=z.copy(), sample_weight=sw)
        else:
            total, d = loss.batch_sum_and_grad(y, (z if path == "logits" else _softmax(z)).copy(), sample_weight=sw)
        div = divisor or loss.batch_divisor(len(y), sw)
        return total / div, d / div

    def keras_value():
        p = z if path == "logits" else _softmax(z)
        return float(np.sum(np.asarray(loss(y, p, sample_weight=sw))))

    value, d = step()
    np.testing.assert_allclose(value, keras_value(), rtol=1e-12)
    if path == "probabilities":  # d is wrt the probabilities: differentiate wrt them directly
        p = _softmax(z)
        expected = numeric(lambda: float(np.sum(np.asarray(loss(y, p, sample_weight=sw)))), p)
        d = loss.batch_sum_and_grad(y, p.copy(), sample_weight=sw)[1] / (divisor or loss.batch_divisor(len(y), sw))
    else:
        expected = numeric(keras_value, z)
    assert rel(d, expected) < 1e-7
    assert np.all(d[y == 2] == 0), "an ignored example has no gradient"


def test_every_example_ignored_gives_zero_loss_and_gradient():
    y = np.zeros(5, dtype=int)
    z = np.random.default_rng(1).normal(size=(5, 3))
    for reduction in ("sum_over_batch_size", "mean_with_sample_weight", "sum"):
        loss = losses.SparseCategoricalCrossentropy(ignore_class=0, from_logits=True, reduction=reduction)
        assert float(loss(y, z)) == 0.0
        total, d = loss.batch_sum_and_grad(y, z.copy())
        assert total == 0.0 and not d.any()


def test_ignore_class_is_in_the_config_and_loads_from_a_file():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255)
    config = loss.get_config()
    assert config["ignore_class"] == 255
    assert losses.SparseCategoricalCrossentropy.from_config(config).ignore_class == 255
    loaded = schema.load_object(
        registry.LOSSES, {"class_name": "SparseCategoricalCrossentropy", "config": config}, "loss"
    )
    assert loaded.ignore_class == 255
    with pytest.raises(schema.ModelFileError, match="ignore_class"):
        schema.load_object(
            registry.LOSSES,
            {"class_name": "SparseCategoricalCrossentropy", "config": {**config, "ignore_class": "255"}},
            "loss",
        )


def test_ignore_class_in_fit_trains_on_the_counted_examples_only():
    """Examples with the ignored label change nothing: training with them equals training without them (with
    their count taken out of the mean, as Keras's mask does)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 4))
    y = rng.integers(0, 3, size=12)
    y_ignored = y.copy()
    y_ignored[[2, 7]] = -1
    keep = y_ignored != -1

    def trained(xs, ys, loss):
        K.utils.set_random_seed(0)
        model = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss=loss)
        model.fit(xs, ys, batch_size=len(xs), epochs=3, verbose=0, shuffle=False)
        return model.get_weights()

    with_ignored = trained(x, y_ignored, losses.SparseCategoricalCrossentropy(ignore_class=-1))
    without = trained(x[keep], y[keep], "sparse_categorical_crossentropy")
    for a, b in zip(with_ignored, without):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------ reductions


@pytest.mark.parametrize("entry", list(registry.LOSSES), ids=lambda e: e.name)
def test_every_loss_accepts_every_keras_reduction(entry):
    for reduction in REDUCTIONS:
        loss = entry.obj(reduction=reduction)
        assert loss.get_config()["reduction"] == reduction
        assert entry.obj.from_config(loss.get_config()).reduction == reduction
    with pytest.raises(ValueError, match="reduction"):
        entry.obj(reduction="average")


def test_reductions_of_weighted_values():
    y = np.array([[0.0], [1.0], [2.0], [4.0]])
    p = np.array([[1.0], [1.0], [0.0], [1.0]])
    w = np.array([1.0, 2.0, 0.5, 0.0])
    squared = ((p - y) ** 2)[:, 0]
    want = {
        "sum_over_batch_size": (w * squared).sum() / 4,
        "mean": (w * squared).sum() / 4,
        "sum": (w * squared).sum(),
        "mean_with_sample_weight": (w * squared).sum() / w.sum(),
    }
    for reduction, value in want.items():
        np.testing.assert_allclose(losses.MeanSquaredError(reduction=reduction)(y, p, sample_weight=w), value)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction=None)(y, p, sample_weight=w), w * squared)
    # without sample weights, mean_with_sample_weight is the mean
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="mean_with_sample_weight")(y, p), squared.mean())
    # all weights 0: Keras's divide_no_nan gives 0
    assert float(losses.MeanSquaredError(reduction="mean_with_sample_weight")(y, p, sample_weight=0 * w)) == 0.0


# ------------------------------------------------------------------------------------------ 'crossentropy'


@pytest.mark.parametrize(
    ("y_shape", "output_shape", "expected"),
    [
        ((8, 1), (8, 1), "BinaryCrossentropy"),
        ((8,), (8, 1), "BinaryCrossentropy"),
        ((8,), (8, 3), "SparseCategoricalCrossentropy"),
        ((8, 1), (8, 3), "SparseCategoricalCrossentropy"),
        ((8, 3), (8, 3), "CategoricalCrossentropy"),
    ],
)
def test_crossentropy_is_resolved_from_the_shapes_as_keras_compile_does(y_shape, output_shape, expected):
    for name in ("crossentropy", "ce", "CE", "CrossEntropy"):
        stand_in = losses.get(name)
        resolved = stand_in.resolve(np.zeros(y_shape), output_shape)
        assert type(resolved).__name__ == expected
        assert resolved.name == name  # Keras names the wrapped loss by the string given
        assert type(stand_in.resolve(y_shape, output_shape)) is type(resolved)


def test_crossentropy_unresolved_says_how_and_resolves_when_called():
    stand_in = losses.get("crossentropy")
    with pytest.raises(RuntimeError, match="resolve"):
        stand_in.batch_sum_and_grad(np.zeros(3), np.full((3, 1), 0.5))
    y, p = np.array([0.0, 1.0]), np.array([[0.2], [0.7]])
    np.testing.assert_allclose(stand_in(y, p), losses.BinaryCrossentropy()(y, p))


# ------------------------------------------------------------------------------------------ MAPE, MSLE


def test_mape_and_msle_are_keras_formulas():
    y = np.array([[2.0, 0.0], [-1.0, 3.0]])
    p = np.array([[1.0, 0.5], [-1.5, 2.0]])
    eps = gradfit.backend.epsilon()
    mape = 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), eps)), axis=-1)
    np.testing.assert_allclose(losses.mean_absolute_percentage_error(y, p), mape)
    np.testing.assert_allclose(losses.get("mape")(y, p), mape.mean())
    msle = np.mean((np.log(np.maximum(p, eps) + 1) - np.log(np.maximum(y, eps) + 1)) ** 2, axis=-1)
    np.testing.assert_allclose(losses.mean_squared_logarithmic_error(y, p), msle)
    np.testing.assert_allclose(losses.get("MSLE")(y, p), msle.mean())
    for name in ("mape", "MAPE", "mean_absolute_percentage_error", "MeanAbsolutePercentageError"):
        assert isinstance(losses.get(name), losses.MeanAbsolutePercentageError)
    for name in ("msle", "MSLE", "mean_squared_logarithmic_error", "MeanSquaredLogarithmicError"):
        assert isinstance(losses.get(name), losses.MeanSquaredLogarithmicError)


def test_msle_passes_no_gradient_below_epsilon():
    loss = losses.MeanSquaredLogarithmicError()
    y, p = np.array([[1.0, 2.0]]), np.array([[-0.5, 1.0]])
    d = loss.grad(y, p)
    assert d[0, 0] == 0.0 and d[0, 1] != 0.0


# ------------------------------------------------------------------------------------------ custom losses


def _squared(y, p):
    return ((p - y) ** 2).mean(axis=-1)


def _d_squared(y, p):
    return 2 * (p - y) / p.shape[-1]


def _fit(loss, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    K.utils.set_random_seed(seed)
    model = K.Sequential([K.Input(shape=(3,)), K.layers.Dense(4, activation="tanh"), K.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=loss)
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
    return model, history.history["loss"]


def test_a_custom_loss_with_its_gradient_trains_like_the_built_in_one():
    custom_model, custom_loss = _fit(losses.custom(_squared, grad=_d_squared))
    mse_model, mse_loss = _fit("mse")
    np.testing.assert_allclose(custom_loss, mse_loss, rtol=1e-12)
    for a, b in zip(custom_model.get_weights(), mse_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_function_carrying_its_gradient_is_accepted_directly():
    def squared(y, p):
        return _squared(y, p)

    squared.grad = _d_squared
    loss = losses.get(squared)
    assert loss.name == "squared"
    _, history = _fit(squared)
    np.testing.assert_allclose(history, _fit("mse")[1], rtol=1e-12)


def test_a_function_without_its_gradient_is_refused_saying_how_to_give_it():
    with pytest.raises(TypeError, match=r"gradfit.losses.custom\(fn, grad=dfn\)") as info:
        losses.get(_squared)
    assert "subclass gradfit.losses.Loss" in str(info.value) and "'_squared'" in str(info.value)
    model = K.Sequential([K.Input(shape=(3,)), K.layers.Dense(2)])
    with pytest.raises(TypeError, match="gradient"):
        model.compile(optimizer="sgd", loss=_squared)


def test_keras_loss_functions_still_work_as_losses():
    for fn, cls in (
        (K.losses.binary_crossentropy, losses.BinaryCrossentropy),
        (K.losses.mape, losses.MeanAbsolutePercentageError),
    ):
        assert type(losses.get(fn)) is cls


def test_a_custom_loss_checks_what_its_functions_return():
    bad_values = losses.custom(lambda y, p: np.zeros(3), grad=_d_squared)
    with pytest.raises(ValueError, match="one loss per example"):
        bad_values(np.zeros((4, 2)), np.ones((4, 2)))
    bad_grad = losses.custom(_squared, grad=lambda y, p: np.zeros(4))
    with pytest.raises(ValueError, match="shaped like y_pred"):
        bad_grad.batch_sum_and_grad(np.zeros((4, 2)), np.ones((4, 2)))
    with pytest.raises(TypeError, match="grad must be a function"):
        losses.custom(_squared, grad=None)


def test_a_model_with_a_custom_loss_refuses_to_be_saved(tmp_path):
    model, _ = _fit(losses.custom(_squared, grad=_d_squared))
    with pytest.raises(ValueError, match="Cannot save the loss"):
        model.save(tmp_path / "custom.keras")
    assert not (tmp_path / "custom.keras").exists()
    with pytest.raises(TypeError, match="cannot be rebuilt from a config"):
        type(model._loss).from_config(model._loss.get_config())
