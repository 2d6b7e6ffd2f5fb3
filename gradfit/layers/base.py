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

from .. import backend, parameters, registry, regularizers
from ..constraints import Constraint
from ..regularizers import Regularizer
from ..schema import Bool, DType, Int, Name, Object, Optional, Schema
from ..schema import Shape as ShapeField
from ..tensor import SymbolicTensor, Tensor, Variable
from ._config import standardize_config

Shape = tuple


def _batch_divisor(out: np.ndarray) -> int:
    """Keras 3 divides an activity penalty by the batch size ``out.shape[0]`` (``divide_no_nan``: an empty batch
    and a 0-d output are not divided)."""
    return out.shape[0] if out.ndim and out.shape[0] else 1


class WeightSpec:
    """What a layer declared about one of its weights (a plain class: dataclasses cost import time)."""

    __slots__ = ("name", "shape", "trainable", "regularizer", "constraint")

    def __init__(
        self,
        name: str,
        shape: tuple,
        trainable: bool,
        regularizer: Regularizer | None = None,
        constraint: Constraint | None = None,
    ):
        self.name, self.shape, self.trainable, self.regularizer = name, tuple(shape), trainable, regularizer
        #: projected after every optimizer update (``constraint.apply(weight)``), as Keras's optimizer does
        self.constraint = constraint


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
    autocast : bool
        Accepted and without effect, as in Keras without mixed precision: Keras's autocast scope only acts under
        a mixed policy (``"mixed_float16"``, which gradfit refuses), and in ``fit`` / ``evaluate`` / ``predict``
        the data already arrive in the model's float type (Keras's data adapter casts them to ``floatx()``).
    activity_regularizer : Regularizer, optional
        A penalty on the layer's output ``a`` added to the cost, as Keras 3 adds it: ``R(a) / m`` for a batch
        of ``m`` examples (``R`` sums over the whole batch; Keras divides by the batch size), in training and in
        evaluation. Each forward pass stores it in ``layer.activity_penalty``; the backward pass adds its
        gradient ``R'(a) / m`` to ``dJ/da``.
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
            "activity_regularizer": Object("regularizer", None),
        }
    )

    def __init__(self, name: str | None = None, trainable: bool = True, dtype=None, **kwargs):
        activity_regularizer = kwargs.pop("activity_regularizer", None)
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
        if dtype is not None:  # a float type (a mixed policy is refused), also for layers that pass it through
            dtype = Layer.config_schema.fields["dtype"].check(dtype, type(self).__name__, "dtype")
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
        self.activity_regularizer = activity_regularizer  # the property installs the penalty's wrappers

    # ----------------------------------------------------------------- the activity penalty
    @property
    def activity_regularizer(self) -> Regularizer | None:
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value) -> None:
        """Set (or, with None, remove) the penalty on the layer's output. With one, ``forward`` and ``backward``
        become this instance's wrappers below; without, they stay the class's own: nothing is paid per call."""
        reg = regularizers.get(value)
        self._activity_regularizer = reg
        #: ``R(a) / m`` of the last forward pass (0.0 without a regularizer); the loops add it to the loss
        self.activity_penalty = 0.0
        self._activity_output = None
        if reg is None:
            self.__dict__.pop("forward", None)
            self.__dict__.pop("backward", None)
        else:
            self.forward = self._forward_with_activity_penalty
            self.backward = self._backward_with_activity_penalty

    def _forward_with_activity_penalty(self, x, training: bool = False):
        out = type(self).forward(self, x, training)
        self._activity_output = out
        self.activity_penalty = self._activity_regularizer.penalty(out) / _batch_divisor(out)
        return out

    def _activity_gradient(self) -> np.ndarray:
        """``dR/da / m`` at the output of the last forward pass (the gradient of ``activity_penalty``)."""
        out = self._activity_output
        if out is None:
            raise RuntimeError(f"Layer {self.name!r}: backward called before any forward pass.")
        grad = np.zeros_like(out)
        self._activity_regularizer.add_grad(out, grad)
        grad /= out.dtype.type(_batch_divisor(out))
        return grad

    def _backward_with_activity_penalty(self, dy):
        return type(self).backward(self, dy + self._activity_gradient())

    def _activity_gradient_wrt_logits(self) -> np.ndarray | None:
        """For an output layer fused with its loss (``backward_from_logits``): ``dR/dz = dR/da * g'(z)``, the
        activity penalty's gradient carried through the layer's activation; None without a regularizer."""
        if self._activity_regularizer is None:
            return None
        grad = self._activity_gradient()
        return self.activation.backward(self.z, self.a, grad.reshape(self.a.shape))

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
        if self._activity_regularizer is not None:  # Keras writes it only when set
            config["activity_regularizer"] = regularizers.serialize(self._activity_regularizer)
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
        constraint: Constraint | None = None,
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
        value = parameters.new_weight(self, name, shape, dtype or self.dtype, initializer, trainable)
        self._specs.append(WeightSpec(name, tuple(shape), trainable, regularizer, constraint))
        parameters.declare(type(self), name)  # from now on, assigning to `name` copies into the weight
        parameters.replace(self, name, value)
        if trainable:
            parameters.replace(self, "grad_" + name, parameters.new_gradient(value))
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
    def trainable_weights(self) -> list[Variable]:
        """The weights ``fit`` updates, as Keras 3 ``Variable`` views (see :attr:`weights`)."""
        return self._variables(self.trainable_specs)

    @property
    def non_trainable_weights(self) -> list[Variable]:
        """The weights ``fit`` leaves alone (frozen, or statistics such as Normalization's), as ``Variable`` views."""
        return self._variables(self.non_trainable_specs)

    @property
    def weights(self) -> list[Variable]:
        """Trainable weights first, then the others, as Keras orders them: each a :class:`~gradfit.tensor.Variable`,
        a view of the weight (writing into it writes the weight) printed as Keras 3 prints its variables, with
        ``path`` (``my_model/dense_2/kernel`` for a layer a model built, ``dense/kernel`` for one built on its own),
        ``name``, ``trainable``, ``numpy()`` and ``assign(value)``."""
        return self._variables(self.trainable_specs + self.non_trainable_specs)

    def _variables(self, specs: list[WeightSpec]) -> list[Variable]:
        # Keras fixes a variable's path when it is created: under the model's name when a model built the layer
        # (`_keras_path_prefix`, set by the model), the layer's name alone when it was built on its own ("")
        prefix = getattr(self, "_keras_path_prefix", None)
        base = f"{prefix}/{self.name}" if prefix else self.name
        # a frozen layer's weights read trainable=False, as Keras's layer.trainable setter sets its variables'
        trainable = self.trainable
        return [
            Variable.of(getattr(self, s.name), f"{base}/{s.name}", s.trainable and trainable, self, s.name)
            for s in specs
        ]

    @property
    def gradients(self) -> list[np.ndarray]:
        """dJ/dw for each trainable weight, as computed by the last backward pass."""
        return [getattr(self, "grad_" + s.name) for s in self.trainable_specs]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.weights]

    def set_weights(self, weights, *, check_finite: bool = True) -> None:
        """Copy ``weights`` (in ``get_weights`` order) into the layer, checking every one first (shape, numbers,
        finite, within the weight's dtype range): on error nothing is changed.

        ``check_finite=False`` restores values the model itself held (EarlyStopping's best weights of a run that
        diverged), NaN included, as Keras does."""
        for (_, name), w in self._checked_weights(weights, check_finite):
            getattr(self, name)[...] = w

    def _checked_weights(self, weights, check_finite: bool = True) -> list[tuple[tuple, np.ndarray]]:
        """``[((layer, weight name), checked array)]`` for ``set_weights``, every array checked, none assigned."""
        specs = self.trainable_specs + self.non_trainable_specs
        weights = list(weights)
        if len(weights) != len(specs):
            raise ValueError(
                f"Layer {self.name!r} expects {len(specs)} weight arrays "
                f"({', '.join(s.name for s in specs) or 'none'}), got {len(weights)}."
            )
        checked = []
        for spec, w in zip(specs, weights):
            arr = parameters.checked_value(self, spec.name, getattr(self, spec.name), w, check_finite)
            checked.append(((self, spec.name), arr))
        return checked

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
        """The weight penalties, then the activity penalty of the last call (Keras lists both)."""
        out = [s.regularizer.penalty(getattr(self, s.name)) for s in self.trainable_specs if s.regularizer]
        if self.activity_regularizer is not None and getattr(self, "activity_penalty", None) is not None:
            out.append(self.activity_penalty)
        return out

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
        if not self.built and getattr(self, "_keras_path_prefix", None) is None:
            self._keras_path_prefix = ""  # built on its own, not by a model: its weights' paths are `dense/kernel`
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
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"  # Keras 3's
