# jdci: `make demo` runs the main job on the bundled sample app; `make test` runs the test suite.
# Both set up everything they need first (virtualenv, Docker engine, registry, base images).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test unit services venv sandbox-down clean

demo: venv services
	$(BIN)/jdci demo

test: venv services
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

services:
	bash scripts/services.sh all

sandbox-down:
	-$(BIN)/jdci sandbox down

clean: sandbox-down
	rm -rf $(VENV) *.egg-info jdci-reports
