# Two commands matter: `make run` (set up what is missing, start the app) and
# `make test` (set up what is missing, run every test). Everything else is a step of those.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501
# Where `make run` listens (.streamlit/config.toml: 127.0.0.1) and the host names its websocket answers
# to (config: localhost 127.0.0.1 ::1; HOSTS replaces that list, so name them all), for a room:
# ADDRESS=0.0.0.0 HOSTS="lab-pc 10.0.0.5 localhost 127.0.0.1".
ADDRESS ?=
HOSTS   ?=
# A folder of lesson files the app shows under "Your lessons" (make run LESSONS=examples/lessons).
LESSONS ?=

.PHONY: run serve test setup wheel graphviz chromium node nginx bench bench-browser clean

# The app as `autograd-explorer app` serves it from the package (explorer/ui/app/).
run: setup
	$(PY) -m explorer app --port $(PORT) $(if $(LESSONS),--lessons "$(LESSONS)") -- $(if $(ADDRESS),--server.address $(ADDRESS)) \
		$(foreach host,$(HOSTS),--server.allowedHosts $(host))

# A class: REPLICAS Streamlit processes (default one per core) behind nginx on PORT (explorer/serve.py).
REPLICAS ?=
serve: setup nginx
	$(PY) -m explorer serve --port $(PORT) $(if $(REPLICAS),--replicas $(REPLICAS)) $(if $(ADDRESS),--address $(ADDRESS)) \
		$(if $(LESSONS),--lessons "$(LESSONS)") -- $(foreach host,$(HOSTS),--server.allowedHosts $(host))

test: setup chromium node nginx
	node --test tests/js/
	$(PY) -m pytest

bench: setup
	$(PY) -m explorer bench

# The app in Chromium against a bare Streamlit page, timed in the same run (tests/bench_browser.py).
bench-browser: setup chromium
	$(PY) tests/bench_browser.py

setup: $(STAMP) graphviz

# The pinned packages, then this project itself in editable mode (its own dependencies are those pins).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed: install python3 and python3-venv."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	@touch $@

# The package notebook users install: dist/autograd_explorer-VERSION-py3-none-any.whl.
wheel: setup
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir dist .

# Graphviz's `dot` lays the graphs out. On Debian/Ubuntu as root we install it; elsewhere we say what to install.
graphviz:
	@command -v dot >/dev/null || ./.ci/install-system-package dot graphviz

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here).
chromium:
	@test -x /usr/bin/chromium || ./.ci/install-system-package /usr/bin/chromium chromium fonts-dejavu-core

# Node's built-in test runner runs the player's JavaScript unit tests (tests/js/), no packages needed.
node:
	@command -v node >/dev/null || ./.ci/install-system-package node nodejs

# nginx is the load balancer of `make serve` (and of tests/test_serve.py).
nginx:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || ./.ci/install-system-package nginx nginx

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts dist build *.egg-info
