# Everyday commands. Each target creates .venv on first use, so a fresh clone
# needs nothing but Python 3.11+ (and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PP := $(BIN)/peerpulse
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench bench-sync accuracy chaos screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: build the demo organization, run the main job on it, write the digest under ./out
demo: $(STAMP)
	$(PP) demo --out demo --quiet-if-exists
	$(PP) --config config.example.toml run --force-digest
	@echo "digest written under ./out (open out/*.html in a browser)"

## test: the default test suite (what CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check connectors rules worker tests
	$(BIN)/mypy connectors rules worker

## accuracy: inference precision/recall against the demo generator's ground truth
accuracy: $(STAMP)
	$(BIN)/python -m benchmarks.accuracy

## bench: digest computation vs a plain read of 1M messages + 100k events
bench: $(STAMP)
	$(BIN)/python -m benchmarks.digest_bench

clean:
	rm -rf $(VENV) out demo build *.egg-info
