"""Send one planned chunk as a transaction and read each entry's outcome."""

from __future__ import annotations

from .http import _Http, _issues
from .model import Json, Outcome, PushOptions
from .plan import _key


def _send(http: _Http, chunk: list[Json], actions: dict[str, str], options: PushOptions,
          aliases: dict[str, str]) -> list[Outcome]:
    entries = []
    for r in chunk:
        if _key(r) in aliases:
            r = {**r, "id": aliases[_key(r)]}
            entries.append({"fullUrl": f"{http.base}/{_key(r)}", "resource": r,
                            "request": {"method": "PUT", "url": _key(r)}})
            continue
        if options.conditional and isinstance(r.get("url"), str) and actions[_key(r)] == "create":
            request = {"method": "POST", "url": r["resourceType"],
                       "ifNoneExist": f"url={r['url']}" + (f"&version={r['version']}" if r.get("version") else "")}
        else:
            request = {"method": "PUT", "url": _key(r)}
        entries.append({"fullUrl": f"{http.base}/{_key(r)}", "resource": r, "request": request})
    response = http.request("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    reply = http.json(response, "transaction")
    if response.status_code >= 400:
        issues = _issues(reply)
        return [Outcome(_key(r), "failed", str(response.status_code),
                        [i for i in issues if _entry_index(i) in (None, n)] or issues)
                for n, r in enumerate(chunk)]
    out = []
    answers = reply.get("entry", [])
    for n, r in enumerate(chunk):  # outcomes carry our keys, whatever id the server uses
        status = str((answers[n] if n < len(answers) else {}).get("response", {}).get("status", ""))
        if status.startswith(("200", "201")):
            out.append(Outcome(_key(r), actions[_key(r)], status))
        else:
            out.append(Outcome(_key(r), "failed", status or "no response entry"))
    return out


def _entry_index(issue: str) -> int | None:
    marker = "Bundle.entry["
    if marker not in issue:
        return None
    try:
        return int(issue.split(marker, 1)[1].split("]", 1)[0])
    except ValueError:
        return None
