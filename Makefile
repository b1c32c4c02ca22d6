# One command per habit. Each target creates or refreshes .venv itself,
# so on a fresh machine `make run` and `make test` are all a newcomer types.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
ARGS ?=
# dynalite: a DynamoDB emulator whose conditional writes are atomic under concurrency (the race tests).
DYNALITE := .tools/node_modules/dynalite/cli.js
# Headless Chromium from Debian's package for the console's browser tests (Playwright drives it;
# its own browser downloads are not used), with CJK fonts for the Chinese pages.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run clock test test-fast screenshots lint format bench package lock clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

$(DYNALITE):
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed for the race tests: apt-get install nodejs npm"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .tools dynalite@4.0.0

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "Chromium is needed for the console tests: install Debian's chromium"; exit 1; }
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium fonts-noto-cjk

## run: the whole system locally on the embedded emulator (Ctrl-C stops it); ARGS="--demo" etc.
run: $(STAMP)
	$(PY) -m infra.local_stack $(ARGS)

## clock: the running local stack's time; ARGS="advance 20d" moves it forward (timers and schedules fire on the way)
clock: $(STAMP)
	$(PY) -m infra.time_travel $(ARGS)

## test: every test layer (unit, integration, races, infra, e2e)
test: $(STAMP) $(DYNALITE) $(CHROMIUM)
	$(PY) -m pytest $(ARGS)

## test-fast: everything but the end-to-end tests
test-fast: $(STAMP) $(DYNALITE)
	$(PY) -m pytest -m "not e2e" $(ARGS)

## screenshots: the console browser tests, writing each page at 1280x800 (English, Chinese) into docs/console/ (the README's)
screenshots: $(STAMP) $(CHROMIUM)
	CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest tests/e2e/test_console.py $(ARGS)

## lint: format check, lint, types, import boundaries, template
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared functions infra
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/cfn-lint template.yaml

## format: apply ruff's formatting and safe fixes
format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: request units, queue/bus requests, CPU and cost per touchpoint
bench: $(STAMP)
	$(PY) -m infra.bench $(ARGS)

## package: the deployable artifacts (dependencies layer + one code artifact per function) in .aws-sam/build
package: $(STAMP)
	$(PY) -m infra.package $(ARGS)

## lock: regenerate requirements.lock (the pinned runtime dependencies) from pyproject.toml
lock: $(STAMP)
	$(PY) -m infra.package --lock

# `sam build` runs these (template.yaml: BuildMethod makefile) with ARTIFACTS_DIR set.
build-%: $(STAMP)
	$(PY) -m infra.package --artifact $* --into "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
