"""Activations: each derivative checked against finite differences, and values against hand formulas."""

import math
import warnings

import numpy as np
import pytest

import gradfit
from gradfit import activations, registry

#: every registered activation by its canonical name (aliases such as 'swish' map to the same object)
ALL = {entry.name: entry.obj for entry in registry.ACTIVATIONS}

# Where each activation's derivative jumps: finite differences across these points are meaningless.
KINKS = {
    "linear": (),
    "sigmoid": (),
    "tanh": (),
    "relu": (0.0,),
    "relu6": (0.0, 6.0),
    "leaky_relu": (0.0,),
    "elu": (0.0,),
    "selu": (0.0,),
    "softplus": (),
    "softsign": (0.0,),  # g'' jumps at 0; g' is continuous, but keep away anyway
    "silu": (),
    "gelu": (),
    "exponential": (),
    "hard_sigmoid": (-3.0, 3.0),
    "softmax": (),
    "mish": (),
    "hard_silu": (-3.0, 3.0),
    "log_softmax": (),
    "celu": (0.0,),
    "squareplus": (),
    "log_sigmoid": (),
    "hard_tanh": (-1.0, 1.0),
    "tanh_shrink": (),
    "soft_shrink": (-0.5, 0.5),
    "hard_shrink": (-0.5, 0.5),
    "sparse_plus": (-1.0, 1.0),
    "sparse_sigmoid": (-1.0, 1.0),
}

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_dz(forward, z, da, h=1e-6):
    """Central differences of sum(da * forward(z)) with respect to each element of z."""
    dz = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        dz[idx] = (np.sum(da * forward(zp, None)) - np.sum(da * forward(zm, None))) / (2 * h)
    return dz


def sample_z(name, shape=(5, 7), seed=0, low=-8.0, high=8.0, margin=0.05):
    """Random float64 points in [low, high], each at least ``margin`` away from the activation's kinks."""
    z = np.random.default_rng(seed).uniform(low, high, shape)
    for k in KINKS[name]:
        near = np.abs(z - k) < margin
        z[near] = k + np.where(z[near] >= k, 1, -1) * (margin + 0.1)
    for k in KINKS[name]:
        assert np.abs(z - k).min() >= margin
    return z


def test_the_kink_table_covers_every_activation():
    # a new activation must be declared here (with its kinks) so that it gets a gradient check
    assert set(ALL) == set(KINKS)


def test_sample_points_straddle_the_kinks():
    # the gradient checks must exercise both sides of every kink, not just one region
    for name, kinks in KINKS.items():
        z = sample_z(name)
        for k in kinks:
            assert (z < k).any() and (z > k).any(), (name, k)


@pytest.mark.parametrize("name", sorted(ALL))
def test_backward_matches_finite_differences(name):
    act = ALL[name]
    z = sample_z(name)
    if name == "exponential":
        z = sample_z(name, low=-4.0, high=4.0)
    da = np.random.default_rng(1).normal(size=z.shape)
    a = act.forward(z, None)
    assert a.dtype == np.float64
    analytic = act.backward(z, a, da)
    assert analytic.shape == z.shape
    numeric = numerical_dz(act.forward, z, da)
    assert np.abs(numeric).max() > 1e-3  # the check is not comparing zeros with zeros
    assert rel_error(analytic, numeric) < 1e-6, name


@pytest.mark.parametrize("name", sorted(ALL))
def test_backward_does_not_modify_its_inputs(name):
    act = ALL[name]
    z = sample_z(name)
    da = np.random.default_rng(2).normal(size=z.shape)
    a = act.forward(z, None)
    z0, a0, da0 = z.copy(), a.copy(), da.copy()
    act.backward(z, a, da)
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(da, da0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_forward_into_a_buffer_equals_forward(name):
    act = ALL[name]
    z = sample_z(name)
    z0 = z.copy()
    expected = act.forward(z, None)
    out = np.full_like(z, np.nan)
    result = act.forward(z, out)
    assert result is out
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(z, z0)  # writing into out must not touch the input


def test_gradient_check_catches_a_wrong_derivative():
    # the checker itself must be able to fail: sigmoid's forward paired with tanh's derivative
    z = sample_z("sigmoid")
    da = np.ones_like(z)
    a = activations.sigmoid.forward(z, None)
    wrong = activations.tanh.backward(z, a, da)
    assert rel_error(wrong, numerical_dz(activations.sigmoid.forward, z, da)) > 1e-2


# --------------------------------------------------------------------------- values against hand formulas


def test_linear_is_the_identity():
    x = np.array([-2.5, 0.0, 3.25])
    np.testing.assert_array_equal(activations.linear(x), x)


def test_sigmoid_values():
    assert activations.sigmoid(np.array(0.0)) == 0.5
    x = np.array([-3.0, -1.0, 0.5, 2.0])
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    assert activations.sigmoid(np.array(2.0)) == pytest.approx(0.8807970779778823, rel=1e-15)


def test_tanh_values():
    x = np.array([-2.0, 0.0, 0.7])
    expected = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
    np.testing.assert_allclose(activations.tanh(x), expected, rtol=1e-14)


def test_relu_and_relu6_values():
    np.testing.assert_array_equal(activations.relu(np.array([-1.5, 0.0, 2.0, 7.0])), [0.0, 0.0, 2.0, 7.0])
    np.testing.assert_array_equal(activations.relu6(np.array([-1.5, 0.0, 3.0, 6.0, 7.0])), [0.0, 0.0, 3.0, 6.0, 6.0])


def test_leaky_relu_default_slope_is_keras_0_2():
    np.testing.assert_allclose(activations.leaky_relu(np.array([-2.0, -0.5, 0.0, 3.0])), [-0.4, -0.1, 0.0, 3.0])


def test_elu_and_selu_values():
    x = np.array([-2.0, -0.3, 0.0, 1.5])
    np.testing.assert_allclose(activations.elu(x), [math.exp(-2) - 1, math.exp(-0.3) - 1, 0.0, 1.5], rtol=1e-14)
    expected = [SELU_SCALE * SELU_ALPHA * (math.exp(v) - 1) if v <= 0 else SELU_SCALE * v for v in x]
    np.testing.assert_allclose(activations.selu(x), expected, rtol=1e-14)
    assert activations.selu(np.array(1.0)) == pytest.approx(1.0507009873554805, rel=1e-15)


def test_softplus_softsign_values():
    x = np.array([-3.0, 0.0, 1.0, 4.0])
    np.testing.assert_allclose(activations.softplus(x), np.log(1 + np.exp(x)), rtol=1e-14)
    assert activations.softplus(np.array(0.0)) == pytest.approx(math.log(2), rel=1e-15)
    np.testing.assert_allclose(activations.softsign(x), x / (1 + np.abs(x)), rtol=1e-15)
    assert activations.softsign(np.array(1.0)) == 0.5


def test_silu_and_swish():
    x = np.array([-2.0, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(activations.silu(x), x / (1 + np.exp(-x)), rtol=1e-14)
    assert activations.swish is activations.silu
    assert activations.get("swish") is activations.silu


def test_gelu_is_exact_by_default():
    # x * Phi(x) with Phi the standard normal CDF: Phi(1) = 0.8413447460685429
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    expected = [-0.15865525393145707, 0.0, 0.8413447460685429, 1.9544997361036416]
    np.testing.assert_allclose(activations.gelu(x), expected, rtol=1e-12, atol=1e-15)
    # the tanh approximation differs in the fourth digit
    approx = activations.gelu(np.array([1.0]), approximate=True)
    np.testing.assert_allclose(approx, [0.8411919906082768], rtol=1e-12)


def test_exponential_values():
    np.testing.assert_allclose(activations.exponential(np.array([0.0, 1.0, -2.0])), [1.0, math.e, math.exp(-2)])


def test_hard_sigmoid_is_keras_3s_clip_of_x_over_6_plus_half():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(activations.hard_sigmoid(x), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(activations.hard_sigmoid(x), np.clip(x / 6 + 0.5, 0, 1), rtol=1e-15)


def test_softmax_values_and_rows_sum_to_one():
    np.testing.assert_allclose(
        activations.softmax(np.array([1.0, 2.0, 3.0])), [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]
    )
    z = np.random.default_rng(3).normal(size=(6, 4)) * 5
    s = activations.softmax(z)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-14)
    e = np.exp(z)
    np.testing.assert_allclose(s, e / e.sum(axis=1, keepdims=True), rtol=1e-13)
    # shift invariance along each row
    np.testing.assert_allclose(activations.softmax(z + 100.0), s, rtol=1e-12)
    # axis=0 normalises columns instead
    np.testing.assert_allclose(activations.softmax(z, axis=0).sum(axis=0), 1.0, rtol=1e-14)


def test_relu_keyword_options():
    x = np.array([-2.0, -0.5, 0.5, 3.0, 8.0])
    np.testing.assert_allclose(activations.relu(x, max_value=6.0), [0.0, 0.0, 0.5, 3.0, 6.0])
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.1), [-0.2, -0.05, 0.5, 3.0, 8.0])
    np.testing.assert_allclose(activations.relu(x, threshold=1.0), [0.0, 0.0, 0.0, 3.0, 8.0])
    np.testing.assert_allclose(activations.leaky_relu(x, negative_slope=0.3), [-0.6, -0.15, 0.5, 3.0, 8.0])
    with pytest.raises(TypeError):
        activations.sigmoid(x, alpha=2.0)


# --------------------------------------------------------------------------- lookup


def test_get_returns_the_module_level_functions():
    assert activations.get("relu") is gradfit.keras.activations.relu
    assert activations.get("relu") is activations.relu
    for name, act in ALL.items():
        assert activations.get(name) is act
        assert act.__name__ == name
        assert activations.serialize(act) == name
        assert activations.get(act) is act
    assert activations.get(None) is activations.linear


def test_unknown_activation_suggests_the_closest_name():
    with pytest.raises(ValueError, match="Did you mean 'relu'"):
        activations.get("rleu")
    with pytest.raises(ValueError, match="Did you mean 'sigmoid'"):
        activations.get("sigmod")


def test_a_plain_callable_is_refused():
    with pytest.raises(ValueError, match="derivative"):
        activations.get(lambda z: z)


# --------------------------------------------------------------------------- public functions on any input


def test_public_functions_accept_lists_and_integers():
    out = activations.sigmoid([0, 0])
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float32  # Keras's default float type for integer input
    np.testing.assert_array_equal(out, [0.5, 0.5])
    np.testing.assert_array_equal(activations.relu([[-1, 2], [3, -4]]), [[0, 2], [3, 0]])
    np.testing.assert_allclose(activations.softmax([[0.0, 0.0]]), [[0.5, 0.5]])
    for act in ALL.values():
        assert act([0.5, -0.25]).shape == (2,)


@pytest.mark.parametrize("name", sorted(set(ALL) - {"softmax", "log_softmax"}))
def test_public_functions_accept_scalars(name):
    act = ALL[name]
    for x in (0.5, np.array(0.5), np.float64(0.5)):
        value = act(x)
        assert np.shape(value) == ()
        assert float(value) == pytest.approx(float(act(np.array([0.5]))[0]), rel=1e-6)
    assert float(activations.sigmoid(0.0)) == 0.5


def test_public_functions_keep_float64():
    assert activations.tanh(np.array([0.1])).dtype == np.float64


def test_public_functions_do_not_modify_their_input():
    x = np.array([-1.0, 0.5, 2.0])
    for act in ALL.values():
        act(x)
        np.testing.assert_array_equal(x, [-1.0, 0.5, 2.0])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_inputs_give_the_limits_without_warnings(dtype):
    big = np.array([-1000.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        assert activations.sigmoid([-1000.0])[0] == 0.0
        np.testing.assert_array_equal(activations.sigmoid(big), [0.0, 1.0])
        np.testing.assert_array_equal(activations.tanh(big), [-1.0, 1.0])
        np.testing.assert_array_equal(activations.softplus(big), [0.0, 1000.0])
        np.testing.assert_array_equal(activations.silu(big), [0.0, 1000.0])
        np.testing.assert_array_equal(activations.gelu(big), [0.0, 1000.0])
        np.testing.assert_array_equal(activations.elu(big), [-1.0, 1000.0])
        np.testing.assert_allclose(activations.selu(big), [-SELU_SCALE * SELU_ALPHA, SELU_SCALE * 1000.0], rtol=1e-6)
        np.testing.assert_array_equal(activations.hard_sigmoid(big), [0.0, 1.0])
        np.testing.assert_allclose(activations.softsign(big), [-1000 / 1001, 1000 / 1001], rtol=1e-6)
        exp = activations.exponential(big)
        assert exp[0] == 0.0 and np.isposinf(exp[1])
        np.testing.assert_array_equal(activations.softmax(np.array([[1000.0, 0.0, -1000.0]], dtype=dtype)), [[1, 0, 0]])
        for act in ALL.values():
            assert not np.isnan(act(big)).any(), act.__name__


def test_selu_derivative_at_zero_takes_the_linear_side_as_tensorflow():
    d = activations.selu.backward(np.zeros(1), np.zeros(1), np.ones(1))
    np.testing.assert_allclose(d, [1.0507009873554805])


# --------------------------------------------------------------------------- the activations added for Keras 3


def test_mish_hard_silu_and_log_softmax_values():
    z = np.array([-4.0, -1.0, 0.0, 0.5, 2.0, 5.0])
    np.testing.assert_allclose(activations.mish(z), z * np.tanh(np.log1p(np.exp(z))), rtol=1e-12)
    np.testing.assert_allclose(activations.hard_silu(z), z * np.clip(z / 6 + 0.5, 0, 1), rtol=1e-12)
    zz = np.array([[1.0, 2.0, 0.5], [-3.0, 0.0, 3.0]])
    lse = np.log(np.exp(zz).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(activations.log_softmax(zz), zz - lse, rtol=1e-12)
    np.testing.assert_allclose(np.exp(activations.log_softmax(zz)), activations.softmax(zz), rtol=1e-12)
    # along another axis, as keras.activations.log_softmax(x, axis=0)
    np.testing.assert_allclose(
        activations.log_softmax(zz, axis=0), zz - np.log(np.exp(zz).sum(axis=0, keepdims=True)), rtol=1e-12
    )
    assert float(activations.log_softmax(np.array([[1000.0, 0.0]]))[0, 1]) == pytest.approx(-1000.0)


def test_keras_aliases_are_the_same_objects():
    assert activations.get("swish") is activations.silu is activations.swish
    assert activations.get("hard_swish") is activations.hard_silu is activations.hard_swish
    assert registry.ACTIVATIONS.entry("hard_swish").name == "hard_silu"
    assert gradfit.nn.log_softmax([[0.0, 0.0]]).numpy() == pytest.approx(np.log([[0.5, 0.5]]))


def test_activation_options_come_from_each_function():
    np.testing.assert_allclose(activations.celu(np.array([-1.0]), alpha=2.0), [2 * np.expm1(-0.5)])
    np.testing.assert_allclose(activations.soft_shrink(np.array([-1.0, 0.2, 1.0]), threshold=0.1), [-0.9, 0.1, 0.9])
    np.testing.assert_allclose(activations.squareplus(np.array([0.0]), b=1), [0.5])
    with pytest.raises(TypeError, match="unexpected"):
        activations.mish(np.zeros(2), alpha=1.0)
    with pytest.raises(TypeError, match="unexpected"):
        activations.relu(np.zeros(2), alpha=1.0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_float32_stays_float32_forward_and_backward(name):
    act = ALL[name]
    z = sample_z(name).astype(np.float32)
    a = act.forward(z, None)
    assert a.dtype == np.float32
    assert act.backward(z, a, np.ones_like(z)).dtype == np.float32


def test_activations_pickle_as_the_registered_objects():
    import pickle

    for act in ALL.values():
        assert pickle.loads(pickle.dumps(act)) is act
    assert pickle.loads(pickle.dumps(activations.hard_swish)) is activations.hard_silu
