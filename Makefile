# wikiloom: `make run` starts the whole thing on SQLite with demo data; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export WIKILOOM_DATABASE_URL ?= sqlite:///./wikiloom.db

.PHONY: run test bench install install-test install-system clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The real ORES and Lift Wing clients the scoring tests drive; their own pins (flask 1.0,
# revscoring<2.7) do not install on Python 3.11, and they need none of them.
CLIENTS := ores==1.4.0 liftwing==0.1.1

$(VENV)/.installed-test: $(VENV)/.installed node_modules/.package-lock.json
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps $(CLIENTS)
	touch $@

# Front-end packages from npm: the vendored Codex CSS and DOMPurify are checked against them,
# and the browser tests run axe-core from here (`make run` needs none of it).
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian packages of the MediaWiki and browser test tiers (root or sudo); `make run` never needs them.
$(VENV)/.installed-system: scripts/install-system | $(BIN)/python
	scripts/install-system
	touch $@

install-system: $(VENV)/.installed-system

run: install
	$(BIN)/wikiloom db upgrade
	$(BIN)/wikiloom demo
	$(BIN)/wikiloom serve --host 127.0.0.1 --port 8000 --with-jobs

test: install-system install-test
	PATH="$(abspath $(BIN)):$$PATH" scripts/check

bench: install-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules tests/artifacts wikiloom.db wikiloom.db-wal wikiloom.db-shm .pytest_cache .mypy_cache .ruff_cache
