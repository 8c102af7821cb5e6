# carbonledger — the two commands in the README.
#   make demo   create .venv, install, run a real tracked ML workload, print its footprint
#   make test   create .venv, install the dev extras, run ruff, mypy and pytest
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest bench clean postgres chromium

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; set PYTHON=python3.X (3.10 or newer)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed-demo: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e ".[demo]"
	@touch $@

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

demo: $(VENV)/.installed-demo
	$(PY) examples/demo.py

# PostgreSQL server binaries for the ledger's PostgreSQL tests (Debian's package).
# Best effort: when it cannot be installed the PostgreSQL tests skip and say why.
postgres:
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's postgresql for the ledger tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; its tests will be skipped"; \
	  else echo "note: no initdb and no root apt-get; PostgreSQL tests will be skipped"; fi; \
	fi

# A headless browser for the dashboard's end-to-end test (Debian's chromium and
# chromium-driver; never a browser download). Best effort: without it that test skips.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium and chromium-driver for the dashboard test"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	      || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "note: no chromium and no root apt-get; the browser test will be skipped"; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/ruff format --check src tests benchmarks examples scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) postgres chromium
	$(PY) -m pytest -q

test: lint typecheck pytest

# BENCH_ARGS: e.g. --markdown, or --update-doc docs/performance.md
bench: $(STAMP)
	$(PY) benchmarks/run.py $(BENCH_ARGS)
	$(PY) benchmarks/tick_floor.py --seconds 15
	$(PY) benchmarks/tick_parts.py --runs 2
	$(PY) benchmarks/ledger_bench.py
	$(PY) benchmarks/write_path.py
	$(PY) benchmarks/sigkill.py
	$(PY) benchmarks/scale.py
	$(PY) benchmarks/serving_bench.py
	$(PY) benchmarks/dashboard.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
