"""Authoring without reading the code (issue 12): the five findings of a new user, replayed, and a
new project about another condition built from `evidencekit init` without touching src/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEFINITIONS, ROOT
from evidencekit.cli import main
from evidencekit.terminology import CONCEPTS, ICD10CM_RELEASE, icd10cm_title


def _run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = runner.invoke(main, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    code, out, _ = _run("init", str(tmp_path / "proj"))
    assert code == 0, out
    return tmp_path / "proj"


def _edit(path: Path, find: str, replace: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(find) == 1, find
    path.write_text(text.replace(find, replace), encoding="utf-8")


def test_init_builds_clean_at_once_about_another_condition(project: Path) -> None:
    """A new project about discoid lupus erythematosus: a code the library does not know (ICD-10-CM
    L93.0), declared in the project's terminology file and verified against the CMS release."""
    assert "icd10cm:L93.0" not in CONCEPTS
    code, out, err = _run("build", "definitions", "-o", "output", cwd=project)
    assert code == 0, out + err
    assert "0 error(s), 0 warning(s)" in out
    assert f"settings: {project.resolve() / 'evidencekit.yaml'}" in out
    group = json.loads((project / "output/r5/resources/Group-example-2026-dle-definition.json").read_text())
    coding = group["characteristic"][0]["valueCodeableConcept"]["coding"][0]
    assert coding == {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L93.0",
                      "display": "Discoid lupus erythematosus"}
    assert icd10cm_title("L93.0") == "Discoid lupus erythematosus"
    citation = json.loads((project / "output/r5/resources/Citation-example-2026-citation.json").read_text())
    assert citation["url"].startswith("http://example.org/fhir/my-project/")  # the project's own settings
    assert "identifier" not in citation["citedArtifact"]  # a fictional example has no PMID or DOI
    text = (project / "definitions/example-study.yaml").read_text()
    assert "FICTIONAL EXAMPLE" in text and "$schema: ./study.schema.json" in text
    assert (project / "definitions/study.schema.json").is_file()
    code, out, _ = _run("init", str(project))
    assert code == 2  # never overwrites


def test_finding_1_a_proportion_without_scale_is_an_error(project: Path) -> None:
    study = project / "definitions/example-study.yaml"
    _edit(study, "    value: 60\n    scale: percent          # 60 means 60%; write `scale: fraction` for 0.60\n",
          "    value: 0.60\n")
    _edit(study, '"60% of patients had a skin response at 12 weeks"', '"0.60 of patients had a skin response"')
    _edit(project / "definitions/sources/example-abstract.txt", "Results: 60% of patients",
          "Results: 0.60 of patients had a skin response. 60% of patients")
    code, out, _ = _run("build", "definitions", "-o", "output", cwd=project)
    assert code == 1 and not (project / "output").exists()
    errors = [line for line in out.splitlines() if " error " in line]
    assert len(errors) == 1 and "EK212" in errors[0], out
    assert "`scale: percent`" in out and "`scale: fraction`" in out and "0.60 with `scale: fraction` is 60%" in out
    assert "kind: unknown" not in out  # the old hint pointed at the denominator


def test_finding_2_terminology_is_project_data(project: Path) -> None:
    study = project / "definitions/example-study.yaml"
    terms = project / "definitions/terminology.yaml"
    _edit(study, "concept: icd10cm:L93.0", "concept: icd10cm:L93.2")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1 and "EK301" in out and "evidencekit/terminology" not in out
    assert "`kind: terminology` file" in out and "{system: icd10cm, code: L93.2" in out
    # a wrong title, then a code the CMS release does not have: both reported against the release
    _edit(terms, "    code: L93.0\n    display: Discoid lupus erythematosus",
          "    code: L93.2\n    display: Subacute cutaneous lupus")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1 and "EK304" in out and "'Other local lupus erythematosus'" in out
    _edit(terms, "    code: L93.2\n    display: Subacute cutaneous lupus", "    code: L93.9\n    display: Lupus")
    _edit(study, "concept: icd10cm:L93.2", "concept: icd10cm:L93.9")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1 and "EK304" in out and "has no code 'L93.9'" in out
    # a library concept declared with another display is a conflict; a new system needs its URI
    _edit(terms, "    code: L93.9\n    display: Lupus", "    code: M33.1\n    display: Adult dermatomyositis")
    _edit(study, "concept: icd10cm:L93.9", "concept: icd10cm:M33.1")
    assert "EK304" in _run("check", "definitions", cwd=project)[1]  # the CMS title wins over the library
    _edit(terms, "  - system: icd10cm\n    code: M33.1\n    display: Adult dermatomyositis",
          "  - system: loinc\n    code: 1234-5\n    display: A lab test")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1 and "EK303" in out and "unknown code system prefix 'loinc'" in out


def test_finding_2_reviewed_concepts_are_not_repeated(project: Path) -> None:
    study = project / "definitions/example-study.yaml"
    _edit(study, "  description: A fictional topical treatment; it has no code, so it is described in words only.",
          "  description: A fictional topical treatment.\n  concepts: [ncit:C2701, atc:J06BA02]")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 0 and out.count("EK302") == 1 and "atc:J06BA02" in out and "https://atcddd.fhi.no" in out
    _edit(project / "definitions/terminology.yaml", "# reviewed:", "reviewed:\n  - {concept: \"atc:J06BA02\", "
          "by: A. Reviewer, date: \"2026-12-03\", note: WHOCC index}\n# old:")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 0 and "EK302" not in out, out
    _edit(project / "definitions/terminology.yaml", '"atc:J06BA02"', '"atc:J06BA99"')
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1 and "EK303" in out and "reviewed concept 'atc:J06BA99'" in out


def test_builtin_sources_are_followable_and_icd10cm_is_verified_against_the_release() -> None:
    for concept in CONCEPTS.values():
        assert "REF §" not in concept.source and "REF" not in concept.source.split(), concept
        if concept.status in ("verified", "corroborated", "unverified") and concept.system != \
                "http://hl7.org/fhir/sid/icd-10-cm":
            assert "https://" in concept.source, concept  # a URL a reader can open
    icd = [c for c in CONCEPTS.values() if c.key.startswith("icd10cm:")]
    assert icd and all(c.status == "verified" and c.source == ICD10CM_RELEASE for c in icd)
    for c in icd:
        assert icd10cm_title(c.code) == c.display, c


def test_finding_3_settings_are_found_beside_the_definitions(tmp_path: Path) -> None:
    out_here = tmp_path / "from-root"
    out_there = tmp_path / "from-elsewhere"
    code, out, _ = _run("build", str(DEFINITIONS), "-o", str(out_here), cwd=ROOT)
    assert code == 0 and f"settings: {ROOT / 'evidencekit.yaml'}" in out
    code, out, _ = _run("build", str(DEFINITIONS), "-o", str(out_there), cwd=tmp_path)
    assert code == 0 and f"settings: {ROOT / 'evidencekit.yaml'}" in out
    here = sorted(p.relative_to(out_here) for p in out_here.rglob("*.json"))
    assert here == sorted(p.relative_to(out_there) for p in out_there.rglob("*.json"))
    for rel in here:
        assert (out_here / rel).read_bytes() == (out_there / rel).read_bytes(), rel
    lone = tmp_path / "lone"
    shutil.copytree(DEFINITIONS, lone / "definitions")
    code, out, _ = _run("build", str(lone / "definitions"), "-o", str(lone / "out"), cwd=tmp_path)
    assert code == 0 and "warning: no evidencekit.yaml" in out and "http://example.org/fhir/evidencekit" in out


def test_finding_4_repeated_diagnostics_are_summarised(project: Path) -> None:
    study = project / "definitions/example-study.yaml"
    text = study.read_text(encoding="utf-8").replace(
        "  description: A fictional topical treatment; it has no code, so it is described in words only.",
        "  description: A fictional topical treatment.\n  concepts: [atc:J06BA02]")
    for i in range(30):
        (project / "definitions" / f"copy-{i:02d}.yaml").write_text(
            text.replace("id: example-2026\n", f"id: example-2026-{i:02d}\n"), encoding="utf-8")
    study.unlink()
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 0
    assert sum(1 for line in out.splitlines() if ": warning EK302 " in line) == 5
    assert "warning EK302 ×30 in 30 file(s) — 1 distinct message(s), 25 not shown" in out
    assert "30 warning(s)" in out
    code, out, _ = _run("check", "definitions", "--all", cwd=project)
    assert sum(1 for line in out.splitlines() if ": warning EK302 " in line) == 30
    code, out, _ = _run("check", "definitions", "--format", "json", cwd=project)
    assert len(json.loads(out)) == 30


def test_finding_5_symlinks_leading_outside_are_refused(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "private.yaml"
    secret.parent.mkdir()
    secret.write_text("secret_key_name: 1\nanother_private_key: 2\n", encoding="utf-8")
    (project / "definitions" / "linked.yaml").symlink_to(secret)
    (project / "definitions" / "inside.yaml").symlink_to(project / "definitions" / "example-study.yaml")
    code, out, _ = _run("check", "definitions", cwd=project)
    assert code == 1
    assert "definitions/linked.yaml: error EK011" in out and "outside the definitions directory" in out
    assert "secret_key_name" not in out and "another_private_key" not in out and str(secret) not in out
    # a link inside the directory is read like any file (here: the same study twice, EK105)
    assert "EK105" in out


def test_progress_phases_and_table(project: Path) -> None:
    """Finding 4 (silence, then a flood): build reports its phases; the display and table appear on
    request or on a terminal (CliRunner is not one), never with --quiet."""
    from evidencekit.config import Config
    from evidencekit.pipeline import build
    from evidencekit.progress import Phases

    phases = Phases()
    assert build(project / "definitions", project / "output", config=Config(), progress=phases).ok
    assert [(r.name, r.done, r.total) for r in phases.records][:3] == [
        ("load", 2, 2), ("check", 1, 1), ("compile", 1, 1)]
    assert [r.name for r in phases.records] == ["load", "check", "compile", "validate", "write"]
    written = len(list((project / "output" / "r5" / "resources").glob("*.json")))
    assert written > 0 and phases.records[3].done == written and phases.records[4].done > written
    code, out, err = _run("build", "definitions", "-o", "output", cwd=project)
    assert code == 0 and "phase" not in err and "seconds" not in err  # not a terminal: nothing
    code, out, err = _run("build", "definitions", "-o", "output", "--progress", cwd=project)
    assert code == 0 and all(name in err for name in ("load", "check", "compile", "validate", "write", "total"))
    code, out, err = _run("build", "definitions", "-o", "output", "--progress", "--quiet", cwd=project)
    assert code == 0 and "validate" not in err


def test_push_reports_its_phases(fhir_server: str, project: Path) -> None:
    """push --progress --dry-run against the real HAPI server: load, validate, read the server, diff."""
    assert _run("build", "definitions", "-o", "output", cwd=project)[0] == 0
    code, out, err = _run("push", "output", "--server", fhir_server, "--dry-run", "--progress", cwd=project)
    assert code == 0, out + err
    for name in ("load", "validate", "read the server", "diff", "push phases"):
        assert name in err, (name, err)
    assert "would create" in out


def test_minimal_single_group_study_builds_and_observed_variables_are_actual(project: Path) -> None:
    """Issue 13's review: a single-group study with outcomes and no baseline measure builds (no empty
    report section); every EvidenceVariable an Evidence observes has `actual: true` (seed included)."""
    study = project / "definitions/example-study.yaml"
    text = study.read_text(encoding="utf-8")
    text = text[:text.index("  - id: age\n    role: baseline")] + "\n" + text[text.index("results:"):]
    text = text[:text.index("  - id: age\n    variable: age")] + text[text.index("  - id: skin-response\n    variable"):]
    study.write_text(text, encoding="utf-8")
    code, out, _ = _run("build", "definitions", "-o", "output", cwd=project)
    assert code == 0 and "0 error(s)" in out, out
    for root in (project / "output/r5/resources", ROOT / "output/r5/resources"):
        resources = {f"{d['resourceType']}/{d['id']}": d for d in
                     (json.loads(p.read_text()) for p in root.glob("*.json"))}
        observed = {v["observed"]["reference"] for r in resources.values() if r["resourceType"] == "Evidence"
                    for v in r.get("variableDefinition", []) if "observed" in v}
        variables = [k for k in observed if k.startswith("EvidenceVariable/")]
        assert variables and all(resources[k]["actual"] is True for k in variables), root
        for composition in (r for r in resources.values() if r["resourceType"] == "Composition"):
            assert all(s.get("entry") or s.get("section") or s.get("text") for s in composition.get("section", []))
