# Two commands on a fresh machine: `make dev` (the local platform with demo data) and
# `make test` (the whole suite). Both install what they need from pyproject.toml + uv.lock.
PYTHON ?= python3.11
VENV := .venv
PORT ?= 3000
export CI_ASSETS_HOME ?= $(CURDIR)/.ci_assets

.PHONY: install browser dev demo search test topology lint format bench clean

# deploy/install.sh is the one install, shared with the Dockerfile (its header says what it does).
$(VENV)/.installed: deploy/install.sh pyproject.toml uv.lock $(wildcard ci_assets/*/*/*.c ci_assets/*/*.h)
	PYTHON=$(PYTHON) VENV=$(VENV) deploy/install.sh dev
	touch $@

install: $(VENV)/.installed

# The browser tests drive Debian's Chromium through Playwright (no browser download): installed
# from the distribution when it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y --no-install-recommends chromium \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

dev: install
	$(VENV)/bin/ci-assets dev --port $(PORT)

demo: install
	$(VENV)/bin/ci-assets demo

search: install
	$(VENV)/bin/ci-assets search

lint: install
	$(VENV)/bin/ruff check ci_assets ci_assets_tests bench
	$(VENV)/bin/ruff format --check ci_assets ci_assets_tests bench

test: install browser lint
	$(VENV)/bin/pytest

# The deployed shape as separate processes from the installed package: code server, webserver, daemon
# on the cloud instance and environment, with faults (ci_assets_tests/deploy/test_topology.py).
topology: install
	$(VENV)/bin/pytest -m topology

format: install
	$(VENV)/bin/ruff format ci_assets ci_assets_tests bench
	$(VENV)/bin/ruff check --fix ci_assets ci_assets_tests bench

# The benches reuse the tests' services (scratch databases, moto, the search site).
bench: export PYTHONPATH = $(CURDIR)
bench: install browser
	$(VENV)/bin/python bench/parquet_io_manager.py
	$(VENV)/bin/python bench/single_run_backfill.py
	$(VENV)/bin/python bench/buildhub_ingest.py
	$(VENV)/bin/python bench/buildhub_sensor_tick.py
	$(VENV)/bin/python bench/buildhub_search.py
	$(VENV)/bin/python bench/fxci_pulse_drain.py
	$(VENV)/bin/python bench/fxci_worker_costs.py
	$(VENV)/bin/python bench/aggregates_convert.py
	$(VENV)/bin/python bench/aggregates_backfill.py
	$(VENV)/bin/python bench/activedata_read.py
	$(VENV)/bin/python bench/sources_migration.py
	$(VENV)/bin/python bench/celery_overhead.py
	$(VENV)/bin/python bench/contract_validation.py
	$(VENV)/bin/python bench/ui_materialize.py

clean:
	rm -rf $(VENV) .tools .ci_assets
