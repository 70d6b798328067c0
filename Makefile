# Kingmaker: `make demo` runs the whole loop on a fresh machine, `make test`
# runs every test (unit and integration) against a real local stack.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
CONFIG ?= kingmaker.example.yaml
KINGMAKER := bin/kingmaker --config $(CONFIG)
TEST_TIMEOUT ?= 30m
# The commit bin/kingmaker is built from ("-dirty" when the checkout has changes), stamped into the
# binary: `kingmaker version` prints it, and workers name it in their Temporal identity. Empty
# outside a git checkout.
COMMIT := $(shell git rev-parse HEAD 2>/dev/null || true)$(shell test -n "$$(git status --porcelain 2>/dev/null)" && echo -dirty || true)
LDFLAGS := -X github.com/kingmaker-ml/kingmaker/internal/buildinfo.stamped=$(COMMIT)
# Integration tests find the stack here (the defaults of scripts/).
export KINGMAKER_TEST_CASSANDRA ?= 127.0.0.1:9042
export KINGMAKER_TEST_TEMPORAL ?= 127.0.0.1:7233
# The local Cassandra runs with PasswordAuthenticator; these are its default
# superuser's credentials (a production cluster has its own roles).
export KINGMAKER_CASSANDRA_AUTH ?= 1
export KINGMAKER_CASSANDRA_USERNAME ?= cassandra
export KINGMAKER_CASSANDRA_PASSWORD ?= cassandra

.PHONY: all build build-xgboost build-pure xgboost demo test test-xgboost test-onnx chaos tools test-unit lint stack-up stack-down stack-status stack-reset schema seed bench clean

all: build

## build: bin/kingmaker with every trainer, xgboost included (installs libxgboost-dev the first time)
build: xgboost build-xgboost

## xgboost: install libxgboost-dev (Debian/Ubuntu, as root) unless cgo can already use libxgboost
xgboost:
	@scripts/xgboost.sh install || { echo "make: libxgboost could not be installed (see above); make build-pure builds bin/kingmaker without the xgboost trainer" >&2; exit 1; }

## build-xgboost: bin/kingmaker with the xgboost trainer, libxgboost already installed
build-xgboost:
	$(GO) build -tags xgboost -ldflags '$(LDFLAGS)' -o bin/kingmaker ./cmd/kingmaker

## build-pure: bin/kingmaker in pure Go, no C library: every trainer but xgboost
build-pure:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/kingmaker ./cmd/kingmaker

## stack-up: start Cassandra and the Temporal dev server (fetching/building them the first time)
stack-up:
	scripts/cassandra.sh start
	scripts/temporal.sh start

## stack-down: stop the demo worker, Prometheus, Alertmanager, Temporal and Cassandra; data stays under .stack/
stack-down:
	-scripts/worker.sh stop
	-scripts/prometheus.sh stop
	-scripts/alertmanager.sh stop
	-scripts/cassandra-cluster.sh stop
	scripts/temporal.sh stop
	scripts/cassandra.sh stop

stack-status:
	-scripts/cassandra.sh status
	-scripts/temporal.sh status
	-scripts/alertmanager.sh status

## stack-reset: stop both and delete their data
stack-reset:
	-scripts/worker.sh stop
	-scripts/prometheus.sh stop
	-scripts/alertmanager.sh stop
	-scripts/cassandra-cluster.sh reset
	scripts/temporal.sh reset
	scripts/cassandra.sh reset

schema: build
	$(KINGMAKER) schema apply

## demo: the whole story on a fresh machine
demo: stack-up build
	scripts/demo.sh

## test: install promtool, Alertmanager and Chromium, start the stack if needed, then vet, gofmt and every test:
## unit, integration, the xgboost build, the pure-Go binary, and last the chaos suite on its own (it kills processes and nodes)
test: tools stack-up lint test-xgboost test-onnx
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/kingmaker
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v /chaos)
	$(MAKE) chaos

## chaos: fault injection (kill -9 of workers, Cassandra outages, a three-node cluster), races, bad input
chaos: stack-up
	$(GO) test -count=1 -timeout 30m ./chaos/

## bench: the benchmarks of BENCHMARKS.md (scripts/bench.sh quick|full; default full)
bench: stack-up
	scripts/bench.sh $(or $(BENCH),full)

## test-xgboost: vet and test the trainer with -tags xgboost against libxgboost, and models registered from Python's xgboost on the stack (skipped with a note when absent, except in CI)
test-xgboost:
	@status=0; scripts/xgboost.sh check || status=$$?; \
	if [ "$$status" = 3 ] && [ "$${CI:-}" != true ]; then \
	  echo "test-xgboost: skipped: libxgboost is not installed (scripts/xgboost.sh install)" >&2; \
	elif [ "$$status" != 0 ]; then exit "$$status"; \
	else $(GO) vet -tags xgboost ./... && $(GO) test -count=1 -tags xgboost ./trainer/... ./config/... && \
	  $(GO) test -count=1 -tags xgboost ./cmd/kingmaker -run 'BringYourOwn|ModelsRegister|OpenMP'; fi

## test-onnx: fetch ONNX Runtime's library (scripts/onnxruntime.sh: the pinned PyPI wheel, SHA-256 checked), then vet and test
## ONNX models (build tag onnx): the trainer's reader and runtime, registration and a challenge on the stack,
## and a retrain where the Python external trainer (examples/python-trainer, venv by scripts/python-trainer.sh) competes
test-onnx:
	scripts/onnxruntime.sh install
	scripts/python-trainer.sh install
	$(GO) vet -tags onnx ./...
	$(GO) test -count=1 -tags onnx ./trainer/... ./external/...
	$(GO) test -count=1 -tags onnx ./cmd/kingmaker -run 'BringYourOwn|ModelsRegister|RegisterLightGBM|ExternalTrainer'

## tools: what the tests need beyond Go (promtool, Alertmanager and amtool, Chromium, from Debian's packages)
tools:
	scripts/prometheus.sh install
	scripts/alertmanager.sh install
	scripts/chromium.sh install

## test-unit: the tests that need no stack (go test -short)
test-unit:
	$(GO) test -short -count=1 ./...

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi

clean:
	rm -rf bin/kingmaker
