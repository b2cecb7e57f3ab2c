# Kafka consumer-group playground. `make help` lists the targets.
# Every target that needs Docker or uv installs and starts what is missing (see infra/host/).

SHELL := /bin/bash
PROFILE ?= fanout
PROFILES := fanout shared queue
E2E_TESTS ?= tests/e2e
# BROKERS=3 lays compose.cluster.yaml over compose.yaml: three brokers, replication factor 3.
BROKERS ?= 1
export UV_PYTHON_DOWNLOADS := never
CLUSTER_FILES := compose.yaml:compose.cluster.yaml
COMPOSE_FILES := $(if $(filter 3,$(BROKERS)),$(CLUSTER_FILES),compose.yaml)
# BROKERS given (command line or environment) decides for every target. Otherwise play and up
# start one broker, and the other targets (logs, watch, chaos, ...) follow .env's COMPOSE_FILE,
# which play and up write: `make logs` after `make up BROKERS=3` follows the cluster.
ifneq ($(origin BROKERS),file)
export COMPOSE_FILE := $(COMPOSE_FILES)
endif
KAFKA_SERVICES := kafka $(if $(filter 3,$(BROKERS)),kafka-2 kafka-3)
COMPOSE := docker compose
ALL_PROFILES := --profile '*'
ifneq ($(filter-out $(PROFILES),$(PROFILE)),)
$(error PROFILE must be one of: $(PROFILES) (not '$(PROFILE)'))
endif
ifneq ($(filter-out 1 3,$(BROKERS)),)
$(error BROKERS must be 1 or 3 (not '$(BROKERS)'))
endif
# Found (or installed) on first use only, so `make help` or `make down` never installs anything.
UV = $(eval UV := $$(shell infra/host/ensure-uv.sh))$(UV)

.DEFAULT_GOAL := help
.PHONY: help docker images scenario play up down clean logs watch chaos bench provision test unit e2e lint format mutation

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

docker: ## Install and start Docker + Compose where missing (Debian hosts, as root)
	@infra/host/ensure-docker.sh

images: docker ## Official images if a registry answers, else build them offline; build the app image
	@infra/images/ensure.sh

# Stopped containers of earlier runs go first: Compose would start them again on the network a
# `docker compose down` of other profiles removed ("network ... not found"). The broker mode
# goes into .env as COMPOSE_FILE, so plain `docker compose` and make's other targets follow it.
scenario:
	@infra/host/dotenv.sh COMPOSE_FILE $(COMPOSE_FILES)
	@$(COMPOSE) $(ALL_PROFILES) rm -f >/dev/null 2>&1 || true

# Ctrl+C is how the playground is meant to stop: Compose stops every service gracefully and
# exits 130, which is no error of the user's.
play: images scenario ## Run the playground in the foreground (PROFILE=fanout|shared|queue, BROKERS=1|3); Ctrl+C stops it
	@echo "$(COMPOSE) --profile $(PROFILE) up"
	@$(COMPOSE) --profile $(PROFILE) up || [ $$? -eq 130 ]

up: images scenario ## Same as play, in the background; then `make logs`
	$(COMPOSE) --profile $(PROFILE) up -d

logs: ## Follow every service's logs
	$(COMPOSE) $(ALL_PROFILES) logs -f

watch: ## Live view of the groups: members, partitions, lag, rebalances (after `make play`)
	$(UV) run --locked playground-watch

# PROFILE=queue asks for the share group's drill; without it the drills pick it themselves when
# only share group members run.
chaos: ## Fault drills against the running playground (after `make up`), then the ledger
	$(UV) run --locked playground-chaos $(if $(filter queue,$(PROFILE)),--faults share)

bench: images ## Measure batching beside Kafka's own tools: results + plots in docs/bench (its run time: docs/bench.md)
	$(COMPOSE) up -d --wait $(KAFKA_SERVICES)
	$(UV) run --locked playground-bench $(BENCH_ARGS)

provision: images ## Start the broker and create the topic only
	$(COMPOSE) up provision

# Both files whatever BROKERS says: a cluster's other brokers and their volumes go too.
down: ## Stop and remove the containers (the broker's data volume stays)
	COMPOSE_FILE=$(CLUSTER_FILES) $(COMPOSE) $(ALL_PROFILES) down

# Twice: the cluster's files name only the three cluster volumes (its node 1 has its own), so
# the single broker's volume goes with compose.yaml alone.
clean: ## Stop everything and delete the broker's data
	COMPOSE_FILE=$(CLUSTER_FILES) $(COMPOSE) $(ALL_PROFILES) down -v
	COMPOSE_FILE=compose.yaml $(COMPOSE) $(ALL_PROFILES) down -v

# pytest exits 5 when it collected no test: for us that is a failure, not a pass. Above 128 a
# signal killed it, with no traceback if native code crashed in a thread of librdkafka's own
# (they block signals, so no handler runs): say so rather than leave a bare exit code.
define pytest
	@set +e; $(UV) run --locked pytest $(1); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	if [ $$rc -gt 128 ]; then echo "error: pytest was killed by signal $$((rc - 128))$$( \
	  [ $$rc -eq 139 ] && echo ' (SIGSEGV: a crash in native code, such as librdkafka)')" >&2; fi; \
	exit $$rc
endef

test: images ## Unit and end-to-end tests (real Kafka in Docker)
	$(call pytest,--durations=15 tests)

unit: ## Unit tests only: no Docker needed
	$(call pytest,tests/unit)

e2e: images ## End-to-end tests only, on the real stack (E2E_TESTS=tests/e2e/test_x.py picks some)
	$(call pytest,--durations=15 -m e2e $(E2E_TESTS))

mutation: ## Mutation testing of the consumer's core by its unit tests: report and run time in docs/mutation.md
	$(UV) run --locked python infra/mutation/mutation.py

lint: ## ruff, ruff format --check, mypy --strict
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy

format: ## Apply ruff's fixes and formatting
	$(UV) run --locked ruff check --fix .
	$(UV) run --locked ruff format .
