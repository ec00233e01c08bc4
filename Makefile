# jupyter-argo: `make lab` to use it, `make test` to check it. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install lab test lint unit bench clean

help:  ## show this help
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || (apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV))
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[lab,test]'
	@touch $(STAMP)

install: $(STAMP)  ## set up .venv with the project and everything it needs

lab: install  ## start JupyterLab on notebooks/ (local backend)
	JUPYTER_ARGO_BACKEND=$${JUPYTER_ARGO_BACKEND:-local} $(BIN)/jupyter lab --notebook-dir=notebooks

lint: install  ## ruff and mypy
	$(BIN)/ruff check jupyter_argo tests benchmarks
	$(BIN)/ruff format --check jupyter_argo tests benchmarks
	$(BIN)/mypy

unit: install  ## the pytest suite only
	$(BIN)/pytest

test: lint unit  ## every check: lint, unit, conformance, notebooks

bench: install  ## speed and memory numbers (benchmarks/)
	$(BIN)/python -m benchmarks

clean:  ## remove .venv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
