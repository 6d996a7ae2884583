"""JSON Schema of the definitions format (for editors and `evidencekit schema`)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from .model import Study
from .question import Question
from .terminology import TerminologyDefinition

__all__ = ["question_schema", "question_schema_json", "schema_json", "study_schema", "study_schema_json"]

SCHEMA_ID = "https://evidencekit.invalid/schema/study.schema.json"
QUESTION_SCHEMA_ID = "https://evidencekit.invalid/schema/question.schema.json"


def _schema(model: type[BaseModel], ident: str) -> dict[str, object]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": ident, **schema}


def question_schema() -> dict[str, object]:
    return _schema(Question, QUESTION_SCHEMA_ID)


def question_schema_json() -> str:
    return schema_json("question")


def study_schema() -> dict[str, object]:
    return _schema(Study, SCHEMA_ID)


def study_schema_json() -> str:
    return schema_json("study")


_MODELS: dict[str, type[BaseModel]] = {"study": Study, "question": Question, "terminology": TerminologyDefinition}


def schema_json(kind: str) -> str:
    """The JSON Schema of one definition file kind (study, question or terminology), as text."""
    schema = _schema(_MODELS[kind], f"https://evidencekit.invalid/schema/{kind}.schema.json")
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
