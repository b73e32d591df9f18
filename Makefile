# reqlog developer commands. `make run` starts the service, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench demo sanitize clean node chromium

# The environment is rebuilt whenever pyproject.toml changes (the stamp is older than it), and the
# C speedups recompiled whenever their source does.
$(STAMP): pyproject.toml $(wildcard exporter/_speedups*.c exporter/_speedups.h)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,demo,bench]'
	touch $(STAMP)

# Stock OpenTelemetry's Django and Flask instrumentations pin older OpenTelemetry packages than
# reqlog needs: bench/django.py runs them from this separate environment.
PEERS := .venv-peers
$(PEERS)/.installed: Makefile
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check 'django>=5.1' \
		'djangorestframework>=3.18' 'djangorestframework-simplejwt>=5.5' 'flask>=3.1' \
		'opentelemetry-instrumentation-django>=0.66b1' 'opentelemetry-instrumentation-flask>=0.66b1' opentelemetry-sdk
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reqlog serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The Node.js client of tests/test_node_client.py: the official OpenTelemetry JavaScript SDK, exactly as
# pinned in its lockfile, installed again only when the lockfile is newer than the install.
NODE_DIR := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.package-lock.json
$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --ignore-scripts --no-audit --no-fund
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# The viewer's browser test (tests/ui) drives Debian's Chromium: installed here when missing (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

test: lint node chromium
	$(BIN)/python -m pytest -q

bench: $(STAMP) $(PEERS)/.installed
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/reqlog demo

# The C speedups under AddressSanitizer and UndefinedBehaviorSanitizer: the exporter's and the redaction
# attack tests (their Hypothesis properties feed the C code malformed input) against a sanitized build, which stands in
# for the normal one while they run.
SO = $(firstword $(wildcard exporter/_speedups.cpython-*.so))
sanitize: $(STAMP)
	mkdir -p build
	gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -Iexporter \
		-I"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
		exporter/_speedups*.c -o build/_speedups_sanitized.so
	cp $(SO) build/_speedups_normal.so
	cp build/_speedups_sanitized.so $(SO)
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/exporter tests/hostile/test_redaction.py; \
		status=$$?; cp build/_speedups_normal.so $(SO); exit $$status

clean:
	rm -rf $(VENV) .pytest_cache bench/results build exporter/*.so $(NODE_DIR)/node_modules
