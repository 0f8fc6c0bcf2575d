# One-command set-up: `make run` and `make test` create .venv on a fresh machine, install the
# project with its dev and dashboard extras, then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# apt-get needs root: sudo when not root already
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test lint bench clean chromium

$(STAMP): pyproject.toml daosim/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dashboard]'
	touch $(STAMP)

# The shipped default scenario: prints its summary, writes its outputs to out/baseline/.
run: $(STAMP)
	$(BIN)/daosim run experiments/scenarios/baseline.toml --out out/baseline

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# the dashboard's browser tests drive Debian's chromium through Playwright (Playwright's own
# browser download is not reachable everywhere); installed when missing
chromium:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
