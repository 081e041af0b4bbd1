# Workforce on Kubernetes — developer entry points.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PROTO_OUT := services

.PHONY: setup setup-run run test protos bench chart-check clean
RUN_STAMP := $(VENV)/.setup-run.stamp

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs everything the system and its tests need (system packages, Python packages, binaries).
setup: $(BIN)/python
	@for s in scripts/setup.d/*.sh; do echo "== $$s"; VENV=$(VENV) bash $$s || exit 1; done

# Generated code lives next to the package as workforce/v1/*_pb2.py (import: from workforce.v1 import …).
protos: $(BIN)/python
	$(BIN)/python scripts/gen_protos.py $(PROTO_OUT)

# What running needs (no training, vLLM or test stacks); redone only when its inputs change.
$(RUN_STAMP): pyproject.toml scripts/setup-run.sh
	VENV=$(VENV) PY=$(PY) bash scripts/setup-run.sh
	touch $@

setup-run: $(RUN_STAMP)

# Runs the whole system on this machine: nats-server, the local model server, every service as its own process.
run: setup-run
	$(BIN)/python -m workforce.local

test: setup
	bash scripts/run_tests.sh

bench: setup
	bash scripts/run_bench.sh

# Chart and monitoring checks only (helm lint/template, kubernetes-validate, promtool, a real Prometheus).
chart-check: setup
	$(BIN)/python -m pytest -p no:cacheprovider tests/chart tests/monitoring

clean:
	rm -rf $(VENV) .pytest_cache build
