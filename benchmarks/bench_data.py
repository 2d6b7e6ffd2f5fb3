"""Issue #12's figures: data that is not one array in memory.

(a) ``w3``: W3 (60000 x 784, Dense 256-128-10, Adam, batch 128; see bench_core.py) in gradfit before (``--base``,
    e.g. a git worktree of the commit before) and after (this checkout), and PyTorch's plain loop: the first
    epoch, the median of the others, and the process's peak resident memory (``VmHWM``) and its growth during
    ``fit`` (over ``VmRSS`` before the model is built).
(b) ``memmap``: one shuffled epoch over a float32 .npy of ``--gb`` GiB (784 features; labels in a second .npy)
    opened with ``np.load(mmap_mode="r")``, Dense 32-10 from logits, batch 256: the peak ``RssAnon`` (sampled every
    50 ms by a thread) over the level before ``fit``, and ``RssFile`` at the end (the map's pages: file-backed,
    reclaimable). Needs the file's size free in ``--tmp``; the file is deleted afterwards.
(c) ``stream``: W2 (5000 x 400, Dense 25-15-10, Adam, batch 32) trained from arrays, from a ``PyDataset`` of the
    same batches and from an infinite generator of them (``steps_per_epoch``), in gradfit; Keras 3.15 from the
    arrays and from the same ``PyDataset`` (subclassing ``keras.utils.PyDataset``); PyTorch from a ``DataLoader``
    over a ``TensorDataset`` (shuffled, batch 32, no workers). Steady seconds per epoch (median without the
    first) and each one's ratio to gradfit's arrays from the same run.

Every measurement runs in a fresh child process (``--repeat N``: interleaved, best of N); ``--threads N`` sets
every library's thread pools (on a busy machine use 1: PyTorch's two OpenMP threads made its W2 epoch 20x slower
when the other core was taken).

    .venv/bin/python benchmarks/bench_data.py --parts w3 --base /tmp/base --python-torch /tmp/torchenv/bin/python
    .venv/bin/python benchmarks/bench_data.py --parts memmap --gb 4
    .venv/bin/python benchmarks/bench_data.py --parts stream --python-torch … --python-tf /tmp/tfenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_core  # noqa: E402  (stdlib only at import: every interpreter can load it)


def status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM, RssAnon, RssFile); 0 where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakSampler(threading.Thread):
    """The largest value of a /proc/self/status field, sampled every ``interval`` s while running."""

    def __init__(self, field: str = "RssAnon", interval: float = 0.05):
        super().__init__(daemon=True)
        self.field, self.interval, self.peak = field, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, status_kb(self.field))
            self.done.wait(self.interval)

    def stop(self) -> int:
        self.done.set()
        self.join()
        self.peak = max(self.peak, status_kb(self.field))
        return self.peak


# ------------------------------------------------------------------------------------------- children


def child_w3(lib: str, folder: str, seed: int) -> dict:
    import numpy as np

    spec = dict(bench_core.WORKLOADS["W3"], epochs=3)
    x, y = np.load(os.path.join(folder, "W3_x.npy")), np.load(os.path.join(folder, "W3_y.npy"))
    module = bench_core.import_library(lib)
    before = status_kb("VmRSS")
    run = bench_core.run_gradfit if lib == "gradfit" else bench_core.run_torch
    fit_s, durations, _, version, _ = run(module, spec, x, y, seed)
    return {
        "fit_s": fit_s,
        "first": durations[0],
        "steady": statistics.median(durations[1:]),
        "peak_mb": status_kb("VmHWM") / 1024,
        "growth_mb": (status_kb("VmHWM") - before) / 1024,
        "version": version,
    }


def child_memmap(x_path: str, y_path: str, seed: int) -> dict:
    import numpy as np

    import gradfit.keras as gk

    x, y = np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
    gk.utils.set_random_seed(seed)
    model = gk.Sequential([gk.Input(shape=x.shape[1:]), gk.layers.Dense(32, activation="relu"), gk.layers.Dense(10)])
    model.compile(optimizer="adam", loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True))
    base = status_kb("RssAnon")
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    history = model.fit(x, y, batch_size=256, epochs=1, shuffle=True, verbose=0)
    seconds = time.perf_counter() - t0
    peak = sampler.stop()
    return {
        "rows": len(x),
        "gib": x.nbytes / 2**30,
        "seconds": seconds,
        "rss_anon_before_mb": base / 1024,
        "rss_anon_peak_mb": peak / 1024,
        "rss_anon_growth_mb": (peak - base) / 1024,
        "rss_file_end_mb": status_kb("RssFile") / 1024,
        "loss": float(history.history["loss"][0]),
    }


def _batches_class(base, x, y, batch_size):
    """One PyDataset class body for gradfit's and Keras's base class: batch i is rows [i*bs, (i+1)*bs)."""

    class Batches(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i):
            return x[i * batch_size : (i + 1) * batch_size], y[i * batch_size : (i + 1) * batch_size]

    return Batches()


def child_stream(lib: str, source: str, folder: str, seed: int, epochs: int) -> dict:
    import numpy as np

    spec = dict(bench_core.WORKLOADS["W2"], epochs=epochs)
    x, y = np.load(os.path.join(folder, "W2_x.npy")), np.load(os.path.join(folder, "W2_y.npy"))
    bs, steps = spec["batch"], math.ceil(len(x) / spec["batch"])
    if lib == "torch":
        return _torch_dataloader(spec, x, y, seed)
    if lib == "gradfit":
        import gradfit.keras as keras
    else:
        keras = bench_core.import_library("tf").keras  # with --threads, TensorFlow's pools sized too
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(spec["d"],))])
    for units in spec["hidden"]:
        model.add(keras.layers.Dense(units, activation=spec["act"]))
    model.add(keras.layers.Dense(spec["classes"]))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    timer = bench_core._epoch_timer(keras.callbacks.Callback)
    kwargs = dict(epochs=epochs, verbose=0, callbacks=[timer])
    if source == "arrays":
        args, kwargs = (x, y), dict(kwargs, batch_size=bs)
    elif source == "pydataset":
        args = (_batches_class(keras.utils.PyDataset, x, y, bs),)
    else:  # an infinite generator of the same batches

        def generate():
            while True:
                for i in range(steps):
                    yield x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]

        args, kwargs = (generate(),), dict(kwargs, steps_per_epoch=steps)
    t0 = time.perf_counter()
    model.fit(*args, **kwargs)
    durations = timer.durations(t0)
    return {"fit_s": time.perf_counter() - t0, "steady": statistics.median(durations[1:]), "first": durations[0]}


def _torch_dataloader(spec, x, y, seed):
    import torch

    torch.manual_seed(seed)
    nn = torch.nn
    sizes = [spec["d"], *spec["hidden"], spec["classes"]]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear] if i == len(sizes) - 2 else [linear, nn.ReLU()]
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=spec["batch"], shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    durations = []
    t0 = time.perf_counter()
    for _ in range(spec["epochs"]):
        start, total = time.perf_counter(), 0.0
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        durations.append(time.perf_counter() - start)
    return {"fit_s": time.perf_counter() - t0, "steady": statistics.median(durations[1:]), "first": durations[0]}


# ------------------------------------------------------------------------------------------- parent


THREADS: int | None = None


def spawn(python: str, src: str | None, *child_args: str) -> dict:
    env = dict(os.environ)
    if THREADS:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(THREADS)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [python, str(Path(__file__).resolve()), "--child", *child_args]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = dict(ok[0])
    for key, value in ok[0].items():
        if isinstance(value, float):
            out[key] = min(r[key] for r in ok)
    return out


def part_w3(args, folder: str) -> list[dict]:
    import numpy as np

    x, y = bench_core.make_data(bench_core.WORKLOADS["W3"], args.seed)
    np.save(os.path.join(folder, "W3_x.npy"), x)
    np.save(os.path.join(folder, "W3_y.npy"), y)
    del x, y
    checkouts = ([("gradfit before", args.base)] if args.base else []) + [("gradfit after", str(REPO))]
    checkouts += [tuple(v.split("=", 1)) for v in args.variant]
    runs = {name: [] for name, _ in checkouts}
    runs["torch"] = []
    for _ in range(args.repeat):
        for name, src in checkouts:
            runs[name].append(spawn(sys.executable, src, "w3", "gradfit", folder, str(args.seed)))
        if args.python_torch:
            runs["torch"].append(spawn(args.python_torch, None, "w3", "torch", folder, str(args.seed)))
    rows = [{"name": k, **best(v)} for k, v in runs.items() if v]
    print("\n(a) W3, 3 epochs: first epoch, median of the others, peak VmHWM and its growth during fit")
    print(f"{'':20} | {'first s':>7} | {'steady s':>8} | {'peak MB':>7} | {'growth MB':>9} | vs torch (steady)")
    torch_steady = next((r["steady"] for r in rows if r["name"] == "torch" and "steady" in r), None)
    for r in rows:
        if "error" in r:
            print(f"{r['name']:20} | failed: {r['error']}")
            continue
        ratio = f"{torch_steady / r['steady']:.2f}x faster" if torch_steady and r["name"] != "torch" else ""
        print(
            f"{r['name']:20} | {r['first']:7.3f} | {r['steady']:8.3f} | {r['peak_mb']:7.0f} | "
            f"{r['growth_mb']:9.0f} | {ratio}"
        )
    return rows


def part_memmap(args) -> list[dict]:
    import numpy as np

    features = 784
    rows = int(args.gb * 2**30) // (features * 4)
    need = rows * features * 4 + rows * 8 + (256 << 20)
    if shutil.disk_usage(args.tmp).free < need:
        print(f"\n(b) skipped: needs {need / 2**30:.1f} GiB free in {args.tmp}")
        return []
    folder = tempfile.mkdtemp(dir=args.tmp, prefix="bench_data_")
    try:
        x_path, y_path = os.path.join(folder, "x.npy"), os.path.join(folder, "y.npy")
        rng = np.random.default_rng(args.seed)
        chunk = 1 << 14
        t0 = time.perf_counter()
        with open(x_path, "wb") as f:  # through the file, not a map: the writer keeps no pages
            header = {"descr": "<f4", "fortran_order": False, "shape": (rows, features)}
            np.lib.format.write_array_header_1_0(f, header)
            for start in range(0, rows, chunk):
                f.write(rng.random((min(chunk, rows - start), features), dtype=np.float32).tobytes())
        np.save(y_path, rng.integers(0, 10, rows))
        write_s = time.perf_counter() - t0
        result = spawn(sys.executable, str(REPO), "memmap", x_path, y_path, str(args.seed))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n(b) one shuffled epoch over a {args.gb:g} GiB float32 .npy (mmap_mode='r'), written in {write_s:.0f} s")
    if "error" in result:
        print(f"failed: {result['error']}")
    else:
        print(
            f"{result['rows']} rows x {features}: {result['seconds']:.1f} s; RssAnon {result['rss_anon_before_mb']:.0f}"
            f" MB before fit, peak {result['rss_anon_peak_mb']:.0f} MB (+{result['rss_anon_growth_mb']:.0f} MB); "
            f"RssFile at the end {result['rss_file_end_mb']:.0f} MB (the map's pages: file-backed)"
        )
    return [result]


def part_stream(args, folder: str) -> list[dict]:
    import numpy as np

    x, y = bench_core.make_data(bench_core.WORKLOADS["W2"], args.seed)
    np.save(os.path.join(folder, "W2_x.npy"), x)
    np.save(os.path.join(folder, "W2_y.npy"), y)
    cases = [("gradfit", s, sys.executable) for s in ("arrays", "pydataset", "generator")]
    if args.python_tf:
        cases += [("keras", s, args.python_tf) for s in ("arrays", "pydataset")]
    if args.python_torch:
        cases += [("torch", "dataloader", args.python_torch)]
    runs: dict[tuple, list[dict]] = {(lib, s): [] for lib, s, _ in cases}
    for _ in range(args.repeat):
        for lib, source, python in cases:
            src = str(REPO) if lib == "gradfit" else None
            runs[lib, source].append(
                spawn(python, src, "stream", lib, source, folder, str(args.seed), str(args.epochs))
            )
    rows = [{"lib": lib, "source": s, **best(v)} for (lib, s), v in runs.items()]
    reference = next((r.get("steady") for r in rows if (r["lib"], r["source"]) == ("gradfit", "arrays")), None)
    print(f"\n(c) W2, {args.epochs} epochs: steady s/epoch (median without the first), ratio to gradfit's arrays")
    print(f"{'library':8} | {'source':10} | {'first s':>7} | {'s/epoch':>7} | ratio")
    for r in rows:
        if "error" in r:
            print(f"{r['lib']:8} | {r['source']:10} | failed: {r['error']}")
            continue
        ratio = r["steady"] / reference if reference else float("nan")
        print(f"{r['lib']:8} | {r['source']:10} | {r['first']:7.3f} | {r['steady']:7.4f} | {ratio:.2f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="w3,memmap,stream", help="w3, memmap, stream (comma-separated)")
    parser.add_argument("--base", help="a gradfit checkout to compare with in (a) (e.g. a worktree of HEAD)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another gradfit checkout to time in (a), e.g. an experiment (repeatable)",
    )
    parser.add_argument("--python-torch", help="interpreter with torch for (a) and (c)")
    parser.add_argument("--python-tf", help="interpreter with TensorFlow/Keras 3 for (c)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10, help="epochs in (c)")
    parser.add_argument("--gb", type=float, default=4.0, help="size of the file in (b), GiB")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where (b) writes its file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        help="threads of every library's pools in every child (OMP/OPENBLAS/MKL_NUM_THREADS, TensorFlow's intra/inter "
        "op); on a loaded machine, 1 keeps OpenMP's spinning threads from slowing PyTorch down 20x",
    )
    parser.add_argument("--json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "w3":
            result = child_w3(rest[0], rest[1], int(rest[2]))
        elif kind == "memmap":
            result = child_memmap(rest[0], rest[1], int(rest[2]))
        else:
            result = child_stream(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]))
        print(json.dumps(result))
        return
    global THREADS
    THREADS = args.threads
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        parts = args.parts.split(",")
        if "w3" in parts:
            results["w3"] = part_w3(args, folder)
        if "memmap" in parts:
            results["memmap"] = part_memmap(args)
        if "stream" in parts:
            results["stream"] = part_stream(args, folder)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
