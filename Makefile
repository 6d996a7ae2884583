# evidencekit — the two set-up commands on a fresh machine are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench install schema clean conformance

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Build the definitions into output/r5 and print a summary.
run: $(STAMP)
	$(VENV)/bin/evidencekit build definitions -o output

## The whole test suite (CI runs this with CI=true).
test: $(STAMP)
	$(PY) -m pytest -q

## Benchmarks; results are written to benchmarks/results.md.
bench: $(STAMP)
	$(PY) benchmarks/run.py --output benchmarks/results.md

## Validate output/r5 with the official validator (Java 17, Maven, npm); writes output/r5/conformance.json.
conformance: $(STAMP)
	$(PY) tests/fhir_oracle.py output/r5

## Regenerate the committed JSON Schema of the definitions format.
schema: $(STAMP)
	$(VENV)/bin/evidencekit schema -o definitions/study.schema.json

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info tests/oracle/target tests/oracle/.packages
