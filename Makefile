# reqlog developer commands. `make run` starts the service, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench demo clean

# The environment is rebuilt whenever pyproject.toml changes (the stamp is older than it), and the
# C speedups recompiled whenever their source does.
$(STAMP): pyproject.toml $(wildcard exporter/_speedups*.c exporter/_speedups.h)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,demo]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reqlog serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/reqlog demo

clean:
	rm -rf $(VENV) .pytest_cache bench/results build exporter/*.so
