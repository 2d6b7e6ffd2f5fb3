"""``tf.math``: the element-wise functions and reductions course code and tutorials call on arrays
(``tf.math.sigmoid(z)``, ``tf.math.reduce_sum(x, axis=1)``, ``tf.math.argmax(p, axis=1)``), each returning a
:class:`~gradfit.tensor.Tensor` (a NumPy array with ``.numpy()``, printed as TensorFlow prints).

TensorFlow's dtype rules, where they are cheap to keep:

* a Python float (or a list of them) becomes float32, a Python int int32, a bool bool; NumPy arrays and
  Tensors keep their dtype; a Python number beside an array takes the array's dtype;
* ``reduce_sum`` / ``reduce_prod`` / ``reduce_max`` … keep the input's dtype (int32 stays int32), and
  ``reduce_mean`` of integers is an integer (the mean truncated toward zero, as TensorFlow);
* ``argmax`` / ``argmin`` default to ``axis=0`` (not NumPy's flattened index) and give int64;
* the functions defined only on floats in TensorFlow (``exp``, ``sigmoid``, ``log`` …) compute integers in
  float32 here, where TensorFlow refuses them.

Unlike TensorFlow, mixed dtypes (float32 with float64 arrays) are promoted as NumPy promotes them, not refused.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = [
    "abs",
    "add",
    "add_n",
    "argmax",
    "argmin",
    "ceil",
    "cos",
    "cumsum",
    "divide",
    "divide_no_nan",
    "equal",
    "exp",
    "floor",
    "floordiv",
    "greater",
    "greater_equal",
    "is_finite",
    "is_inf",
    "is_nan",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_sigmoid",
    "logical_and",
    "logical_not",
    "logical_or",
    "maximum",
    "minimum",
    "mod",
    "multiply",
    "negative",
    "not_equal",
    "pow",
    "reciprocal",
    "reduce_all",
    "reduce_any",
    "reduce_logsumexp",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_std",
    "reduce_sum",
    "reduce_variance",
    "round",
    "rsqrt",
    "sigmoid",
    "sign",
    "sin",
    "softplus",
    "sqrt",
    "square",
    "squared_difference",
    "subtract",
    "tanh",
    "truediv",
]


def convert(x) -> np.ndarray:
    """``x`` as an array with TensorFlow's dtype for Python values: floats float32, ints int32 (arrays keep theirs)."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu" and arr.dtype.itemsize == 8:
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return arr  # TensorFlow makes an int64 tensor of a Python int too large for int32
        return arr.astype(np.int32)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"expected numbers (a number, a list of numbers or an array), got dtype {arr.dtype}.")
    return arr


def convert_float(x) -> np.ndarray:
    """``convert(x)``, integers and bools as float32 (for the functions TensorFlow defines on floats only)."""
    arr = convert(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def _operand(x):
    """A Python number stays a number (NumPy then gives it the other operand's dtype, as TensorFlow does)."""
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        return x
    return convert(x)


def _pair(x, y) -> tuple:
    a, b = _operand(x), _operand(y)
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        a = convert(a)
    return a, b


def wrap(value) -> Tensor:
    """A NumPy result as a Tensor (a 0-d array for a scalar, as TensorFlow's scalar tensor)."""
    return np.asarray(value).view(Tensor)


def _unary_float(ufunc, name: str, formula: str):
    def fn(x, name=None) -> Tensor:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return wrap(ufunc(convert_float(x)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{formula}`` element-wise (integers are computed in float32)."
    return fn


def _unary(ufunc, name: str, formula: str):
    def fn(x, name=None) -> Tensor:
        return wrap(ufunc(convert(x)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{formula}`` element-wise, in the input's dtype."
    return fn


def _binary(ufunc, name: str, formula: str):
    def fn(x, y, name=None) -> Tensor:
        a, b = _pair(x, y)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return wrap(ufunc(a, b))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{formula}`` element-wise, broadcasting as NumPy."
    return fn


exp = _unary_float(np.exp, "exp", "e^x")
log = _unary_float(np.log, "log", "ln x")
log1p = _unary_float(np.log1p, "log1p", "ln(1 + x)")
sqrt = _unary_float(np.sqrt, "sqrt", "sqrt(x)")
sin = _unary_float(np.sin, "sin", "sin x")
cos = _unary_float(np.cos, "cos", "cos x")
tanh = _unary_float(np.tanh, "tanh", "tanh x")
reciprocal = _unary_float(np.reciprocal, "reciprocal", "1 / x")
rsqrt = _unary_float(lambda x: np.reciprocal(np.sqrt(x)), "rsqrt", "1 / sqrt(x)")
square = _unary(np.square, "square", "x^2")
abs = _unary(np.abs, "abs", "|x|")  # noqa: A001 (TensorFlow's name)
negative = _unary(np.negative, "negative", "-x")
sign = _unary(np.sign, "sign", "sign(x): -1, 0 or 1")
floor = _unary(np.floor, "floor", "floor(x)")
ceil = _unary(np.ceil, "ceil", "ceil(x)")
is_nan = _unary(np.isnan, "is_nan", "x is NaN")
is_inf = _unary(np.isinf, "is_inf", "x is +-inf")
is_finite = _unary(np.isfinite, "is_finite", "x is finite")
logical_not = _unary(np.logical_not, "logical_not", "not x")

add = _binary(np.add, "add", "x + y")
subtract = _binary(np.subtract, "subtract", "x - y")
multiply = _binary(np.multiply, "multiply", "x * y")
maximum = _binary(np.maximum, "maximum", "max(x, y)")
minimum = _binary(np.minimum, "minimum", "min(x, y)")
pow = _binary(np.power, "pow", "x^y")  # noqa: A001 (TensorFlow's name)
floordiv = _binary(np.floor_divide, "floordiv", "floor(x / y)")
mod = _binary(np.mod, "mod", "x mod y (the sign of y, as Python)")
squared_difference = _binary(lambda a, b: np.square(np.subtract(a, b)), "squared_difference", "(x - y)^2")
equal = _binary(np.equal, "equal", "x == y")
not_equal = _binary(np.not_equal, "not_equal", "x != y")
greater = _binary(np.greater, "greater", "x > y")
greater_equal = _binary(np.greater_equal, "greater_equal", "x >= y")
less = _binary(np.less, "less", "x < y")
less_equal = _binary(np.less_equal, "less_equal", "x <= y")
logical_and = _binary(np.logical_and, "logical_and", "x and y")
logical_or = _binary(np.logical_or, "logical_or", "x or y")


def divide(x, y, name=None) -> Tensor:
    """``x / y`` element-wise; integers divide to a float (int32 / int32 gives float64, as TensorFlow)."""
    a, b = _pair(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return wrap(np.true_divide(a, b))


truediv = divide


def divide_no_nan(x, y, name=None) -> Tensor:
    """``x / y``, 0 where ``y`` is 0."""
    a, b = _pair(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(a, b)
    return wrap(np.where(np.asarray(b) == 0, np.zeros((), dtype=out.dtype), out))


def round(x, name=None) -> Tensor:  # noqa: A001 (TensorFlow's name)
    """``x`` rounded to the nearest integer, halves to the even one (``round([0.5, 1.5, 2.5]) = [0, 2, 2]``)."""
    return wrap(np.round(convert(x)))


def sigmoid(x, name=None) -> Tensor:
    """``1 / (1 + e^-x)``."""
    from . import activations

    return wrap(activations.sigmoid(convert_float(x)))


def log_sigmoid(x, name=None) -> Tensor:
    """``log(1 / (1 + e^-x)) = -softplus(-x)``."""
    arr = convert_float(x)
    return wrap(-(np.logaddexp(0, -arr).astype(arr.dtype)))


def softplus(features, name=None) -> Tensor:
    """``ln(1 + e^x)``, computed without overflow."""
    arr = convert_float(features)
    return wrap(np.logaddexp(0, arr).astype(arr.dtype))


def add_n(inputs, name=None) -> Tensor:
    """The element-wise sum of a list of arrays of one shape."""
    arrays = [convert(x) for x in inputs]
    if not arrays:
        raise ValueError("add_n: inputs must be a non-empty list of arrays.")
    return wrap(np.sum(np.stack(arrays), axis=0, dtype=arrays[0].dtype))


def cumsum(x, axis: int = 0, exclusive: bool = False, reverse: bool = False, name=None) -> Tensor:
    """Running sums along ``axis`` (TensorFlow's default 0); ``exclusive`` leaves out each element itself."""
    arr = convert(x)
    if reverse:
        arr = np.flip(arr, axis)
    out = np.cumsum(arr, axis=axis, dtype=arr.dtype)
    if exclusive:
        out = out - arr
    return wrap(np.flip(out, axis) if reverse else out)


# ----------------------------------------------------------------------------------------------- reductions
def _axis(axis):
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)) or (isinstance(axis, np.ndarray) and axis.ndim):
        return tuple(int(a) for a in np.asarray(axis).ravel())
    return int(axis)


def reduce_sum(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``sum x`` over ``axis`` (None: every axis), in the input's dtype."""
    arr = convert(input_tensor)
    return wrap(np.sum(arr, axis=_axis(axis), keepdims=keepdims, dtype=arr.dtype if arr.dtype != bool else None))


def reduce_prod(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``prod x`` over ``axis`` (None: every axis), in the input's dtype."""
    arr = convert(input_tensor)
    return wrap(np.prod(arr, axis=_axis(axis), keepdims=keepdims, dtype=arr.dtype if arr.dtype != bool else None))


def reduce_mean(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``(1/n) sum x`` over ``axis``; for integers the mean truncated toward zero, in their dtype (TensorFlow)."""
    arr = convert(input_tensor)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.mean(arr, axis=_axis(axis), keepdims=keepdims, dtype=np.float64 if arr.dtype.kind in "biu" else None)
    if arr.dtype.kind in "iu":
        return wrap(np.trunc(mean).astype(arr.dtype))
    return wrap(np.asarray(mean, dtype=arr.dtype if arr.dtype.kind == "f" else np.float32))


def reduce_max(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``max x`` over ``axis`` (None: every axis)."""
    return wrap(np.max(convert(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_min(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``min x`` over ``axis`` (None: every axis)."""
    return wrap(np.min(convert(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_all(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    return wrap(np.all(convert(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_any(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    return wrap(np.any(convert(input_tensor), axis=_axis(axis), keepdims=keepdims))


def reduce_variance(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``(1/n) sum (x - mean)^2`` over ``axis`` (the population variance, as TensorFlow)."""
    arr = convert_float(input_tensor)
    return wrap(np.var(arr, axis=_axis(axis), keepdims=keepdims))


def reduce_std(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``sqrt(reduce_variance(x))``."""
    arr = convert_float(input_tensor)
    return wrap(np.std(arr, axis=_axis(axis), keepdims=keepdims))


def reduce_logsumexp(input_tensor, axis=None, keepdims: bool = False, name=None) -> Tensor:
    """``log sum e^x`` over ``axis``, computed as ``m + log sum e^(x - m)`` with ``m = max x`` (no overflow)."""
    arr = convert_float(input_tensor)
    ax = _axis(axis)
    m = np.max(arr, axis=ax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(arr - m), axis=ax, keepdims=True)) + m
    return wrap(out if keepdims else np.squeeze(out, axis=ax))


def argmax(input, axis=None, output_type="int64", name=None) -> Tensor:  # noqa: A002 (TensorFlow's name)
    """The index of the largest value along ``axis``: TensorFlow's default is ``axis=0`` (not NumPy's flattened
    index), the result int64 unless ``output_type="int32"``."""
    arr = convert(input)
    return wrap(np.argmax(arr, axis=0 if axis is None else int(axis)).astype(np.dtype(output_type)))


def argmin(input, axis=None, output_type="int64", name=None) -> Tensor:  # noqa: A002 (TensorFlow's name)
    """The index of the smallest value along ``axis`` (default 0, as TensorFlow), int64."""
    arr = convert(input)
    return wrap(np.argmin(arr, axis=0 if axis is None else int(axis)).astype(np.dtype(output_type)))
