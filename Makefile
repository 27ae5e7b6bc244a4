# Every target does its own set-up on a fresh machine that has only python3.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# torch is pinned and installed first: an unpinned torch would make pip fetch a
# multi-GB CUDA build.
TORCH  := torch==2.13.0
PIP    := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: setup demo test test-slow lint bench clean

setup: $(STAMP)
	@scripts/sysdeps.sh graphviz

$(STAMP): pyproject.toml requirements/runtime.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) $(TORCH)
	$(PIP) -r requirements/runtime.txt -r requirements/dev.txt
	$(PIP) --no-deps -e .
	touch $@

demo: setup
	$(VENV)/bin/gradstep demo --out out/demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup lint
	@scripts/sysdeps.sh chromium
	$(PY) -m pytest -m "not slow" -q -n 2

test-slow: setup
	$(PY) -m pytest -m slow -q

# Benchmark-only extras (skorch) go in without dependencies so pip cannot swap torch.
bench: setup
	$(PIP) --no-deps -r requirements/bench.txt
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache
