# alice-report-ingestor: the commands a developer and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell deploy/local/ensure-uv.sh)
RUN := $(UV) run --frozen
STACK := deploy/local/with-stack.sh

.PHONY: help venv lint format test test-unit kustomize stack-up stack-down stack-status migrate run demo bench reliability emulator docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: ## create .venv from uv.lock (Python 3.11+)
	@$(UV) sync --frozen --quiet

lint: venv ## ruff (lint + format check) and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: venv ## apply ruff's formatting and fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: venv kustomize ## the whole suite (unit + integration) against a real Kafka and PostgreSQL
	$(STACK) $(RUN) pytest $(PYTEST_ARGS)

test-unit: venv kustomize ## unit tests only (no stack)
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

kustomize: ## build the pinned kustomize into the project cache (once per machine; needs Go)
	@deploy/local/ensure-kustomize.sh >/dev/null

stack-up: venv ## start local Kafka + PostgreSQL (what is not running); prints export lines
	@deploy/local/stack.sh up

stack-down: ## stop what stack-up started and delete its data
	@deploy/local/stack.sh down

stack-status: ## what of the stack runs, on which ports, with its data where
	@deploy/local/stack.sh status

migrate: venv ## apply the migrations to DATABASE_URL
	$(RUN) python -m service migrate

run: venv ## run the service with settings from the environment
	$(RUN) python -m service run

demo: venv ## the main job end to end: stack, emulator, service, a handful of users, a table
	$(STACK) $(RUN) python -m demo

bench: venv ## throughput, latency, CPU and memory against the naive baseline and the ceiling
	$(STACK) $(RUN) python -m bench

reliability: venv ## the fault suite with its ledger (RELIABILITY.md); ARGS="--quick" or "--only NAME"
	$(STACK) $(RUN) python -m reliability $(ARGS)

docs: venv ## regenerate docs/asyncapi.yaml and docs/schemas/ (derived events' data) from the code
	$(RUN) python -m service.asyncapi --out docs/asyncapi.yaml
	$(RUN) python -m service.events.schemas --out docs/schemas

clean: ## stop this checkout's stack, remove its data, the environment and the caches
	@deploy/local/stack.sh down
	rm -rf .venv .stack .pytest_cache .mypy_cache .ruff_cache
