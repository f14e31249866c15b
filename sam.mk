# SAM CLI targets, included from the Makefile.
#
# The SAM CLI pins its own versions of boto3, click and friends, so it lives in a virtualenv of
# its own (.venv-sam), apart from the dev venv. `sam validate` and `sam build` need neither AWS
# credentials nor Docker (the build uses the local python3.13); validate needs a region, which
# defaults to us-east-1 here when none is set.

SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.sam-cli-installed
# The builds' makefiles get the interpreter the Makefile resolved (no pyenv shim).
SAM_ENV = AWS_DEFAULT_REGION=$${AWS_REGION:-$${AWS_DEFAULT_REGION:-us-east-1}} SAM_CLI_TELEMETRY=0 \
	PYTHON=$(PYTHON)
SAM_BUILD_FLAGS ?=

.PHONY: sam-venv sam-validate sam-build sam-build-arm64

sam-venv: $(SAM_STAMP)

$(SAM_STAMP): requirements-sam.lock | check-python
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-sam.lock
	touch $@

sam-validate: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint

sam-build: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) build $(SAM_BUILD_FLAGS)

# Build for arm64 (Graviton) apart from the usual build, and check that every native extension in
# it (the Pillow layer's, and any the functions' dependencies bring) is an aarch64 ELF: pip must
# have fetched the target's wheels, not the build machine's. Not part of `make test` (it downloads
# Pillow's wheels); nothing here runs the aarch64 code.
ARM64_BUILD_DIR ?= .aws-sam/build-arm64

sam-build-arm64: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) build --parameter-overrides Architecture=arm64 \
		--build-dir $(ARM64_BUILD_DIR) --cache-dir .aws-sam/cache-arm64 $(SAM_BUILD_FLAGS)
	$(SAM_VENV)/bin/python -c 'import pathlib, sys; \
		found = [p for p in pathlib.Path(sys.argv[1]).rglob("*.so*") if p.is_file()]; \
		machine = lambda p: int.from_bytes(p.read_bytes()[18:20], "little"); \
		other = [str(p) for p in found if machine(p) != 183]; \
		print(f"{len(found)} native extensions, {len(other)} not aarch64"); \
		sys.exit("not aarch64: " + ", ".join(other) if other or not found else 0)' \
		$(ARM64_BUILD_DIR)
