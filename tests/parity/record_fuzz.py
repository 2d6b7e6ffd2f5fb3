"""Record the differential fuzz against Keras (run by hand in a TensorFlow venv, never in the suite):

    /tmp/tfenv/bin/python tests/parity/record_fuzz.py            # N=150 configurations from seed 0
    /tmp/tfenv/bin/python tests/parity/record_fuzz.py 40 1000    # 40 configurations from seed 1000, written to $TMPDIR

``fuzz_cases.draw(seed)`` draws each configuration (layers, regularizers, constraints, loss, metrics, optimizer
options, fit / evaluate / predict arguments); Keras builds it, starts from ``fuzz_cases.initial_weights``, trains
it on ``fuzz_cases.data(spec)`` (float32, ``shuffle=False``) and ``fixtures/fuzz/fuzz.npz`` holds, per
configuration ``<seed>/``: the spec as JSON, the initial and final weights, the History, ``evaluate`` (as a dict)
and ``predict``, or, where Keras raised, the stage (build / fit / evaluate / predict), exception type and message.
Configurations with random layers at work (Dropout rate > 0 …) are not trained: only their inference is recorded.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.parity import fuzz_cases  # noqa: E402
from tests.parity.recording import versions  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "fuzz"
N = 150


def record_one(keras, seed: int) -> dict:
    """The arrays of one configuration, under ``<seed>/``."""
    spec = fuzz_cases.draw(seed)
    prefix = f"{seed}/"
    arrays: dict = {prefix + "spec": np.array(json.dumps(spec))}
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    stage = "build"
    try:
        d = fuzz_cases.data(spec)
        model = fuzz_cases.build(keras, spec, d["x"])
        initial = fuzz_cases.initial_weights([(v.numpy(), v.path) for v in model.weights], seed)
        model.set_weights(initial)
        for i, w in enumerate(initial):
            arrays[f"{prefix}initial/{i}"] = w
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if spec["train"]:
                stage = "fit"
                history = model.fit(d["x"], d["y"], **fuzz_cases.fit_kwargs(spec, d)).history
                arrays[prefix + "history_keys"] = np.array(sorted(history))
                for key, values in history.items():
                    arrays[f"{prefix}history/{key}"] = np.asarray(values, np.float64)
                for i, w in enumerate(model.get_weights()):
                    arrays[f"{prefix}final/{i}"] = w
            stage = "evaluate"
            result = model.evaluate(d["x"], d["y"], verbose=0, return_dict=True, **spec["evaluate"])
            arrays[prefix + "evaluate_keys"] = np.array(sorted(result))
            for key, value in result.items():
                arrays[f"{prefix}evaluate/{key}"] = np.asarray(value, np.float64)
            stage = "predict"
            arrays[prefix + "predict"] = model.predict(d["x"], verbose=0, **spec["predict"])
    except Exception as exc:  # noqa: BLE001 - what Keras refuses is part of the recording
        arrays[prefix + "error"] = np.array(
            json.dumps({"stage": stage, "type": type(exc).__name__, "message": str(exc)[:400]})
        )
    return arrays


def main(argv: list[str]) -> None:
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # one retracing warning per configuration otherwise
    count = int(argv[0]) if argv else N
    first = int(argv[1]) if len(argv) > 1 else 0
    arrays: dict = {"versions": versions(keras), "seeds": np.arange(first, first + count)}
    raised = 0
    for seed in range(first, first + count):
        one = record_one(keras, seed)
        if f"{seed}/error" in one:
            raised += 1
            print(seed, json.loads(str(one[f"{seed}/error"])))
        arrays.update(one)
    OUT.mkdir(parents=True, exist_ok=True)
    # the stored fixture is the default run; other draws go to the temporary folder, for exploring
    path = OUT / "fuzz.npz" if not argv else Path(os.environ.get("TMPDIR", "/tmp")) / f"fuzz_{first}_{count}.npz"
    np.savez_compressed(path, **arrays)
    print(f"{path}  {path.stat().st_size / 1024:.1f} KiB  {count} configurations, {raised} raised in Keras")


if __name__ == "__main__":
    main(sys.argv[1:])
