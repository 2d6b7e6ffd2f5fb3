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
