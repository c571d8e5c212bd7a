# Customer Agent — developer entry points. `make up` brings the whole system up on
# real local infrastructure; `make test` starts what is missing and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST := $(UV) run --frozen pytest
# Each suite runs in its own pytest process: every service has its own `tests` package.
UNIT_SUITES := shared/tests/unit $(wildcard services/*/tests/unit)
INTEGRATION_SUITES := shared/tests/integration $(wildcard services/*/tests/integration)
SUITES := shared/tests $(wildcard services/*/tests) deploy/k8s/tests
run_suites = set -e; for suite in $(1); do echo "== pytest $$suite"; $(PYTEST) -q $$suite; done
export UV_PYTHON_DOWNLOADS := never
# A port override moves the local infrastructure; the services, topic creation, tests and benchmarks
# then reach it through the URL it implies (unless that URL is given too).
ifdef KAFKA_PORT
export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:$(KAFKA_PORT)
endif
ifdef POSTGRES_PORT
export DATABASE_URL ?= postgresql+asyncpg://customer_agent:customer_agent@127.0.0.1:$(POSTGRES_PORT)/customer_agent
endif
ifdef REDIS_PORT
export REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
endif
ifdef OPENSEARCH_PORT
export OPENSEARCH_URL ?= http://127.0.0.1:$(OPENSEARCH_PORT)
endif
# Use the platform certificate store (corporate proxies install their CA there).
export UV_SYSTEM_CERTS := 1

.PHONY: help install up down status logs topics infra-up services-up services-down browser screenshots \
        test lint typecheck test-unit test-integration test-e2e test-faults clean-state bench-pipeline k8s-check image

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(UV):
	@echo "installing uv $(UV_VERSION) from PyPI"
	@python3 -m pip --version >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null)
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
	  || python3 -m pip install --quiet --user --break-system-packages "uv==$(UV_VERSION)"

install: $(UV) ## install the Python workspace (uv, locked dependencies) and build the console's assets
	@$(UV) sync --frozen --quiet
	@bash services/admin-api/console/build.sh

infra-up: ## start Kafka, OpenSearch, PostgreSQL and Redis (downloads on first run)
	@bash deploy/local/infra.sh up

browser: ## install headless Chromium and chromedriver (Debian packages) for the browser tests
	@bash deploy/local/browser.sh install

topics: install ## create every topic of the registry and its .dlq
	@$(UV) run --frozen python -m customer_agent_shared.topics ensure

services-up: install ## start the six services
	@bash deploy/local/services.sh up

services-down: ## stop the six services
	@bash deploy/local/services.sh down

up: install infra-up topics services-up ## bring the whole system up and print where everything is
	@bash deploy/local/print-urls.sh

down: ## stop the services and the local infrastructure
	@bash deploy/local/services.sh down
	@bash deploy/local/infra.sh down

status: ## what is running
	@bash deploy/local/infra.sh status
	@bash deploy/local/services.sh status

logs: ## recent log lines of everything (SERVICE=routing for one)
	@bash deploy/local/infra.sh logs $(SERVICE) 2>/dev/null || true
	@bash deploy/local/services.sh logs $(SERVICE)

lint: install ## ruff
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

typecheck: install ## mypy (strict) over the shared library, every service, their tests and the benchmarks
	@$(UV) run --frozen mypy shared/src services/*/src
	@# One run per test tree: each is a package named "tests", which one run cannot hold twice.
	@for tree in shared/tests services/*/tests tests bench; do $(UV) run --frozen mypy $$tree || exit 1; done

test-unit: install ## fast tests of pure logic
	@$(call run_suites,$(UNIT_SUITES))

test-integration: install infra-up topics services-down ## tests against real Kafka, PostgreSQL, Redis, OpenSearch
	@$(call run_suites,$(INTEGRATION_SUITES))

test-e2e: up browser ## the whole journey through the public contract, and the webchat in Chromium
	@$(PYTEST) tests/e2e

# The randomized fault harness (tests/faults): traffic from several accounts while seeded faults hit the
# stack (kill -9, PostgreSQL/OpenSearch stopped, Kafka killed, processes frozen, Redis restarted), then a
# checker over every recorded event. SEED reproduces a run (a random one is printed when none is given);
# DURATION is seconds of traffic. `make test` runs a short one (FAULTS_SHORT_DURATION) after the e2e tests.
SEED ?=
DURATION ?= 600
FAULTS_SHORT_DURATION ?= 90
run_faults = FAULTS_SEED=$(SEED) FAULTS_DURATION=$(1) $(PYTEST) -s tests/faults

test-faults: up ## randomized fault harness, a long run (SEED=… DURATION=… seconds of traffic)
	@$(call run_faults,$(DURATION))

# Service integration tests run each service in-process on the real stack, so the
# long-running services are stopped first (two instances would both answer); the
# end-to-end tests then run against the six services started by services-up.
test: install lint typecheck infra-up topics services-down browser ## everything CI runs
	@$(call run_suites,$(SUITES))
	@$(MAKE) --no-print-directory services-up
	@bash deploy/k8s/check.sh --live
	@$(PYTEST) tests/e2e
	@$(call run_faults,$(FAULTS_SHORT_DURATION))

screenshots: up browser ## the README's screenshots (console and webchat) from the running stack, in Chromium
	@$(UV) run --frozen python deploy/local/screenshots.py

clean-state: down ## stop everything and delete local data (downloads stay cached)
	rm -rf .local-stack

k8s-check: install ## build, validate and check the Kubernetes manifests (LIVE=1 also checks running services' metrics)
	@bash deploy/k8s/check.sh $(if $(LIVE),--live)

image: install ## one service's image with the root Dockerfile (needs Docker): SERVICE=routing [TAG=…]
	@args="$$($(UV) run --frozen python deploy/k8s/image_args.py $(SERVICE))" \
	  && docker build $$args -t $(or $(TAG),customer-agent/$(SERVICE)) .

bench-pipeline: up ## pipeline throughput/latency beside a bare Kafka echo (ends with a 'ratio' line)
	@$(UV) run --frozen python bench/pipeline/run.py $(BENCH_ARGS)
