"""``Sequential``: a stack of layers, ``f(x) = layer_L(... layer_2(layer_1(x)))``, with Keras's model API.

The three steps of the course map to three calls:

1. ``Sequential([...])`` says how to compute ``f(x)`` from the weights ``W, b`` of each layer;
2. ``compile(loss=…)`` says which loss ``L`` to average into the cost ``J``;
3. ``fit(X, y)`` minimises ``J`` by backpropagation and gradient descent (see ``training.py``).

Once built, all trainable weights live in one flat vector (``model.parameters``) and their gradients in
another (``model.parameter_gradients``); each layer's ``kernel`` and ``bias`` are views into them. The
``ParameterStore`` of ``parameters.py`` owns those vectors and their layout (``model.parameter_store``).

Building is linear in the number of layers: ``add`` builds only the new layer (from the previous layer's
output shape), and the flat vectors are gathered once, at first use (``fit``, ``predict``, calling the model,
reading its weights or layers, saving).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import advice, backend, data, losses, optimizers, training
from . import metrics as metrics_module
from .layers.base import Layer
from .layers.input_layer import InputLayer
from .model_io import DescribeAndSave
from .parameters import ParameterStore
from .tensor import SymbolicTensor, Tensor
from .training import forward as _forward  # `training` is also __call__'s argument

__all__ = ["Sequential"]


class Sequential(DescribeAndSave):
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
        self._layers: list[Layer] = []
        self._trainable = bool(trainable)
        self.built = False
        self.optimizer: optimizers.Optimizer | None = None
        self.loss = None
        self.compiled = False
        self.steps_per_execution = 1  # Keras's Trainer default, before compile
        self.stop_training = False
        self.history = None
        self._store: ParameterStore | None = None
        self._bound_signature: tuple | None = None
        self._output_shape: tuple | None = None  # the last layer's output shape, once built
        self._names: set[str] = set()
        self._metric_ids: list = []
        self.compiled_metrics: list[metrics_module.Metric] = []
        self._metrics_shapes: tuple | None = None
        if layers is not None:
            if isinstance(layers, (Layer, SymbolicTensor)):
                layers = [layers]
            for layer in layers:
                self.add(layer)
            if self.built:
                self._ensure_bound()

    # ----------------------------------------------------------------- structure
    @property
    def trainable(self) -> bool:
        """Whether ``fit`` may update the model's weights. Setting it sets every layer's ``trainable``, as Keras
        does (a layer added to a frozen model is frozen too: Keras's frozen model trains none of its weights)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = self._trainable

    @property
    def layers(self) -> list[Layer]:
        """The layers in order (an ``Input`` is not one of them, as in Keras).

        A built model gathers its weights first, so that ``model.layers[0].kernel`` is the model's weight."""
        if self._store is None and self.built:
            self._bind()
        return self._stack()

    def _stack(self) -> list[Layer]:
        """The layers without an ``Input``, touching nothing (``layers`` may bind the weights first)."""
        stack = self._layers
        return stack[1:] if stack and isinstance(stack[0], InputLayer) else list(stack)

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
        # a set of the names keeps add O(1); a hit is confirmed on the layers (a layer may have been renamed)
        if layer.name in self._names and any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"Sequential.add: the model already has a layer named {layer.name!r}; layer names must be unique."
            )
        self._layers.append(layer)
        if not self._trainable:
            layer.trainable = False
        self._names.add(layer.name)
        self._unbind()
        if isinstance(layer, InputLayer):
            return
        if self.built and self._output_shape is not None:  # build just the new layer on the last one's output
            try:
                self._output_shape = self._build_layer(layer, self._output_shape)
                self._name_layer_weights([layer])  # the new layer only: add stays O(1)
            except Exception:
                self._layers.pop()
                self._names.discard(layer.name)
                raise
            return
        shape = self._declared_input_shape()
        if shape is not None:
            self._build_layers(shape)

    def pop(self) -> Layer:
        if not self._stack():
            raise IndexError("Sequential.pop: the model has no layers to remove.")
        layer = self._layers.pop()
        self._names.discard(layer.name)
        self._unbind()
        if self.built and self._stack():
            self._output_shape = None
            self._output_shape = self.output_shape_for(self._input_shape)
        else:
            self.built, self._output_shape = False, None
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
        if self.built and self._output_shape is not None and shape[1:] == tuple(self._input_shape[1:]):
            return self._output_shape
        for layer in self._stack():
            shape = layer.compute_output_shape(shape)
        return shape

    # ----------------------------------------------------------------- building and the flat weight vector
    def build(self, input_shape=None) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (e.g. ``(None, 400)``)."""
        if input_shape is None:
            input_shape = self._declared_input_shape()
            if input_shape is None:
                raise ValueError("Sequential.build: give the input shape, e.g. model.build((None, 400)).")
        if not self._stack():
            raise ValueError("Sequential.build: the model has no layers yet; add some first.")
        self._build_layers(input_shape)
        self._ensure_bound()  # _build_layers may have bound the weights already (copy-free)

    def _build_layers(self, input_shape) -> None:
        """Build every layer for ``input_shape``.

        When no layer is built yet, the trainable weights the layers will create are predicted first
        (``layer.keras_weights``) and the layers draw their initial values straight into one flat vector laid out
        for them (``parameters.preallocated``), which the model then binds as it is: building costs the weights
        and their gradients, not one copy more. A prediction that is wrong only falls back to gathering (a
        copy); the numbers drawn are the same either way. Otherwise the weights are gathered later (``_bind``).
        """
        from . import parameters

        shape = tuple(input_shape)
        if len(shape) < 2:
            shape = input_shape = (None,) + shape
        self._unbind()
        self.built = False
        stack = self._stack()
        layout = None
        # not inside a layout laid out by someone else (the loader's, for the whole model): that one must see
        # every weight this build creates
        if getattr(parameters._PENDING, "state", None) is None and not any(layer.built for layer in stack):
            try:
                predicted, at = [], shape
                for layer in stack:
                    if layer.trainable:
                        predicted += [(tuple(s), str(d)) for _, s, t, d in layer.keras_weights(at) if t]
                    at = tuple(layer.compute_output_shape(at))
                dtypes = {d for _, d in predicted}
                if predicted and len(dtypes) == 1:
                    layout = parameters.preallocated([s for s, _ in predicted], dtypes.pop())
            except Exception:  # noqa: BLE001 - a prediction that fails only costs the copy; the build reports errors
                layout = None
        if layout is None:
            for layer in stack:
                shape = self._build_layer(layer, shape)
        else:
            with layout:
                for layer in stack:
                    shape = self._build_layer(layer, shape)
                self._bind()  # inside the layout: the store is taken as it is (nothing copied)
        self._input_shape = (None,) + tuple(input_shape)[1:]
        self._output_shape = shape
        self.built = True
        self._name_layer_weights()

    @staticmethod
    def _build_layer(layer: Layer, shape: tuple) -> tuple:
        """Build ``layer`` for inputs of ``shape`` (checking a layer built before agrees); its output shape."""
        if layer.built and layer.input_shape is not None and layer.input_shape[1:] != tuple(shape[1:]):
            raise ValueError(
                f"Layer {layer.name!r} was built for inputs of shape {layer.input_shape}, "
                f"but in this model it receives {shape}."
            )
        layer._ensure_built(shape)
        return layer.compute_output_shape(shape)

    def _unbind(self) -> None:
        """Forget the flat vectors (the structure changed): the next use gathers them again."""
        self._store = None
        self._bound_signature = None

    def _signature(self) -> tuple:
        return tuple((id(layer), layer.trainable, len(layer._specs)) for layer in self._stack())

    def _bind(self) -> None:
        """Gather all trainable weights into one flat vector (``parameter_store``), the layers keeping views.

        gradfit computes a whole model in one float type: layers given different ``dtype``s (Keras would compute
        each in its own and cast between them) are refused rather than silently computed in one."""
        dtypes = {layer.name: layer.dtype for layer in self._stack() if layer.dtype is not None}
        if len(set(dtypes.values())) > 1:
            listed = ", ".join(f"{name}: {dtype}" for name, dtype in dtypes.items())
            raise ValueError(
                f"Sequential {self.name!r}: its layers have different dtypes ({listed}). gradfit computes a model in "
                "one float type; give every layer the same dtype (or none, and set it for all with "
                "gradfit.keras.backend.set_floatx)."
            )
        store = ParameterStore.gather(self._stack())
        self._store = store
        self._bound_signature = self._signature()
        opt = self.optimizer
        if opt is not None and opt.built:
            opt.rebuild(store)  # each weight keeps its state; new ones start fresh

    def _ensure_bound(self) -> None:
        store = self._store
        if store is None or self._bound_signature != self._signature() or not store.attached():
            self._bind()

    @property
    def parameter_store(self) -> ParameterStore | None:
        """The flat vectors of the trainable weights and their layout (None until the model is built)."""
        if not self.built:
            return None
        self._ensure_bound()
        return self._store

    @property
    def parameters(self) -> np.ndarray | None:
        """Every trainable weight in one flat vector (each layer's weights are views into it)."""
        store = self.parameter_store
        return None if store is None else store.values

    @property
    def parameter_gradients(self) -> np.ndarray | None:
        """``dJ/dw`` for every trainable weight, laid out as ``parameters``."""
        store = self.parameter_store
        return None if store is None else store.grads

    def weight_views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Views of a vector shaped like ``model.parameters`` (an optimizer slot, say), one per trainable
        weight, shaped and laid out as the weights are."""
        return self.parameter_store.views(flat)

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
        """The model's symbolic input: its ``shape`` is a tuple (``== (None, 400)``, as Keras 3) that also has
        Keras 2's ``as_list()`` (``[None, 400]``). The model must be built (start it with ``Input(shape=…)``)."""
        self._name_layer_weights()
        return SymbolicTensor(self.input_shape, name="input")

    inputs = property(lambda self: [self.input])

    @property
    def output(self) -> SymbolicTensor:
        """The model's symbolic output (the last layer's), its ``shape`` as :attr:`input`'s."""
        self._name_layer_weights()
        return SymbolicTensor(self.output_shape, name=self.layers[-1].name)

    outputs = property(lambda self: [self.output])

    # ----------------------------------------------------------------- weights
    def _name_layer_weights(self, layers=None) -> None:
        """Give the layers this model built (``layers``: all) its name as their weights' path prefix
        (``my_model/dense_2/kernel``), as Keras names the variables a model creates; a layer built on its own, or
        by another model, keeps its."""
        if not self.built:
            return
        for layer in self._stack() if layers is None else layers:
            if layer.built and getattr(layer, "_keras_path_prefix", None) is None:
                layer._keras_path_prefix = self.name

    @property
    def weights(self) -> list[np.ndarray]:
        """Every layer's weights in order, as Keras 3 ``Variable`` views (see ``Layer.weights``)."""
        self._name_layer_weights()
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        self._name_layer_weights()
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        self._name_layer_weights()
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights, *, check_finite: bool = True) -> None:
        """Copy ``weights`` (in ``get_weights`` order) into the layers, once every array of every layer is checked
        (shape, numbers, finite and within the weights' dtype range, unless ``check_finite=False``: values the
        model held itself, restored as they were): on error no weight has changed."""
        weights = list(weights)
        layers = self.layers
        expected = sum(len(layer.weights) for layer in layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights: the model has {expected} weight arrays, got {len(weights)}.")
        checked, i = [], 0
        for layer in layers:
            n = len(layer.trainable_specs) + len(layer.non_trainable_specs)
            checked += layer._checked_weights(weights[i : i + n], check_finite)
            i += n
        for (layer, name), w in checked:
            getattr(layer, name)[...] = w

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

        ``steps_per_execution=N`` runs the batches in groups of ``N``, as Keras 3.15 runs one compiled call: the
        batch callbacks are called once per group, ``on_*_batch_begin(first)`` and ``on_*_batch_end(first + N -
        1, logs)`` (``first`` = 0, N, 2N …, also for a last, shorter group), the logs hold the running results
        after the group, ``predict``'s ``{"outputs": …}`` hold the group's rows, and ``model.stop_training`` is
        read after each group. The weights and results are the same as with ``N = 1``.

        ``run_eagerly`` and ``jit_compile`` choose how Keras runs its steps (eagerly, as a graph, with XLA);
        gradfit runs NumPy and always computes the same results, so they are checked and kept (``model.run_eagerly``,
        ``model.jit_compile``) but change nothing. ``auto_scale_loss`` only acts under the ``"mixed_float16"``
        policy, which gradfit refuses, so it changes nothing either.
        """
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, numbers.Integral):
            raise ValueError(
                f"compile: steps_per_execution must be a positive integer (Keras's 'auto' is not supported), got "
                f"{steps_per_execution!r}."
            )
        if steps_per_execution < 1:
            raise ValueError(f"compile: steps_per_execution must be a positive integer, got {steps_per_execution!r}.")
        for flag_name, flag in (("run_eagerly", run_eagerly), ("auto_scale_loss", auto_scale_loss)):
            if flag not in (True, False):
                raise ValueError(f"compile: {flag_name} must be True or False, got {flag!r}.")
        if jit_compile not in (True, False, "auto"):
            raise ValueError(f"compile: jit_compile must be True, False or 'auto', got {jit_compile!r}.")
        loss_weight = training.single_loss_weight(loss_weights)
        opt = optimizers.get(optimizer)
        loss_obj = losses.get(loss) if loss is not None else None
        metric_ids = training.metric_identifiers(metrics, "metrics")
        weighted_ids = training.metric_identifiers(weighted_metrics, "weighted_metrics")
        for m in metric_ids + weighted_ids:  # fail now on unknown names; 'accuracy' is resolved once shapes are known
            if not (isinstance(m, str) and m.lower() in ("accuracy", "acc")):
                metrics_module.get(m)
        self.optimizer = opt
        self.loss = loss
        self._loss = loss_obj
        self._loss_weights = loss_weights  # as given (the compile config); the factor on the loss: _loss_weight
        self._loss_weight = loss_weight
        self._metric_ids = metric_ids
        self._weighted_metric_ids = weighted_ids
        self._metric_weighted = []
        self.compiled_metrics = []
        self._metrics_shapes = None
        self.steps_per_execution = int(steps_per_execution)
        self.run_eagerly = bool(run_eagerly)
        # Keras resolves 'auto' to False when running eagerly or on a CPU-only machine (gradfit's case)
        self.jit_compile = False if run_eagerly or jit_compile == "auto" else jit_compile
        self.compiled = True
        if self.built:  # advice on structure and loss now; otherwise fit gives it once shapes are known
            advice.check_model(self)

    # ----------------------------------------------------------------- what the loss is computed from
    def _fused_output(self, training: bool = False) -> Layer | None:
        """The layer whose logits ``z`` the loss is computed from (it undoes the layer's activation exactly:
        sigmoid with binary cross-entropy, softmax with the categorical ones, as TensorFlow's Keras fuses them),
        else None: the output layer, or the last layer before trailing layers that pass their input through in
        this mode (``training.passes_input_through``: Identity, Dropout at inference …). That layer then takes
        ``dJ/dz`` in ``backward_from_logits``."""
        from .training import passes_input_through  # the argument `training` hides the module

        stack = self._stack()
        if self._loss is None or not stack:
            return None
        at = len(stack) - 1
        while at > 0 and passes_input_through(stack[at], training):
            at -= 1
        out = stack[at]
        return out if out.fuses_with(self._loss) else None

    def _loss_inputs(
        self, output: np.ndarray | None = None, training: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(a, z)`` the loss is computed from after a forward pass in mode ``training``: the model's output
        ``a = f(x)`` (``output``, else the output layer's last ``a``) and, where the loss is fused with a layer's
        activation, that layer's logits ``z`` (else None)."""
        stack = self._stack()
        a = output if output is not None else getattr(stack[-1], "a", None)
        if a is None:
            raise ValueError(
                f"_loss_inputs: the output layer {stack[-1].name!r} does not keep its output; pass the model's "
                "output (the result of the forward pass)."
            )
        fused = self._fused_output(training)
        if fused is None:
            return a, None
        z = fused.z
        return a, (z.reshape(a.shape) if z.ndim != a.ndim else z)

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in self.compiled_metrics]

    # ----------------------------------------------------------------- running
    def __call__(self, x, training: bool = False):
        if isinstance(x, SymbolicTensor):
            if not self.built:
                self.build(x.shape)
            self._name_layer_weights()
            return SymbolicTensor(self.output_shape_for(x.shape), name=self.layers[-1].name)
        x = data.as_input_array(self, x, "x")
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._name_layer_weights()
        self._ensure_bound()
        x = np.ascontiguousarray(x, dtype=data.model_dtype(self))
        with np.errstate(over="ignore", under="ignore"):
            return _forward(self, x, training=training).view(Tensor)

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

        ``x`` (with ``y`` and ``sample_weight`` where they are separate) may be a NumPy array or list, a pandas
        DataFrame / Series, a SciPy sparse matrix (densified one batch at a time), an ``np.memmap`` / ``np.load(…,
        mmap_mode='r')`` array or h5py dataset (read batch by batch), a generator or iterator yielding ``(x, y)``
        or ``(x, y, sample_weight)`` (``steps_per_epoch`` for an infinite one), a ``keras.utils.PyDataset``, or an
        iterable of batches with ``.numpy()`` (a torch ``DataLoader``). ``validation_data`` takes the same kinds.

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
            validation_steps=validation_steps,
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
        """The cost ``J`` (and metrics) over all of ``x, y``, regularisation included; ``x`` any kind ``fit``
        takes (a generator or PyDataset holds its targets: ``y`` None)."""
        return training.evaluate(
            self,
            x,
            y,
            batch_size=batch_size,
            verbose=verbose,
            sample_weight=sample_weight,
            steps=steps,
            callbacks=callbacks,
            return_dict=return_dict,
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> np.ndarray:
        """``f(x)`` for every row of ``x``, as a NumPy array ``(m, units)``; ``x`` any kind ``fit`` takes (the
        targets of a stream's batches are ignored)."""
        return training.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    def activations(self, x, batch_size=None, training: bool = False) -> dict[str, np.ndarray]:
        """Every layer's output ``a[l]`` for ``x``: ``{layer.name: array (m, …)}``, in the order of ``model.layers``.

        ``a[0] = x`` and ``a[l] = layer_l(a[l-1])``, so the last entry is ``predict(x)``'s result (the same numbers,
        computed in the same batches). In Keras one builds a second model for this,
        ``keras.Model(inputs=model.inputs, outputs=[l.output for l in model.layers]).predict(x)``; here the model
        answers itself, with each output named by its layer. An ``Input`` is not a layer (as in Keras), so ``x``
        itself is not an entry.

        Parameters
        ----------
        x : array (m, features)
            Any array ``predict`` takes as one array (a DataFrame, a sparse matrix, a list); not a stream of
            batches (take a batch of it first). An unbuilt model is built for ``x``, as ``predict`` builds it.
        batch_size : int, optional
            The layers run on batches of this many rows (default 32, as ``predict``), so a large ``x`` needs the
            memory of the outputs, not of each layer's intermediate arrays for all rows at once.
        training : bool
            ``False`` (the default, as ``predict``): inference mode, Dropout passes its input through and
            BatchNormalization uses its moving statistics. ``True`` runs each layer as ``fit``'s forward pass does,
            as Keras's ``extractor(x, training=True)`` does: Dropout drops at random, and BatchNormalization
            normalises by each batch's statistics and updates its moving averages (the model changes).

        Returns
        -------
        dict of str to numpy.ndarray
            One new array per layer (not a layer's buffer: the next call does not change it).
        """
        batch_size = data.positive_int(batch_size, "batch_size", allow_none=True)
        if training not in (True, False):
            raise ValueError(f"activations: training must be True or False, got {training!r}.")
        if not self._stack():
            raise ValueError("activations: the model has no layers yet; add some first.")
        x = data.as_input_array(self, x, "x")
        if not self.built:
            self.build((None,) + x.shape[1:])
        self._ensure_bound()
        x = np.ascontiguousarray(x, dtype=data.model_dtype(self))
        layers = self.layers
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            repeated = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(
                f"activations: several layers are named {repeated} (renamed after they were added), so their outputs "
                "cannot be told apart by name; give each layer a unique name."
            )
        outputs: dict[str, np.ndarray] = {}
        if len(x) == 0:
            shape = (None,) + x.shape[1:]
            for name, layer in zip(names, layers):
                shape = layer.compute_output_shape(shape)
                outputs[name] = np.empty((0,) + tuple(shape[1:]), dtype=x.dtype)
            return outputs
        with np.errstate(over="ignore", under="ignore"):
            for start, end in data.EpochBatches(len(x), batch_size).spans:
                a = x[start:end]
                for name, layer in zip(names, layers):
                    a = layer.forward(a, training)
                    out = outputs.get(name)
                    if out is None:
                        out = outputs[name] = np.empty((len(x),) + a.shape[1:], dtype=a.dtype)
                    out[start:end] = a  # a copy: a layer may reuse its buffers, or pass its input through
        return outputs

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False):
        """One update on this one batch (arrays, a DataFrame, a sparse matrix; not a stream)."""
        return training.train_on_batch(
            self, x, y, sample_weight=sample_weight, class_weight=class_weight, return_dict=return_dict
        )

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        """The loss (and metrics) of this one batch, without updating the weights."""
        x = data.numeric_array(x, "x")  # one batch: a DataFrame's values, a sparse matrix densified; no stream
        return training.evaluate(
            self, x, y, batch_size=len(x), verbose=0, sample_weight=sample_weight, return_dict=return_dict
        )

    def predict_on_batch(self, x) -> np.ndarray:
        """``f(x)`` for this one batch."""
        x = data.numeric_array(x, "x")  # one batch: a DataFrame's values, a sparse matrix densified; no stream
        return training.predict(self, x, batch_size=len(x), verbose=0)

    # ----------------------------------------------------------------- looking inside fit
    def compute_gradients(self, x, y, sample_weight=None) -> tuple[float, list[np.ndarray]]:
        """The cost ``J`` over ``(x, y)`` and backprop's ``dJ/dw`` per trainable weight, without updating.

        Returns ``(J, [dJ/dW[1], dJ/db[1], dJ/dW[2], …])`` in ``model.trainable_weights`` order.
        """
        return training.compute_gradients(self, x, y, sample_weight)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r}, layers={[layer.name for layer in self.layers]}, built={self.built}>"
