"""Time gradfit against PyTorch, TensorFlow/Keras and scikit-learn on the same small dense networks.

Every (workload, library, repeat) runs in a fresh child process of this same script, so no import,
cache or thread pool leaks from one library into another. The parent makes the data once (NumPy,
fixed seed) and saves it as .npy files that every child loads, so all libraries train on the
identical arrays. Each child times the library's import (NumPy is imported first, so it is not
counted), the fit (wall clock), then scores the trained network on the full training set with one
shared NumPy formula, so "final loss" and "accuracy" mean the same thing for every library.

    python benchmarks/bench_core.py                              # W1 and W2, every library importable here
    python benchmarks/bench_core.py --python-torch /tmp/torchenv/bin/python --python-tf /tmp/tfenv/bin/python
    python benchmarks/bench_core.py --w3 --repeat 3 --json results.json

See benchmarks/README.md for the workloads, the differences between libraries and the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = ("gradfit", "torch", "tf", "sklearn")

# W1 is the seeds' binary network, W2 the course's multiclass one, W3 an MNIST-sized one (only with --w3).
WORKLOADS = {
    "W1": dict(n=1000, d=400, classes=2, hidden=(25, 15), act="sigmoid", opt="rmsprop", epochs=100, batch=32),
    "W2": dict(n=5000, d=400, classes=10, hidden=(25, 15), act="relu", opt="adam", epochs=40, batch=32),
    "W3": dict(n=60000, d=784, classes=10, hidden=(256, 128), act="relu", opt="adam", epochs=2, batch=128),
    "W3-32": dict(n=60000, d=784, classes=10, hidden=(256, 128), act="relu", opt="adam", epochs=2, batch=32),
}
LR, RHO, BETA_1, BETA_2, EPS = 1e-3, 0.9, 0.9, 0.999, 1e-7


# ------------------------------------------------------------------------------------------- matmul floor


def matmul_floor(spec: dict, repeat: int = 5) -> float:
    """Seconds per epoch that the matrix products alone take with NumPy's BLAS, in this process.

    One step multiplies, per Dense layer, the batch by the kernel (forward), the layer input by dz (kernel
    gradient) and, except for the first layer, dz by the kernel (input gradient). These are timed at the
    workload's shapes in float32 and multiplied by the number of steps in an epoch: no library can train
    faster than this with this BLAS.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = (spec["d"], *spec["hidden"], spec["classes"])
    b = spec["batch"]
    pairs = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rng.random((b, n_in), dtype=np.float32)
        w = rng.random((n_in, n_out), dtype=np.float32)
        dz = rng.random((b, n_out), dtype=np.float32)
        pairs += [(x, w), (x.T, dz)] + ([(dz, w.T)] if i else [])
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(20):
            for a, c in pairs:
                np.dot(a, c)
        best = min(best, (time.perf_counter() - start) / 20)
    steps = -(-spec["n"] // b)
    return best * steps


# ------------------------------------------------------------------------------------------- data


def make_data(spec: dict, seed: int):
    """X uniform in [0, 1) (float32); labels from a fixed random linear teacher, so they can be learned.

    Binary: y = [(X - 0.5) @ w > 0] as float32 (n,). Multiclass: y = argmax((X - 0.5) @ W) as int64 (n,).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(spec["n"], spec["d"])).astype(np.float32)
    teacher = rng.standard_normal((spec["d"], spec["classes"] if spec["classes"] > 2 else 1))
    scores = (x - 0.5).astype(np.float64) @ teacher
    if spec["classes"] == 2:
        return x, (scores[:, 0] > 0).astype(np.float32)
    return x, scores.argmax(axis=1).astype(np.int64)


def score(probs, y, classes: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of predicted probabilities (clipped to [1e-7, 1 - 1e-7] as Keras does)."""
    import numpy as np

    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    if classes == 2:
        p, t = p.reshape(-1), np.asarray(y).reshape(-1)
        loss = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
        return float(loss), float(np.mean((p > 0.5) == (t > 0.5)))
    idx = np.asarray(y, dtype=np.int64)
    loss = -np.mean(np.log(p[np.arange(len(idx)), idx]))
    return float(loss), float(np.mean(p.argmax(axis=1) == idx))


def softmax(z):
    import numpy as np

    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------- one library each
# Each run_* takes the workload spec, the data and the seed, and returns
# (fit seconds, list of per-epoch seconds or None, predicted probabilities, library version, extra info).


def import_library(lib: str):
    if lib == "gradfit":
        import gradfit.keras as gk

        return gk
    if lib == "torch":
        import torch

        return torch
    if lib == "tf":
        import tensorflow as tf

        if os.environ.get("OMP_NUM_THREADS"):  # --threads: TensorFlow sizes its own pools
            threads = int(os.environ["OMP_NUM_THREADS"])
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)

        tf.keras.layers.Dense  # noqa: B018 -- tf.keras loads Keras lazily: count that in the import
        return tf
    if lib == "sklearn":
        import sklearn.neural_network

        return sklearn
    raise ValueError(lib)


def run_gradfit(gk, spec, x, y, seed):
    import gradfit

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
    if spec["opt"] == "rmsprop":
        opt = gk.optimizers.RMSprop(learning_rate=LR, rho=RHO, epsilon=EPS)
    else:
        opt = gk.optimizers.Adam(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPS)
    model.compile(optimizer=opt, loss=loss)
    timer = _epoch_timer(gk.callbacks.Callback)
    t0 = time.perf_counter()
    history = model.fit(x, y, epochs=spec["epochs"], batch_size=spec["batch"], verbose=0, callbacks=[timer])
    fit_s = time.perf_counter() - t0
    out = model.predict(x, batch_size=1024, verbose=0)
    probs = out if spec["classes"] == 2 else softmax(out)
    extra = {"last_epoch_loss": float(history.history["loss"][-1]), "path": gradfit.__file__}
    return fit_s, timer.durations(t0), probs, getattr(gradfit, "__version__", "?"), extra


def run_torch(torch, spec, x, y, seed):
    import numpy as np

    nn = torch.nn
    torch.manual_seed(seed)
    sizes = [spec["d"], *spec["hidden"], 1 if spec["classes"] == 2 else spec["classes"]]
    act = nn.Sigmoid if spec["act"] == "sigmoid" else nn.ReLU
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.xavier_uniform_(linear.weight)  # Keras's glorot_uniform
        nn.init.zeros_(linear.bias)
        layers += [linear] if i == len(sizes) - 2 else [linear, act()]
    model = nn.Sequential(*layers)  # the output sigmoid is fused into the loss below, as Keras/gradfit do
    if spec["classes"] == 2:
        loss_fn, xt, yt = nn.BCEWithLogitsLoss(), torch.from_numpy(x), torch.from_numpy(y).reshape(-1, 1)
    else:
        loss_fn, xt, yt = nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y)
    if spec["opt"] == "rmsprop":  # NB: PyTorch adds eps outside the sqrt, Keras inside
        opt = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=RHO, eps=EPS)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(BETA_1, BETA_2), eps=EPS)
    n, bs = len(x), spec["batch"]
    generator = torch.Generator().manual_seed(seed)
    ends = []
    t0 = time.perf_counter()
    for _ in range(spec["epochs"]):
        perm = torch.randperm(n, generator=generator)
        xs, ys = xt[perm], yt[perm]
        total = 0.0
        for start in range(0, n, bs):
            xb, yb = xs[start : start + bs], ys[start : start + bs]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)  # the running epoch loss, as Keras and gradfit keep it
        ends.append(time.perf_counter())
    fit_s = time.perf_counter() - t0
    with torch.no_grad():
        logits = model(xt).double().numpy()
    probs = 1 / (1 + np.exp(-logits)) if spec["classes"] == 2 else softmax(logits)
    durations = [b - a for a, b in zip([t0, *ends[:-1]], ends)]
    return (
        fit_s,
        durations,
        probs,
        torch.__version__,
        {"last_epoch_loss": total / n, "threads": torch.get_num_threads()},
    )


def run_tf(tf, spec, x, y, seed):
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(spec["d"],))])
    for units in spec["hidden"]:
        model.add(keras.layers.Dense(units, activation=spec["act"]))
    if spec["classes"] == 2:
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        loss = keras.losses.BinaryCrossentropy()
    else:
        model.add(keras.layers.Dense(spec["classes"]))
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if spec["opt"] == "rmsprop":
        opt = keras.optimizers.RMSprop(learning_rate=LR, rho=RHO, epsilon=EPS)
    else:
        opt = keras.optimizers.Adam(learning_rate=LR, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPS)
    model.compile(optimizer=opt, loss=loss)
    timer = _epoch_timer(keras.callbacks.Callback)
    t0 = time.perf_counter()
    history = model.fit(x, y, epochs=spec["epochs"], batch_size=spec["batch"], verbose=0, callbacks=[timer])
    fit_s = time.perf_counter() - t0
    out = model.predict(x, batch_size=1024, verbose=0)
    probs = out if spec["classes"] == 2 else softmax(out)
    extra = {"last_epoch_loss": float(history.history["loss"][-1])}
    return fit_s, timer.durations(t0), probs, f"{tf.__version__} (keras {keras.__version__})", extra


def run_sklearn(sklearn, spec, x, y, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    # sklearn has no RMSprop: W1 uses Adam here. alpha=0 turns off its default L2 penalty; tol=0 and
    # n_iter_no_change > epochs make it run every epoch.
    model = MLPClassifier(
        hidden_layer_sizes=spec["hidden"],
        activation="logistic" if spec["act"] == "sigmoid" else "relu",
        solver="adam",
        alpha=0.0,
        batch_size=spec["batch"],
        learning_rate_init=LR,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPS,
        max_iter=spec["epochs"],
        tol=0.0,
        n_iter_no_change=spec["epochs"] + 1,
        shuffle=True,
        random_state=seed,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    fit_s = time.perf_counter() - t0
    probs = model.predict_proba(x)
    probs = probs[:, 1] if spec["classes"] == 2 else probs
    extra = {"last_epoch_loss": float(model.loss_curve_[-1]), "epochs_run": model.n_iter_}
    return fit_s, None, probs, sklearn.__version__, extra


RUNNERS = {"gradfit": run_gradfit, "torch": run_torch, "tf": run_tf, "sklearn": run_sklearn}


def _epoch_timer(base):
    """A Keras-style callback (gradfit's or Keras's base class) that notes when each epoch ends."""

    class EpochTimer(base):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

        def durations(self, t0):
            return [b - a for a, b in zip([t0, *self.ends[:-1]], self.ends)]

    return EpochTimer()


def child(args) -> None:
    """Runs in the fresh process: import, load, fit, score; writes one JSON result."""
    t0 = time.perf_counter()
    import numpy as np

    numpy_s = time.perf_counter() - t0
    result = {"workload": args.workload, "library": args.child, "python": platform.python_version()}
    t0 = time.perf_counter()
    try:
        module = import_library(args.child)
    except ImportError as exc:
        result["skipped"] = f"not installed in {sys.executable}: {exc}"
        Path(args.result).write_text(json.dumps(result))
        return
    import_s = time.perf_counter() - t0
    spec = WORKLOADS[args.workload]
    x = np.load(Path(args.data) / f"{args.workload}_x.npy")
    y = np.load(Path(args.data) / f"{args.workload}_y.npy")
    fit_s, durations, probs, version, extra = RUNNERS[args.child](module, spec, x, y, args.seed)
    loss, acc = score(probs, y, spec["classes"])
    if durations:  # per-epoch time leaving out the first epoch (tracing, warm-up) where there is more than one
        epoch_s = sum(durations[1:]) / (len(durations) - 1) if len(durations) > 1 else durations[0]
    else:
        epoch_s = fit_s / spec["epochs"]
    result.update(
        version=version,
        numpy=np.__version__,
        numpy_import_s=numpy_s,
        import_s=import_s,
        fit_s=fit_s,
        epoch_s=epoch_s,
        epoch_times=durations,
        loss=loss,
        accuracy=acc,
        **extra,
    )
    Path(args.result).write_text(json.dumps(result))


# ------------------------------------------------------------------------------------------- the parent


def run_child(python: str, lib: str, workload: str, data_dir: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = f.name
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (args.gradfit_src, env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence TensorFlow's start-up banner
    if args.threads:  # OpenMP (PyTorch), OpenBLAS (NumPy), MKL; TensorFlow reads it in import_library
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.threads)
    cmd = [python, str(Path(__file__).resolve()), "--child", lib, "--workload", workload, "--data", data_dir,
           "--seed", str(args.seed), "--result", result_path]  # fmt: skip
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
        text = Path(result_path).read_text()
        if proc.returncode != 0 or not text:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return {"workload": workload, "library": lib, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
        return json.loads(text)
    except subprocess.TimeoutExpired:
        return {"workload": workload, "library": lib, "error": f"timed out after {args.timeout:.0f} s"}
    except FileNotFoundError as exc:
        return {"workload": workload, "library": lib, "error": str(exc)}
    finally:
        Path(result_path).unlink(missing_ok=True)


def best_of(runs: list[dict]) -> dict:
    """The run with the shortest fit (its loss and accuracy), with the shortest import of all runs."""
    ok = [r for r in runs if "fit_s" in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["fit_s"]))
    best["import_s"] = min(r["import_s"] for r in ok)
    best["epoch_s"] = min(r["epoch_s"] for r in ok)
    best["runs"] = len(ok)
    return best


def table(results: list[dict]) -> str:
    header = ["workload", "library", "import s", "fit s", "s/epoch", "ratio", "final loss", "accuracy"]
    rows = []
    for r in results:
        if "fit_s" not in r:
            continue
        base = next((g for g in results if g["workload"] == r["workload"] and g["library"] == "gradfit"), {})
        ratio = f"{r['fit_s'] / base['fit_s']:.2f}" if "fit_s" in base else "-"
        rows.append([r["workload"], r["library"], f"{r['import_s']:.2f}", f"{r['fit_s']:.2f}", f"{r['epoch_s']:.3f}",
                     ratio, f"{r['loss']:.4f}", f"{r['accuracy']:.4f}"])  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def machine(src: str) -> dict:
    import numpy as np

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?") \
        if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    try:  # which gradfit was measured
        git = ["git", "-C", src, "describe", "--always", "--dirty"]
        commit = subprocess.run(git, capture_output=True, text=True, timeout=10).stdout.strip() or "not a git checkout"
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "nproc": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "numpy": np.__version__, "gradfit_commit": commit}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workloads", default="W1,W2", help="comma-separated, from W1,W2,W3 (default W1,W2)")
    parser.add_argument("--w3", action="store_true", help="also run W3 and W3-32 (60000x784, 2 epochs)")
    parser.add_argument("--libs", default=",".join(LIBRARIES), help=f"comma-separated, from {','.join(LIBRARIES)}")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement N times, keep the best (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="data, initialisation and shuffling seed (default 0)")
    parser.add_argument("--json", metavar="PATH", help="also write every result (and the machine) to PATH as JSON")
    parser.add_argument(
        "--threads", type=int, help="limit every library to N threads (default: each library's own default)"
    )
    parser.add_argument(
        "--gradfit-src", metavar="DIR", default=str(REPO), help="directory holding the gradfit package (default: repo)"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per child run (default 900)")
    for lib in LIBRARIES:
        parser.add_argument(f"--python-{lib}", metavar="PATH", default=sys.executable,
                            help=f"interpreter that runs {lib} (default: this one)")  # fmt: skip
    # the child side: not for direct use
    parser.add_argument("--child", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    import numpy as np

    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    if args.w3:
        workloads += [w for w in ("W3", "W3-32") if w not in workloads]
    libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    for name, known in (("workload", WORKLOADS), ("library", LIBRARIES)):
        unknown = [v for v in (workloads if name == "workload" else libs) if v not in known]
        if unknown:
            parser.error(f"unknown {name}(s) {unknown}; choose from {list(known)}")
    if "gradfit" in libs:  # gradfit first: the ratios are against it
        libs.remove("gradfit")
        libs.insert(0, "gradfit")

    info = machine(args.gradfit_src)
    info["gradfit_src"] = args.gradfit_src
    info["threads"] = args.threads or "each library's default"
    info["load_before"] = os.getloadavg()[0]
    print(f"{info['date']}  {info['nproc']} CPUs  {info['cpu']}  Python {info['python']}  NumPy {info['numpy']}")
    print(f"gradfit from {args.gradfit_src} ({info['gradfit_commit']})  threads: {info['threads']}")
    print(f"load average (1 min): {info['load_before']:.2f}", flush=True)
    results, notes = [], []
    with tempfile.TemporaryDirectory(prefix="gradfit-bench-") as data_dir:
        for w in workloads:
            x, y = make_data(WORKLOADS[w], args.seed)
            np.save(Path(data_dir) / f"{w}_x.npy", x)
            np.save(Path(data_dir) / f"{w}_y.npy", y)
        floors: dict[str, list[float]] = {}
        for w in workloads:
            runs = {lib: [] for lib in libs}
            for rep in range(args.repeat):  # interleave the libraries so machine noise hits them alike
                if w.startswith("W3"):  # and the floor with them: this VM's GEMM rate drifts up to 2x in minutes
                    floors.setdefault(w, []).append(matmul_floor(WORKLOADS[w]))
                for lib in libs:
                    if runs[lib] and ("skipped" in runs[lib][-1] or "error" in runs[lib][-1]):
                        continue
                    python = getattr(args, f"python_{lib}")
                    r = run_child(python, lib, w, data_dir, args)
                    runs[lib].append(r)
                    status = r.get("skipped") or r.get("error") or f"fit {r['fit_s']:.2f} s"
                    print(f"  {w} {lib:8s} run {rep + 1}/{args.repeat}: {status}", file=sys.stderr, flush=True)
            for lib in libs:
                best = best_of(runs[lib])
                results.append(best)
                if "skipped" in best or "error" in best:
                    notes.append(f"{w} {lib}: {best.get('skipped') or best.get('error')}")
    info["load_after"] = os.getloadavg()[0]
    print(f"\nload average (1 min) before {info['load_before']:.2f}, after {info['load_after']:.2f}\n")
    print(table(results))
    for w, measured in floors.items():
        floor = min(measured)  # the fastest the products ran in this run: the strictest floor
        ours = next((r.get("epoch_s") for r in results if r.get("workload") == w and r["library"] == "gradfit"), None)
        ratio = f", gradfit at {ours / floor:.2f}x of it" if ours else ""
        spread = f" (best of {len(measured)}, measured between runs: {min(measured):.3f}-{max(measured):.3f})"
        print(f"{w} matmul floor (NumPy BLAS, this process's threads): {floor:.3f} s/epoch{ratio}{spread}")
        info[f"{w}_matmul_floor_s"] = measured
    versions = sorted({f"{r['library']} {r['version']} (Python {r['python']})" for r in results if "version" in r})
    print("\n" + "; ".join(versions))
    for note in notes:
        print(note)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("child", "workload", "data", "result")}
        Path(args.json).write_text(json.dumps({"machine": info, "args": settings, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
