"""The evidence report site (issue 14), without a browser: what the pages say against the FHIR output.
The browser tests (console, links, DOM numbers, accessibility) are tests/test_site_browser.py."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS, ROOT
from evidencekit.cli import main


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    return built_site


class _Data(HTMLParser):
    """Every <data value=… data-evidence=… data-field=…> element of a page, and every link."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[dict[str, str]] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "data" and "data-evidence" in values:
            self.data.append(values)
        if tag == "a" and "href" in values:
            self.links.append(values["href"])


def _parse(path: Path) -> _Data:
    parser = _Data()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _json_value(resource: dict[str, Any], field: str) -> Decimal | int | None:
    match = re.fullmatch(r"statistic\[(\d+)\]\.(.+)", field)
    assert match, field
    stat = resource["statistic"][int(match.group(1))]
    path = match.group(2)
    if path == "quantity.value":
        return stat["quantity"]["value"]
    if path in ("numberAffected",):
        return stat["numberAffected"]
    if path == "sampleSize.numberOfParticipants":
        return stat["sampleSize"]["numberOfParticipants"]
    ci = next(a for a in stat.get("attributeEstimate", []) if a["type"]["coding"][0]["code"] in ("C53324", "C53322")
              and (path != "sd" or a["type"]["coding"][0]["code"] == "C53322")
              and (path == "sd" or a["type"]["coding"][0]["code"] == "C53324"))
    if path == "sd":
        return ci["quantity"]["value"]
    return ci["range"]["low" if path.endswith("low") else "high"]["value"]


def test_make_run_layout_and_determinism(site: Path, seed_build: Path, tmp_path: Path) -> None:
    """An index, a page per study and per question; the same bytes on a second build."""
    studies = {p.stem for p in (seed_build / "resources").glob("Composition-*.json")
               if json.loads(p.read_text())["type"]["coding"][0]["code"] == "EvidenceReport"}
    assert {p.stem for p in (site / "studies").glob("*.html")} == {s.removeprefix("Composition-") for s in studies}
    assert (site / "questions" / "ivig-refractory-cdm-question.html").is_file()
    again = tmp_path / "again"
    assert CliRunner().invoke(main, ["report", str(seed_build), "-o", str(again), "--definitions",
                                     str(DEFINITIONS)]).exit_code == 0
    first = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second


def test_committed_site_is_not_stale(site: Path) -> None:
    committed = ROOT / "output" / "site"
    fresh = {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    kept = {p.relative_to(committed).as_posix(): p.read_bytes() for p in committed.rglob("*") if p.is_file()}
    assert kept == fresh, "output/site is stale: run `make run` and commit it"


def test_every_evidence_is_on_a_page_with_the_numbers_of_its_json(site: Path, seed_build: Path) -> None:
    evidence = {p.stem.removeprefix("Evidence-"): json.loads(p.read_text(), parse_float=Decimal)
                for p in (seed_build / "resources").glob("Evidence-*.json")}
    shown: dict[str, int] = {}
    for page in site.rglob("*.html"):
        for item in _parse(page).data:
            resource = evidence[item["data-evidence"]]
            expected = _json_value(resource, item["data-field"])
            assert expected is not None and Decimal(item["value"]) == Decimal(str(expected)), (page.name, item)
            shown[item["data-evidence"]] = shown.get(item["data-evidence"], 0) + 1
    with_numbers = {k for k, r in evidence.items() if any("quantity" in s for s in r.get("statistic", []))}
    assert with_numbers <= set(shown), sorted(with_numbers - set(shown))
    # the text shown is the JSON value (percent for proportions, as authored otherwise)
    page = (site / "studies" / "galimberti-2018.html").read_text()
    assert '<data value="0.83" data-evidence="galimberti-2018-improvement-overall" ' \
           'data-field="statistic[0].quantity.value">83%</data>' in page
    assert ">1.82 cycles</data>" in page and ">1.38</data>" in page


def test_derived_values_are_marked_and_say_how(site: Path, seed_build: Path) -> None:
    page = (site / "studies" / "galimberti-2018.html").read_text()
    overall = json.loads((seed_build / "resources" / "Evidence-galimberti-2018-improvement-overall.json").read_text())
    methods = [e["extension"][-1]["valueString"] for e in overall["statistic"][0]["extension"]]
    methods += [e["extension"][0]["extension"][-1]["valueString"] for e in overall["statistic"][0]["attributeEstimate"]
                if "extension" in e]
    assert len(methods) == 2
    from html import escape
    for method in methods:
        assert escape(method) in page
    assert page.count('class="derived"') >= 4


def test_study_page_has_citation_design_groups_provenance_and_findings(site: Path) -> None:
    page = (site / "studies" / "galimberti-2018.html").read_text()
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/29856076/"' in page and 'href="https://doi.org/10.1111/ced.13607"' in page
    assert "Retrospective cohort study" in page and '<data value="42">42</data>' in page
    assert "<q>Overall, 83% of patients experienced cutaneous DM improvement</q>" in page
    assert "definitions/galimberti-2018-ivig-cutaneous-dm.yaml:" in page and "paragraph 4" in page
    assert "There were no significant predictors of response" in page
    assert "EK302" in page  # check's findings for the study's own file


def test_question_page_summary_of_findings_and_footnotes(site: Path, seed_build: Path) -> None:
    page = (site / "questions" / "ivig-refractory-cdm-question.html").read_text()
    table = page[page.index('<table class="sof">'):page.index("</table>")]
    import yaml

    outcomes = yaml.safe_load((ROOT / "definitions" / "ivig-refractory-cdm-question.yaml").read_text())["outcomes"]
    low = sum(1 for o in outcomes if (o.get("certainty") or {}).get("rating") == "certainty-rating:low")
    assert low >= 3 and table.count("⊕⊕◯◯ Low") == low
    assert table.count("Not rated") == sum(1 for o in outcomes if not o.get("certainty"))
    downs = 0
    for path in (seed_build / "resources").glob("ArtifactAssessment-ivig-refractory-cdm-question-*-certainty.json"):
        for component in json.loads(path.read_text())["content"][0].get("component", []):
            if component["classifier"][0]["coding"][0]["code"] in ("serious-concern", "very-serious-concern"):
                downs += 1
    assert downs > 0 and len(re.findall(r'<li id="note-\d+">', page)) == downs
    assert "rated down for imprecision (very serious)" in page


def test_forest_plots_one_ci_mark_per_estimate_with_a_ci(site: Path, seed_build: Path) -> None:
    page = (site / "questions" / "ivig-refractory-cdm-question.html").read_text()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 9  # one per outcome and kind of estimate (the three safety rows of issue 22: one each)
    for svg in svgs:
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
        assert "#d55e00" in svg.lower()  # Okabe-Ito vermillion points (blue CIs, where there are CIs)
        assert ('id="ci-' in svg) == ("#0072b2" in svg.lower())
    question = json.loads((seed_build / "resources" /
                           "Evidence-ivig-refractory-cdm-question-skin-activity.json").read_text())
    cited = [a["resourceReference"]["reference"].removeprefix("Evidence/") for a in question["relatedArtifact"]]
    for ident in cited:
        resource = json.loads((seed_build / "resources" / f"Evidence-{ident}.json").read_text())
        has_ci = any(a["type"]["coding"][0]["code"] == "C53324" for a in resource["statistic"][0].get("attributeEstimate", []))
        assert page.count(f'id="estimate-{ident}"') == 1
        assert page.count(f'id="ci-{ident}"') == (1 if has_ci else 0), ident


def test_card_preview(site: Path) -> None:
    page = (site / "questions" / "ivig-refractory-cdm-question.html").read_text()
    assert 'class="card indicator-' in page and "<strong>Evidence by outcome</strong>" in page
    assert "Decision support only; not a substitute for clinical judgement." in page
    assert "<script" not in page


def test_report_without_output_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "run `evidencekit build` first" in result.output


def test_serve_site_read_only(site: Path, seed_build: Path, tmp_path: Path) -> None:
    """`serve --site`: the pages at /site/ with a script-free CSP, read-only, nothing outside the site,
    and the CDS Hooks endpoints still behind their JWT."""
    import os

    from fastapi.testclient import TestClient

    from evidencekit.serve import Settings, create_app, load_knowledge
    from evidencekit.serve.auth import load_trust

    import cds_client

    trust_file = cds_client.Signer().trust_file(tmp_path / "trust.json")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    os.symlink(secret, site / "leak.txt")
    try:
        app = create_app(load_knowledge(seed_build), Settings(public_url="http://testserver", trust=load_trust(trust_file),
                                                              site=site))
        with TestClient(app) as client:
            index = client.get("/site/")
            assert index.status_code == 200 and "Evidence report" in index.text
            assert "script-src" not in index.headers["content-security-policy"]  # default-src 'none': no script
            assert index.headers["x-content-type-options"] == "nosniff"
            page = client.get("/site/questions/ivig-refractory-cdm-question.html")
            assert page.status_code == 200 and "<svg" in page.text
            assert client.get("/site/style.css").headers["content-type"].startswith("text/css")
            assert client.post("/site/index.html", content=b"x").status_code == 405
            assert client.get("/site/leak.txt").status_code == 404  # a symlink out of the site
            assert client.get("/site/../r5/bundle.json").status_code == 404
            assert client.get("/site/%2e%2e/r5/bundle.json").status_code == 404
            assert client.get("/cds-services").status_code == 401
    finally:
        (site / "leak.txt").unlink()


def test_a_pooled_estimate_is_a_diamond_on_its_studies_axis(tmp_path: Path) -> None:
    """The IVIG question with its skin-activity proportions pooled (the meta-analysis of
    tests/test_questions.py): the proportions' forest plot ends with the pooled diamond and its CI."""
    from test_questions import POOLED, _build

    resources = _build(tmp_path, CliRunner(), POOLED)
    site = tmp_path / "site"
    result = CliRunner().invoke(main, ["report", str(resources.parent), "-o", str(site), "--definitions",
                                       str(tmp_path / "none")])
    assert result.exit_code == 0, result.output
    page = (site / "questions" / "ivig-refractory-cdm-question.html").read_text()
    svgs = [s for s in re.findall(r"<svg.*?</svg>", page, re.S) if "Skin disease activity (Proportion" in s]
    assert len(svgs) == 1
    pooled = json.loads((resources / "Evidence-ivig-refractory-cdm-question-skin-activity.json").read_text(),
                        parse_float=Decimal)["statistic"][0]
    assert svgs[0].count('id="estimate-pooled"') == 1 and svgs[0].count('id="ci-pooled"') == 1
    assert f"Pooled: {format(pooled['quantity']['value'].scaleb(2), 'f')}" in svgs[0]
    assert svgs[0].count('id="estimate-') == 3  # the two studies and the pooled estimate


def test_a_group_size_the_author_derived_is_marked_on_the_study_page(tmp_path: Path) -> None:
    """A surface shows the mark an N has in FHIR: here a population N written with `derived:`."""
    import shutil

    from click.testing import CliRunner

    from evidencekit.cli import main

    definitions = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, definitions)
    seed = definitions / "galimberti-2018-ivig-cutaneous-dm.yaml"
    text = seed.read_text()
    find = "  n:\n    value: 42\n"
    assert text.count(find) == 1
    seed.write_text(text.replace(find, "  n:\n    value: 42\n    derived: {method: 15 + 25 + 1 + 1 subgroups}\n"))
    runner = CliRunner()
    assert runner.invoke(main, ["build", str(definitions), "-o", str(tmp_path / "out")]).exit_code == 0
    assert runner.invoke(main, ["report", str(tmp_path / "out")]).exit_code == 0
    page = (tmp_path / "out" / "site" / "studies" / "galimberti-2018.html").read_text()
    assert '<data value="42">42</data> <span class="derived" title="15 + 25 + 1 + 1 subgroups">derived</span>' in page
    committed = (ROOT / "output" / "site" / "studies" / "galimberti-2018.html").read_text()
    assert '<span class="derived" title="15 + 25' not in committed  # the reported N carries no mark
