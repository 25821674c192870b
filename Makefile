# The commands in the README: `make demo`, `make test` and `make test-unit`. Each builds .venv on
# first use. docs/testing.md describes the test tiers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-unit lint fmt dev clean

# The editable finder warns that same-named folders shadow the package; here the top-level
# workflows/, activities/, adapters/ are mapped into dsrflow.* on purpose (see pyproject.toml).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dsrflow demo

# Every tier (local services and Temporal servers); prints the slowest tests and the wall time.
test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -q --durations=15 --durations-min=2; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start ))s wall time, pytest exit $$status"; \
	exit $$status

# The fast tiers: unit and replay, in-process, no services, no Temporal server.
test-unit: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -q -m "unit or replay" tests/unit tests/replay --durations=5; \
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

dev: $(STAMP)
	$(BIN)/dsrflow dev

clean:
	rm -rf $(VENV) .dsrflow demo-out .pytest_cache .mypy_cache
