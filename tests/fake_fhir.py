"""A recording FHIR endpoint on 127.0.0.1 for what a real server cannot be made to do on
demand: answer 401/500, stall past a timeout, page every search one resource at a time,
point a next link elsewhere, and show which Authorization header arrived. The real
fetch path is proven against HAPI in ``test_cds_e2e.py``."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeFhir:
    def __init__(self, data: dict[str, list[dict[str, Any]]]) -> None:
        self.data = data
        self.requests: list[tuple[str, str | None]] = []  # (path?query, Authorization)
        self.fail_status: int | None = None
        self.delay = 0.0
        self.page_size: int | None = None
        self.foreign_next: str | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake.requests.append((self.path, self.headers.get("Authorization")))
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail_status:
                    self._send(fake.fail_status, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "forbidden"}]})
                    return
                self._send(200, fake.answer(self.path))

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> dict[str, Any]:
        parts = urlsplit(path)
        segments = parts.path.split("/")[2:]  # after /fhir
        if len(segments) == 2:  # read
            for r in self.data.get(segments[0], []):
                if r["id"] == segments[1]:
                    return r
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
        query = parse_qs(parts.query)
        rtype = segments[0]
        patient = query.get("patient", [""])[0]
        found = [r for r in self.data.get(rtype, []) if r.get("subject", {}).get("reference") == f"Patient/{patient}"]
        offset = int(query.get("_offset", ["0"])[0])
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(found)}
        page = found[offset:offset + self.page_size] if self.page_size else found
        if page:
            bundle["entry"] = [{"resource": r} for r in page]
        if self.page_size and offset + self.page_size < len(found):
            following = self.foreign_next or f"{self.base}/{rtype}?patient={patient}&_offset={offset + self.page_size}"
            bundle["link"] = [{"relation": "next", "url": following}]
        return bundle

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
