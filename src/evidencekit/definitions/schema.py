"""JSON Schema of the definitions format (for editors and `evidencekit schema`)."""

from __future__ import annotations

import json

from .model import Study

__all__ = ["study_schema", "study_schema_json"]

SCHEMA_ID = "https://evidencekit.invalid/schema/study.schema.json"


def study_schema() -> dict[str, object]:
    schema = Study.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def study_schema_json() -> str:
    return json.dumps(study_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
