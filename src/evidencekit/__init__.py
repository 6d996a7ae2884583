"""evidencekit: study definitions in YAML -> validated FHIR R5 evidence resources."""

from __future__ import annotations

__version__ = "0.1.0"
