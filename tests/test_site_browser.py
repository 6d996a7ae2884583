"""The evidence report site in a real browser (issue 14): Debian's chromium driven by Playwright for
Python, axe-core from npm. Without chromium these tests skip on a laptop and fail in CI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from conftest import require


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    return built_site


@pytest.fixture(scope="module")
def browser() -> Any:
    from site_browser import browser as launch, install_axe, tools_available

    require(*tools_available())
    install_axe()
    with launch() as launched:
        yield launched


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_page_loads_without_console_errors_or_broken_links(site: Path, browser: Any) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    checked = 0
    for path in _pages(site):
        response = page.goto(path.as_uri())
        assert response is not None and response.ok, path
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target = urlparse(href)
            if target.scheme in ("http", "https"):
                assert target.netloc in ("pubmed.ncbi.nlm.nih.gov", "doi.org"), href  # the only external links
                continue
            assert target.scheme == "file", href
            file = Path(target.path)
            assert file.is_file(), f"{path.name}: broken link {href}"
            if target.fragment:
                linked = page if file == path else None
                if linked is None:
                    other = browser.new_page()
                    other.goto(file.as_uri())
                    assert other.locator(f"[id='{target.fragment}']").count() == 1, href
                    other.close()
                else:
                    assert page.locator(f"[id='{target.fragment}']").count() == 1, href
            checked += 1
    assert checked > 20
    assert problems == []


def test_dom_numbers_equal_the_json(site: Path, seed_build: Path, browser: Any) -> None:
    """Every Evidence appears on a page, and every number the DOM shows for it is the JSON's."""
    evidence = {p.stem.removeprefix("Evidence-"): json.loads(p.read_text(), parse_float=Decimal)
                for p in (seed_build / "resources").glob("Evidence-*.json")}
    page = browser.new_page()
    seen: set[str] = set()
    for path in _pages(site):
        page.goto(path.as_uri())
        items = page.eval_on_selector_all(
            "data[data-evidence]", "els => els.map(e => [e.dataset.evidence, e.dataset.field, e.value, e.textContent])")
        for ident, field, value, text in items:
            statistic = evidence[ident]["statistic"][int(field.split("]")[0].split("[")[1])]
            if field.endswith("quantity.value"):
                expected = statistic["quantity"]["value"]
                code = statistic["statisticType"]["coding"][0]["code"]
                if code == "C44256":  # a proportion: the JSON's fraction, shown in percent
                    assert text == f"{format(expected.scaleb(2), 'f')}%", (ident, text)
                elif code == "0000424":  # a risk difference: in percentage points
                    assert text == f"{format(expected.scaleb(2), 'f')} points", (ident, text)
                else:
                    assert text.startswith(format(expected, "f")), (ident, text)
            elif field.endswith("numberAffected"):
                expected = statistic["numberAffected"]
            elif field.endswith("numberOfParticipants"):
                expected = statistic["sampleSize"]["numberOfParticipants"]
            else:
                continue  # CI bounds and SD: checked against the JSON in tests/test_site.py
            assert Decimal(value) == Decimal(str(expected)), (path.name, ident, field, value)
            seen.add(ident)
    assert {k for k, r in evidence.items() if any("quantity" in s for s in r.get("statistic", []))} <= seen


def test_forest_plots_have_one_ci_mark_per_estimate(site: Path, browser: Any) -> None:
    page = browser.new_page()
    page.goto((site / "questions" / "ivig-refractory-cdm-question.html").as_uri())
    plots = page.locator("figure svg[role='img']")
    assert plots.count() == 9  # one per outcome and kind of estimate (tests/test_site.py counts the same)
    for i in range(plots.count()):
        plot = plots.nth(i)
        description = plot.locator("desc").text_content() or ""
        estimates = plot.locator("[id^='estimate-']:not([id='estimate-pooled'])").count()
        cis = plot.locator("[id^='ci-']:not([id='ci-pooled'])").count()
        with_ci, without = description.count("(95% CI "), description.count("(no confidence interval)")
        assert estimates >= 1 and estimates == with_ci + without  # one point per estimate described
        assert cis == with_ci
        box = plot.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50  # drawn, visible


def test_no_serious_or_critical_accessibility_violation(site: Path, browser: Any) -> None:
    from site_browser import AXE

    script = AXE.read_text(encoding="utf-8")
    page = browser.new_page()
    found: dict[str, list[str]] = {}
    for path in _pages(site):
        page.goto(path.as_uri())
        page.add_script_tag(content=script)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
        if bad:
            found[path.name] = bad
        assert result["passes"], path  # axe ran
    assert found == {}


def test_the_question_page_shows_the_summary_of_findings_and_a_forest_plot(site: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto((site / "index.html").as_uri())
    page.get_by_role("link", name="Summary of findings: IVIG").click()
    assert page.get_by_role("table", name="Summary of findings (GRADE)").is_visible()
    assert page.get_by_role("img", name="Forest plot: Skin disease activity").first.is_visible()
