"""``Sequential``: a stack of layers, ``f(x) = layer_L(... layer_2(layer_1(x)))``, with Keras's model API.

The three steps of the course map to three calls:

1. ``Sequential([...])`` says how to compute ``f(x)`` from the weights ``W, b`` of each layer;
2. ``compile(loss=…)`` says which loss ``L`` to average into the cost ``J``;
3. ``fit(X, y)`` minimises ``J`` by backpropagation and gradient descent (see ``training.py``).

Once built, all trainable weights live in one flat vector (``model.parameters``) and their gradients in
another (``model.parameter_gradients``); each layer's ``kernel`` and ``bias`` are views into them.
"""

from __future__ import annotations

import numpy as np

from . import advice, backend, losses, optimizers, training
from . import metrics as metrics_module
from .layers.base import Layer
from .layers.input_layer import InputLayer
from .tensor import SymbolicTensor, Tensor

__all__ = ["Sequential"]


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        May start with ``Input(shape=…)`` (or an ``InputLayer``) to fix the input size up front.
    name : str, optional
        Defaults to ``sequential``, ``sequential_1`` …
    """

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None):
        self.name = name or backend.unique_name("sequential")
        self.trainable = trainable
        self._layers: list[Layer] = []
        self.built = False
        self.optimizer: optimizers.Optimizer | None = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.parameters: np.ndarray | None = None
        self.parameter_gradients: np.ndarray | None = None
        self._bound_signature: tuple | None = None
        self._metric_ids: list = []
        self.compiled_metrics: list[metrics_module.Metric] = []
        self._metrics_shapes: tuple | None = None
        if layers is not None:
            if isinstance(layers, (Layer, SymbolicTensor)):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    # ----------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        """The layers in order (an ``Input`` is not one of them, as in Keras)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer) -> None:
        if isinstance(layer, SymbolicTensor):
            if layer._input_layer is None:
                raise ValueError(
                    "Sequential.add: only the result of Input(shape=…) can be added, not a layer's output."
                )
            layer = layer._input_layer
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: expected a layer such as Dense(units=25), "
                f"got {layer!r} of type {type(layer).__name__}."
            )
        if isinstance(layer, InputLayer) and self._layers:
            raise ValueError("Sequential.add: an Input or InputLayer can only be the first layer of the model.")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"Sequential.add: the model already has a layer named {layer.name!r}; layer names must be unique."
            )
        self._layers.append(layer)
        self._unbind()
        shape = self._declared_input_shape()
        if shape is not None and self.layers:
            self.build(shape)

    def pop(self) -> Layer:
        if not self.layers:
            raise IndexError("Sequential.pop: the model has no layers to remove.")
        layer = self._layers.pop()
        self._unbind()
        return layer

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"get_layer: index {index} is out of range for a model with {len(self.layers)} layers."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}. Layers: {[layer.name for layer in self.layers]}.")

    def _declared_input_shape(self) -> tuple | None:
        if not self._layers:
            return None
        first = self._layers[0]
        if isinstance(first, InputLayer):
            return first.batch_shape
        if first._input_shape_arg is not None:
            return first._input_shape_arg
        if first.built:
            return first.input_shape
        return None

    def output_shape_for(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # ----------------------------------------------------------------- building and the flat weight vector
    def build(self, input_shape=None) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (e.g. ``(None, 400)``)."""
        if input_shape is None:
            input_shape = self._declared_input_shape()
            if input_shape is None:
                raise ValueError("Sequential.build: give the input shape, e.g. model.build((None, 400)).")
        shape = tuple(input_shape)
        if len(shape) < 2:
            shape = input_shape = (None,) + shape
        if not self.layers:
            raise ValueError("Sequential.build: the model has no layers yet; add some first.")
        for layer in self.layers:
            if layer.built and layer.input_shape is not None and layer.input_shape[1:] != tuple(shape[1:]):
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape {layer.input_shape}, "
                    f"but in this model it receives {shape}."
                )
            layer._ensure_built(shape)
            shape = layer.compute_output_shape(shape)
        self._input_shape = (None,) + tuple(input_shape)[1:]
        self.built = True
        self._bind()

    def _unbind(self) -> None:
        self.built = False
        self._bound_signature = None

    def _signature(self) -> tuple:
        return tuple((id(layer), layer.trainable, len(layer._specs)) for layer in self.layers)

    def _bind(self) -> None:
        """Gather all trainable weights into one flat vector, the layers keeping views into it.

        Each matrix is laid out in the order its products run fastest in (see ``_matrix_order``).
        """
        specs = [(layer, s) for layer in self.layers for s in layer.trainable_specs]
        dtypes = {np.dtype(getattr(layer, s.name).dtype) for layer, s in specs}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(backend.floatx())
        sizes = [int(np.prod(s.shape, dtype=np.int64)) for _, s in specs]
        params = np.empty(sum(sizes), dtype=dtype)
        grads = np.zeros(sum(sizes), dtype=dtype)
        segments, offset = [], 0
        for (layer, s), n in zip(specs, sizes):
            seg = slice(offset, offset + n)
            view = _weight_view(params[seg], s.shape)
            view[...] = getattr(layer, s.name)
            setattr(layer, s.name, view)
            setattr(layer, "grad_" + s.name, _weight_view(grads[seg], s.shape))
            segments.append(seg)
            offset += n
        self.parameters, self.parameter_gradients = params, grads
        self._segments = segments
        self._weight_shapes = [tuple(s.shape) for _, s in specs]
        self._bound_signature = self._signature()
        if self.optimizer is not None and self.optimizer.built:
            size = self.optimizer._tmp.size
            if size != params.size:
                self.optimizer.build(params, segments)

    def weight_views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Views of a vector shaped like ``model.parameters`` (an optimizer slot, say), one per trainable
        weight, shaped and laid out as the weights are."""
        return [_weight_view(flat[seg], shape) for seg, shape in zip(self._segments, self._weight_shapes)]

    def _ensure_bound(self) -> None:
        if self._bound_signature != self._signature():
            self._bind()

    @property
    def input_shape(self) -> tuple:
        if not self.built:
            raise AttributeError("The model is not built yet, so its input shape is unknown.")
        return self._input_shape

    @property
    def output_shape(self) -> tuple:
        return self.output_shape_for(self.input_shape)

    @property
    def input(self) -> SymbolicTensor:
        return SymbolicTensor(self.input_shape, name="input")

    inputs = property(lambda self: [self.input])

    @property
    def output(self) -> SymbolicTensor:
        return SymbolicTensor(self.output_shape, name=self.layers[-1].name)

    outputs = property(lambda self: [self.output])

    # ----------------------------------------------------------------- weights
    @property
    def weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Copy ``weights`` (in ``get_weights`` order) into the layers, checking every shape first."""
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights: the model has {expected} weight arrays, got {len(weights)}.")
        i = 0
        staged = []
        for layer in self.layers:
            n = len(layer.weights)
            staged.append((layer, weights[i : i + n]))
            for spec, w in zip(layer.trainable_specs + layer.non_trainable_specs, weights[i : i + n]):
                if np.shape(w) != tuple(spec.shape):
                    raise ValueError(
                        f"set_weights: layer {layer.name!r} weight {spec.name!r} has shape {tuple(spec.shape)}, "
                        f"got {np.shape(w)}."
                    )
            i += n
        for layer, ws in staged:
            layer.set_weights(ws)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                "This model has not been built yet, so it has no weights to count. Call fit() or build() first, "
                "or start the model with Input(shape=…)."
            )
        return sum(layer.count_params() for layer in self.layers)

    @property
    def losses(self) -> list[float]:
        return [p for layer in self.layers for p in layer.losses]

    # ----------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly: bool = False,
        steps_per_execution: int = 1,
        jit_compile="auto",
        auto_scale_loss: bool = True,
    ) -> None:
        """Choose the loss ``L`` (averaged into the cost ``J``), the optimizer and the metrics.

        ``optimizer`` defaults to RMSprop, as in Keras.
        """
        if loss_weights is not None or weighted_metrics is not None:
            raise NotImplementedError("compile: loss_weights and weighted_metrics are not supported by gradfit yet.")
        opt = optimizers.get(optimizer)
        loss_obj = losses.get(loss) if loss is not None else None
        metric_ids = [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        for m in metric_ids:  # fail now on unknown names; 'accuracy' is resolved once the shapes are known
            if not (isinstance(m, str) and m.lower() in ("accuracy", "acc")):
                metrics_module.get(m)
        self.optimizer = opt
        self.loss = loss
        self._loss = loss_obj
        self._metric_ids = metric_ids
        self.compiled_metrics = []
        self._metrics_shapes = None
        self.compiled = True
        if self.built:  # advice on structure and loss now; otherwise fit gives it once shapes are known
            advice.check_model(self)

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in self.compiled_metrics]

    # ----------------------------------------------------------------- running
    def __call__(self, x, training: bool = False):
        if isinstance(x, SymbolicTensor):
            if not self.built:
                self.build(x.shape)
            return SymbolicTensor(self.output_shape_for(x.shape), name=self.layers[-1].name)
        from . import training as _training  # the argument `training` shadows the module here

        x = _training.as_input_array(self, x, "x")
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._ensure_bound()
        x = np.ascontiguousarray(x, dtype=_training._model_dtype(self))
        with np.errstate(over="ignore", under="ignore"):
            return _training.forward(self, x, training=training).view(Tensor)

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs: int = 1,
        verbose="auto",
        callbacks=None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq: int = 1,
    ):
        """Train: ``epochs`` passes over the data in batches of ``batch_size`` (32), one update per batch.

        Returns a ``History`` whose ``history['loss'][i]`` is epoch ``i``'s cost ``J``, averaged over
        the batches of that epoch as Keras reports it.
        """
        return training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            class_weight=class_weight,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            validation_batch_size=validation_batch_size,
            validation_freq=validation_freq,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict: bool = False,
    ):
        """The cost ``J`` (and metrics) over all of ``x, y``, regularisation included."""
        return training.evaluate(
            self,
            x,
            y,
            batch_size=batch_size,
            verbose=verbose,
            sample_weight=sample_weight,
            callbacks=callbacks,
            return_dict=return_dict,
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> np.ndarray:
        """``f(x)`` for every row of ``x``, as a NumPy array ``(m, units)``."""
        return training.predict(self, x, batch_size=batch_size, verbose=verbose, callbacks=callbacks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False):
        return training.train_on_batch(
            self, x, y, sample_weight=sample_weight, class_weight=class_weight, return_dict=return_dict
        )

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        return training.evaluate(
            self, x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def predict_on_batch(self, x) -> np.ndarray:
        return training.predict(self, x, batch_size=len(x), verbose=0)

    # ----------------------------------------------------------------- looking inside fit
    def compute_gradients(self, x, y, sample_weight=None) -> tuple[float, list[np.ndarray]]:
        """The cost ``J`` over ``(x, y)`` and backprop's ``dJ/dw`` per trainable weight, without updating.

        Returns ``(J, [dJ/dW[1], dJ/db[1], dJ/dW[2], …])`` in ``model.trainable_weights`` order.
        """
        return training.compute_gradients(self, x, y, sample_weight)

    def explain(self, print_fn=None) -> str:
        """Print (and return) the formulas of this model's forward pass, cost, backward pass and update."""
        from .explain import explain_text

        text = explain_text(self)
        (print_fn or print)(text)
        return text

    # ----------------------------------------------------------------- description
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
        from .summary import summary_text

        text = summary_text(self)
        (print_fn or print)(text)

    def get_config(self) -> dict:
        layers = []
        if self._layers and isinstance(self._layers[0], InputLayer):
            first = self._layers[0]
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": first.get_config(),
                    "registered_name": None,
                }
            )
        for layer in self.layers:
            layers.append(
                {
                    "module": "keras.layers",
                    "class_name": type(layer).__name__,
                    "config": layer.get_config(),
                    "registered_name": None,
                }
            )
        return {"name": self.name, "trainable": self.trainable, "dtype": backend.floatx(), "layers": layers}

    # ----------------------------------------------------------------- saving (Keras 3's formats; see saving.py)
    @classmethod
    def from_config(cls, config, custom_objects=None) -> Sequential:
        """The model ``get_config()`` describes, with fresh weights; only gradfit's own layers are built."""
        from .saving import model_from_config

        return model_from_config(config, custom_objects)

    def get_build_config(self) -> dict | None:
        return {"input_shape": list(self.input_shape)} if self.built else None

    def get_compile_config(self) -> dict | None:
        """Keras's ``compile_config``: the optimizer, loss and metrics given to ``compile`` (None if not compiled)."""
        from .saving import serialize_compile_config

        return serialize_compile_config(self)

    def to_json(self, **kwargs) -> str:
        """The model's config, build and compile settings as Keras's JSON (``model_from_json`` reads it back)."""
        from .saving import model_to_json

        return model_to_json(self, **kwargs)

    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Save config, weights and optimizer state as a Keras 3 ``.keras`` file (Keras 3 loads it too)."""
        from .saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True, max_shard_size=None) -> None:
        """Save the weights (and optimizer state) as Keras's ``.weights.h5`` file."""
        from .saving import save_weights

        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch: bool = False, **kwargs) -> None:
        """Load weights from a ``.weights.h5`` file or a ``.keras`` archive; on any error nothing is changed."""
        from .saving import load_weights

        if kwargs:
            raise TypeError(f"load_weights: unexpected arguments {sorted(kwargs)}.")
        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r}, layers={[layer.name for layer in self.layers]}, built={self.built}>"


#: matrices with at least this many entries are stored row-major (see ``_matrix_order``)
_ROW_MAJOR_SIZE = 32_768


def _matrix_order(shape: tuple) -> str:
    """The memory order of a weight matrix in the flat vector: ``"F"`` (column-major) or ``"C"``.

    Measured with OpenBLAS on the shapes of the course's and MNIST-sized networks: a small kernel
    (400 x 25, batch 32, one BLAS thread) multiplies and gets its gradient ``dz^T x`` written ~25 % faster
    column-major; a large one (784 x 256, batch 128, two threads) gets its gradient ``x^T dz`` in ~300 us
    row-major against ~440 us column-major, and its forward product ~10 % faster. The threshold is where, at
    batch 32, fit switches to two BLAS threads (benchmarks/README.md).
    """
    return "C" if shape[0] * shape[1] >= _ROW_MAJOR_SIZE else "F"


def _weight_view(flat: np.ndarray, shape: tuple) -> np.ndarray:
    """``flat`` seen as a weight of ``shape``, matrices in the order of ``_matrix_order``."""
    if len(shape) == 2 and _matrix_order(shape) == "F":
        return flat.reshape(shape[::-1]).T
    return flat.reshape(shape)
