# Two commands on a fresh Debian machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck unit peers bench profile fuzz coverage screenshots cluster clean asterisk

# The compiled hot path (setup.py) is rebuilt whenever its sources change. The rest is
# byte-compiled at install, as a wheel's install does: where PYTHONDONTWRITEBYTECODE is set
# (CI images often set it) every start would otherwise compile it from source again.
HOT_SOURCES := $(wildcard src/sipnotify/sip/*.py src/sipnotify/sip/transactions/*.py \
                src/sipnotify/ami/*.py src/sipnotify/ami/actions/pjsip.py \
                src/sipnotify/notify/*.py src/sipnotify/ua/*.py src/sipnotify/registrar/*.py \
                src/sipnotify/transport/udp.py)

$(VENV)/.installed: pyproject.toml setup.py $(HOT_SOURCES)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py $(HOT_SOURCES)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@

## run: set up and start on the embedded default configuration
run: $(VENV)/.installed
	$(BIN)/sipnotify serve

## peers: the real peers the tests drive: sipp (Debian's sip-tester), baresip and sipsak
## (registering phones), socat (TLS in front of sipp, whose Debian build has no TLS),
## openssl (test certificates), Debian's Perl AMI client (libasterisk-agi-perl), curl (AMI
## over HTTP), Debian's chromium with its driver (the console, headless), Debian's
## postgresql (the PostgreSQL store, run by the tests in a temporary folder) and kamailio
## (the edge proxy in front of several nodes)
peers:
	@missing=""; \
	command -v sipp >/dev/null 2>&1 || missing="$$missing sip-tester"; \
	command -v baresip >/dev/null 2>&1 || missing="$$missing baresip"; \
	command -v sipsak >/dev/null 2>&1 || missing="$$missing sipsak"; \
	command -v socat >/dev/null 2>&1 || missing="$$missing socat"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	perl -MAsterisk::Manager -e1 >/dev/null 2>&1 || missing="$$missing libasterisk-agi-perl"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	command -v kamailio >/dev/null 2>&1 || missing="$$missing kamailio"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

lint: $(VENV)/.installed-test
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/pytest

## test: set up everything the tests need, then lint, type-check and test
test: peers lint typecheck unit

## cluster: NODES (2) sipnotify nodes on one PostgreSQL made in a temporary folder; Ctrl-C stops
cluster: $(VENV)/.installed-test peers
	$(BIN)/python scripts/cluster.py

## bench: the benchmark (not part of test): real sipnotify and SIPp on loopback, JSON + table
bench: $(VENV)/.installed peers
	$(BIN)/python bench/bench.py $(if $(ASTERISK),--asterisk $(ASTERISK)) $(BENCH_ARGS)

## asterisk: a reference Asterisk from Debian unstable's packages in ASTERISK_DIR (not part
## of test; about 350 MB), then: make bench ASTERISK=$(ASTERISK_DIR)/asterisk
ASTERISK_DIR ?= .asterisk
asterisk:
	SUDO=$(SUDO) sh scripts/debian-asterisk.sh $(ASTERISK_DIR)

## coverage: line coverage of src/ for the unit tests alone (no sockets, no subprocesses),
## then for the whole suite (the integration tests' sipnotify processes included)
coverage: $(VENV)/.installed-test peers
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider --ignore=tests/integration
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --precision=1 > .coverage-unit.txt
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -p no:cacheprovider
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --precision=1 > .coverage-all.txt
	@echo; echo "== unit tests alone =="; cat .coverage-unit.txt
	@echo; echo "== whole suite =="; cat .coverage-all.txt
	@echo; printf "unit tests alone: %s   whole suite: %s\n" \
	  "$$(grep ^TOTAL .coverage-unit.txt | awk '{print $$NF}')" \
	  "$$(grep ^TOTAL .coverage-all.txt | awk '{print $$NF}')"

## fuzz: every parser entry point on mutated inputs (FUZZ_INPUTS in all, default 1,000,000),
## failing on an undeclared exception, an input over 1 s, or a server transaction left open
FUZZ_INPUTS ?= 1000000
fuzz: $(VENV)/.installed-test
	$(BIN)/python -m tests.fuzzing --inputs $(FUZZ_INPUTS) $(FUZZ_ARGS)

## profile: B1's burst with py-spy sampling sipnotify; prints the hottest functions
profile: $(VENV)/.installed peers
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/profile.py $(PROFILE_ARGS)

## screenshots: the console's main views, taken by its browser test, into docs/screenshots
screenshots: $(VENV)/.installed-test peers
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest -q tests/integration/test_console.py

clean:
	find src -name '*.so' -delete
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache .hypothesis
