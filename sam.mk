# SAM CLI targets, included from the Makefile.
#
# The SAM CLI pins its own versions of boto3, click and friends, so it lives in a virtualenv of
# its own (.venv-sam), apart from the dev venv. `sam validate` and `sam build` need neither AWS
# credentials nor Docker (the build uses the local python3.13); validate needs a region, which
# defaults to us-east-1 here when none is set.

SAM_PYTHON ?= python3
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
# Pinned: lambda-image/sam_local.py relies on a few of its internals (host networking).
SAM_CLI_SPEC ?= aws-sam-cli==1.170.0
SAM_STAMP := $(SAM_VENV)/.sam-cli-installed
SAM_ENV = AWS_DEFAULT_REGION=$${AWS_REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} SAM_CLI_TELEMETRY=0
SAM_BUILD_FLAGS ?=

.PHONY: sam-venv sam-validate sam-build

sam-venv: $(SAM_STAMP)

$(SAM_STAMP): sam.mk
	$(SAM_PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet '$(SAM_CLI_SPEC)'
	touch $@

sam-validate: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint

sam-build: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) build $(SAM_BUILD_FLAGS)
