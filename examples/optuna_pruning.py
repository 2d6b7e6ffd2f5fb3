"""An Optuna study of week 3's network: lambda and the learning rate, poor trials pruned epoch by epoch.

Where ``GridSearchCV`` trains every candidate to the end, an Optuna study samples the next candidate from
what earlier trials scored (TPE) and stops a trial early when it is doing worse than the others did at the same
epoch (``MedianPruner``). The trial trains through ``SKLearnClassifier.partial_fit``: each call is one more epoch
of the same model with its optimizer state, so after every epoch the trial reports the validation accuracy
(``trial.report``) and asks ``trial.should_prune()``. The data are the lab's 6 blobs and its train /
cross-validation split; the network is the lab's 120-40-6 with ``kernel_regularizer=l2(lambda)``.
What to look for: a good share of the trials pruned after a few epochs (their curves stop early in the
picture), and a best trial with a small lambda and a learning rate near the lab's 0.01.

    python examples/optuna_pruning.py [--trials 30] [--epochs 60] [--out examples-output]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import optuna
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

import gradfit as tf
from gradfit.keras import Input, Sequential
from gradfit.keras.layers import Dense
from gradfit.keras.wrappers import SKLearnClassifier


def build_model(X, y, lambda_=0.0, learning_rate=0.01, seed=1234):
    """The lab's complex model; the wrapper one-hot encodes ``y`` (categorical cross-entropy from logits)."""
    tf.keras.utils.set_random_seed(seed)
    model = Sequential(
        [
            Input(shape=(X.shape[1],)),
            Dense(120, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
            Dense(40, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(lambda_)),
            Dense(y.shape[1], activation="linear"),
        ]
    )
    model.compile(
        loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        optimizer=tf.keras.optimizers.Adam(learning_rate),
    )
    return model


def lab_data():
    centers = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [-2, 1], [-2, -1]])
    X, y = make_blobs(n_samples=800, centers=centers, cluster_std=0.4, random_state=2, n_features=2)
    X_train, X_, y_train, y_ = train_test_split(X, y, test_size=0.50, random_state=1)
    X_cv, _, y_cv, _ = train_test_split(X_, y_, test_size=0.20, random_state=1)
    return X_train, y_train, X_cv, y_cv


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="trials of the study")
    parser.add_argument("--epochs", type=int, default=60, help="most epochs a trial trains (if not pruned)")
    parser.add_argument("--out", type=Path, default=Path("examples-output"), help="folder for the picture")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.trials < 1:
        parser.error("--trials must be at least 1")

    X_train, y_train, X_cv, y_cv = lab_data()
    classes = np.unique(y_train)
    curves: dict[int, list[float]] = {}  # trial number: validation accuracy after each epoch

    def objective(trial: optuna.Trial) -> float:
        lambda_ = trial.suggest_float("lambda_", 1e-4, 0.3, log=True)
        learning_rate = trial.suggest_float("learning_rate", 1e-3, 0.1, log=True)
        estimator = SKLearnClassifier(
            model=build_model,
            model_kwargs={"lambda_": lambda_, "learning_rate": learning_rate},
            fit_kwargs={"verbose": 0},
        )
        curve = curves.setdefault(trial.number, [])
        for epoch in range(args.epochs):
            estimator.partial_fit(X_train, y_train, classes=classes)  # one epoch more, optimizer state kept
            curve.append(estimator.score(X_cv, y_cv))
            trial.report(curve[-1], step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1]

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial below instead of Optuna's log
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        # judge a trial against the median of the others at the same epoch, once 5 trials ran and after a
        # tenth of the epochs (the first epochs of every trial look alike)
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, args.epochs // 10)),
    )
    study.optimize(objective, n_trials=args.trials)

    print(f"{'trial':>5}  {'lambda':>8}  {'learning rate':>13}  {'epochs':>6}  {'cv accuracy':>11}  state")
    for trial in study.trials:
        curve = curves[trial.number]
        print(
            f"{trial.number:>5}  {trial.params['lambda_']:>8.4f}  {trial.params['learning_rate']:>13.4f}  "
            f"{len(curve):>6}  {curve[-1]:>11.3f}  {trial.state.name.lower()}"
        )
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    print(f"Pruned trials: {len(pruned)} of {len(study.trials)}")
    print(f"Epochs trained: {sum(map(len, curves.values()))} of {args.trials * args.epochs} without pruning")
    best = study.best_trial
    print(
        f"Best trial {best.number}: lambda {best.params['lambda_']:.4f}, learning rate "
        f"{best.params['learning_rate']:.4f}, validation error {1 - best.value:.3f}"
    )

    if importlib.util.find_spec("matplotlib") is None:
        print("(matplotlib is not installed: no pictures)")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for trial in study.trials:
        curve = curves[trial.number]
        done = trial.state == optuna.trial.TrialState.COMPLETE
        ax.plot(range(1, len(curve) + 1), curve, color="C0" if done else "gray", alpha=0.8 if done else 0.5, lw=1)
    ax.plot([], [], color="C0", label="completed")
    ax.plot([], [], color="gray", label="pruned")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Optuna trials, pruned by the median rule")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = args.out / "optuna_pruning_trials.png"
    fig.savefig(path, dpi=100)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
