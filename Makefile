# pnyx: every target sets itself up from nothing but Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test test-fast test-slow lint typecheck bench bench-quick fuzz clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pnyx needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## make run: set up if needed, then start the node (creating an identity on first use).
run: $(STAMP)
	$(BIN)/pnyx init --if-missing
	$(BIN)/pnyx id
	$(BIN)/pnyx run $(ARGS)

## make test: lint, format check, strict type check and the whole default test suite.
test: lint typecheck
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pnyx tests bench
	$(BIN)/ruff format --check pnyx tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not network and not slow' $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(ARGS)

bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .hypothesis
