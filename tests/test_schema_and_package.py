"""Committed JSON Schema, decimal-exact JSON, and the FHIR NPM package."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import DEFINITIONS, SEED, OUTPUT_RESOURCES
from evidencekit.definitions.schema import study_schema, study_schema_json
from evidencekit.publish.fhirjson import dumps, dumps_line, loads


def test_committed_schema_is_current() -> None:
    committed = (DEFINITIONS / "study.schema.json").read_text(encoding="utf-8")
    assert committed == study_schema_json(), "run `make schema` and commit definitions/study.schema.json"


def test_committed_question_schema_is_current_and_the_question_validates() -> None:
    from evidencekit.definitions.schema import question_schema, question_schema_json

    committed = (DEFINITIONS / "question.schema.json").read_text(encoding="utf-8")
    assert committed == question_schema_json(), "run `make schema` and commit definitions/question.schema.json"
    data = yaml.safe_load((DEFINITIONS / "ivig-refractory-cdm-question.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, question_schema())
    assert data["$schema"] == "./question.schema.json"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "outcomes": [{"id": "x", "title": "x", "importance": "vital",
                                                   "handling": "dichotomous"}]}, question_schema())


def test_seed_validates_against_schema_and_refers_to_it() -> None:
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    jsonschema.validate(data, study_schema())
    assert data["$schema"] == "./study.schema.json"
    assert SEED.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=./study.schema.json")


def test_schema_rejects_what_the_loader_rejects() -> None:
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    data["citation"]["pagez"] = data["citation"].pop("pages")
    errors = list(jsonschema.Draft202012Validator(study_schema()).iter_errors(data))
    assert errors


def test_decimals_are_written_as_authored() -> None:
    value = {"a": Decimal("0.80"), "b": [Decimal("1207.9"), Decimal("0.0000001")], "c": "@@ekdec:1"}
    assert dumps_line(value) == '{"a":0.80,"b":[1207.9,0.0000001],"c":"@@ekdec:1"}'
    assert loads(dumps(value)) == value
    assert str(loads(dumps(value))["a"]) == "0.80"


def test_npm_package(seed_build: Path) -> None:
    package = json.loads((seed_build / "package" / "package.json").read_text())
    assert package["fhirVersions"] == ["5.0.0"]
    assert package["dependencies"] == {"hl7.fhir.r5.core": "5.0.0"}
    assert package["name"] == "example.evidencekit.knowledge" and package["version"] == "0.1.0"
    archive = seed_build / "package" / "example.evidencekit.knowledge-0.1.0.tgz"
    raw = archive.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0: reproducible
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as tar:
        names = tar.getnames()
        assert all(name.startswith("package/") for name in names)
        assert all(member.mtime == 0 and member.uid == 0 for member in tar.getmembers())
        index = json.load(tar.extractfile("package/.index.json"))  # type: ignore[arg-type]
        inner = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert inner == package
    # every resource, our extension's StructureDefinition and our SearchParameters (definitions/),
    # package.json and .index.json
    from evidencekit.compile.search_parameters import SEARCH_PARAMETERS

    definitions = {p.name for p in (seed_build / "definitions").glob("*.json")}
    assert definitions == {"StructureDefinition-derived-value.json"} | {
        f"SearchParameter-{row[0]}.json" for row in SEARCH_PARAMETERS}
    assert len(index["files"]) == OUTPUT_RESOURCES + len(definitions) == len(names) - 2
    assert {f["filename"] for f in index["files"]} == {p.name for p in (seed_build / "resources").glob("*.json")} \
        | definitions


def test_ndjson_and_bundles_agree(seed_build: Path) -> None:
    from_ndjson = {}
    for path in (seed_build / "ndjson").glob("*.ndjson"):
        for line in path.read_text().splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == path.stem
            from_ndjson[f"{resource['resourceType']}/{resource['id']}"] = resource
    bundle = json.loads((seed_build / "bundle.json").read_text())
    transaction = json.loads((seed_build / "transaction.json").read_text())
    assert bundle["type"] == "collection" and transaction["type"] == "transaction"
    assert {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
            for e in bundle["entry"]} == from_ndjson
    for entry in transaction["entry"]:
        resource = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        assert entry["fullUrl"] == f"http://example.org/fhir/evidencekit/{resource['resourceType']}/{resource['id']}"


def test_bundles_reuse_resource_bytes_exactly(seed_build: Path) -> None:
    from evidencekit.publish.fhirjson import dumps_bundle, dumps_bytes

    for name in ("bundle.json", "transaction.json"):
        raw = (seed_build / name).read_bytes()
        bundle = loads(raw)
        assert dumps_bytes(bundle) == raw  # the fast path equals a full re-encoding
        bundle["meta"] = {"tag": [{"code": "x"}]}
        bundle["total"] = 3
        pretty = [dumps_bytes(e["resource"]) for e in bundle["entry"]]
        assert dumps_bundle(bundle, pretty) == dumps_bytes(bundle)
