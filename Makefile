# Two commands do all the set-up on a fresh machine with only Python:
#   make demo   creates .venv, installs gradfit, trains the seeds' network on real handwritten digits
#               (and writes a TensorBoard run of it)
#   make test   installs the test extras and runs ruff and the whole test suite
#   make test-pythons   the suite again on every other CPython >= 3.10 found (pyenv's, or python3.X on PATH)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_STAMP := $(VENV)/.installed-demo-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-pythons lint format bench bytecode clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test,datasets,plot]"
	touch $(STAMP) $(DEMO_STAMP)

# the demo needs fewer extras than the tests: the digits (scikit-learn), the pictures and the TensorBoard run
$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[datasets,plot,tensorboard]"
	touch $(DEMO_STAMP)

# An editable install leaves gradfit's bytecode to the first import, which a PYTHONDONTWRITEBYTECODE=1
# environment never writes: every `import gradfit` then compiles ~10k lines (0.12 s instead of 0.013 s).
# compileall writes it (only for files that changed) whatever that variable says.
bytecode: $(STAMP)
	$(PY) -m compileall -q gradfit

demo: $(DEMO_STAMP)
	$(PY) -m compileall -q gradfit
	$(PY) -m gradfit demo --out demo-output

test: bytecode
	$(PY) -m ruff check gradfit tests benchmarks
	$(PY) -m ruff format --check gradfit tests benchmarks
	$(PY) -m pytest

# Each other CPython from 3.10 up gets its own .venv-3.X (reused while pyproject.toml is unchanged) and runs the
# suite; lint ran once under `make test`. A version the machine lacks, or whose wheels cannot be installed, is
# skipped with a message saying so. PYTHONS="3.10 3.13" picks versions; empty means every one found.
PYTHONS ?=
test-pythons:
	PYTHON="$(PYTHON)" bash .ci/test-pythons $(PYTHONS)

lint: $(STAMP)
	$(PY) -m ruff check gradfit tests benchmarks

format: $(STAMP)
	$(PY) -m ruff format gradfit tests benchmarks
	$(PY) -m ruff check --fix gradfit tests benchmarks

bench: bytecode
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) .venv-3.* demo-output .pytest_cache .ruff_cache
