"""The README's snippets for the doors out and for watching training run as written.

Each ``##`` section named below runs as one script (its ``python`` blocks in order, so a block may use what an
earlier one made), in a scratch folder. Blocks for another machine are left out: real Keras (``import keras``),
and a remote Dask scheduler (``tcp://``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SECTIONS = {
    "watch": "## Watch it learn",
    "outgrow": "## When you outgrow gradfit",
}
NEEDS = {
    "watch": ["tensorboardX", "matplotlib", "IPython"],
    "outgrow": ["sklearn", "onnx", "onnxruntime"],
}
ELSEWHERE = ("import keras\n", "tcp://")


def _section_blocks(heading: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return [b for b in blocks if not any(mark in b for mark in ELSEWHERE)]


def test_the_sections_have_snippets():
    for heading in SECTIONS.values():
        assert len(_section_blocks(heading)) >= 3, heading


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_readme_snippets_run(name, tmp_path):
    for module in NEEDS[name]:
        pytest.importorskip(module)
    script = tmp_path / f"readme_{name}.py"
    script.write_text("\n".join(_section_blocks(SECTIONS[name])), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{script.name}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
