"""Loading study definitions (YAML with positions) into the authoring model."""

from .loader import LoadedStudy, load_definitions
from .model import Study

__all__ = ["LoadedStudy", "Study", "load_definitions"]
