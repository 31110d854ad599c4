# Every task people, hooks and CI run. `make help` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
# apt-get needs root; anyone else is asked through sudo.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format unit benchmark clean docs notebooks ui browser screenshots

help: ## list the targets
	@grep -hE '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,azure]'
	@touch $(STAMP)

venv: $(STAMP) ## create the environment (.venv) from the pinned requirements

run: $(STAMP) ## train, evaluate and register the diabetes model on the bundled data
	$(BIN)/mlops run --data-file-path data/diabetes.csv

lint: $(STAMP) ## check formatting, lint and types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP) ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint browser ## lint, then the whole test suite with coverage
	$(BIN)/python -m pytest --cov --cov-report=term

unit: $(STAMP) ## only the fast unit tests
	$(BIN)/python -m pytest tests/unit

benchmark: $(STAMP) ## time the pipeline against its peers (see benchmarks/README.md)
	$(BIN)/python benchmarks/bench_pipeline.py

ui: $(STAMP) ## open the MLflow UI on the workspace at http://127.0.0.1:5000
	$(BIN)/mlops ui

notebooks: $(STAMP) ## execute every notebook in experimentation/ (logs to the workspace)
	$(BIN)/python -m ml_service.project.notebooks run

browser: ## install Debian's Chromium for the UI browser test, if missing (root or sudo)
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) missing: install Debian's chromium" >&2; exit 1; }

screenshots: $(STAMP) browser ## refresh the MLflow UI screenshots in docs/images (browser test)
	UPDATE_DOCS_IMAGES=1 $(BIN)/python -m pytest tests/ui -q

docs: $(STAMP) ## regenerate docs/configuration.md and .env.example from the settings models
	$(BIN)/python -m ml_service.project.config_reference

clean: ## remove the environment and the local workspace
	rm -rf $(VENV) .mlops
