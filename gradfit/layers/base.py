"""The ``Layer`` base class: weights, building, and the forward/backward contract.

A layer owns its forward pass and its backward pass:

* ``forward(x, training)`` returns the layer's output and keeps what the backward pass will need;
* ``backward(dy)`` takes ``dJ/dy`` for that output, stores the gradients of the layer's trainable
  weights in ``grad_<name>`` arrays beside the weights, and returns ``dJ/dx``.

Weights are plain NumPy arrays held as attributes (``layer.kernel``, ``layer.bias``). Once a layer is
inside a built model, these arrays are views into the model's one flat parameter vector (see
``parameters.py``). Assigning to a weight (``layer.kernel = W``, or ``layer.grad_kernel = …``) copies the
values into that array, checking the shape (and, for a weight, that every value is finite); it never rebinds
the attribute, so the model and the layer cannot silently part.
"""

from __future__ import annotations

import numpy as np

from .. import backend, parameters, registry
from ..regularizers import Regularizer
from ..schema import Bool, DType, Int, Name, Off, Optional, Schema
from ..schema import Shape as ShapeField
from ..tensor import SymbolicTensor, Tensor
from ._config import standardize_config

Shape = tuple


class WeightSpec:
    """What a layer declared about one of its weights (a plain class: dataclasses cost import time)."""

    __slots__ = ("name", "shape", "trainable", "regularizer")

    def __init__(self, name: str, shape: tuple, trainable: bool, regularizer: Regularizer | None = None):
        self.name, self.shape, self.trainable, self.regularizer = name, tuple(shape), trainable, regularizer


class Layer:
    """Base class of all layers.

    Parameters
    ----------
    name : str, optional
        Defaults to the snake-case class name made unique (``dense``, ``dense_1`` …), as Keras does.
    trainable : bool
        Whether ``fit`` updates this layer's weights.
    dtype : str, optional
        Float type of the weights; defaults to ``gradfit.keras.backend.floatx()`` when built.
    input_shape, input_dim :
        Keras 2's way of declaring the input size on a first layer; ``input_dim=n`` means ``(n,)``.
    """

    #: the config entries every layer accepts (each layer extends it with ``Schema({...}, base=Layer.config_schema)``)
    config_schema = Schema(
        {
            "name": Optional(Name()),
            "trainable": Bool(True),
            "dtype": DType(None),
            "input_shape": Optional(ShapeField(batch=False)),
            "batch_input_shape": Optional(ShapeField()),
            "input_dim": Optional(Int(lo=1)),
            "autocast": Bool(True),
            "activity_regularizer": Off(),
        }
    )

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}.")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without '/', got {name!r}.")
        self.name = name or backend.unique_name(registry.snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = str(np.dtype(dtype)) if dtype is not None else None
        self.built = False
        self._specs: list[WeightSpec] = []
        self._input_shape_arg: tuple | None = None
        if batch_input_shape is not None:
            self._input_shape_arg = tuple(batch_input_shape)
        elif input_shape is not None:
            self._input_shape_arg = (None,) + tuple(input_shape)
        elif input_dim is not None:
            self._input_shape_arg = (None, int(input_dim))
        self.input_shape: tuple | None = None
        self.output_shape: tuple | None = None
        #: set by the training loop: the first trainable layer need not compute dJ/dx
        self.skip_input_grad = False

    # ----------------------------------------------------------------- to be written by each layer
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension first, may be None)."""
        self._finish_build(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def fuses_with(self, loss) -> bool:
        """Whether ``loss``, as this output layer's, is computed from the layer's logits ``z``: the loss undoes
        the layer's ``activation`` exactly (``loss.logits_activation``: sigmoid for the binary cross-entropy,
        softmax for the categorical ones), as TensorFlow's Keras computes it. Such a layer keeps ``z`` and
        ``a = g(z)`` of its last forward pass and has ``backward_from_logits(dz)``."""
        act = getattr(self, "activation", None)
        wanted = getattr(loss, "logits_activation", None)
        return (
            wanted is not None
            and act is not None
            and getattr(act, "__name__", None) == wanted
            and hasattr(self, "backward_from_logits")
        )

    def keras_weights(self, input_shape: Shape) -> list[tuple[str, tuple, bool, str]]:
        """The weights ``build(input_shape)`` would create, predicted without allocating anything:
        ``[(attribute, shape, trainable, dtype)]`` in Keras's variable order (the safe loader checks a file's
        weights against this before any model is built)."""
        return []

    def describe(self, inp: str, out: str, index: int) -> dict:
        """How ``model.explain()`` shows this layer, in the course's notation (the layer is built).

        ``inp`` names the layer's input (``"X"`` or ``"a[2]"``), ``out`` its output (``"a[3]"``), ``index`` its
        number ``l`` in the model, which its weights carry (``W[3]``, ``gamma[3]``). Returns a dict of:

        * ``"forward"``: lines computing ``out`` from ``inp`` (the first one is shown with the shapes);
        * ``"backward"``: lines computing ``d<weight>`` and ``d<inp>`` from ``d<out>`` (``dv`` means ``dJ/dv``);
        * ``"weights"``: one ``"W[3] (25,15)"`` per weight, ``"(not trained)"`` after those ``fit`` leaves alone;
        * optionally ``"note"`` (shown after the layer's name), ``"shapes"`` (shown before ``->``; default the
          input's shape) and ``"from_logits"`` (the backward lines when a loss fused with this output layer
          supplies ``dJ/dz``).

        This default shows the layer as a function of its input; every built-in layer writes its own formulas.
        """
        from ..explain import weight_list

        what = type(self).__name__
        return {
            "forward": [f"{out} = {what}({inp})"],
            "backward": [f"d{inp} = the backward pass of {what} applied to d{out}"],
            "weights": weight_list(self, index),
        }

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype or backend.floatx()}
        if self._input_shape_arg is not None:
            config["batch_input_shape"] = list(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config: dict):
        """The layer a config describes: gradfit's own, or Keras 3's (whose dtype is a ``DTypePolicy`` dict)."""
        return cls(**standardize_config(config))

    # ----------------------------------------------------------------- weights
    def add_weight(
        self,
        name: str,
        shape: tuple,
        initializer,
        regularizer: Regularizer | None = None,
        trainable: bool = True,
        dtype=None,
    ) -> np.ndarray:
        if getattr(self, name, None) is not None:  # build would replace it without a word
            raise AttributeError(
                f"Layer {self.name!r}: {name!r} was assigned before the layer was built, but a layer creates its "
                "weights when it is built (model.build(input_shape), or its first call on data); assign to it "
                "after that, or pass an initializer (e.g. kernel_initializer=Constant(...))."
            )
        self.dtype = self.dtype or backend.floatx()
        # the layer's own array (an initializer may hand out one it keeps): binding the layer into a model
        # makes it read-only, so that a reference kept to it cannot be written as if it were still the weight
        value = np.array(initializer(shape, dtype=dtype or self.dtype))
        self._specs.append(WeightSpec(name, tuple(shape), trainable, regularizer))
        parameters.declare(type(self), name)  # from now on, assigning to `name` copies into the weight
        parameters.replace(self, name, value)
        if trainable:
            parameters.replace(self, "grad_" + name, np.zeros_like(value))
        return value

    def _finish_build(self, input_shape: Shape) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def _ensure_built(self, input_shape: Shape) -> None:
        if not self.built:
            self.build(tuple(input_shape))

    @property
    def trainable_specs(self) -> list[WeightSpec]:
        return [s for s in self._specs if s.trainable and self.trainable]

    @property
    def non_trainable_specs(self) -> list[WeightSpec]:
        return [s for s in self._specs if not (s.trainable and self.trainable)]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [getattr(self, s.name) for s in self.trainable_specs]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [getattr(self, s.name) for s in self.non_trainable_specs]

    @property
    def weights(self) -> list[np.ndarray]:
        """Trainable weights first, then the others, as Keras orders them."""
        return [getattr(self, s.name).view(Tensor) for s in self.trainable_specs + self.non_trainable_specs]

    @property
    def gradients(self) -> list[np.ndarray]:
        """dJ/dw for each trainable weight, as computed by the last backward pass."""
        return [getattr(self, "grad_" + s.name) for s in self.trainable_specs]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.weights]

    def set_weights(self, weights, *, check_finite: bool = True) -> None:
        """Copy ``weights`` (in ``get_weights`` order) into the layer, checking every shape first.

        ``check_finite=False`` restores values the model itself held (EarlyStopping's best weights of a run that
        diverged), NaN included, as Keras does."""
        specs = self.trainable_specs + self.non_trainable_specs
        weights = list(weights)
        if len(weights) != len(specs):
            raise ValueError(
                f"Layer {self.name!r} expects {len(specs)} weight arrays "
                f"({', '.join(s.name for s in specs) or 'none'}), got {len(weights)}."
            )
        arrays = []
        for spec, w in zip(specs, weights):
            w = np.asarray(w)
            if w.shape != tuple(spec.shape):
                raise ValueError(
                    f"Layer {self.name!r}: weight {spec.name!r} has shape {tuple(spec.shape)}, "
                    f"but the value given has shape {w.shape}."
                )
            if w.dtype.kind not in "fiu" or (check_finite and not np.isfinite(w).all()):
                raise ValueError(f"Layer {self.name!r}: weight {spec.name!r} must be finite numbers.")
            arrays.append(w)
        for spec, w in zip(specs, arrays):
            getattr(self, spec.name)[...] = w

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so it has no weights to count; call it on data first."
            )
        return int(sum(np.prod(s.shape, dtype=np.int64) for s in self._specs))

    def regularization_penalty(self) -> float:
        """The penalties of the trainable weights (as Keras: a frozen weight's regularizer adds nothing)."""
        return sum(self.losses)

    @property
    def losses(self) -> list[float]:
        return [s.regularizer.penalty(getattr(self, s.name)) for s in self.trainable_specs if s.regularizer]

    # ----------------------------------------------------------------- calling on data
    def __call__(self, x, training: bool = False):
        if isinstance(x, SymbolicTensor):
            self._ensure_built(x.shape)
            return SymbolicTensor(self.compute_output_shape(x.shape), name=self.name)
        if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
            x = x.numpy()
        x = np.asarray(x)
        if x.dtype != np.dtype(self.dtype or backend.floatx()):
            x = x.astype(self.dtype or backend.floatx())
        self._ensure_built((None,) + x.shape[1:])
        with np.errstate(over="ignore", under="ignore"):
            return self.forward(x, training=training).view(Tensor)

    @property
    def output(self) -> SymbolicTensor:
        if self.output_shape is None:
            raise AttributeError(f"Layer {self.name!r} has no defined output yet: build the model first.")
        return SymbolicTensor(self.output_shape, name=self.name)

    @property
    def input(self) -> SymbolicTensor:
        if self.input_shape is None:
            raise AttributeError(f"Layer {self.name!r} has no defined input yet: build the model first.")
        return SymbolicTensor(self.input_shape, name=self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"
