"""evidencekit: study definitions in YAML -> validated FHIR R5 evidence resources.

The public API is this module's ``__all__``; everything else is internal.

>>> from pathlib import Path
>>> result = build(Path("definitions"), Path("output"))   # doctest: +SKIP
>>> result.ok, len(result.compiled.resources)              # doctest: +SKIP
(True, 31)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .diagnostics import Diagnostic, Severity  # noqa: E402
from .pipeline import BuildResult, build, check, validate_directory  # noqa: E402

__all__ = ["BuildResult", "Diagnostic", "Severity", "__version__", "build", "check", "validate_directory"]
