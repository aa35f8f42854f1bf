# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_VENV := .lock-venv
# The OpenAPI client generator the contract test runs. It caps httpx below the version
# the project pins, so it lives in an environment of its own and runs as a program.
CODEGEN := .venv-codegen
CODEGEN_PIN := openapi-python-client==0.29.1
CODEGEN_STAMP := $(CODEGEN)/.installed

.PHONY: run test lint bench bench-smoke clean lock

# The pinned versions of $(LOCK), as constraints: the same install on every machine.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# Resolve pyproject.toml afresh (newest versions its ranges allow) and pin the result.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet -e '.[dev]'
	head -n 3 $(LOCK) > $(LOCK).new
	$(LOCK_VENV)/bin/pip freeze --exclude-editable >> $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)

$(CODEGEN_STAMP): Makefile
	$(PYTHON) -m venv $(CODEGEN)
	$(CODEGEN)/bin/pip install --quiet '$(CODEGEN_PIN)'
	touch $(CODEGEN_STAMP)

var:
	mkdir -p var

run: $(STAMP) var
	$(BIN)/supervisord -n -c supervisord.conf

lint: $(STAMP)
	$(BIN)/ruff check backend tests bench
	$(BIN)/ruff format --check backend tests bench
	$(BIN)/mypy

test: lint $(CODEGEN_STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(LOCK_VENV) $(CODEGEN) var

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-smoke: $(STAMP)
	$(BIN)/python -m bench.run --smoke --output var/bench-smoke.json
