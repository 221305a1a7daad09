# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
DATA_DIR ?= data

.PHONY: run test clean chromium wrk load fuzz openapi

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps re-run the install only when pyproject.toml or constraints.txt changes. The exact versions come
# from constraints.txt; the package itself asks only for compatible ranges.
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

$(VENV)/.run-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e '.[frameworks]'
	touch $@

$(VENV)/.test-installed: pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e '.[test]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(VENV)/bin/framework-advisor serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: $(VENV)/.test-installed chromium
	$(PY) -m pytest

# The browser test drives Debian's chromium (Playwright's browser download is never used). As root on
# Debian/Ubuntu it is installed here when missing; elsewhere tests/test_browser.py skips and says how
# to get it, and with CI=true it fails instead.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	     && grep -qsE '^ID(_LIKE)?=.*(debian|ubuntu)' /etc/os-release; then \
	  echo "make: installing Debian's chromium for the browser test"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
	    || echo "make: warning: could not install chromium; the browser test will skip (or fail under CI=true)"; \
	else \
	  echo "make: chromium not found and not installed here (needs root on Debian/Ubuntu): the browser test will skip"; \
	fi

# Load test against gunicorn on loopback (benchmarks/load.py): wrk from Debian, installed here as root.
wrk:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	     && grep -qsE '^ID(_LIKE)?=.*(debian|ubuntu)' /etc/os-release; then \
	  echo "make: installing Debian's wrk for the load test"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk; \
	else \
	  echo "make: wrk not found: install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk)"; \
	  exit 2; \
	fi

load: $(VENV)/.run-installed wrk
	$(PY) benchmarks/load.py

# schemathesis's CLI, every phase and check, against gunicorn on 127.0.0.1 (a fake probe is served).
fuzz: $(VENV)/.test-installed
	$(PY) benchmarks/fuzz_server.py

# openapi.yaml is generated from service/contract/paths.yaml and the models; tests fail when it is stale.
openapi: $(VENV)/.run-installed
	$(PY) -m framework_advisor.contract write

clean:
	rm -rf $(VENV) .pytest_cache
