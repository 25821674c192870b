# The commands in the README: `make demo`, `make test` and `make test-unit`. Each builds .venv on
# first use. docs/testing.md describes the test tiers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-unit lint fmt dev clean browser

# Browser tests drive Debian's Chromium through Playwright; Playwright never downloads its own.
CHROMIUM ?= $(or $(DSRFLOW_TEST_CHROMIUM),/usr/bin/chromium)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# The editable finder warns that same-named folders shadow the package; here the top-level
# workflows/, activities/, adapters/ are mapped into dsrflow.* on purpose (see pyproject.toml).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dsrflow demo

# Every tier (local services, Temporal servers, the browser); prints the slowest tests and the
# wall time.
test: $(STAMP) browser
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -q --durations=15 --durations-min=2; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start ))s wall time, pytest exit $$status"; \
	exit $$status

# The fast tiers: unit and replay, in-process, no services, no Temporal server.
test-unit: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -q -m "unit or replay" tests/unit tests/replay tests/adversarial --durations=5; \
	status=$$?; \
	echo "make test-unit: $$(( $$(date +%s) - start ))s wall time, pytest exit $$status"; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian's chromium for the browser tests (tests/fixtures/browser.py), installed when missing:
# `apt-get install` first, `apt-get update` only when that fails (a fresh image has no lists).
browser:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make browser: no Chromium at $(CHROMIUM) and no apt-get here: install Chromium and set DSRFLOW_TEST_CHROMIUM to its path" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "make browser: no Chromium at $(CHROMIUM); installing it needs root: sudo apt-get install -y chromium" >&2; exit 1; \
	fi; \
	echo "make browser: installing Debian's chromium (apt-get)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends chromium || \
	  { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }

dev: $(STAMP)
	$(BIN)/dsrflow dev

clean:
	rm -rf $(VENV) .dsrflow demo-out .pytest_cache .mypy_cache
