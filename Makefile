# Two commands for a fresh machine: `make run` (the main job) and `make test` (the default suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench clean

$(VENV)/.run-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(VENV)/.run-installed $@

run: $(VENV)/.run-installed
	$(PY) -m gradbox demo

test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check gradbox tests benchmarks

bench: $(VENV)/.dev-installed
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
