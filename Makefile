# Loyalist task runner: one line per recipe. `make help` lists them.
UV := python3 -m uv
# Python's bytecode cache, in one gitignored folder: where PYTHONDONTWRITEBYTECODE is set (as on
# the CI machine) every process, and each of the tests' command-line subprocesses, compiled
# pandas & co from source again (measured: a one-line `loyalist ingest` 1.5 s -> 1.0 s)
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPYCACHEPREFIX := $(CURDIR)/.cache/pycache
.DEFAULT_GOAL := help

help: ## list the recipes
	@grep -E '^[a-z-]+:.*## ' Makefile | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install uv and the locked environment into .venv (fresh machine: Python 3.11 + pip)
	python3 -m pip install -q --disable-pip-version-check "uv==0.13.9" && $(UV) sync --frozen --python 3.11 -q

demo: setup ## main job: generate a scenario, build the store, run every part -> out/
	$(UV) run --frozen loyalist demo --out out

test: setup ## the whole test suite (what CI runs), with its 25 slowest steps listed
	$(UV) run --frozen pytest -n 2 --dist loadgroup --durations=25

bench: setup ## benchmarks -> benchmarks/results/*.json (numbers recorded in BENCHMARKS.md)
	for b in benchmarks/bench_*.py; do $(UV) run --frozen python $$b || exit 1; done

lint: setup ## ruff
	$(UV) run --frozen ruff check src tests benchmarks

.PHONY: help setup demo test bench lint
