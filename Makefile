# cloudpcap — see README.md. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/cloudpcap
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
SCENARIO ?= scenarios/quick.yaml
# Test timeout per package; the whole suite must stay well under 20 minutes.
# Packages run one at a time (-p 1): the lab, capture and gate tests measure
# latency on 2 cores, and a neighbouring package's load skews them.
TEST_TIMEOUT ?= 10m
# Debian packages the tests use as oracles and drivers (installed when missing, as root).
TEST_DEBS := tshark nodejs npm chromium

.PHONY: help build test test-short bench perf lint fuzz clean deps-test deps-node

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/cloudpcap
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cloudpcap

test: build deps-test deps-node ## run every test (what CI runs); installs the test tools it needs
	$(GO) vet ./...
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) ./...

test-short: ## unit tests only, no integration tests
	$(GO) test -short -count=1 ./...

deps-test: ## install the Debian tools the tests need (as root; apt-get only when missing)
	@missing=""; for p in $(TEST_DEBS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "warning: missing$$missing (tests that need them fail under CI=true, skip otherwise)"; fi; \
	fi

NODEPAIR := monitor/pipeline/testdata/nodepair
deps-node: deps-test ## install the monitor's Node.js test pair (npm ci, pinned by its package-lock.json) when missing
	@if [ ! -d $(NODEPAIR)/node_modules ]; then \
	  if command -v npm >/dev/null; then (cd $(NODEPAIR) && npm ci --no-audit --no-fund --loglevel=error); \
	  else echo "warning: npm missing (the Node.js pair test fails under CI=true, skips otherwise)"; fi; \
	fi

bench: build ## run SCENARIO (default scenarios/quick.yaml) and print the results folder
	@if [ ! -f "$(SCENARIO)" ]; then echo "bench: $(SCENARIO) not found"; exit 2; fi
	$(BIN) run $(SCENARIO)

perf: ## every benchmark side by side in one run (allocations, throughput); BENCHTIME=1s for steadier numbers
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -benchtime $${BENCHTIME:-300ms} ./...

fuzz: ## fuzz every decoder briefly (FUZZTIME=30s per target)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	  done; done

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean: ## remove build outputs (results/ is kept)
	rm -rf bin
