"""ONNX export: a gradfit ``Sequential`` as an ONNX graph of its inference pass, for ONNX Runtime and others.

``model.export("model.onnx", format="onnx")`` writes the graph; ``to_onnx(model)`` returns it as an
``onnx.ModelProto``. The graph is built with the ``onnx`` package's own helpers (``onnx.helper``,
``onnx.numpy_helper``), one small function per layer and per activation (the tables ``LAYER_EXPORTERS`` and
``ACTIVATION_EXPORTERS``); a layer or activation without one is refused with its name.

What the graph computes, and why:

* **Inference only.** ``Dropout``, ``GaussianNoise``, ``GaussianDropout`` and ``Identity`` are the identity at
  inference and leave no node; ``BatchNormalization`` uses its moving statistics.
* **float32.** The graph's input, weights and output are float32, as Keras exports them (its ONNX export needs
  the float32 dtype policy). A float64 (or float16) model's weights are rounded (widened) to float32 once, at
  export: ONNX Runtime has no float64 kernels for half of the activations (LeakyRelu, Elu, Selu, Softplus,
  Erf, HardSigmoid, ...), and serving is float32 work.
* **Opset 17 by default** (``opset_version=`` 13 up to the installed ``onnx``'s newest): opset 17 has
  ``LayerNormalization`` and is run by every ONNX Runtime since 1.12. The graph uses the opset's own ops where it
  has them (``Gemm``, ``Softmax``, ``LayerNormalization`` from 17, ``HardSwish`` from 14, ``Mish`` from 18,
  ``Gelu`` from 20) and writes the same formula from elementary ops where it does not.
* **The same arithmetic as gradfit.** Normalisations are the affine forms gradfit computes:
  ``BatchNormalization`` is ``x * inv + shift`` with ``inv = gamma / sqrt(moving_variance + eps)`` and
  ``shift = beta - moving_mean * inv`` computed here as gradfit computes them (a ``Mul`` and an ``Add``, which
  ONNX Runtime's optimizer may fuse into the ``Gemm`` before it); ``Normalization`` is ``(x - mean) / scale``.
* **Names.** The input is named after the model's ``InputLayer`` (``input_layer``, as Keras names it), or the
  ``input_signature``'s ``name``; the output is ``output_0`` (as Keras's TensorFlow export names it). The batch
  dimension is symbolic (``batch``) unless ``input_signature`` fixes it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import registry
from ..activations import LayerActivation
from ..activations import standard as _standard
from ..layers import activation_layers as _act_layers
from ..layers.activation_layers import Activation as ActivationLayer
from ..layers.activation_layers import LeakyReLU, ReLU, Softmax
from ..layers.batch_normalization import BatchNormalization
from ..layers.dense import Dense
from ..layers.dropout import Dropout
from ..layers.flatten import Flatten
from ..layers.identity import Identity
from ..layers.input_layer import InputLayer
from ..layers.layer_normalization import LayerNormalization
from ..layers.noise import GaussianDropout, GaussianNoise
from ..layers.normalization import Normalization
from ..layers.rescaling import Rescaling

__all__ = [
    "ACTIVATION_EXPORTERS",
    "CannotExport",
    "DEFAULT_OPSET",
    "LAYER_EXPORTERS",
    "MIN_OPSET",
    "OUTPUT_NAME",
    "REFUSED_ACTIVATIONS",
    "REFUSED_LAYERS",
    "export_onnx",
    "to_onnx",
]

#: the opset written unless ``opset_version`` says otherwise (has LayerNormalization; ONNX Runtime >= 1.12)
DEFAULT_OPSET = 17
#: the oldest opset gradfit writes (Softmax over one axis, ReduceSum's axes as an input)
MIN_OPSET = 13
#: the name of the graph's output (Keras's TensorFlow export calls it so)
OUTPUT_NAME = "output_0"
#: the graph's float type (see the module's docstring)
GRAPH_DTYPE = np.dtype(np.float32)
#: registered layers that cannot be exported, with the reason (none today: every built-in layer can)
REFUSED_LAYERS: dict[str, str] = {}
#: registered activations that cannot be exported, with the reason (none today)
REFUSED_ACTIVATIONS: dict[str, str] = {}

_INSTALL = 'pip install "gradfit[onnx]"'


def _onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            f"model.export(format='onnx') needs the onnx package, which is not installed: {_INSTALL} "
            "(and onnxruntime to run the exported file)."
        ) from exc
    return onnx


class CannotExport(ValueError):
    """A layer, an activation or a setting with no ONNX equivalent (the message names the layer)."""


# ------------------------------------------------------------------------------------------- the graph under way
class _Graph:
    """Nodes and weights of the graph under construction; every helper returns the name of its output tensor."""

    def __init__(self, onnx, opset: int):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.nodes: list = []
        self.initializers: list = []
        self._taken: set[str] = set()
        self._constants: dict[tuple, str] = {}
        self.scope = "model"

    def fresh(self, hint: str) -> str:
        name, i = hint, 1
        while name in self._taken:
            name, i = f"{hint}_{i}", i + 1
        self._taken.add(name)
        return name

    def const(self, value, hint: str = "const") -> str:
        """A float32 initializer (scalars are shared: ``0.5`` is stored once)."""
        arr = np.ascontiguousarray(np.asarray(value, dtype=GRAPH_DTYPE))
        key = (arr.shape, arr.tobytes()) if arr.size == 1 else None
        if key is not None and key in self._constants:
            return self._constants[key]
        # a shared scalar is named after its value, a layer's array after the layer
        name = self.fresh(f"const_{float(arr.reshape(-1)[0]):g}" if key is not None else f"{self.scope}/{hint}")
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        if key is not None:
            self._constants[key] = name
        return name

    def int64s(self, values, hint: str) -> str:
        name = self.fresh(f"{self.scope}/{hint}")
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attrs) -> str:
        out = self.fresh(f"{self.scope}/{hint or op_type}")
        node = self.helper.make_node(op_type, list(inputs), [out], name=out, **attrs)
        self.nodes.append(node)
        return out

    def reduce(self, op_type: str, x: str, axes, keepdims: bool = True) -> str:
        """``ReduceMean`` / ``ReduceMax`` / ``ReduceSum`` over ``axes``: the axes are an input from opset 18
        (ReduceSum: 13), an attribute before."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.int64s(axes, "axes"), keepdims=int(keepdims))
        return self.op(op_type, x, axes=axes, keepdims=int(keepdims))

    def clip(self, x: str, lo, hi) -> str:
        return self.op("Clip", x, "" if lo is None else self.const(lo), "" if hi is None else self.const(hi))


# ------------------------------------------------------------------------------------------- activations
ActivationExporter = Callable[[_Graph, str], str]


def _softmax_over(g: _Graph, x: str, axes: tuple[int, ...], log: bool = False) -> str:
    """softmax (or log_softmax) over ``axes``: the opset's ``Softmax`` for one axis; for several,
    ``e = exp(x - max(x)); e / sum(e)``, gradfit's formula."""
    if len(axes) == 1:
        return g.op("LogSoftmax" if log else "Softmax", x, axis=axes[0])
    shifted = g.op("Sub", x, g.reduce("ReduceMax", x, axes))
    e = g.op("Exp", shifted)
    total = g.reduce("ReduceSum", e, axes)
    return g.op("Sub", shifted, g.op("Log", total)) if log else g.op("Div", e, total)


def _gelu(g: _Graph, x: str) -> str:
    if g.opset >= 20:
        return g.op("Gelu", x)
    # g(z) = z * 0.5 * (1 + erf(z / sqrt 2)), as gradfit evaluates it
    erf = g.op("Erf", g.op("Div", x, g.const(np.sqrt(2.0))))
    return g.op("Mul", x, g.op("Mul", g.const(0.5), g.op("Add", g.const(1.0), erf)))


def _sparse_plus(g: _Graph, x: str) -> str:
    # 0 for z <= -1, (z + 1)^2 / 4 for -1 < z < 1, z for z >= 1
    shifted = g.op("Add", x, g.const(1.0))
    inner = g.op("Mul", g.const(0.25), g.op("Mul", shifted, shifted))
    upper = g.op("Where", g.op("Less", x, g.const(1.0)), inner, x)
    return g.op("Where", g.op("LessOrEqual", x, g.const(-1.0)), g.const(0.0), upper)


def _squareplus(g: _Graph, x: str) -> str:
    root = g.op("Sqrt", g.op("Add", g.op("Mul", x, x), g.const(4.0)))
    return g.op("Mul", g.op("Add", x, root), g.const(0.5))


#: each registered activation (canonical name) as ONNX ops on the tensor ``x``
ACTIVATION_EXPORTERS: dict[str, ActivationExporter] = {
    "linear": lambda g, x: x,
    "sigmoid": lambda g, x: g.op("Sigmoid", x),
    "tanh": lambda g, x: g.op("Tanh", x),
    "relu": lambda g, x: g.op("Relu", x),
    "relu6": lambda g, x: g.clip(x, 0.0, 6.0),
    "leaky_relu": lambda g, x: g.op("LeakyRelu", x, alpha=_standard._LEAKY_SLOPE),
    "elu": lambda g, x: g.op("Elu", x, alpha=1.0),
    "selu": lambda g, x: g.op("Selu", x, alpha=_standard._SELU_ALPHA, gamma=_standard._SELU_SCALE),
    "exponential": lambda g, x: g.op("Exp", x),
    "hard_sigmoid": lambda g, x: g.op("HardSigmoid", x, alpha=1 / 6, beta=0.5),
    "softmax": lambda g, x: g.op("Softmax", x, axis=-1),
    "softplus": lambda g, x: g.op("Softplus", x),
    "softsign": lambda g, x: g.op("Softsign", x),
    "silu": lambda g, x: g.op("Mul", x, g.op("Sigmoid", x)),
    "gelu": _gelu,
    "mish": lambda g, x: g.op("Mish", x) if g.opset >= 18 else g.op("Mul", x, g.op("Tanh", g.op("Softplus", x))),
    "hard_silu": lambda g, x: (
        g.op("HardSwish", x) if g.opset >= 14 else g.op("Mul", x, g.op("HardSigmoid", x, alpha=1 / 6, beta=0.5))
    ),
    "celu": lambda g, x: g.op("Celu", x, alpha=1.0),
    "squareplus": _squareplus,
    "log_sigmoid": lambda g, x: g.op("Neg", g.op("Softplus", g.op("Neg", x))),
    "log_softmax": lambda g, x: g.op("LogSoftmax", x, axis=-1),
    "hard_tanh": lambda g, x: g.clip(x, -1.0, 1.0),
    "tanh_shrink": lambda g, x: g.op("Sub", x, g.op("Tanh", x)),
    "soft_shrink": lambda g, x: g.op("Shrink", x, bias=0.5, lambd=0.5),
    "hard_shrink": lambda g, x: g.op("Shrink", x, bias=0.0, lambd=0.5),
    "sparse_plus": _sparse_plus,
    "sparse_sigmoid": lambda g, x: g.clip(g.op("Mul", g.op("Add", x, g.const(1.0)), g.const(0.5)), 0.0, 1.0),
}


def _relu_with_options(g: _Graph, x: str, max_value, negative_slope: float, threshold: float) -> str:
    """Keras's ``relu(z, negative_slope, max_value, threshold)`` as gradfit's ``relu_activation`` computes it:
    ``clip(z if z > threshold else 0, 0, max_value) - negative_slope * max(threshold - z, 0)``."""
    slope, thr = float(negative_slope), float(threshold)
    if max_value is None and slope == 0 and thr == 0:
        return g.op("Relu", x)
    if max_value is None and thr == 0:
        return g.op("LeakyRelu", x, alpha=slope)
    if thr != 0:
        out = g.op("Where", g.op("Greater", x, g.const(thr)), x, g.const(0.0))
    elif max_value == 6:
        out = g.clip(x, 0.0, 6.0)
    else:
        out = g.op("Relu", x)
    if max_value is not None and not (thr == 0 and max_value == 6):
        out = g.clip(out, 0.0, float(max_value))
    if slope:
        below = g.op("Relu", g.op("Sub", g.const(thr), x))
        out = g.op("Sub", out, g.op("Mul", g.const(slope), below))
    return out


def _describe(act) -> str:
    return repr(getattr(act, "__name__", act))


def _emit_activation(g: _Graph, act, x: str, rank: int, where: str) -> str:
    """``act`` applied to ``x`` (of rank ``rank``); ``where`` names the layer for messages."""
    if isinstance(act, LayerActivation):  # an activation layer object given as activation=
        return _emit_activation(g, act.layer.activation, x, rank, f"{where}, through its activation layer")
    factory = getattr(act, "_factory", None)
    if factory is _act_layers.relu_activation:
        return _relu_with_options(g, x, *act._args)
    if factory is _act_layers.leaky_relu_activation:
        return g.op("LeakyRelu", x, alpha=float(act._args[0]))
    if factory is _act_layers.softmax_activation:
        axes = _act_layers._normalize_axes(act._args[0], rank, where)
        return _softmax_over(g, x, axes)
    entry = registry.ACTIVATIONS.entry(act)
    if entry is None or entry.obj is not act:
        raise CannotExport(
            f"model.export(format='onnx'): {where} has the activation {_describe(act)}, a function of your own "
            "(gradfit.activations.custom, or an Activation object that is not registered), which has no ONNX "
            "equivalent gradfit knows. Use one of gradfit's activations "
            f"({registry.ACTIVATIONS.known()}) or an activation layer for the exported model."
        )
    if entry.name in REFUSED_ACTIVATIONS:
        raise CannotExport(
            f"model.export(format='onnx'): {where} has the activation {entry.name!r}, which cannot be exported: "
            f"{REFUSED_ACTIVATIONS[entry.name]}."
        )
    exporter = ACTIVATION_EXPORTERS.get(entry.name)
    if exporter is None:
        raise CannotExport(
            f"model.export(format='onnx'): {where} has the activation {entry.name!r}, which gradfit cannot export "
            "to ONNX yet."
        )
    return exporter(g, x)


# ------------------------------------------------------------------------------------------- layers
LayerExporter = Callable[[_Graph, object, str, tuple], str]


def _where(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def _dense(g: _Graph, layer: Dense, x: str, shape: tuple) -> str:
    kernel = g.const(np.asarray(layer.kernel), "kernel")
    bias = [g.const(np.asarray(layer.bias), "bias")] if layer.use_bias else []
    if len(shape) == 2:
        z = g.op("Gemm", x, kernel, *bias, hint="z")
    else:  # Dense acts on the last axis; the other axes are a batch of examples
        z = g.op("MatMul", x, kernel, hint="xW")
        if bias:
            z = g.op("Add", z, bias[0], hint="z")
    return _emit_activation(g, layer.activation, z, len(shape), _where(layer))


def _batch_normalization(g: _Graph, layer: BatchNormalization, x: str, shape: tuple) -> str:
    # inference: y = x * inv + shift, inv = gamma / sqrt(moving_variance + eps), shift = beta - moving_mean * inv,
    # computed in the model's float type exactly as the layer's forward pass computes them
    bshape = layer._bshape
    mean = np.asarray(layer.moving_mean).reshape(bshape)
    var = np.asarray(layer.moving_variance).reshape(bshape)
    rstd = 1 / np.sqrt(var + var.dtype.type(layer.epsilon))
    inv = rstd * np.asarray(layer.gamma).reshape(bshape) if layer.scale else rstd
    shift = np.asarray(layer.beta).reshape(bshape) - mean * inv if layer.center else -mean * inv
    return g.op("Add", g.op("Mul", x, g.const(inv, "inv")), g.const(shift, "shift"), hint="y")


def _normalization(g: _Graph, layer: Normalization, x: str, shape: tuple) -> str:
    mean = g.const(np.asarray(layer.mean).reshape(layer._broadcast[1:]), "mean")
    scale = g.const(layer._scale(), "scale")  # max(sqrt(variance), epsilon), the layer's own
    if layer.invert:
        return g.op("Add", mean, g.op("Mul", x, scale), hint="y")
    return g.op("Div", g.op("Sub", x, mean), scale, hint="y")


def _layer_normalization(g: _Graph, layer: LayerNormalization, x: str, shape: tuple) -> str:
    axes, rank = tuple(layer._norm_axes), len(shape)
    gamma = None if layer.gamma is None else np.asarray(layer.gamma).reshape(layer._bshape)
    beta = None if layer.beta is None else np.asarray(layer.beta).reshape(layer._bshape)
    trailing = axes == tuple(range(rank - len(axes), rank))
    if g.opset >= 17 and trailing and not layer.rms_scaling:
        first = rank - len(axes)
        weight_shape = layer._bshape[first:]
        scale = g.const(np.ones(weight_shape) if gamma is None else gamma.reshape(weight_shape), "gamma")
        inputs = [x, scale] + ([] if beta is None else [g.const(beta.reshape(weight_shape), "beta")])
        return g.op("LayerNormalization", *inputs, axis=first, epsilon=float(layer.epsilon), hint="y")
    # the layer's own formula: mu, var over the axes; y = x * inv + (beta - mu * inv), inv = gamma / sqrt(var + eps)
    mean = g.reduce("ReduceMean", x, axes)
    centred = g.op("Sub", x, mean)
    var = g.reduce("ReduceMean", g.op("Mul", centred, centred), axes)
    rstd = g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, g.const(layer.epsilon))), hint="rstd")
    if layer.rms_scaling:  # Keras's deprecated variant: x / sqrt(var + eps), scaled, not centred
        y = g.op("Mul", x, rstd)
        return y if gamma is None else g.op("Mul", y, g.const(gamma, "gamma"), hint="y")
    inv = rstd if gamma is None else g.op("Mul", rstd, g.const(gamma, "gamma"), hint="inv")
    shift = g.op("Neg", g.op("Mul", mean, inv))
    if beta is not None:
        shift = g.op("Add", shift, g.const(beta, "beta"), hint="shift")
    return g.op("Add", g.op("Mul", x, inv), shift, hint="y")


def _rescaling(g: _Graph, layer: Rescaling, x: str, shape: tuple) -> str:
    y = g.op("Mul", x, g.const(layer.scale, "scale"))
    if np.any(np.asarray(layer.offset) != 0) or np.shape(layer.offset) != ():
        y = g.op("Add", y, g.const(layer.offset, "offset"), hint="y")
    return y


def _flatten(g: _Graph, layer: Flatten, x: str, shape: tuple) -> str:
    if layer._channels_first and len(shape) > 2:  # the channels move last first, as Keras's Flatten does
        x = g.op("Transpose", x, perm=[0, *range(2, len(shape)), 1])
    return g.op("Flatten", x, axis=1, hint="y")


def _activation_layer(g: _Graph, layer, x: str, shape: tuple) -> str:
    return _emit_activation(g, layer.activation, x, len(shape), _where(layer))


def _passes_through(g: _Graph, layer, x: str, shape: tuple) -> str:
    return x  # the identity at inference: no node


#: each built-in layer class as ONNX ops on its input ``x`` (of the static shape ``shape``)
LAYER_EXPORTERS: dict[type, LayerExporter] = {
    Dense: _dense,
    BatchNormalization: _batch_normalization,
    Normalization: _normalization,
    LayerNormalization: _layer_normalization,
    Rescaling: _rescaling,
    Flatten: _flatten,
    ActivationLayer: _activation_layer,
    ReLU: _activation_layer,
    LeakyReLU: _activation_layer,
    Softmax: _activation_layer,
    Dropout: _passes_through,
    GaussianNoise: _passes_through,
    GaussianDropout: _passes_through,
    Identity: _passes_through,
    InputLayer: _passes_through,  # never in model.layers; listed so that every registered layer is covered
}


# ------------------------------------------------------------------------------------------- the model
def _opset(opset_version, onnx) -> int:
    newest = onnx.defs.onnx_opset_version()
    if opset_version is None:
        return DEFAULT_OPSET
    if isinstance(opset_version, bool) or not isinstance(opset_version, numbers.Integral):
        raise TypeError(f"model.export: opset_version must be an integer, got {opset_version!r}.")
    if not MIN_OPSET <= int(opset_version) <= newest:
        raise ValueError(
            f"model.export: opset_version={opset_version} is out of range: gradfit writes opsets {MIN_OPSET} to "
            f"{newest} (the newest the installed onnx {onnx.__version__} knows); the default is {DEFAULT_OPSET}."
        )
    return int(opset_version)


def _input_spec(model, input_signature) -> tuple[tuple, str]:
    """The graph input's shape (batch first, None where symbolic) and name, from the model or the signature."""
    shape = tuple(model.input_shape)
    first = model._layers[0] if model._layers else None
    name = first.name if isinstance(first, InputLayer) else "input_layer"  # as Keras names a Sequential's input
    if input_signature is None:
        return (None,) + shape[1:], name
    specs = input_signature
    if isinstance(specs, (list, tuple)) and not _is_shape(specs):
        if len(specs) != 1:
            raise ValueError(
                f"model.export: input_signature must describe the model's one input, got {len(specs)} specs."
            )
        specs = specs[0]
    spec = specs
    if isinstance(spec, np.ndarray):  # a tensor: its shape with a free batch dimension, as Keras takes it
        given, dtype, spec_name = (None,) + spec.shape[1:], spec.dtype, None
    elif hasattr(spec, "shape"):
        given, dtype, spec_name = spec.shape, getattr(spec, "dtype", None), getattr(spec, "name", None)
    else:
        raise TypeError(
            "model.export: input_signature must be an InputSpec-like object (with shape, and optionally dtype and "
            f"name), a tf.TensorSpec, a KerasTensor or an array, or a list of one of them; got {spec!r}."
        )
    given = tuple(None if d is None else int(d) for d in given)
    if len(given) != len(shape) or any(m is not None and d != m for d, m in zip(given[1:], shape[1:])):
        raise ValueError(
            f"model.export: input_signature has the shape {given}, which does not fit the model's input shape "
            f"{shape} (the batch dimension may be None or a number)."
        )
    try:
        dtype = None if dtype is None else np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    except TypeError:
        pass  # a dtype NumPy does not know (bfloat16): not float32, refused below
    if dtype is not None and dtype != GRAPH_DTYPE:
        raise ValueError(
            f"model.export: input_signature has dtype {dtype}, but gradfit's ONNX graphs are float32 (as Keras's): "
            "ONNX Runtime lacks float64 kernels for many activations. Give dtype='float32' or none."
        )
    return given, spec_name or name


def _is_shape(value) -> bool:
    return all(d is None or isinstance(d, numbers.Integral) for d in value)


def _dims(shape: tuple, prefix: str) -> list:
    """ONNX dims: numbers, ``batch`` for a free batch (the same for input and output), ``<prefix>_dim_<i>`` for
    another free dimension (distinct names: equal names would claim equal sizes)."""
    return [
        "batch" if i == 0 and d is None else f"{prefix}_dim_{i}" if d is None else int(d) for i, d in enumerate(shape)
    ]


def to_onnx(model, input_signature=None, opset_version: int | None = None):
    """The ``onnx.ModelProto`` of ``model``'s inference pass (what ``model.export(format="onnx")`` writes).

    Raises ``ValueError`` naming the layer (and its activation) that has no ONNX equivalent, ``ImportError``
    naming ``pip install "gradfit[onnx]"`` when the onnx package is missing.
    """
    onnx = _onnx()
    opset = _opset(opset_version, onnx)
    if not model.built:
        raise ValueError(
            f"model.export: the model {model.name!r} has not been built yet, so it has no weights to export; build "
            "it first (model.build((None, n_features)), an Input(shape=...) as its first layer, or a first fit or "
            "predict)."
        )
    layers = model.layers
    for layer in layers:  # every refusal before any work
        reason = REFUSED_LAYERS.get(type(layer).__name__)
        if reason is not None:
            raise CannotExport(f"model.export(format='onnx'): {_where(layer)} cannot be exported: {reason}.")
        if type(layer) not in LAYER_EXPORTERS:
            raise CannotExport(
                f"model.export(format='onnx'): {_where(layer)} is not one of gradfit's built-in layers, and gradfit "
                "knows no ONNX ops for it. Exportable layers: "
                f"{', '.join(sorted(cls.__name__ for cls in LAYER_EXPORTERS))}."
            )
    input_shape, input_name = _input_spec(model, input_signature)
    g = _Graph(onnx, opset)
    g._taken.update({input_name, OUTPUT_NAME})
    x, shape = input_name, (None,) + tuple(model.input_shape)[1:]
    for layer in layers:
        g.scope = layer.name
        x = LAYER_EXPORTERS[type(layer)](g, layer, x, shape)
        shape = layer.compute_output_shape(shape)
    # the last tensor becomes the output: renamed in its node, or an Identity when no node made it
    if g.nodes and g.nodes[-1].output[0] == x:
        g.nodes[-1].output[0] = OUTPUT_NAME
    else:
        g.scope = "model"
        g.nodes.append(onnx.helper.make_node("Identity", [x], [OUTPUT_NAME], name="model/output"))
    output_shape = list(shape)
    if input_shape[0] is not None:
        output_shape[0] = input_shape[0]
    elem = onnx.helper.np_dtype_to_tensor_dtype(GRAPH_DTYPE)
    graph = onnx.helper.make_graph(
        g.nodes,
        model.name,
        [onnx.helper.make_tensor_value_info(input_name, elem, _dims(input_shape, "input"))],
        [onnx.helper.make_tensor_value_info(OUTPUT_NAME, elem, _dims(tuple(output_shape), "output"))],
        initializer=g.initializers,
        doc_string=f"gradfit Sequential {model.name!r}: inference pass (float32, opset {opset})",
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    from .. import __version__

    proto = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="gradfit",
        producer_version=__version__,
        # the oldest IR version of the opset: older runtimes load the file
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    return proto


def export_onnx(model, filepath, verbose=None, input_signature=None, opset_version=None, **kwargs) -> None:
    """Write ``model``'s inference pass to ``filepath`` as an ONNX graph (``model.export(..., format="onnx")``).

    Parameters
    ----------
    filepath : str or pathlib.Path
        Where to write the graph (conventionally ``*.onnx``).
    verbose : bool, optional
        Print ``Saved artifact at '<filepath>'.``, as Keras does; None means True (Keras's default for ONNX).
    input_signature : InputSpec-like, array, or a list of one, optional
        The input's shape (batch dimension None for a symbolic one, or a number to fix it), dtype (float32 or
        None) and name; default: the model's input shape with a symbolic batch, named after its InputLayer.
    opset_version : int, optional
        The ONNX opset, from 13 to the installed onnx's newest; default 17.
    """
    if kwargs:
        raise TypeError(
            f"model.export(format='onnx'): unexpected arguments {sorted(kwargs)}; the ONNX export takes verbose, "
            "input_signature and opset_version."
        )
    if verbose is not None and not isinstance(verbose, (bool, numbers.Integral)):
        raise TypeError(f"model.export: verbose must be True, False or None, got {verbose!r}.")
    if not isinstance(filepath, (str, Path)):
        raise TypeError(f"model.export: filepath must be a str or pathlib.Path, got {filepath!r}.")
    proto = to_onnx(model, input_signature=input_signature, opset_version=opset_version)
    _onnx().save_model(proto, str(filepath))
    if verbose is None or verbose:
        print(f"Saved artifact at '{filepath}'.")
