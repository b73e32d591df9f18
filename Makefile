# reqlog developer commands. `make run` starts the service, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-lake postgres lint format bench bench-model demo sanitize clean node uap-core nginx chromium

# The environment is rebuilt whenever pyproject.toml changes (the stamp is older than it), and the
# C speedups recompiled whenever their source does.
$(STAMP): pyproject.toml $(wildcard exporter/_speedups*.c exporter/_speedups.h)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[server,test,demo,bench]'
	touch $(STAMP)

# Stock OpenTelemetry's Django and Flask instrumentations pin older OpenTelemetry packages than
# reqlog needs: bench/django.py runs them from this separate environment, with reqlog's
# instrumentation beside them from the source tree (it needs orjson there too), on one SDK.
PEERS := .venv-peers
$(PEERS)/.installed: Makefile
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check 'django>=5.1' \
		'djangorestframework>=3.18' 'djangorestframework-simplejwt>=5.5' 'flask>=3.1' \
		'opentelemetry-instrumentation-django>=0.66b1' 'opentelemetry-instrumentation-flask>=0.66b1' opentelemetry-sdk \
		'orjson>=3.10'
	touch $@

install: $(STAMP)

# The lake backend (docs/scale.md) on DuckDB 1.5.5: the newest DuckDB whose `ducklake` and
# `postgres_scanner` extensions PyPI carries as wheels. Its own environment, since the project's
# pin (duckdb>=2.0) stays for the single file; pip is told the older DuckDB on purpose, after the rest.
# PostgreSQL comes from Debian when missing: tests/lake start throwaway clusters with its initdb.
LAKE_DUCKDB := 1.5.5
LAKE := .venv-lake
$(LAKE)/.installed: pyproject.toml Makefile
	test -x $(LAKE)/bin/python || $(PYTHON) -m venv $(LAKE)
	$(LAKE)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[server,lake]' 'pytest>=8.3' \
		'pytest-aiohttp>=1.1' 'hypothesis>=6.100' 'httpx>=0.28'
	$(LAKE)/bin/python -m pip install --quiet --disable-pip-version-check 'duckdb==$(LAKE_DUCKDB)' \
		'duckdb-extension-ducklake==$(LAKE_DUCKDB)' 'duckdb-extension-postgres==$(LAKE_DUCKDB)' 2>&1 \
		| grep -v "dependency conflicts\|reqlog .* requires duckdb" || true
	$(LAKE)/bin/python -c 'import duckdb; assert duckdb.__version__ == "$(LAKE_DUCKDB)", duckdb.__version__'
	touch $@

postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

# tests/lake/test_versions.py fails once DuckLake's extension wheels for DuckDB 2 reach the package
# index: then LAKE_DUCKDB moves to 2.x and the lake runs on the project's own DuckDB.
test-lake: $(LAKE)/.installed postgres
	$(LAKE)/bin/python -m pytest -q -p no:cacheprovider tests/lake

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

# uap-core's public test corpus (~17,600 user agents) for tests/exporter/test_useragent_corpus.py: Debian's
# `uap-core` package ships its test files (the npm package ships only the rules), in /usr/share/uap-core/tests.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
UAP_CORE := /usr/share/uap-core/tests/test_device.yaml
$(UAP_CORE):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends uap-core \
		|| { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends uap-core; }

uap-core: $(UAP_CORE)

# Where a C compiler exists, the suite requires the C speedups to have been built (a failed build
# would otherwise only show as slowness); without one it tests the Python references and says so.
REQLOG_REQUIRE_SPEEDUPS ?= $(if $(shell command -v cc || command -v gcc),1,0)

# The viewer's browser test (tests/ui) drives Debian's Chromium: installed here when missing (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# Debian's nginx (and openssl for its test certificate) for tests/ops/test_deploy.py: installed when
# missing and this runs as root (as .ci/run does); otherwise say how, and the test says so too.
nginx:
	@if command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends nginx openssl >/dev/null; \
	else echo "nginx is missing: sudo apt-get install nginx (tests/ops/test_deploy.py needs it)"; fi

test: lint node uap-core nginx chromium test-lake
	REQLOG_REQUIRE_SPEEDUPS=$(REQLOG_REQUIRE_SPEEDUPS) $(BIN)/python -m pytest -q

bench: $(STAMP) $(PEERS)/.installed $(LAKE)/.installed postgres
	$(BIN)/python -m bench

# The Django benchmark as counts (bench/django_model.py): the same each run, under valgrind.
bench-model: $(STAMP) $(PEERS)/.installed
	command -v valgrind >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null)
	$(BIN)/python -m bench.django_model

# The demo has its own port (8765), so it runs beside `make run`; `PORT=9000 make demo` moves it.
DEMO_PORT := $(if $(filter environment command line,$(origin PORT)),$(PORT),8765)
demo: $(STAMP)
	$(BIN)/reqlog demo --port $(DEMO_PORT)

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
	rm -rf $(VENV) $(LAKE) .pytest_cache bench/results build exporter/*.so $(NODE_DIR)/node_modules
