# Helpline developer tasks.  GNU make.
#
#   make run          dev server + one task worker + the scheduler (SQLite in var/, DEBUG=1)
#   make test         what CI runs: test deps, ruff check, pytest on SQLite, pytest on PostgreSQL
#                     (browser and IMAP tests on SQLite only), then the time each phase took
#   make test-sqlite  pytest on SQLite only (everything)
#   make test-pg      pytest on a throwaway PostgreSQL 15 cluster only (as make test's PG pass)
#   make lint         ruff check + ruff format --check
#   make clean        remove var/ and test artefacts (keeps .venv)
#
# Extra pytest arguments: make test-sqlite PYTEST_ARGS='-k sla -x'
# pytest-xdist workers: make test PYTEST_WORKERS=0 runs in one process (e.g. with --pdb).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
# Each recipe runs as one bash script, so `set -e` semantics cover all of it.
.ONESHELL:
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# pytest-xdist: one worker per core ("auto"); 0 runs the tests in one process.
PYTEST_WORKERS ?= auto
# What the PostgreSQL pass leaves out: it proves the models, queries and actions on PostgreSQL;
# Chromium and the private Dovecot test the browser and IMAP, which do not depend on the database,
# so they run once, on SQLite. postgres_only tests are never marked `imap` (tests/conftest.py).
PG_DESELECT := not browser and not imap

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

# pytest with the xdist workers asked for. Exit 5 (no test ran) is said out loud; it fails the
# run unless PYTEST_ARGS narrowed it and another pass ran tests (e.g. `-k sla` selects none of
# the serial tests), so a selection that runs nothing at all never passes.
define PYTEST
ran_tests=$$(mktemp)
trap 'rm -f "$$ran_tests"' EXIT
export ran_tests
run_pytest() {
    local rc=0
    "$$@" || rc=$$?
    if [ "$$rc" -ne 5 ]; then echo ran >>"$$ran_tests"; return "$$rc"; fi
    if [ -n "$(strip $(PYTEST_ARGS))" ]; then
        echo "pytest: PYTEST_ARGS selects no test in this pass (exit 5); going on" >&2
        return 0
    fi
    echo "pytest ran no test (exit 5): failing, nothing was checked" >&2
    return 5
}
some_tests_ran() {
    [ -s "$$ran_tests" ] || { echo "pytest: no test ran in any pass: failing" >&2; return 5; }
}
# loadgroup: tests that share a module- or package-wide world stay on one worker (conftest.py).
xdist=""
if [ "$(PYTEST_WORKERS)" != 0 ]; then xdist="-n $(PYTEST_WORKERS) --dist loadgroup"; fi
# The PostgreSQL pass, inside one throwaway cluster: in parallel, then the `serial` tests (they
# read pg_locks, which is the whole cluster's) in one process.
pg_passes() {
    run_pytest $(PY) -m pytest $$xdist -m "$(PG_DESELECT) and not serial" $(PYTEST_ARGS) &&
        run_pytest $(PY) -m pytest -p no:xdist -m "$(PG_DESELECT) and serial" $(PYTEST_ARGS)
}
export -f run_pytest pg_passes
export xdist
endef

test: $(STAMP) test-deps
	@$(PYTEST)
	# Whatever happens, say how long each phase took and the whole run (the exit code stays).
	done_phases="" phase="" phase_start=$$SECONDS
	phase() {
	    if [ -n "$$phase" ]; then done_phases+="$$phase $$((SECONDS - phase_start))s, "; fi
	    phase=$$1 phase_start=$$SECONDS
	    if [ -n "$$phase" ]; then echo "== $$2"; fi
	}
	report() {
	    local rc=$$? verdict=passed
	    rm -f "$$ran_tests"
	    if [ "$$rc" -ne 0 ]; then
	        verdict="FAILED (exit $$rc)"
	        [ -z "$$phase" ] || done_phases+="$$phase failed after $$((SECONDS - phase_start))s, "
	    fi
	    echo "== make test $$verdict in $$((SECONDS / 60))m $$((SECONDS % 60))s: $${done_phases%, }"
	}
	trap report EXIT
	phase ruff "ruff check"
	$(BIN)/ruff check .
	phase SQLite "pytest on SQLite (everything)"
	run_pytest env -u DATABASE_URL $(PY) -m pytest $$xdist $(PYTEST_ARGS)
	phase PostgreSQL "pytest on PostgreSQL 15, throwaway cluster (browser and IMAP tests ran on SQLite)"
	bash scripts/pg-throwaway.sh bash -c pg_passes
	phase ""
	some_tests_ran

test-sqlite: $(STAMP) test-deps
	@$(PYTEST)
	run_pytest env -u DATABASE_URL $(PY) -m pytest $$xdist $(PYTEST_ARGS)
	some_tests_ran

test-pg: $(STAMP) test-deps
	@$(PYTEST)
	bash scripts/pg-throwaway.sh bash -c pg_passes
	some_tests_ran

lint: $(STAMP)
	@$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	@rm -rf var test-results .pytest_cache .hypothesis .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
