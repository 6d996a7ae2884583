"""What a push is given and what it reports: options, outcomes, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "PushError", "PushOptions", "PushResult", "ServerRejected", "ServerUnreachable"]

Json = dict[str, Any]


class PushError(Exception):
    """A push that cannot proceed (the message is safe to print: it never holds a token)."""


class ServerUnreachable(PushError):
    """The server could not be reached, or kept failing after all retries."""


class ServerRejected(PushError):
    """The server answered with an error that retrying will not fix."""


@dataclass(frozen=True)
class PushOptions:
    server: str
    chunk_size: int = 100
    concurrency: int = 2
    dry_run: bool = False
    conditional: bool = False
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    bearer_token: str | None = field(default=None, repr=False)
    smart: Any = field(default=None, repr=False)  # a SmartAuth, for SMART Backend Services
    verify: bool | str = True
    state: Path | None = None  # resumable progress file (see PushState)
    activation_timeout: float = 120.0  # seconds to wait for the server to search by new SearchParameters


@dataclass
class Outcome:
    key: str
    action: str  # create | update | unchanged | failed
    status: str = ""
    issues: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    dry_run: bool = False
    activation_seconds: float | None = None  # until the server searched by the pushed SearchParameters

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "failed"]

    def summary(self) -> Json:
        sent = self.count("create") + self.count("update")
        return {"created": self.count("create"), "updated": self.count("update"),
                "unchanged": self.count("unchanged"), "failed": len(self.failed), "dry_run": self.dry_run,
                "seconds": round(self.seconds, 3), "requests": self.requests,
                **({"search_parameters_active_after_seconds": round(self.activation_seconds, 1)}
                   if self.activation_seconds is not None else {}),
                "resources_per_second": round(sent / self.seconds, 1) if self.seconds and sent else 0.0,
                "failures": [{"resource": o.key, "status": o.status, "issues": o.issues} for o in self.failed]}
