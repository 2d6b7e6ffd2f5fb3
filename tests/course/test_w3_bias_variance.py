"""C2_W3 "Model Evaluation and Selection" lab and "Advice for Applying Machine Learning" assignment.

* Model evaluation: the three regression networks of ``utils.build_models`` (``loss='mse'``, ``Adam(0.1)``)
  on a train / cross-validation / test split, MSE / 2 as the lab computes it; the classification error of
  the lab's worked example; binary classification with a linear output and ``from_logits=True``.
* Bias and variance: the 6-class blobs, a complex 120-40-6 model, a simple 6-6 model, the complex model
  regularised with ``kernel_regularizer=tf.keras.regularizers.l2(0.1)``, and the sweep over lambda.
  Epochs are cut from the course's 1000 to keep the suite fast; what is asserted holds from early on.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradfit as tf
from gradfit.keras import Sequential
from gradfit.keras.activations import linear, relu
from gradfit.keras.layers import Dense
from gradfit.keras.regularizers import L2

LAMBDAS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3]


def eval_cat_err(y, yhat):
    """The assignment's exercise (UNQ_C4): the fraction of examples categorised wrongly."""
    m = len(y)
    incorrect = 0
    for i in range(m):
        if yhat[i] != y[i]:
            incorrect += 1
    cerr = incorrect / m
    return cerr


def gen_blobs():
    """The assignment's data (``assigment_utils.gen_blobs``): 800 examples, 6 classes."""
    make_blobs = pytest.importorskip("sklearn.datasets").make_blobs
    classes = 6
    m = 800
    std = 0.4
    centers = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [-2, 1], [-2, -1]])
    X, y = make_blobs(n_samples=m, centers=centers, cluster_std=std, random_state=2, n_features=2)
    return (X, y, centers, classes, std)


@pytest.fixture(scope="module")
def blobs():
    train_test_split = pytest.importorskip("sklearn.model_selection").train_test_split
    X, y, centers, classes, std = gen_blobs()
    X_train, X_, y_train, y_ = train_test_split(X, y, test_size=0.50, random_state=1)
    X_cv, X_test, y_cv, y_test = train_test_split(X_, y_, test_size=0.20, random_state=1)
    return X_train, y_train, X_cv, y_cv, classes


def compile_and_fit(model, X_train, y_train, epochs):
    model.compile(
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(0.01),
    )
    return model.fit(X_train, y_train, epochs=epochs, verbose=0)


def model_predict(model):
    """The assignment's ``model_predict = lambda Xl: np.argmax(tf.nn.softmax(model.predict(Xl)).numpy(), axis=1)``."""
    return lambda Xl: np.argmax(tf.nn.softmax(model.predict(Xl, verbose=0)).numpy(), axis=1)


def complex_model(classes, lambda_=None, name="Complex"):
    reg = (lambda: None) if lambda_ is None else (lambda: tf.keras.regularizers.l2(lambda_))
    return Sequential(
        [
            Dense(120, activation="relu", kernel_regularizer=reg(), name="L1"),
            Dense(40, activation="relu", kernel_regularizer=reg(), name="L2"),
            Dense(classes, activation="linear", name="L3"),
        ],
        name=name,
    )


# ------------------------------------------------------------------------------------------- error measures


def test_eval_cat_err():
    y_hat = np.array([1, 2, 0])
    y_tmp = np.array([1, 2, 3])
    assert f"{np.squeeze(eval_cat_err(y_hat, y_tmp)):0.3f}" == "0.333"
    y_hat = np.array([[1], [2], [0], [3]])
    y_tmp = np.array([[1], [2], [1], [3]])
    assert f"{np.squeeze(eval_cat_err(y_hat, y_tmp)):0.3f}" == "0.250"


def test_fraction_misclassified_example():
    """The model-evaluation lab's worked example: threshold 0.5, fraction of misclassified data is 0.4."""
    probabilities = np.array([0.2, 0.6, 0.7, 0.3, 0.8])
    predictions = np.where(probabilities >= 0.5, 1, 0)
    ground_truth = np.array([1, 1, 1, 1, 1])
    misclassified = 0
    num_predictions = len(predictions)
    for i in range(num_predictions):
        if predictions[i] != ground_truth[i]:
            misclassified += 1
    fraction_error = misclassified / num_predictions
    assert fraction_error == pytest.approx(0.4)
    assert tf.nn.sigmoid(np.array([0.0])).numpy()[0] == 0.5


# ------------------------------------------------------------------------------------------- model evaluation lab


def build_models():
    """The lab's ``utils.build_models``: three regression networks of growing depth."""
    tf.random.set_seed(20)
    model_1 = Sequential(
        [Dense(25, activation="relu"), Dense(15, activation="relu"), Dense(1, activation="linear")],
        name="model_1",
    )
    model_2 = Sequential(
        [
            Dense(20, activation="relu"),
            Dense(12, activation="relu"),
            Dense(12, activation="relu"),
            Dense(20, activation="relu"),
            Dense(1, activation="linear"),
        ],
        name="model_2",
    )
    model_3 = Sequential(
        [
            Dense(32, activation="relu"),
            Dense(16, activation="relu"),
            Dense(8, activation="relu"),
            Dense(4, activation="relu"),
            Dense(12, activation="relu"),
            Dense(1, activation="linear"),
        ],
        name="model_3",
    )
    model_list = [model_1, model_2, model_3]
    return model_list


def _split_60_20_20(x, y):
    train_test_split = pytest.importorskip("sklearn.model_selection").train_test_split
    x_train, x_, y_train, y_ = train_test_split(x, y, test_size=0.40, random_state=1)
    x_cv, x_test, y_cv, y_test = train_test_split(x_, y_, test_size=0.50, random_state=1)
    return x_train, y_train, x_cv, y_cv, x_test, y_test


def test_model_evaluation_regression_networks():
    """Three networks, ``loss='mse'``, ``Adam(learning_rate=0.1)``, 300 epochs; train and cv MSE / 2."""
    StandardScaler = pytest.importorskip("sklearn.preprocessing").StandardScaler
    rng = np.random.default_rng(0)
    # 50 houses like the lab's data_w3_ex1.csv: a curved trend plus noise
    x = rng.uniform(1600, 3600, size=(50, 1))
    y = 100 + 0.1 * x + 2e-5 * (x - 2500) ** 2 + rng.normal(0, 15, size=(50, 1))
    x_train, y_train, x_cv, y_cv, x_test, y_test = _split_60_20_20(x, y)
    assert (len(x_train), len(x_cv), len(x_test)) == (30, 10, 10)
    scaler = StandardScaler()
    X_train_mapped_scaled = scaler.fit_transform(x_train)
    X_cv_mapped_scaled = scaler.transform(x_cv)

    baseline = float(np.mean((y_train - y_train.mean()) ** 2) / 2)
    nn_train_mses, nn_cv_mses = [], []
    nn_models = build_models()
    for model in nn_models:
        model.compile(loss="mse", optimizer=tf.keras.optimizers.Adam(learning_rate=0.1))
        history = model.fit(X_train_mapped_scaled, y_train, epochs=300, verbose=0)
        assert model.loss == "mse"
        assert history.history["loss"][-1] < 0.01 * history.history["loss"][0]
        yhat = model.predict(X_train_mapped_scaled, verbose=0)
        nn_train_mses.append(float(np.mean((y_train - yhat) ** 2) / 2))
        yhat = model.predict(X_cv_mapped_scaled, verbose=0)
        nn_cv_mses.append(float(np.mean((y_cv - yhat) ** 2) / 2))
    assert [m.name for m in nn_models] == ["model_1", "model_2", "model_3"]
    assert all(np.isfinite(nn_train_mses + nn_cv_mses))
    # every network fits far better than predicting the mean, down to about the noise (sigma^2 / 2 = 112)
    assert max(nn_train_mses) < 0.1 * baseline
    assert max(nn_train_mses) < 300
    model_num = int(np.argmin(nn_cv_mses)) + 1
    assert model_num in (1, 2, 3)


def test_model_evaluation_binary_classification_from_logits():
    """The lab's classification part: linear output, ``BinaryCrossentropy(from_logits=True)``, then sigmoid."""
    rng = np.random.default_rng(1)
    x_bc = rng.normal(size=(200, 2))
    y_bc = (x_bc[:, 0] ** 2 + x_bc[:, 1] > 0.5).astype(float)
    y_bc = np.expand_dims(y_bc, axis=1)
    x_bc_train, y_bc_train, x_bc_cv, y_bc_cv, _, _ = _split_60_20_20(x_bc, y_bc)
    mean, std = x_bc_train.mean(axis=0), x_bc_train.std(axis=0)
    x_bc_train_scaled = (x_bc_train - mean) / std
    x_bc_cv_scaled = (x_bc_cv - mean) / std

    tf.random.set_seed(20)
    model = Sequential(
        [Dense(25, activation="relu"), Dense(15, activation="relu"), Dense(1, activation="linear")], name="model_1"
    )
    model.compile(
        loss=tf.keras.losses.BinaryCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    )
    model.fit(x_bc_train_scaled, y_bc_train, epochs=200, verbose=0)
    assert model.loss.get_config()["from_logits"] is True
    threshold = 0.5
    yhat = model.predict(x_bc_train_scaled, verbose=0)
    assert yhat.min() < 0 or yhat.max() > 1  # logits, not probabilities
    yhat = tf.nn.sigmoid(yhat)
    yhat = np.where(yhat >= threshold, 1, 0)
    train_error = np.mean(yhat != y_bc_train)
    yhat = np.where(tf.nn.sigmoid(model.predict(x_bc_cv_scaled, verbose=0)) >= threshold, 1, 0)
    cv_error = np.mean(yhat != y_bc_cv)
    assert train_error <= 0.05
    assert cv_error <= 0.25


# ------------------------------------------------------------------------------------------- bias and variance


def test_complex_simple_and_regularized_models(blobs):
    """Complex model: low training error, higher cv error (variance). Regularised: weights shrink, less overfit."""
    X_train, y_train, X_cv, y_cv, classes = blobs
    assert X_train.shape == (400, 2) and X_cv.shape == (320, 2)

    tf.random.set_seed(1234)
    model = complex_model(classes)
    compile_and_fit(model, X_train, y_train, epochs=300)
    predict = model_predict(model)
    training_cerr_complex = eval_cat_err(y_train, predict(X_train))
    cv_cerr_complex = eval_cat_err(y_cv, predict(X_cv))
    assert training_cerr_complex <= 0.05  # course (1000 epochs): 0.003
    assert cv_cerr_complex > training_cerr_complex  # course: 0.122

    tf.random.set_seed(1234)
    model_s = Sequential(
        [Dense(6, activation="relu", name="L1"), Dense(classes, activation="linear", name="L2")], name="Simple"
    )
    compile_and_fit(model_s, X_train, y_train, epochs=300)
    predict = model_predict(model_s)
    assert eval_cat_err(y_train, predict(X_train)) <= 0.15  # course: 0.062
    assert eval_cat_err(y_cv, predict(X_cv)) <= 0.15  # course: 0.087

    tf.random.set_seed(1234)
    model_r = complex_model(classes, 0.1, name="ComplexRegularized")
    # the assignment's public test of the regularised model
    model_r.build(input_shape=(None, 2))
    expected = [[Dense, (None, 120), relu, 0.1], [Dense, (None, 40), relu, 0.1], [Dense, (None, classes), linear, None]]
    for layer, (kind, shape, activation, l2) in zip(model_r.layers, expected):
        assert type(layer) is kind and layer.output.shape == shape and layer.activation == activation
        if l2 is None:
            assert layer.kernel_regularizer is None
        else:
            assert type(layer.kernel_regularizer) is tf.keras.regularizers.l2 is L2
            assert np.isclose(layer.kernel_regularizer.l2, l2)
    compile_and_fit(model_r, X_train, y_train, epochs=300)
    predict = model_predict(model_r)
    training_cerr_reg = eval_cat_err(y_train, predict(X_train))
    cv_cerr_reg = eval_cat_err(y_cv, predict(X_cv))
    assert training_cerr_reg >= training_cerr_complex  # course: 0.072 vs 0.003
    assert cv_cerr_reg <= 0.15  # course: 0.066
    assert abs(cv_cerr_reg - training_cerr_reg) < cv_cerr_complex - training_cerr_complex  # less variance
    norm = lambda m: sum(float(np.sum(layer.kernel**2)) for layer in m.layers[:2])  # noqa: E731
    assert norm(model_r) < 0.01 * norm(model)


def test_l2_penalty_is_added_to_the_loss():
    """Same seed, same initial weights: the regularised loss is the plain loss plus ``0.1 * sum(W**2)``."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 2))
    y = rng.integers(0, 6, size=64)
    losses, models = [], []
    for lambda_ in (None, 0.1):
        tf.random.set_seed(1234)
        model = complex_model(6, lambda_)
        model.compile(
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            optimizer=tf.keras.optimizers.Adam(0.01),
        )
        model.build((None, 2))
        losses.append(model.evaluate(X, y, verbose=0))
        models.append(model)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    L1, L2_, _ = models[1].layers
    penalty = 0.1 * (np.sum(L1.kernel.astype(np.float64) ** 2) + np.sum(L2_.kernel.astype(np.float64) ** 2))
    assert losses[1] - losses[0] == pytest.approx(penalty, rel=1e-4)
    assert sum(models[1].losses) == pytest.approx(penalty, rel=1e-5)
    assert L1.kernel_regularizer(L1.kernel) == pytest.approx(0.1 * np.sum(L1.kernel.astype(np.float64) ** 2), 1e-5)


def test_lambda_sweep(blobs):
    """The assignment's sweep: the regularised training loss grows with lambda, the weights shrink, and the
    training error at lambda = 0.3 is no lower than without regularisation."""
    X_train, y_train, X_cv, y_cv, classes = blobs
    tf.random.set_seed(1234)
    lambdas = LAMBDAS
    models = [None] * len(lambdas)
    for i in range(len(lambdas)):
        lambda_ = lambdas[i]
        models[i] = Sequential(
            [
                Dense(120, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
                Dense(40, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
                Dense(classes, activation="linear"),
            ]
        )
        models[i].compile(
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            optimizer=tf.keras.optimizers.Adam(0.01),
        )
        models[i].fit(X_train, y_train, epochs=100, verbose=0)
        assert models[i].layers[0].kernel_regularizer.l2 == lambda_
    train_loss = [m.evaluate(X_train, y_train, verbose=0) for m in models]
    assert all(np.isfinite(train_loss))
    assert all(b > a for a, b in zip(train_loss, train_loss[1:])), train_loss
    norms = [sum(float(np.sum(layer.kernel**2)) for layer in m.layers[:2]) for m in models]
    assert norms[-1] < 0.1 * norms[0] and norms[-1] < norms[3] < norms[0]
    train_err = [eval_cat_err(y_train, model_predict(m)(X_train)) for m in models]
    cv_err = [eval_cat_err(y_cv, model_predict(m)(X_cv)) for m in models]
    assert train_err[-1] >= train_err[0]
    assert max(train_err + cv_err) <= 0.2
