"""The demo: `gradfit demo` (and `python -m gradfit demo`) trains on real digits and writes pictures."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gradfit import cli

PNG = b"\x89PNG\r\n\x1a\n"


def _check_png(path, min_bytes=5_000):
    data = path.read_bytes()
    assert data[:8] == PNG
    assert len(data) > min_bytes


def test_demo_binary_reaches_99_percent_held_out_and_writes_pngs(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    result = cli.demo(epochs=60, out=str(tmp_path), verbose=0)
    out = capsys.readouterr().out
    assert result["test_accuracy"] >= 0.99
    assert "held-out accuracy" in out and "Total params: 10,431" in out
    _check_png(tmp_path / "loss.png")
    _check_png(tmp_path / "digits.png", min_bytes=20_000)


def test_demo_multiclass_small_epochs(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    result = cli.demo(epochs=15, out=str(tmp_path), multiclass=True, verbose=0)
    assert result["test_accuracy"] > 0.85
    assert "Total params: 10,575" in capsys.readouterr().out
    _check_png(tmp_path / "loss.png")


def test_python_m_gradfit_demo_prints_progress_bars(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    proc = subprocess.run(
        [sys.executable, "-m", "gradfit", "demo", "--epochs", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Epoch 3/3" in proc.stdout and "━" in proc.stdout
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout  # not a terminal: plain lines
    assert "held-out accuracy" in proc.stdout
    _check_png(tmp_path / "loss.png")


def test_cli_rejects_bad_epochs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--epochs", "0"])
    assert "--epochs" in capsys.readouterr().err


def _scalars(run_dir, tag):
    """``(steps, values)`` of a scalar tag in a TensorBoard run folder, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir)).Reload()
    if tag in events.Tags()["scalars"]:
        points = [(e.step, e.value) for e in events.Scalars(tag)]
    else:  # written as a tensor summary (tf.summary.scalar's way)
        from tensorboard.util import tensor_util

        points = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
    return [step for step, _ in points], [value for _, value in points]


def test_demo_writes_a_tensorboard_run_and_prints_the_command(tmp_path, capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    out = tmp_path / "demo"
    logs = out / "logs"
    for run in ("train", "validation"):  # an earlier demo's run: replaced, not merged with the new one
        (logs / run).mkdir(parents=True)
        (logs / run / "events.out.tfevents.1.earlier-demo").write_bytes(b"an earlier run")
    result = cli.demo(epochs=2, out=str(out), verbose=0)
    printed = capsys.readouterr().out
    assert result["tensorboard_logdir"] == str(logs)
    assert f"tensorboard --logdir {logs}" in printed  # or .venv/bin/tensorboard where the venv is not active
    for run, key in (("train", "loss"), ("validation", "val_loss")):
        assert len(list((logs / run).glob("events.out.tfevents.*"))) == 1
        steps, values = _scalars(logs / run, "epoch_loss")
        assert steps == [0, 1]
        assert values == pytest.approx(result["history"][key], rel=1e-6)


def test_demo_without_tensorboardx_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if it were not installed
    result = cli.demo(epochs=1, out=str(tmp_path), verbose=0)
    printed = capsys.readouterr().out
    assert result["tensorboard_logdir"] is None and not (tmp_path / "logs").exists()
    assert 'No TensorBoard run: tensorboardX is not installed; pip install "gradfit[tensorboard]"' in printed
    assert "held-out accuracy" in printed
