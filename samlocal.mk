# `sam local` against what `sam build` produced, included from the Makefile.
#
# test-sam-local makes sure Docker runs and has the Lambda runtime image (lambda-image/build.sh:
# the image that is there, else pulled, else built from Debian as root; starting dockerd also
# needs root; without root it stops naming the ways out, see lambda-image/README.md), builds
# the application, then runs tests/sam_local against a moto server on 127.0.0.1:
# `sam local invoke` of every function, every sample event in events/ through
# `sam local start-lambda`, and `sam local start-api` over HTTP.

LAMBDA_IMAGE_SCRIPT ?= lambda-image/build.sh
SAM_LOCAL_PYTEST_FLAGS ?=

.PHONY: lambda-image test-sam-local

lambda-image:
	$(LAMBDA_IMAGE_SCRIPT)

test-sam-local: $(STAMP) lambda-image sam-build
	$(BIN)/pytest tests/sam_local $(SAM_LOCAL_PYTEST_FLAGS)
