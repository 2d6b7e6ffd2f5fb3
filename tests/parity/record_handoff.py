"""Record the hand-off fixtures: gradfit's ``.keras`` files continued in Keras 3. Run by hand in a throwaway
environment with TensorFlow, never by CI:

    /tmp/tfenv/bin/python tests/parity/record_handoff.py            # every case of handoff_cases.py
    /tmp/tfenv/bin/python tests/parity/record_handoff.py NAME ...   # some cases

For each case, in ``fixtures/handoff/``:

* ``<case>.keras``: written by gradfit (imported from this checkout: ``handoff_cases.write_gradfit_file``), the
  model trained ``save_after`` epochs, optimizer state included;
* ``<case>.npz``: that file loaded with ``keras.saving.load_model`` and trained ``continue_epochs`` more epochs
  in one ``fit`` (same data, ``shuffle=False``, same batch size): the History, the final weights and the
  optimizer's variables (``optimizer.variables``: Keras's order and paths) right after loading and at the end.

Loading must be silent and complete: a warning while loading (Keras skips an optimizer state whose variable
count differs, with a warning only) or an optimizer variable that does not hold the file's value stops the
recorder. ``test_handoff_parity.py`` replays the continuation in gradfit.
"""

from __future__ import annotations

import io
import json
import os
import sys
import warnings
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: fewer reorderings of float32 sums

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # gradfit from this checkout, to write the files

from handoff_cases import CASES, FIXTURES, continue_training, float_type, write_gradfit_file  # noqa: E402
from recording import record_all, save, versions  # noqa: E402


def file_optimizer_values(path: Path) -> list[np.ndarray]:
    """``optimizer/vars/0, 1, …`` of a ``.keras`` file, read with h5py."""
    import h5py

    with zipfile.ZipFile(path) as zf:
        data = zf.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as f:
        group = f["optimizer/vars"]
        return [np.asarray(group[str(i)]) for i in range(len(group))]


def record(spec: dict) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    path = FIXTURES / f"{spec['name']}.keras"
    FIXTURES.mkdir(parents=True, exist_ok=True)
    write_gradfit_file(spec, path)
    with float_type(keras, spec), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(path)
    if caught:
        raise SystemExit(
            f"{spec['name']}: Keras warned while loading gradfit's file: {[str(w.message) for w in caught]}"
        )
    opt = model.optimizer
    loaded = [np.asarray(v.numpy()) for v in opt.variables]
    in_file = file_optimizer_values(path)
    if len(loaded) != len(in_file) or any(not np.array_equal(a, b) for a, b in zip(loaded, in_file)):
        raise SystemExit(f"{spec['name']}: Keras's optimizer does not hold the state in gradfit's file")
    with float_type(keras, spec):  # a float64 model trains in Keras with floatx float64 (its losses and metrics too)
        result = continue_training(model, spec)
    arrays = {
        "spec": np.array(json.dumps(spec, sort_keys=True)),
        "versions": versions(keras),
        "optimizer_variable_names": np.array([v.path for v in opt.variables]),
    }
    for key, values in result["history"].items():
        arrays["history/" + key] = values
    for i, w in enumerate(result["weights"]):
        arrays[f"final/{i}"] = w
    for i, value in enumerate(loaded):
        arrays[f"loaded/{i}"] = value
    for i, v in enumerate(opt.variables):
        arrays[f"optimizer/{i}"] = np.asarray(v.numpy())
    return save(FIXTURES, spec["name"], arrays)


def main(names: list[str]) -> None:
    record_all(CASES, names, record)


if __name__ == "__main__":
    main(sys.argv[1:])
