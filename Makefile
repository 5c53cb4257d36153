# The two commands of the README are `make run` and `make test`; the rest are their steps.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PERIOD ?=
DISTRICTS ?=

.PHONY: venv run test lint bench system-deps standalone clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@echo ">> creating the virtual environment in $(VENV) (pinned: requirements.txt + constraints.txt)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

## Run the month's pipeline against the bundled simulator (latest closed period, or PERIOD=YYYY-MM).
run: venv
	$(PY) scripts/run_month.py $(if $(PERIOD),--period $(PERIOD)) $(if $(DISTRICTS),--districts $(DISTRICTS))

## The test suite (CI calls this through .ci/run).
test: venv
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

## Speed and memory of each stage beside its floor (figures, not a test; see docs/performance.md).
SIZE ?= 100000
bench: venv
	$(PY) scripts/bench.py --size $(SIZE)

## Debian packages for PDF output, metric-compatible fonts, PDF rendering and the browser tests (root).
system-deps:
	apt-get update -q
	apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-liberation poppler-utils chromium

## The Airflow UI on http://localhost:8080 with the same DAG (see README, "Watch it in the UI").
standalone: venv
	$(PY) scripts/run_month.py --standalone

clean:
	rm -rf airflow_home .pytest_cache .ruff_cache
