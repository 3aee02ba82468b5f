# trust-survey: every target sets itself up on a fresh machine (creates .venv and installs the package).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TS     := $(BIN)/trust-survey
OUT    ?= outputs
ROUND  ?= 2026
export TRUST_SURVEY_OUTPUTS := $(abspath $(OUT))
export TRUST_SURVEY_DB := $(abspath $(OUT))/trust_survey.duckdb

.PHONY: install demo test lint check bench clean
.DEFAULT_GOAL := check

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m trust_survey.demo --out $(OUT) --round $(ROUND)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/flake8 trust_survey tests bench

check: lint test

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find $(OUT) -mindepth 1 ! -name README.md -exec rm -rf {} +
