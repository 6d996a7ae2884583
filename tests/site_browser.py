"""Debian's chromium driven by Playwright for Python (no browser download), and axe-core from npm.

Used by tests/test_site_browser.py and by `make screenshots` (python tests/site_browser.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SITE_TOOLS = ROOT / "tests" / "site-tools"
AXE = SITE_TOOLS / "node_modules" / "axe-core" / "axe.min.js"
#: as the machine's notes advise: no background networking (the closed network refuses it, noisily)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def tools_available() -> tuple[bool, str]:
    if not CHROMIUM.exists():
        return False, "Debian's chromium (/usr/bin/chromium; `make test-tools` installs it)"
    if not AXE.exists() and shutil.which("npm") is None:
        return False, "npm (for axe-core)"
    return True, ""


def install_axe() -> Path:
    """axe-core as pinned by tests/site-tools/package-lock.json (`npm ci`, once)."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=SITE_TOOLS, check=True,
                       timeout=600)
    return AXE


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshots(site: Path, target: Path) -> list[Path]:
    """PNG screenshots of the index, the first question and the first study page (for docs/)."""
    pages = [site / "index.html", *sorted((site / "questions").glob("*.html"))[:1],
             *sorted((site / "studies").glob("*.html"))[:1]]
    written = []
    with browser() as launched:
        for path in pages:
            # the question page tall enough to show its summary of findings and the first forest plot
            page = launched.new_page(viewport={"width": 1200, "height": 1900 if path.parent.name == "questions"
                                               else 1100})
            page.goto(path.as_uri())
            out = target / f"site-{path.parent.name if path.parent != site else 'index'}.png"
            page.screenshot(path=str(out))
            written.append(out)
    return written


if __name__ == "__main__":
    site = (Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "output" / "site").resolve()
    for path in screenshots(site, ROOT / "docs"):
        print(f"wrote {path.relative_to(ROOT)}")
