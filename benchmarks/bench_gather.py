"""Shuffling in-memory arrays: one shuffled copy per epoch, or a gather of each batch's rows?

Two ways to feed a shuffled epoch of in-memory arrays to the training step:

* ``copy`` (gradfit's fit up to issue #12): per epoch, ``perm = rng.permutation(n)``, then
  ``np.take(src, perm, axis=0, out=dst, mode="clip")`` for x and y into buffers the size of the data kept for
  the fit; the batches are slices ``dst[start:end]``;
* ``gather``: per batch, ``np.take(src, perm[start:end], axis=0, out=buf[:m], mode="clip")`` into one
  batch-sized buffer per array (the data is never copied whole).

Each (workload, variant, mode, repeat) runs in a fresh child process of this script (first epochs pay page
faults, so they must not share a process), which loads the data saved once by the parent (``.npy``, no
temporaries), and reports the first epoch's time, the median of the other epochs and the growth of the peak
resident memory during training (``VmHWM`` at the end minus ``VmRSS`` before the first epoch).

Modes: ``data`` times the data movement alone (the shuffle and the batches' slices or gathers, no training);
``train`` runs gradfit's training step on every batch (the workloads of benchmarks/bench_core.py: W1 25-15-1
sigmoid with RMSprop, W2 25-15-10 and W3 256-128-10 with Adam and sparse CE from logits).

    .venv/bin/python benchmarks/bench_gather.py                      # W2 and W3, both modes, best of 3
    .venv/bin/python benchmarks/bench_gather.py --workloads W1,W2,W3 --modes data --repeat 5 --threads 1
    .venv/bin/python benchmarks/bench_gather.py --workloads W3 --modes train --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_core import WORKLOADS, make_data  # noqa: E402

EPOCHS = {"W1": 20, "W2": 10, "W3": 4, "W3-32": 4}


def status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM, RssAnon …); 0 where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child(workload: str, variant: str, mode: str, folder: str, seed: int) -> dict:
    import numpy as np

    spec = WORKLOADS[workload]
    x = np.load(os.path.join(folder, f"{workload}_x.npy"))
    y = np.load(os.path.join(folder, f"{workload}_y.npy"))
    n, bs = len(x), spec["batch"]
    step = None
    if mode == "train":
        sys.path.insert(0, str(REPO))
        import gradfit.keras as gk
        from gradfit import backend, training
        from gradfit.data import Data

        gk.utils.set_random_seed(seed)
        model = gk.Sequential([gk.Input(shape=(spec["d"],))])
        for units in spec["hidden"]:
            model.add(gk.layers.Dense(units, activation=spec["act"]))
        if spec["classes"] == 2:
            model.add(gk.layers.Dense(1, activation="sigmoid"))
            loss = gk.losses.BinaryCrossentropy()
        else:
            model.add(gk.layers.Dense(spec["classes"]))
            loss = gk.losses.SparseCategoricalCrossentropy(from_logits=True)
        opt = (
            gk.optimizers.RMSprop(1e-3, rho=0.9, epsilon=1e-7)
            if spec["opt"] == "rmsprop"
            else gk.optimizers.Adam(1e-3, epsilon=1e-7)
        )
        model.compile(optimizer=opt, loss=loss)
        data = Data(model, x, y)
        x, y = data.x, data.y_loss
        step = training._Step(model)
        blas = backend.blas_threads(model.parameter_store.shapes, bs)
    else:
        import contextlib

        blas = contextlib.nullcontext()
    arrays = [x, y]
    rng = np.random.default_rng(seed)
    spans = [(s, min(s + bs, n)) for s in range(0, n, bs)]
    variants = ("copy", "gather") if variant == "both" else (variant,)
    copies = [np.empty_like(a) for a in arrays] if "copy" in variants else None
    batch_buffers = [np.empty((bs,) + a.shape[1:], a.dtype) for a in arrays] if "gather" in variants else None
    checksum = 0.0

    def epoch(which: str) -> float:
        nonlocal checksum
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        if which == "copy":
            for src, dst in zip(arrays, copies):
                np.take(src, perm, axis=0, out=dst, mode="clip")
            xs, ys = copies
            for start, end in spans:
                xb, yb = xs[start:end], ys[start:end]
                if step is not None:
                    step(xb, yb, None)
                else:
                    checksum += xb[0, 0]
        else:
            xbuf, ybuf = batch_buffers
            for start, end in spans:
                index, m = perm[start:end], end - start
                xb = np.take(x, index, axis=0, out=xbuf[:m], mode="clip")
                yb = np.take(y, index, axis=0, out=ybuf[:m], mode="clip")
                if step is not None:
                    step(xb, yb, None)
                else:
                    checksum += xb[0, 0]
        return time.perf_counter() - t0

    durations: dict[str, list[float]] = {v: [] for v in variants}
    rss_before = status_kb("VmRSS")
    with np.errstate(over="ignore", under="ignore"), blas:
        for _ in range(EPOCHS[workload] * (3 if variant == "both" else 1)):
            for which in variants:  # "both": alternated epoch by epoch, so that machine load hits both alike
                durations[which].append(epoch(which))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
    peak_kb = status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if variant == "both":  # steady epochs only (the first of each is left out): the smallest and the median
        return {
            f"{v}_{stat}": f(d[1:])
            for v, d in durations.items()
            for stat, f in (("min", min), ("median", statistics.median))
        }
    d = durations[variant]
    return {
        "first": d[0],
        "steady": statistics.median(d[1:]),
        "peak_growth_mb": max(0, peak_kb - rss_before) / 1024,
        "checksum": float(checksum),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default="W2,W3")
    parser.add_argument("--modes", default="data,train")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="BLAS threads in every child (OPENBLAS/OMP/MKL_NUM_THREADS)")
    parser.add_argument(
        "--alternate",
        action="store_true",
        help="one process per workload and mode, alternating copy and gather epoch by epoch (steady times only)",
    )
    parser.add_argument("--json")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        workload, variant, mode, folder, seed = args.child
        print(json.dumps(child(workload, variant, mode, folder, int(seed))))
        return
    import numpy as np

    env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for workload in args.workloads.split(","):
            x, y = make_data(WORKLOADS[workload], args.seed)
            np.save(os.path.join(folder, f"{workload}_x.npy"), x)
            np.save(os.path.join(folder, f"{workload}_y.npy"), y)
            del x, y
            for mode in args.modes.split(","):
                if args.alternate:
                    cmd = [sys.executable, __file__, "--child", workload, "both", mode, folder, str(args.seed)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
                    both = json.loads(out.strip().splitlines()[-1])
                    ratio = both["gather_min"] / both["copy_min"]
                    results.append({"workload": workload, "mode": mode, "alternate": both, "gather/copy": ratio})
                    print(
                        f"{workload} {mode} alternated: copy {both['copy_min'] * 1e3:.2f} ms (median "
                        f"{both['copy_median'] * 1e3:.2f}), gather {both['gather_min'] * 1e3:.2f} ms (median "
                        f"{both['gather_median'] * 1e3:.2f}) per epoch: gather/copy {ratio:.3f}"
                    )
                    continue
                runs: dict[str, list[dict]] = {"copy": [], "gather": []}
                for _ in range(args.repeat):  # interleaved, so that machine noise hits both alike
                    for variant in runs:
                        cmd = [sys.executable, __file__, "--child", workload, variant, mode, folder, str(args.seed)]
                        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
                        runs[variant].append(json.loads(out.strip().splitlines()[-1]))
                for variant, rs in runs.items():
                    best = {k: min(r[k] for r in rs) for k in ("first", "steady", "peak_growth_mb")}
                    results.append({"workload": workload, "mode": mode, "variant": variant, **best})
    print(f"{'workload':8} | {'mode':5} | {'variant':7} | {'first ms':>9} | {'steady ms':>9} | {'peak +MB':>8}")
    for r in results:
        if "alternate" in r:
            continue
        print(
            f"{r['workload']:8} | {r['mode']:5} | {r['variant']:7} | {r['first'] * 1e3:9.2f} | "
            f"{r['steady'] * 1e3:9.2f} | "
            f"{r['peak_growth_mb']:8.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
