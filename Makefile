# Helpline developer tasks.  GNU make.
#
#   make run          dev server + one task worker + the scheduler (SQLite in var/, DEBUG=1)
#   make test         what CI runs: test deps, ruff check, pytest on SQLite, pytest on PostgreSQL
#   make test-sqlite  pytest on SQLite only
#   make test-pg      pytest on a throwaway PostgreSQL 15 cluster only
#   make lint         ruff check + ruff format --check
#   make clean        remove var/ and test artefacts (keeps .venv)
#
# Extra pytest arguments: make test-sqlite PYTEST_ARGS='-k sla -x'

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
# Each recipe runs as one bash script, so `set -e` semantics cover all of it.
.ONESHELL:
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Packages the test suite needs from apt (browser tests, IMAP intake tests).
APT_TEST_PACKAGES := chromium dovecot-imapd

.PHONY: install run test test-deps test-sqlite test-pg lint clean

install: $(STAMP)

# Reinstall when pyproject.toml changes, and once more when helpline/__init__.py
# first appears: an editable install made before the top-level package existed
# cannot import it (setuptools maps top-level packages at install time).
$(STAMP): pyproject.toml $(wildcard helpline/__init__.py)
	@if [ -e $(VENV) ] && ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
	    echo "$(VENV) is broken or older than Python 3.12; recreating it"
	    rm -rf $(VENV)
	fi
	if [ ! -e $(VENV) ]; then
	    python=$$(bash scripts/find-python.sh)
	    echo "Creating $(VENV) with $$python"
	    "$$python" -m venv $(VENV)
	fi
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	if [ -e helpline/__init__.py ]; then $(PY) -c 'import helpline'; fi
	touch $@

run: $(STAMP)
	@mkdir -p var
	echo "Helpline: http://$(HOST):$(PORT)/  (agent panel /staff/, admin panel /admin/)"
	export DEBUG="$${DEBUG:-1}"
	$(BIN)/helpline migrate --noinput -v 0
	$(BIN)/helpline demo
	# One background worker runs queued tasks (notification mail, periodic jobs); the scheduler
	# enqueues the periodic jobs (overdue, auto-close, reminders, clean-up) once per period.
	$(BIN)/helpline db_worker --no-reload --interval 1 &
	worker=$$!
	$(BIN)/helpline scheduler &
	scheduler=$$!
	stop() {
	    kill "$$worker" "$$scheduler" 2>/dev/null || true
	    wait "$$worker" "$$scheduler" 2>/dev/null || true
	}
	trap stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	$(BIN)/helpline runserver $(HOST):$(PORT)

# Install apt packages the tests need, only if one of their binaries is missing.
test-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/sbin/dovecot ]; then exit 0; fi
	sudo=
	if [ "$$(id -u)" -ne 0 ]; then
	    command -v sudo >/dev/null || { echo "test-deps: need root (or sudo) to apt-get install $(APT_TEST_PACKAGES)" >&2; exit 1; }
	    sudo=sudo
	fi
	# `env` because sudo would drop DEBIAN_FRONTEND from the environment.
	apt="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120"
	# A failed update (e.g. one mirror down) is not fatal by itself: the install
	# below still fails loudly if the packages cannot be fetched.
	$$apt update -q || echo "test-deps: warning: apt-get update failed" >&2
	$$apt install -y -q $(APT_TEST_PACKAGES)
	[ -x /usr/bin/chromium ] && [ -x /usr/sbin/dovecot ]

test: $(STAMP) test-deps
	@echo "== ruff check"
	$(BIN)/ruff check .
	echo "== pytest on SQLite"
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)
	echo "== pytest on PostgreSQL 15 (throwaway cluster)"
	bash scripts/pg-throwaway.sh $(PY) -m pytest $(PYTEST_ARGS)

test-sqlite: $(STAMP) test-deps
	@env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-pg: $(STAMP) test-deps
	@bash scripts/pg-throwaway.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	@rm -rf var test-results .pytest_cache .hypothesis .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
