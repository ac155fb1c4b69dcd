# tenge-node: every target creates and uses its own virtual environment in .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SEEDS  ?= 2000
TESTNET_DIR ?= .testnet

.PHONY: venv test lint fmt typecheck pytest proto bench bench-net bench-flood sim mutants testnet testnet-netns clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## make test: lint, format check, types, then the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

## make proto: regenerate proto/*_pb2.py and .pyi from proto/*.proto
proto: $(STAMP)
	$(PY) -m grpc_tools.protoc -I . --python_out=. --pyi_out=. proto/*.proto

## make bench: ledger, engine and whole-network benchmarks (figures, not pass/fail)
bench: $(STAMP)
	$(PY) -m bench.ledger_bench
	$(PY) -m bench.mempool_bench
	$(PY) -m bench.cache_bench
	$(PY) -m bench.engine_bench
	$(PY) -m bench.signer_bench
	$(VENV)/bin/tenge-testnet bench --validators 4 --step-s 8

## make bench-net: committed tx/s and finality latency on 4 local validators
bench-net: $(STAMP)
	$(VENV)/bin/tenge-testnet bench --validators 4 --step-s 8

## make bench-flood: event-loop lag, commit rate and /v1/status p95 under each flood
bench-flood: $(STAMP)
	$(PY) -m bench.flood_bench --phase-s 15

## make sim SEEDS=N: long consensus simulation run
sim: $(STAMP)
	TENGE_SIM_SEEDS=$(SEEDS) $(PY) -m pytest -q tests/sim

## make mutants: each deliberate bug of tests/mutants/catalog.py, applied to a temporary copy
## of the tree one at a time, must be killed by the simulation (N/N mutants killed)
mutants: $(STAMP)
	$(PY) -m tests.mutants

## make testnet: run a local 4-validator network and the settlement demo (Ctrl-C stops it)
testnet: $(STAMP)
	@if [ -f $(TESTNET_DIR)/testnet.json ]; then \
	  $(VENV)/bin/tenge-testnet down --dir $(TESTNET_DIR) >/dev/null; rm -rf $(TESTNET_DIR); fi
	$(VENV)/bin/tenge-testnet init --dir $(TESTNET_DIR) --validators 4
	$(VENV)/bin/tenge-testnet up --dir $(TESTNET_DIR) --demo

## make testnet-netns: the same network, each node in its own network namespace (root only)
testnet-netns: $(STAMP)
	@if [ -f $(TESTNET_DIR)/testnet.json ]; then \
	  $(VENV)/bin/tenge-testnet down --dir $(TESTNET_DIR) >/dev/null; rm -rf $(TESTNET_DIR); fi
	$(VENV)/bin/tenge-testnet init --dir $(TESTNET_DIR) --validators 4 --netns
	$(VENV)/bin/tenge-testnet up --dir $(TESTNET_DIR) --demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis $(TESTNET_DIR)
