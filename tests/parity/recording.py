"""What the scripts that record Keras fixtures share. They run by hand in a TensorFlow virtual environment,
never in the test suite (which only reads the fixtures they wrote)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
#: the course's data files: ``shared/data`` beside the repository (``../shared/data`` from its root), never in it
DATA_DIR = REPO.parent / "shared" / "data"


class MissingData(FileNotFoundError):
    """A case needs a data file from ``../shared/data`` that this checkout does not have beside it."""


def data_file(name: str) -> Path:
    """``../shared/data/<name>`` beside the repository; :class:`MissingData` naming it when it is absent."""
    path = DATA_DIR / name
    if not path.is_file():
        raise MissingData(f"data file {path} is not available (expected in ../shared/data beside the repository)")
    return path


def versions(keras) -> np.ndarray:
    """The Keras and TensorFlow versions a fixture was recorded with, as a JSON string array."""
    import tensorflow as tf

    return np.array(json.dumps({"keras": keras.__version__, "tensorflow": tf.__version__}))


def add_trajectory(arrays: dict, history: dict, initial: list, final: list) -> None:
    """Store the per-epoch History and the weights before and after training under Keras-independent keys."""
    for key, values in history.items():
        arrays["history/" + key] = np.asarray(values, dtype=np.float64)
    for i, w in enumerate(initial):
        arrays[f"initial/{i}"] = w
    for i, w in enumerate(final):
        arrays[f"final/{i}"] = w


def fit_kwargs(spec: dict) -> dict:
    """A case's ``fit`` arguments, unshuffled and silent (fixtures compare epoch by epoch)."""
    return {**spec["fit"], "shuffle": False, "verbose": 0}


def build_sequential(K, spec: dict):
    """A case's model, ``Input(input_shape)`` then ``[(layer class, kwargs), …]``, compiled with its loss, optimizer
    and metrics, built with ``K`` (``keras`` or ``gradfit.keras``); weights not yet set."""
    layers = [K.Input(shape=tuple(spec["input_shape"]))]
    for class_name, kwargs in spec["layers"]:
        layers.append(getattr(K.layers, class_name)(**kwargs))
    model = K.Sequential(layers)
    loss_name, loss_kwargs = spec["loss"]
    opt_name, opt_kwargs = spec["optimizer"]
    model.compile(
        optimizer=getattr(K.optimizers, opt_name)(**opt_kwargs),
        loss=getattr(K.losses, loss_name)(**loss_kwargs),
        metrics=list(spec["metrics"]),
    )
    return model


def glorot_weights(model, rng: np.random.Generator, scale: float = 1.0) -> list[np.ndarray]:
    """Glorot-uniform kernels (times ``scale``) and small non-zero biases, drawn from ``rng`` in ``get_weights``
    order, so that both libraries start from the same weights."""
    out = []
    for w in model.get_weights():
        if w.ndim == 2:
            limit = scale * np.sqrt(6.0 / (w.shape[0] + w.shape[1]))
            out.append(rng.uniform(-limit, limit, size=w.shape).astype(np.float32))
        else:
            out.append(rng.uniform(-0.1, 0.1, size=w.shape).astype(np.float32))
    return out


def save(folder: Path, name: str, arrays: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    return path


def record_all(cases: list[dict], names: list[str], record: Callable[[dict], Path], describe=lambda path: "") -> None:
    """Record every case (or only those named), printing each fixture's path and size."""
    unknown = set(names) - {c["name"] for c in cases}
    if unknown:
        raise SystemExit(f"unknown case(s): {sorted(unknown)}")
    for spec in cases:
        if names and spec["name"] not in names:
            continue
        try:
            path = record(spec)
        except MissingData as exc:  # a checkout without ../shared: record what can be, say what was left out
            print(f"skipping {spec['name']}: {exc}")
            continue
        print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:.1f} KiB  {describe(path)}".rstrip())
