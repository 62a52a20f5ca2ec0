# The two commands: `make test` (everything a contributor keeps green) and, from the
# import pipeline on, `make demo`. Both install what they need.

SHELL := /bin/bash
.DEFAULT_GOAL := test

VENV         := .venv
MOTO_VERSION := 5.1.22
MOTO         := $(VENV)/bin/moto_server
CFN_LINT_VERSION := 1.41.0
CFN_LINT     := $(VENV)/bin/cfn-lint
CARGO_LAMBDA_VERSION := 1.9.2
CARGO_LAMBDA := $(VENV)/bin/cargo-lambda
# The Zig cargo lambda links with (as `python3 -m ziglang`, the python3 of .venv/bin).
ZIGLANG_VERSION := 0.16.0
ZIG          := $(VENV)/.ziglang-$(ZIGLANG_VERSION)
# The SAM CLI, in a virtual environment of its own inside .venv: it pins cfn-lint, boto3
# and Flask to versions other than moto's and ours.
SAM_CLI_VERSION := 1.170.0
SAM_VENV     := $(VENV)/sam
SAM          := $(SAM_VENV)/bin/sam
CARGO        ?= cargo

# Tests and tools only ever talk to a local emulator with dummy credentials.
export AWS_ACCESS_KEY_ID     ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_REGION            ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
# The simulators and emulators listen on 127.0.0.1 over plain http: let credentials go
# there in tests and the demo (never the default; see shared/src/hosts.rs).
export ALLOW_LOCAL_HOSTS := 1

.PHONY: test lint unit integration demo bench build package deploy moto tools clean

## test: fmt check, clippy (warnings denied), unit and integration tests against moto and the simulators
test: lint integration

lint: $(CFN_LINT)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CFN_LINT) infra/template.yaml

unit:
	$(CARGO) test --workspace --lib --tests --exclude sims

# The debug build of every binary and test, in one invocation: built apart, the binaries
# would resolve features without the dev-dependencies' (tokio's test-util, serde_json's
# order) and every dependency would be compiled twice.
DEBUG_BUILD = $(CARGO) build --workspace --lib --bins --tests

## integration: every test of the workspace, with moto started on 127.0.0.1 for the run
integration: $(MOTO) $(CARGO_LAMBDA)
	$(DEBUG_BUILD)
	CARGO_LAMBDA=$(abspath $(CARGO_LAMBDA)) tests/with-moto.sh $(MOTO) $(CARGO) test --workspace --lib --tests

## demo: a small agency's Clockify imported into Runn, twice, on moto and the simulators
demo: $(MOTO) $(CARGO_LAMBDA)
	$(DEBUG_BUILD)
	CARGO_LAMBDA=$(abspath $(CARGO_LAMBDA)) tests/with-moto.sh $(MOTO) tests/demo.sh

## bench: the Clockify fetch, Runn import and actuals sync benchmarks (optimised build),
## each function binary's init time, peak memory and size (host release build, on moto),
## and the freshness of near-real-time sync (the api and worker binaries under cargo
## lambda, on moto; about 9 minutes, in real time)
bench: $(MOTO) $(CARGO_LAMBDA)
	$(CARGO) build --release -p scheduler -p worker -p autofill -p api
	$(CARGO) bench -p sims --bench clockify_fetch --bench runn_import --bench actuals_sync
	tests/with-moto.sh $(MOTO) $(CARGO) bench -p sims --bench functions
	CARGO_LAMBDA=$(abspath $(CARGO_LAMBDA)) tests/with-moto.sh $(MOTO) $(CARGO) bench -p sims --bench freshness

## build: the Lambda packages (arm64, release) with cargo lambda, as `sam build` does
build: $(CARGO_LAMBDA)
	$(CARGO_LAMBDA) lambda build --release --arm64 --package scheduler --package worker --package autofill --package api

# `sam build` of the template (each function by cargo lambda, release) into
# infra/.aws-sam/build, for the template's Architecture $(LAMBDA_ARCH); cargo-lambda and
# Zig come from .venv/bin. Its own target directory: a release build does not hold the
# lock of target/ for minutes, nor overwrite target/lambda of `make build`.
LAMBDA_ARCH ?= arm64
SAM_BUILD = cd infra && PATH="$(abspath $(VENV)/bin):$$PATH" SAM_CLI_TELEMETRY=0 \
	CARGO_TARGET_DIR="$(abspath target/sam)" $(abspath $(SAM)) build --beta-features \
	--build-dir .aws-sam/build --parameter-overrides Architecture=$(LAMBDA_ARCH)

## package: what `make deploy` builds, without deploying: `sam build` into
## infra/.aws-sam/build, x86_64 unless LAMBDA_ARCH=arm64 (this machine has no arm64 std)
package: LAMBDA_ARCH := x86_64
package: $(SAM) $(CARGO_LAMBDA) $(ZIG)
	$(SAM_BUILD)

## deploy: the stack, with SAM (asks for the stack's name, region and parameters once),
## arm64 unless LAMBDA_ARCH=x86_64
deploy: $(SAM) $(CARGO_LAMBDA) $(ZIG)
	$(SAM_BUILD)
	cd infra && SAM_CLI_TELEMETRY=0 $(abspath $(SAM)) deploy --guided --parameter-overrides Architecture=$(LAMBDA_ARCH)

## moto: install moto (pinned) into a local virtual environment
moto: $(MOTO)

$(MOTO):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server,dynamodb]==$(MOTO_VERSION)'
	@test -x $(MOTO)

# The Lambda runtime API emulator the function binaries are tested under.
$(CARGO_LAMBDA):
	test -d $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIGLANG_VERSION)'

# cargo-lambda depends on ziglang without a pin: this holds it to ours.
$(ZIG): $(CARGO_LAMBDA)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'ziglang==$(ZIGLANG_VERSION)'
	touch $@

$(SAM):
	test -d $(VENV) || python3 -m venv $(VENV)
	python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli==$(SAM_CLI_VERSION)'
	@test -x $(SAM)

$(CFN_LINT):
	test -d $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)'

clean:
	$(CARGO) clean
	rm -rf $(VENV)
