# pnyx: every target sets itself up from nothing but Python >= 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
ARGS   ?=
# SHIM=yes: `make run` / `make path` link ~/.local/bin/pnyx to .venv/bin/pnyx; SHIM=no: never ask;
# unset: ask once on a terminal, else print how to put pnyx on the PATH (tools/pnyx_on_path.sh).
SHIM   ?=
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run path test test-fast test-slow lint typecheck bench bench-quick fuzz screenshots clean

# Two installs: $(RUN_STAMP) is what `make run` needs (pnyx and its runtime dependencies only);
# $(STAMP) adds the dev tools (pytest, ruff, mypy, ...) for test, lint and the rest. Both pinned.
$(RUN_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pnyx needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -c constraints.txt -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PIP) -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## make run: set up if needed (runtime only), then start the node. On a new home it prints a
## one-time link to the web UI, where you create your identity (docs/web.md, "Onboarding").
run: $(RUN_STAMP)
	@sh tools/pnyx_on_path.sh $(BIN) $(SHIM)
	$(BIN)/pnyx run $(ARGS)

## make path: put `pnyx` on the PATH (SHIM=yes: the ~/.local/bin link), or say how. Installs
## nothing: after `make run` (or `make test`) has set the venv up.
path:
	@sh tools/pnyx_on_path.sh $(BIN) $(SHIM)

## make test: lint, format check, strict type check and the whole default test suite.
test: lint typecheck
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check pnyx tests bench tools
	$(BIN)/ruff format --check pnyx tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m 'not network and not slow' $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

## make fuzz: the long fuzz run, outside `make test`: the property tests under the "fuzz"
## hypothesis profile (50,000 examples each, no per-test timeout), then each atheris target
## (tests/fuzz/atheris_targets.py) for FUZZ_SECONDS; atheris is skipped where it is not installed.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= envelope frame sync bundle control
FUZZ_TESTS   ?= tests/test_core_properties.py tests/test_fuzz_inputs.py tests/test_sync_wire.py \
                tests/test_export_format.py
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q --timeout=0 $(FUZZ_TESTS) $(ARGS)
	@if $(BIN)/python -c 'import atheris' 2>/dev/null; then \
		for target in $(FUZZ_TARGETS); do \
			echo "atheris: $$target for $(FUZZ_SECONDS) s"; \
			$(BIN)/python -m tests.fuzz.atheris_targets $$target -max_total_time=$(FUZZ_SECONDS) \
				-rss_limit_mb=2048 -print_final_stats=1 || exit 1; \
		done; \
	else echo "atheris is not installed: coverage-guided fuzzing skipped"; fi

## make screenshots: the web app's main pages, taken by the browser test against real nodes
## (tests/test_web_screenshots.py, test_web_polls_browser.py, test_web_notes_browser.py), written
## to docs/ui/ (the README shows them).
screenshots: $(STAMP)
	PNYX_SCREENSHOTS_DIR=$(CURDIR)/docs/ui $(BIN)/python -m pytest -q tests/test_web_screenshots.py \
		tests/test_web_polls_browser.py tests/test_web_notes_browser.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(ARGS)

bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .hypothesis
