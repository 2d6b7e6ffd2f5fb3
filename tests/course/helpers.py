"""What several lab modules share: reading ``model.summary()``'s table, and the labs' ``make_blobs`` data."""

from __future__ import annotations

import re

import numpy as np

#: the column separators Keras 3 draws (box drawing), or plain bars
_SEP = r"[│┃|]"


def summary_row(name: str, kind: str, shape: str, params: str) -> re.Pattern:
    """A regex for one row of the summary table, e.g. ``│ L1 (Dense) │ (None, 25) │ 10,025 │``."""
    return re.compile(
        rf"{_SEP}\s*{re.escape(name)} \({re.escape(kind)}\)\s*{_SEP}\s*{re.escape(shape)}\s*{_SEP}\s*"
        rf"{re.escape(params)}\s*{_SEP}"
    )


def check_summary(
    text: str,
    model_name: str,
    rows: list[tuple[str, str, str, str]],
    total: str,
    trainable: str,
    non_trainable: str = "0",
) -> None:
    """Assert the Keras summary text: title, header cells, one row per layer in order, and the totals."""
    lines = text.splitlines()
    assert lines[0] == f'Model: "{model_name}"'
    header = re.compile(rf"{_SEP}\s*Layer \(type\)\s*{_SEP}\s*Output Shape\s*{_SEP}\s*Param #\s*{_SEP}")
    assert any(header.search(line) for line in lines), text
    positions = []
    for row in rows:
        pattern = summary_row(*row)
        hits = [i for i, line in enumerate(lines) if pattern.search(line)]
        assert len(hits) == 1, f"row {row} not found once in:\n{text}"
        positions.append(hits[0])
    assert positions == sorted(positions), "the layers must be listed in order"
    assert re.search(rf"^\s*Total params: {re.escape(total)}\b", text, re.M), text
    assert re.search(rf"^\s*Trainable params: {re.escape(trainable)}\b", text, re.M), text
    assert re.search(rf"^\s*Non-trainable params: {re.escape(non_trainable)}\b", text, re.M), text


def make_blobs(n_samples: int, centers, cluster_std: float, random_state: int):
    """``sklearn.datasets.make_blobs`` as the labs call it; a NumPy stand-in when scikit-learn is absent."""
    try:
        from sklearn.datasets import make_blobs as sk_make_blobs
    except ImportError:
        centers = np.asarray(centers, dtype=float)
        rng = np.random.default_rng(random_state)
        y = np.arange(n_samples) % len(centers)
        rng.shuffle(y)
        X = centers[y] + cluster_std * rng.normal(size=(n_samples, centers.shape[1]))
        return X, y
    return sk_make_blobs(n_samples=n_samples, centers=centers, cluster_std=cluster_std, random_state=random_state)
