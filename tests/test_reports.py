"""A study has reports (issue 22, point 1): each is its own Citation, and every Evidence points to
the reports its numbers were read in, as the result's provenance names them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import DEFINITIONS, PRODERM
from evidencekit.cli import main

Json = dict[str, Any]


def _resources(r5: Path) -> dict[str, Json]:
    return {f"{r['resourceType']}/{r['id']}": r
            for r in (json.loads(p.read_text()) for p in (r5 / "resources").glob("*.json"))}


def _authored_reports(study: Json, provenance: list[Json]) -> list[str]:
    """The Citation ids the definition's own words name, read from the raw YAML (not through the model)."""
    primary = study["citation"].get("id", "primary")
    names: list[str] = []
    for p in provenance:
        name = p.get("report", primary)
        if name not in names:
            names.append(name)
    return [f"{study['id']}-citation" if n == primary else f"{study['id']}-citation-{n}" for n in names or [primary]]


STUDIES = [yaml.safe_load(p.read_text()) for p in sorted(DEFINITIONS.glob("*.yaml"))
           if "results" in (yaml.safe_load(p.read_text()) or {})]


@pytest.mark.parametrize("study", STUDIES, ids=[s["id"] for s in STUDIES])
def test_every_evidence_points_to_the_reports_its_provenance_names(study: Json, seed_build: Path) -> None:
    resources = _resources(seed_build)
    checked = 0
    for result in study["results"]:
        if result["statistic"] == "finding":
            continue
        evidence = resources[f"Evidence/{study['id']}-{result['id']}"]
        cited = [a["resourceReference"]["reference"].removeprefix("Citation/")
                 for a in evidence["relatedArtifact"] if a["type"] == "derived-from"]
        assert cited == _authored_reports(study, result["provenance"]), result["id"]
        for citation in cited:
            assert f"Citation/{citation}" in resources, citation  # and the report is compiled
        checked += 1
    assert checked >= 3


def test_proderm_results_name_the_publication_they_were_read_in(seed_build: Path) -> None:
    """The audit's finding: 21 of 24 ProDERM Evidence said 'Reported in' the NEJM paper."""
    resources = _resources(seed_build)

    def reports(result: str) -> list[Json]:
        evidence = resources[f"Evidence/aggarwal-2022-{result}"]
        return [resources[a["resourceReference"]["reference"]] for a in evidence["relatedArtifact"]]

    def ids(citation: Json) -> set[str]:
        return {i["value"] for i in citation.get("citedArtifact", {}).get("identifier", [])}

    for safety in ("teae-ivig", "serious-teae-placebo", "tee-ivig", "related-teae-placebo"):
        assert [ids(c) for c in reports(safety)] == [{"10.1186/s13075-023-03232-2"}], safety  # ART 2024
    assert [ids(c) for c in reports("cdasi-ivig")] == [{"NCT02728752"}, {"37799613"}]  # registry + post hoc paper
    assert [ids(c) for c in reports("tis20-difference")] == [{"36198179"}]  # the NEJM abstract
    skyscape = reports("tis40-difference")[0]
    assert skyscape["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/web-page-citation"]
    # the source gives the page's address only shortened: shown as words, never as a URL
    assert "url" not in skyscape["citedArtifact"]["webLocation"][0]
    assert "…" in skyscape["citedArtifact"]["webLocation"][0]["classifier"][0]["text"]
    record = reports("time-to-minimal-ivig")[0]
    assert record["meta"]["profile"] == ["http://hl7.org/fhir/uv/ebm/StructureDefinition/database-entry-citation"]
    assert record["citedArtifact"]["publicationForm"][0]["publishedIn"]["title"] == "ClinicalTrials.gov"
    nejm = [k for k, r in resources.items() if k.startswith("Evidence/aggarwal-2022-")
            and r["relatedArtifact"][0]["resourceReference"]["reference"] == "Citation/aggarwal-2022-citation"]
    assert sorted(nejm) == ["Evidence/aggarwal-2022-related-serious-nejm", "Evidence/aggarwal-2022-tis20-difference",
                            "Evidence/aggarwal-2022-tis20-ivig", "Evidence/aggarwal-2022-tis20-placebo"]
    report = resources["Composition/aggarwal-2022"]
    assert [r["resourceReference"]["reference"] for r in report["relatesTo"]] == [
        "Citation/aggarwal-2022-citation", "Citation/aggarwal-2022-citation-art-2024",
        "Citation/aggarwal-2022-citation-werth-2023", "Citation/aggarwal-2022-citation-ctgov",
        "Citation/aggarwal-2022-citation-skyscape"]


def test_a_safety_paper_without_a_title_in_the_source_gets_none(seed_build: Path) -> None:
    art = _resources(seed_build)["Citation/aggarwal-2022-citation-art-2024"]
    assert "title" not in art["citedArtifact"]  # the facts file gives no title: none is made up
    assert art["summary"][0]["text"].startswith("Aggarwal R, Schessl J, Charles-Schoeman C, et al. Arthritis Res Ther.")
    journal = art["citedArtifact"]["publicationForm"][0]["publishedIn"]
    assert journal["title"] == "Arthritis Res Ther"  # only the abbreviation is known
    assert [i["type"]["text"] for i in journal.get("identifier", [])] == ["ISOAbbreviation"]


def test_no_citation_states_a_language_no_source_gives(seed_build: Path, definitions_copy: Path,
                                                      runner: CliRunner, tmp_path: Path) -> None:
    for key, citation in _resources(seed_build).items():
        if key.startswith("Citation/"):
            text = json.dumps(citation)
            assert "urn:ietf:bcp:47" not in text, key
    seed = definitions_copy / "galimberti-2018-ivig-cutaneous-dm.yaml"
    seed.write_text(seed.read_text().replace("  volume: \"43\"", "  language: en\n  volume: \"43\"", 1))
    out = tmp_path / "out"
    assert runner.invoke(main, ["build", str(definitions_copy), "-o", str(out)]).exit_code == 0
    citation = json.loads((out / "r5" / "resources" / "Citation-galimberti-2018-citation.json").read_text())
    assert citation["citedArtifact"]["title"][0]["language"]["coding"][0]["code"] == "en"


def test_the_source_map_says_which_report_a_fact_was_read_in(seed_build: Path) -> None:
    source_map = json.loads((seed_build / "source-map.json").read_text())
    entry = next(e for e in source_map["resources"] if e["resource"] == "Evidence/aggarwal-2022-cdasi-placebo")
    reports = {p.get("report") for element in entry["elements"] for p in element.get("provenance", [])}
    assert reports == {"ctgov", "werth-2023"}


_REPORT = """
reports:
  - id: extra
    web_page:
      title: A page
      site: A site
      url: https://example.org/page
      provenance:
        - {source: facts, locator: "section 1", quote: "| Title | Trial of Intravenous Immune Globulin in Dermatomyositis |"}
"""

BAD = [
    ("an unknown report", lambda s: s.replace("{source: facts, report: ctgov, locator: \"section 5, Median time",
                                              "{source: facts, report: ctgv, locator: \"section 5, Median time", 1),
     "EK106", "report 'ctgv' is not defined"),
    ("a report id used twice", lambda s: s.replace("  - id: skyscape\n", "  - id: ctgov\n", 1), "EK105",
     "report id 'ctgov'"),
    ("a report named like the citation", lambda s: s.replace("  - id: skyscape\n", "  - id: nejm-2022\n", 1),
     "EK105", "is the citation's"),
    ("a report of two kinds", lambda s: s.replace("    web_page:\n      title: Secondary",
                                                 "    registry_record: {registry: R, identifier: X1, title: T, "
                                                 "provenance: [{source: facts, quote: q}]}\n    web_page:\n"
                                                 "      title: Secondary", 1), "EK104", "exactly one of"),
    ("a web page with no address", lambda s: s.replace("      address: download.skyscape.com/…/tl28.htm\n", "", 1),
     "EK104", "say where the page is"),
    ("a journal named neither way", lambda s: s.replace("      journal:\n        abbreviation: Arthritis Res Ther\n",
                                                        "      journal: {issn: []}\n", 1), "EK104", "name the journal"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_reports_are_located_errors(case: tuple[str, Any, str, str], tmp_path: Path, runner: CliRunner) -> None:
    _, edit, code, words = case
    directory = tmp_path / "definitions"
    (directory / "sources").mkdir(parents=True)
    for source in (DEFINITIONS / "sources").iterdir():
        (directory / "sources" / source.name).write_bytes(source.read_bytes())
    text = PRODERM.read_text()
    changed = edit(text)
    assert changed != text, case[0]
    (directory / PRODERM.name).write_text(changed)
    result = runner.invoke(main, ["check", str(directory), "--format", "json"])
    assert result.exit_code == 1, result.output
    found = [d for d in json.loads(result.output) if d["code"] == code and words in d["message"]]
    assert found and found[0]["line"] > 0, result.output


def test_a_question_has_no_reports(definitions_copy: Path, runner: CliRunner) -> None:
    question = definitions_copy / "ivig-refractory-cdm-question.yaml"
    text = question.read_text()
    first = text.index("- source: news\n", text.index("provenance:"))
    question.write_text(text[:first] + "- report: ctgov\n              source: news\n" + text[first + len("- source: news\n"):])
    result = runner.invoke(main, ["check", str(definitions_copy), "--format", "json"])
    assert result.exit_code == 1
    assert any(d["code"] == "EK103" and "a question has no reports" in d["message"]
               for d in json.loads(result.output)), result.output


def test_the_study_page_lists_the_reports_and_where_each_result_was_read(built_site: Path) -> None:
    page = (built_site / "studies" / "aggarwal-2022.html").read_text()
    assert "<h2>Reports</h2>" in page and "ClinicalTrials.gov results record NCT02728752" in page
    assert ("reported in: Aggarwal R, Schessl J, Charles-Schoeman C, et al. Arthritis Res Ther. 2024;26(1):1-13."
            in page)
