# ProgImage: `make serve` runs the service locally, `make test` runs every test.
# Both create what they need on a fresh machine (Python 3.13 virtual environments).

PORT ?= 3000
# The interpreter itself, resolved once, not a pyenv shim: a shim rehashes after every pip
# install, and concurrent rehashes fail (`sam build` runs the builds in parallel).
PYTHON ?= $(shell for p in python3.13 python3; do $$p -c 'import sys; print(sys.executable)' \
	2>/dev/null && break; done)
PYTHON := $(PYTHON)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint format generate lock check-python checkov-venv chromium clean

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
	$(if $(PYTHON),,$(error Python 3.13 is needed (the Lambda runtime): no python3.13 or python3 found))
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 13) else \
		f"Python 3.13 is needed (the Lambda runtime); {sys.executable} is {v[0]}.{v[1]}")'

# Every environment installs from its lock, made by `make lock` from the requirements files
# (the inputs): exact versions, each file checked against the lock's hashes, nothing resolved.
$(STAMP): requirements-dev.lock | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e ./client
	touch $@

# checkov pins old boto3 and packaging releases: it gets a virtual environment of its own.
CHECKOV_STAMP := .venv-checkov/.installed

checkov-venv: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): tests/infra/requirements.lock | check-python
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --require-hashes --no-deps -r tests/infra/requirements.lock
	touch $@

# The browser example's test (tests/browser) drives Debian's Chromium, installed where it is
# missing and root can; elsewhere that test skips, saying so.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" -ne 0 ] || scripts/apt-install.sh chromium

# Resolve every requirements input into its lock, with the hashes of each pinned release's files,
# for Python 3.13 (the Lambda runtime's). Run it after changing an input; LOCK_FLAGS=--upgrade
# moves every pin to the newest release the inputs allow (otherwise the locks' pins are kept
# where the inputs still allow them). Environments that meet keep the dev lock's versions (-c),
# which the tests ran with. The functions' and the layer's are resolved for Lambda's Linux
# (the layer once per architecture); the others for any platform (--universal, with markers).
# The functions' lock leaves out botocore and what it alone needs: the Lambda runtime has them.
LOCK_FLAGS ?=
LOCK = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.13 $(LOCK_FLAGS)
RUNTIME_PACKAGES := botocore python-dateutil six urllib3

lock: $(STAMP)
	$(LOCK) --universal requirements-dev.txt --no-emit-package progimage --no-emit-package numpy \
		-o requirements-dev.lock
	$(LOCK) --python-platform x86_64-manylinux_2_28 functions/requirements.txt \
		-c requirements-dev.lock $(RUNTIME_PACKAGES:%=--no-emit-package %) -o functions/requirements.lock
	$(LOCK) --python-platform x86_64-manylinux_2_28 layers/pillow/requirements.txt \
		-c requirements-dev.lock --no-emit-package numpy -o layers/pillow/x86_64/requirements.lock
	$(LOCK) --python-platform aarch64-manylinux_2_28 layers/pillow/requirements.txt \
		-c requirements-dev.lock --no-emit-package numpy -o layers/pillow/arm64/requirements.lock
	$(LOCK) --universal tests/infra/requirements.txt -o tests/infra/requirements.lock
	$(LOCK) --universal requirements-sam.txt -o requirements-sam.lock
	$(LOCK) --universal bench/requirements.txt -c requirements-dev.lock -o bench/requirements.lock
	$(LOCK) --universal --no-deps bench/requirements-nodeps.txt -o bench/requirements-nodeps.lock

clean:
	rm -rf $(VENV) .venv-sam .venv-checkov .aws-sam .pytest_cache .ruff_cache

include sam.mk
include samlocal.mk
include bench.mk
