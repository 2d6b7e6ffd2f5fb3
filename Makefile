# Two commands do all the set-up on a fresh machine with only Python:
#   make demo   creates .venv, installs gradfit, trains the seeds' network on real handwritten digits
#   make test   installs the test extras and runs ruff and the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test,datasets,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m gradfit demo --out demo-output

test: $(STAMP)
	$(PY) -m ruff check gradfit tests benchmarks
	$(PY) -m ruff format --check gradfit tests benchmarks
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check gradfit tests benchmarks

format: $(STAMP)
	$(PY) -m ruff format gradfit tests benchmarks
	$(PY) -m ruff check --fix gradfit tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_core.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
