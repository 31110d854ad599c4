# Every task people, hooks and CI run. `make help` lists them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format unit benchmark clean docs notebooks

help: ## list the targets
	@grep -hE '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create the environment (.venv) from the pinned requirements

run: $(STAMP) ## train, evaluate and register the diabetes model on the bundled data
	$(BIN)/mlops run --data-file-path data/diabetes.csv

lint: $(STAMP) ## check formatting and lint
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP) ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) lint ## lint, then the whole test suite with coverage
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=85

unit: $(STAMP) ## only the fast unit tests
	$(BIN)/python -m pytest tests/unit

benchmark: $(STAMP) ## time the pipeline against its peers (see benchmarks/README.md)
	$(BIN)/python benchmarks/bench_pipeline.py

notebooks: $(STAMP) ## execute every notebook in experimentation/ (logs to the workspace)
	$(BIN)/python -m ml_service.notebooks run

docs: $(STAMP) ## regenerate docs/configuration.md from the settings models
	$(BIN)/python -m ml_service.config_reference

clean: ## remove the environment and the local workspace
	rm -rf $(VENV) .mlops
