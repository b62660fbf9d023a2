VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Migrate the metadata store and serve the API on http://127.0.0.1:8080 (data in ./.lampion)
run: install
	$(BIN)/lampion migrate
	$(BIN)/lampion serve

## The whole suite, against the SQLite and the PostgreSQL metadata stores
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench.create_projects

clean:
	rm -rf $(VENV) .lampion .pytest_cache .mypy_cache .ruff_cache
