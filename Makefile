# The two commands of the README, and a few helpers.
#   make demo   set up, load the sample data, serve http://127.0.0.1:8000
#   make test   run the whole test suite
# Both create .venv and install requirements.txt on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test stop lint clean browser

# The browser tests drive Debian's Chromium; install it once (as root on a
# fresh machine, as CI runs). Playwright never downloads a browser here.
CHROMIUM ?= /usr/bin/chromium

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

browser:
	@test -x $(CHROMIUM) || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

test: $(STAMP) browser
	$(PY) -m pytest

stop: $(STAMP)
	$(PY) scripts/demo.py stop

clean: stop
	rm -rf .data
