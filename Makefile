# evidencekit — the two set-up commands on a fresh machine are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-tools bench bench-push install schema clean conformance agreement r5-spec fhir-server screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Build the definitions into output/r5, print a summary, and write the evidence report site to output/site.
run: $(STAMP)
	$(VENV)/bin/evidencekit build definitions -o output
	$(VENV)/bin/evidencekit report output

## Screenshots of the site's main pages for docs/ (needs the browser tools: make test-tools).
screenshots: $(STAMP) test-tools
	$(PY) tests/site_browser.py output/site

## Tools the tests start themselves (Debian packages): redis-server for the replay-cache replicas test,
## chromium for the site's browser tests; axe-core from npm (tests/site-tools, pinned by its lock file).
test-tools:
	@command -v redis-server >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null; } || \
	  echo "redis-server is missing: install Debian's redis-server (the replicas test fails in CI without it)"
	@[ -x /usr/bin/chromium ] || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; } || \
	  echo "chromium is missing: install Debian's chromium (the site's browser tests fail in CI without it)"
	@[ -f tests/site-tools/node_modules/axe-core/axe.min.js ] || { command -v npm >/dev/null && \
	  (cd tests/site-tools && npm ci --no-audit --no-fund --silent); } || \
	  echo "npm is missing: axe-core cannot be installed (the accessibility test fails in CI without it)"

## The whole test suite (CI runs this with CI=true).
test: $(STAMP) test-tools
	$(PY) -m pytest -q

## Benchmarks; results are written to benchmarks/results.md.
bench: $(STAMP)
	$(PY) benchmarks/cds_bench.py --output benchmarks/cds-results.json
	$(PY) benchmarks/cds_cpu_bench.py --output benchmarks/cds-cpu-results.json
	$(PY) benchmarks/panel_bench.py --output benchmarks/panel-results.json
	$(PY) benchmarks/watch_bench.py --output benchmarks/watch-results.json
	$(PY) benchmarks/site_bench.py --output benchmarks/site-results.json
	$(PY) benchmarks/run.py --output benchmarks/results.md

## Validate output/r5 with the official validator (Java 17, Maven, npm); writes output/r5/conformance.json.
conformance: $(STAMP)
	$(PY) tests/fhir_oracle.py output/r5

## Agreement of `evidencekit validate` with the HL7 validator on the mutation corpus (prints the table).
agreement: $(STAMP)
	$(PY) tests/agreement.py output/r5

## Regenerate src/evidencekit/validate/data/r5-spec.json from the pinned npm packages.
r5-spec: $(STAMP)
	mkdir -p tests/oracle/.packages
	cd tests/oracle/.packages && npm pack hl7.fhir.r5.core@5.0.0 hl7.terminology.r5@7.0.1 --silent >/dev/null
	echo "09f22107bef64313545a50d2c127d20f81173c499a395672fae089bc23e72fab  tests/oracle/.packages/hl7.fhir.r5.core-5.0.0.tgz" | sha256sum -c -
	echo "b34d9c6bdf108884e1d5ba535765e7b5cd93009f0af9f3b7e5eba38e5ae7a70b  tests/oracle/.packages/hl7.terminology.r5-7.0.1.tgz" | sha256sum -c -
	$(PY) -m evidencekit.validate.generate_spec --core tests/oracle/.packages/hl7.fhir.r5.core-5.0.0.tgz \
		--terminology tests/oracle/.packages/hl7.terminology.r5-7.0.1.tgz -o src/evidencekit/validate/data/r5-spec.json

## A local FHIR R5 server (HAPI FHIR 8.8.0 JPA, H2 in memory) on 127.0.0.1:$(FHIR_PORT)/fhir, in the foreground.
FHIR_PORT ?= 8080
tests/fhir-server/target/fhir-server.jar: tests/fhir-server/pom.xml $(shell find tests/fhir-server/src -type f)
	cd tests/fhir-server && mvn -q -B package -DskipTests

fhir-server: tests/fhir-server/target/fhir-server.jar
	java -Xmx1g -XX:+UseSerialGC -jar tests/fhir-server/target/fhir-server.jar --server.address=127.0.0.1 --server.port=$(FHIR_PORT)

## Push throughput into the local HAPI server (Java, Maven; minutes): STUDIES=1000 by default.
STUDIES ?= 1000
bench-push: $(STAMP)
	$(PY) benchmarks/push_bench.py $(STUDIES) benchmarks/push-results.json

## Regenerate the committed JSON Schemas of the definitions formats (studies, questions).
schema: $(STAMP)
	$(VENV)/bin/evidencekit schema -o definitions/study.schema.json
	$(VENV)/bin/evidencekit schema --kind question -o definitions/question.schema.json
	$(VENV)/bin/evidencekit schema --kind terminology -o definitions/terminology.schema.json

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info tests/oracle/target tests/oracle/.packages tests/fhir-server/target
