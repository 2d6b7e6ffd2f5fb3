"""Advice where learners go wrong: each case warns GradfitAdvice once, says what to write, and changes nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradfit
from gradfit import GradfitAdvice
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.losses import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    Hinge,
    KLDivergence,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
)
from gradfit.keras.metrics import BinaryAccuracy


def model_of(*layers, features: int = 4) -> Sequential:
    """A built model: ``Input(shape=(features,))`` then the given layers."""
    return Sequential([Input(shape=(features,)), *layers])


def advice_from(action) -> list[warnings.WarningMessage]:
    """The GradfitAdvice warnings ``action()`` gives (all warnings shown, none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [w for w in caught if issubclass(w.category, GradfitAdvice)]


@pytest.fixture
def no_advice():
    """Any GradfitAdvice inside the test is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradfitAdvice)
        yield


# --------------------------------------------------------------------------------------------- the category


def test_the_category_is_a_user_warning_exported_by_gradfit():
    assert issubclass(GradfitAdvice, UserWarning)
    assert gradfit.GradfitAdvice is gradfit.advice.GradfitAdvice
    assert "GradfitAdvice" in gradfit.__all__


# --------------------------------------------------------------------------------------------- linear hidden layers


def test_all_linear_hidden_layers_collapse_to_logistic_regression():
    model = model_of(Dense(25), Dense(15, activation="linear"), Dense(1, activation="sigmoid"))
    with pytest.warns(GradfitAdvice, match=r"every hidden layer is linear") as record:
        model.compile(loss=BinaryCrossentropy())
    message = str(record[0].message)
    assert "logistic regression" in message
    assert "Dense(25, activation='relu')" in message
    assert "'dense'" in message and "'dense_1'" in message


def test_one_linear_hidden_layer_between_nonlinear_ones_is_named():
    model = model_of(Dense(8, activation="relu"), Dense(6, name="bottleneck"), Dense(1, activation="sigmoid"))
    with pytest.warns(GradfitAdvice, match=r"'bottleneck' \(Dense\(6\)\) has a linear activation") as record:
        model.compile(loss=BinaryCrossentropy())
    assert "Dense(6, activation='relu')" in str(record[0].message)


def test_an_unbuilt_model_gets_the_structure_advice_at_fit(binary_data):
    x, y = binary_data
    model = Sequential([Dense(5), Dense(1, activation="sigmoid")])  # no Input: built by fit
    assert not advice_from(lambda: model.compile(loss=BinaryCrossentropy()))
    with pytest.warns(GradfitAdvice, match=r"has a linear activation"):
        model.fit(x, y, epochs=1, verbose=0)


# --------------------------------------------------------------------------------------------- loss against output


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
def test_binary_crossentropy_on_an_output_that_is_not_a_probability(activation):
    model = model_of(Dense(4, activation="relu"), Dense(1, activation=activation))
    with pytest.warns(GradfitAdvice, match=rf"uses '{activation}'.*not limited to \[0, 1\]") as record:
        model.compile(loss=BinaryCrossentropy())
    message = str(record[0].message)
    assert "Dense(1, activation='sigmoid') with loss=BinaryCrossentropy()" in message
    assert "BinaryCrossentropy(from_logits=True)" in message


def test_the_focal_loss_is_advised_as_a_binary_crossentropy_by_its_attributes():
    # advice reads loss.logits_activation / loss.expects, not the class: the focal loss gets BCE's advice
    model = model_of(Dense(4, activation="relu"), Dense(1, activation="relu"))
    with pytest.warns(GradfitAdvice, match=r"uses 'relu'.*not limited to \[0, 1\]") as record:
        model.compile(loss=BinaryFocalCrossentropy(gamma=1.0))
    assert "loss=BinaryFocalCrossentropy(from_logits=True)" in str(record[0].message)
    model = model_of(Dense(4, activation="relu"), Dense(1, activation="sigmoid"))
    with pytest.warns(
        GradfitAdvice, match=r"BinaryFocalCrossentropy\(from_logits=True\) says the model outputs logits"
    ):
        model.compile(loss=BinaryFocalCrossentropy(from_logits=True))


def test_losses_that_are_not_cross_entropies_get_no_cross_entropy_advice(no_advice):
    model_of(Dense(4, activation="relu"), Dense(3, activation="softmax")).compile(loss=KLDivergence())
    model_of(Dense(4, activation="relu"), Dense(1, activation="tanh")).compile(loss=Hinge())
    model_of(Dense(4, activation="relu"), Dense(1)).compile(loss=Hinge())


def test_binary_crossentropy_on_a_one_unit_softmax_says_it_is_always_one():
    model = model_of(Dense(4, activation="relu"), Dense(1, activation="softmax"))
    with pytest.warns(GradfitAdvice, match=r"softmax over a single unit.*= 1\.0 whatever the input") as record:
        model.compile(loss="binary_crossentropy")
    assert "Dense(1, activation='sigmoid')" in str(record[0].message)


def test_binary_crossentropy_on_a_wide_softmax_points_to_the_categorical_losses():
    model = model_of(Dense(4, activation="relu"), Dense(3, activation="softmax"))
    with pytest.warns(GradfitAdvice, match=r"loss=SparseCategoricalCrossentropy\(\) for integer labels"):
        model.compile(loss=BinaryCrossentropy())


def test_from_logits_on_a_sigmoid_output_is_double_squashing_that_keras_also_notices():
    model = model_of(Dense(4, activation="relu"), Dense(1, activation="sigmoid"))
    with pytest.warns(GradfitAdvice, match=r"already applies sigmoid.*squash them a second time") as record:
        model.compile(loss=BinaryCrossentropy(from_logits=True))
    message = str(record[0].message)
    assert "TensorFlow's Keras (which warns about this too)" in message
    assert "pre-activation z" in message
    assert "Dense(1, activation='sigmoid') with loss=BinaryCrossentropy()" in message
    assert "Dense(1, activation='linear') with loss=BinaryCrossentropy(from_logits=True)" in message


def test_from_logits_on_a_softmax_output_with_the_sparse_loss():
    model = model_of(Dense(4, activation="relu"), Dense(3, activation="softmax"))
    match = r"SparseCategoricalCrossentropy\(from_logits=True\).*already applies softmax"
    with pytest.warns(GradfitAdvice, match=match):
        model.compile(loss=SparseCategoricalCrossentropy(from_logits=True))


def test_from_logits_on_a_mismatched_squashing_output_says_it_really_squashes_twice():
    model = model_of(Dense(4, activation="relu"), Dense(2, activation="softmax"))
    with pytest.warns(GradfitAdvice, match=r"really happens here: the loss computes sigmoid\(softmax\(z\)\)"):
        model.compile(loss=BinaryCrossentropy(from_logits=True))


@pytest.mark.parametrize(
    ("loss", "units", "squash"),
    [
        (BinaryCrossentropy(), 1, "sigmoid"),
        (CategoricalCrossentropy(), 3, "softmax"),
        (SparseCategoricalCrossentropy(), 3, "softmax"),
        (BinaryFocalCrossentropy(), 1, "sigmoid"),
    ],
)
def test_a_linear_output_read_as_probabilities(loss, units, squash):
    model = model_of(Dense(4, activation="relu"), Dense(units, activation="linear"))
    name = type(loss).__name__
    with pytest.warns(GradfitAdvice, match=rf"is linear.*{name}\(\) \(from_logits=False\)") as record:
        model.compile(loss=loss)
    message = str(record[0].message)
    assert f"loss={name}(from_logits=True)" in message
    assert f"Dense({units}, activation='{squash}')" in message
    assert f"tf.nn.{squash}(model.predict(X))" in message


# --------------------------------------------------------------------------------------------- targets and metrics


@pytest.mark.parametrize("metric", ["accuracy", "binary_accuracy", BinaryAccuracy()])
def test_accuracy_on_a_logits_output_is_thresholded_at_one_half(binary_data, metric):
    x, y = binary_data
    model = model_of(Dense(4, activation="relu"), Dense(1))
    model.compile(loss=BinaryCrossentropy(from_logits=True), metrics=[metric])
    with pytest.warns(GradfitAdvice, match=r"output is > 0\.5.*decision boundary is z > 0") as record:
        model.fit(x, y, epochs=1, verbose=0)
    assert "threshold=0.0)]" in str(record[0].message)


def test_accuracy_with_threshold_zero_on_a_logits_output_is_fine(binary_data, no_advice):
    x, y = binary_data
    model = model_of(Dense(4, activation="relu"), Dense(1))
    model.compile(loss=BinaryCrossentropy(from_logits=True), metrics=[BinaryAccuracy(name="accuracy", threshold=0.0)])
    model.fit(x, y, epochs=1, verbose=0)


def test_one_hot_targets_for_the_sparse_loss_are_refused_with_the_loss_to_use(multiclass_data):
    x, labels = multiclass_data
    model = model_of(Dense(4, activation="relu"), Dense(3))
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match=r"one-hot: use CategoricalCrossentropy"):
        model.fit(x, np.eye(3)[labels], epochs=1, verbose=0)


@pytest.mark.parametrize("shape", [(-1,), (-1, 1)])
def test_integer_labels_for_the_categorical_loss(multiclass_data, shape):
    x, labels = multiclass_data
    model = model_of(Dense(4, activation="relu"), Dense(3))
    model.compile(loss=CategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError), pytest.warns(GradfitAdvice, match=r"expects one-hot targets") as record:
        model.fit(x, labels.reshape(shape), epochs=1, verbose=0)
    message = str(record[0].message)
    assert "loss=SparseCategoricalCrossentropy(from_logits=True)" in message
    assert "np.eye(3)" in message


# --------------------------------------------------------------------------------------------- no advice when right


def test_the_seed_model_gets_no_advice(binary_data, no_advice):
    x, y = binary_data
    model = model_of(Dense(25, activation="sigmoid"), Dense(15, activation="sigmoid"), Dense(1, activation="sigmoid"))
    model.compile(loss=BinaryCrossentropy(), metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)


def test_the_recommended_multiclass_model_gets_no_advice(multiclass_data, no_advice):
    x, y = multiclass_data
    model = Sequential([Dense(25, activation="relu"), Dense(15, activation="relu"), Dense(3, activation="linear")])
    model.compile(loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.2)
    model.train_on_batch(x, y)


def test_other_sound_models_get_no_advice(binary_data, regression_data, multiclass_data, no_advice):
    x, y = binary_data
    logits = model_of(Dense(4, activation="relu"), Dense(1))
    logits.compile(loss=BinaryCrossentropy(from_logits=True))
    logits.fit(x, y, epochs=1, verbose=0)
    x, y = regression_data
    regression = model_of(Dense(4, activation="relu"), Dense(1), features=3)
    regression.compile(loss=MeanSquaredError(), metrics=["mae"])
    regression.fit(x, y, epochs=1, verbose=0)
    x, labels = multiclass_data
    one_hot = model_of(Dense(4, activation="tanh"), Dense(3, activation="softmax"))
    one_hot.compile(loss=CategoricalCrossentropy(), metrics=["accuracy"])
    one_hot.fit(x, np.eye(3)[labels], epochs=1, verbose=0)


# --------------------------------------------------------------------------------------------- how advice is given


def test_filtering_the_category_silences_the_advice(binary_data):
    x, y = binary_data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=gradfit.GradfitAdvice)
        model = model_of(Dense(4), Dense(1, activation="relu"))
        model.compile(loss=BinaryCrossentropy(from_logits=False), metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)
    assert not [w for w in caught if issubclass(w.category, GradfitAdvice)]


def test_each_cause_is_reported_once_per_model(binary_data):
    x, y = binary_data

    def build() -> Sequential:
        model = model_of(Dense(4), Dense(1))  # a linear hidden layer, and logits scored by 'accuracy'
        model.compile(loss=BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    built: list[Sequential] = []
    at_compile = advice_from(lambda: built.append(build()))
    assert len(at_compile) == 1 and "linear activation" in str(at_compile[0].message)
    model = built[0]
    at_fit = advice_from(lambda: [model.fit(x, y, epochs=1, verbose=0) for _ in range(3)])
    assert len(at_fit) == 1 and "threshold=0.0" in str(at_fit[0].message)
    assert not advice_from(lambda: model.compile(loss=BinaryCrossentropy(from_logits=True), metrics=["accuracy"]))
    assert not advice_from(lambda: model.evaluate(x, y, verbose=0))
    assert len(advice_from(build)) == 1  # a new model with the same fault is told again


def test_the_warning_points_at_the_users_line(binary_data):
    x, y = binary_data
    model = model_of(Dense(4, activation="relu"), Dense(1, activation="tanh"))
    compiled = advice_from(lambda: model.compile(loss=BinaryCrossentropy()))
    assert compiled[0].filename == __file__
    unbuilt = Sequential([Dense(4), Dense(1, activation="sigmoid")])
    unbuilt.compile(loss=BinaryCrossentropy())
    fitted = advice_from(lambda: unbuilt.fit(x, y, epochs=1, verbose=0, validation_data=(x, y)))
    assert len(fitted) == 1 and fitted[0].filename == __file__


def test_advice_never_changes_the_model(binary_data):
    x, y = binary_data
    model = model_of(Dense(4), Dense(1, activation="sigmoid"))
    loss = BinaryCrossentropy(from_logits=True)
    layers = list(model.layers)
    activations = [layer.activation for layer in layers]
    kernels = [layer.kernel for layer in layers]
    before = [w.copy() for w in model.get_weights()]
    config = model.get_config()
    with pytest.warns(GradfitAdvice):
        model.compile(loss=loss, metrics=["accuracy"])
    assert model.loss is loss and model._loss is loss and loss.from_logits
    assert model.layers == layers
    assert [layer.activation for layer in model.layers] == activations
    assert all(layer.kernel is kernel for layer, kernel in zip(model.layers, kernels))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    assert model.get_config() == config
    assert model.layers[-1].activation is gradfit.keras.activations.sigmoid
    model.fit(x, y, epochs=1, verbose=0)  # still trains as written
    assert model.layers[0].activation is gradfit.keras.activations.linear
