"""Every script in ``examples/`` runs to the end with a few epochs, prints its key numbers and writes valid PNGs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradfit import plot

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BOUNDARY = hasattr(plot, "plot_decision_boundary")
UNITS = hasattr(plot, "plot_units")

# script: (epochs, lines the output must contain, PNGs it must write)
CASES = {
    "seed_digits_01.py": (
        2,
        [
            "Total params: 10,431",
            "W1 shape = (400, 25), b1 shape = (25,)",
            "Final loss:",
            "predicting a zero:",
            "predicting a one:",
            "Training accuracy:",
        ],
        ["seed_digits_01_loss.png", "seed_digits_01_digits.png"],
    ),
    "coffee_roasting.py": (
        1,
        [
            "X shape: (200, 2), Y shape: (200, 1)",
            "Tiled: (200000, 2), (200000, 1)",
            "Total params: 13",
            "Final loss:",
            "200 C for 13.9 min: p(good) =",
            "200 C for 17.0 min: p(good) =",
            "Training accuracy (200 roasts):",
        ],
        ["coffee_roasting_loss.png"]
        + (["coffee_roasting_boundary.png"] if BOUNDARY else [])
        + (["coffee_roasting_units.png"] if UNITS else []),
    ),
    "relu_piecewise.py": (
        5,
        ["Total params: 10", "Hand-set weights: loss = 0.000000", "seed 0: final loss", "Final loss:"],
        ["relu_piecewise_fit.png", "relu_piecewise_loss.png"] + (["relu_piecewise_units.png"] if UNITS else []),
    ),
    "softmax_blobs.py": (
        2,
        ["X_train shape: (2000, 2)", "Total params: 529", "rows sum to 1: True", "category:", "Training accuracy:"],
        ["softmax_blobs_history.png"] + (["softmax_blobs_regions.png"] if BOUNDARY else []),
    ),
    "digits_0to9.py": (
        2,
        ["Total params: 10,575", "Largest Prediction index:", "errors out of", "Training accuracy:"],
        ["digits_0to9_loss.png", "digits_0to9_digits.png"] + (["digits_0to9_units.png"] if UNITS else []),
    ),
    "regularization_sweep.py": (
        3,
        [
            "X_train.shape: (400, 2), X_cv.shape: (320, 2), X_test.shape: (80, 2)",
            "Total params: 5,446",
            "train error",
            "validation error",
            "Best lambda by validation error:",
            "Its test error",
        ],
        ["regularization_sweep_errors.png"] + (["regularization_sweep_lambda_0.0.png"] if BOUNDARY else []),
    ),
    "sweep_gridsearch.py": (
        2,
        [
            "GridSearchCV(n_jobs=1): 7 fits",
            "GridSearchCV(n_jobs=2): 7 fits",
            "same scores with n_jobs=1 and n_jobs=2: True",
            "Best lambda by validation error:",
            "Its test error",
        ],
        ["sweep_gridsearch_errors.png"],
    ),
    "sweep_dask.py": (
        2,
        [
            "starting a LocalCluster of 2 worker processes",
            ": 2 workers",
            "GridSearchCV on Dask: 7 fits",
            "same scores as n_jobs=1 here: True",
        ],
        ["sweep_dask_errors.png"],
    ),
    "optuna_pruning.py": (3, ["Pruned trials:", "Epochs trained:", "Best trial"], ["optuna_pruning_trials.png"]),
}
#: the optional packages a script needs (skipped where one is missing)
REQUIRES = {
    "sweep_gridsearch.py": ["sklearn"],
    "sweep_dask.py": ["sklearn", "distributed"],
    "optuna_pruning.py": ["sklearn", "optuna"],
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)
    readme = (EXAMPLES / "README.md").read_text()
    for name in CASES:
        assert f"examples/{name}" in readme


def run_example(name: str, epochs: int, out: Path) -> str:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8"}
    # sweep_dask.py: its own LocalCluster (no scheduler from the environment), scratch space under out
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env["DASK_TEMPORARY_DIRECTORY"] = str(out / "dask")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--epochs", str(epochs), "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert result.returncode == 0, f"{name} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name, tmp_path):
    for module in REQUIRES.get(name, []):
        pytest.importorskip(module)
    epochs, lines, pngs = CASES[name]
    out = tmp_path / "out"
    stdout = run_example(name, epochs, out)
    for line in lines:
        assert line in stdout, f"{name}: {line!r} missing from the output:\n{stdout}"
    if name == "regularization_sweep.py":  # one row "lambda train-error validation-error" per lambda
        rows = [row.split() for row in stdout.splitlines()]
        rows = [row for row in rows if len(row) == 3 and row[0].replace(".", "", 1).isdigit()]
        assert [row[0] for row in rows] == ["0.0", "0.001", "0.01", "0.05", "0.1", "0.2", "0.3"]
        assert all(0.0 <= float(v) <= 1.0 for row in rows for v in row[1:])
    if not HAS_MATPLOTLIB:
        assert "matplotlib is not installed" in stdout
        return
    written = sorted(p.name for p in out.glob("*.png"))
    assert set(pngs) <= set(written), f"{name} wrote {written}, expected at least {pngs}"
    for png in out.glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == PNG_SIGNATURE, f"{png.name} is not a PNG"
        assert len(data) > 1024, f"{png.name} is only {len(data)} bytes"
        assert f"Wrote {out / png.name}" in stdout


def test_bad_epochs_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "softmax_blobs.py"), "--epochs", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--epochs must be at least 1" in result.stderr


@pytest.mark.parametrize("name", ["seed_digits_01", "digits_0to9"])
def test_digit_examples_fall_back_to_scikit_learn_digits(name, tmp_path, monkeypatch, capsys):
    """Without the course's files the digit scripts train on scikit-learn's digits and pick the lab's checks."""
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DATA_DIR", tmp_path / "no-data")
    module.main(["--epochs", "1", "--out", str(tmp_path)])
    stdout = capsys.readouterr().out
    assert "scikit-learn's digits upsampled to 20x20" in stdout
    expected = {
        "seed_digits_01": ["Total params: 10,431", "(X[0])", "(X[1])"],  # 360 unsorted 0s and 1s
        "digits_0to9": ["Total params: 10,575", "X[2] is labelled 2", "errors out of 1797 images"],
    }[name]
    for line in expected:
        assert line in stdout, f"{line!r} missing from the output:\n{stdout}"
