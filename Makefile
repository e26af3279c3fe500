# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test check lint typecheck clean models bench

setup:  ## venv, Mosquitto, PostgreSQL + PostGIS (apt-get when root on Debian/Ubuntu)
	bash infra/scripts/provision.sh

demo: setup  ## run the JCG node and its simulator; prints the URLs
	bash infra/scripts/demo.sh

test: setup check  ## ruff, mypy and every test against a real Mosquitto and PostGIS
	$(BIN)/pytest

check: lint typecheck

lint:
	$(BIN)/ruff check services tests benchmarks
	$(BIN)/ruff format --check services tests benchmarks

typecheck:
	$(BIN)/mypy

bench: setup  ## ingest and query benchmarks vs the raw limits, same run -> bench/results/
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/mdx bench ingest
	$(BIN)/mdx bench queries

models:  ## regenerate services/mdx/core/models.py from schemas/
	bash infra/scripts/gen-models.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
