# alice-report-ingestor: the commands a developer and CI use. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell deploy/local/ensure-uv.sh)
RUN := $(UV) run --frozen
STACK := deploy/local/with-stack.sh

.PHONY: help venv lint format test test-unit stack-up stack-down migrate run demo bench reliability emulator docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

venv: ## create .venv from uv.lock (Python 3.11+)
	@$(UV) sync --frozen --quiet

lint: venv ## ruff (lint + format check) and mypy --strict
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: venv ## apply ruff's formatting and fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

test: venv ## the whole suite (unit + integration) against a real Kafka and PostgreSQL
	$(STACK) $(RUN) pytest $(PYTEST_ARGS)

test-unit: venv ## unit tests only (no stack)
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

stack-up: venv ## start local Kafka + PostgreSQL (what is not running); prints export lines
	@deploy/local/stack.sh up

stack-down: ## stop what stack-up started
	@deploy/local/stack.sh down

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

docs: venv ## regenerate docs/asyncapi.yaml from the app
	$(RUN) python -m service.asyncapi --out docs/asyncapi.yaml

clean: ## remove the environment and local stack data
	rm -rf .venv .stack .pytest_cache .mypy_cache .ruff_cache
