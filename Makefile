# ProgImage: `make serve` runs the service locally, `make test` runs every test.
# Both create what they need on a fresh machine (Python 3.13 virtual environments).

PORT ?= 3000
PYTHON ?= $(shell command -v python3.13 >/dev/null 2>&1 && echo python3.13 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint format generate check-python checkov-venv chromium clean

serve: $(STAMP)
	$(BIN)/python -m localserver --port $(PORT) $(ARGS)

# Lint, then every test but sam local (in parallel), then the template and the built
# application under `sam local` (Docker, with the Lambda image pulled or built).
test: $(STAMP) sam-venv checkov-venv chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2
	$(MAKE) --no-print-directory sam-validate test-sam-local

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rewrite what is generated from the operation registry (the client's grammar, operation table
# and builder methods; the operation tables of openapi/openapi.yaml, docs/API.md and the client's
# README). A test fails while any of it is stale.
generate: $(STAMP)
	PYTHONPATH=functions $(BIN)/python -m codegen

check-python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 13) else \
		f"Python 3.13 is needed (the Lambda runtime); {sys.executable} is {v[0]}.{v[1]}")'

$(STAMP): requirements-dev.txt functions/requirements.txt layers/pillow/requirements.txt \
		layers/pillow/requirements-nodeps.txt | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r layers/pillow/requirements-nodeps.txt
	touch $@

# checkov pins old boto3 and packaging releases: it gets a virtual environment of its own.
CHECKOV_STAMP := .venv-checkov/.installed

checkov-venv: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): tests/infra/requirements.txt | check-python
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r tests/infra/requirements.txt
	touch $@

# The browser example's test (tests/browser) drives Debian's Chromium, installed where it is
# missing and root can; elsewhere that test skips, saying so.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" -ne 0 ] || scripts/apt-install.sh chromium

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .aws-sam .pytest_cache .ruff_cache

include sam.mk
include samlocal.mk
include bench.mk
