"""The resumable push state file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from ..fhirjson import dumps_bytes
from .compare import _normalized
from .model import Json
from .plan import _key

__all__ = ["PushState"]


class PushState:
    """What an interrupted push already committed, so the next run continues from there.

    A JSON file ``{"server": base, "written": {"Type/id": sha256 of the content}}``, rewritten
    atomically after every committed transaction and removed when a push completes.
    Resources it lists with the same content are neither read nor sent again; a state
    file for another server is ignored.
    """

    def __init__(self, path: Path | None, server: str) -> None:
        self.path, self.server = path, server.rstrip("/")
        self.written: dict[str, str] = {}
        self.lock = threading.Lock()
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if isinstance(data, dict) and data.get("server") == self.server and isinstance(data.get("written"), dict):
                self.written = {str(k): str(v) for k, v in data["written"].items()}

    @staticmethod
    def digest(resource: Json) -> str:
        import hashlib

        return hashlib.sha256(dumps_bytes(_normalized(resource), pretty=False)).hexdigest()

    def done(self, resource: Json) -> bool:
        return self.written.get(_key(resource)) == self.digest(resource)

    def record(self, resources: list[Json]) -> None:
        if self.path is None:
            return
        import os
        import tempfile

        with self.lock:
            self.written.update({_key(r): self.digest(r) for r in resources})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".push-state-", dir=self.path.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"server": self.server, "written": self.written}, out, sort_keys=True)
            os.replace(temporary, self.path)

    def finish(self) -> None:
        if self.path is not None and self.path.exists():
            self.path.unlink()
