"""Generate a synthetic corpus of N study definitions (for benchmarks).

Half the studies are copies of the seed (a single-group cohort), half copies of ProDERM
(a parallel randomized trial), alternating; each has its own id and title, so every rule,
resource kind, recomputation and provenance check runs exactly as for the real studies.
With ``questions``, question k is a copy of the IVIG question citing the seed copy 2k and the
trial copy 2k+1 (the Bounfour result it also cites is left out: the corpus has no copies of
that series), with its recommendation, so syntheses, summaries of findings and
PlanDefinitions are built too.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "definitions" / "galimberti-2018-ivig-cutaneous-dm.yaml"
TRIAL = ROOT / "definitions" / "aggarwal-2022-proderm.yaml"
QUESTION = ROOT / "definitions" / "ivig-refractory-cdm-question.yaml"
_BOUNFOUR = """      - study: bounfour-2014
        result: major-response
        directness:
          rating: certainty-rating:no-concern
"""
#: the question's outcome that cites Dalakas 1993 only (no template copies that study)
_DALAKAS = re.compile(r"  # Dalakas 1993 \(issue 22\).*?(?=  - id: glucocorticoid-sparing\n)", re.S)
#: (file, its study id line, its title line) of each template
TEMPLATES = ((SEED, "\nid: galimberti-2018\n", "\ntitle: IVIG for refractory"),
             (TRIAL, "\nid: aggarwal-2022\n", "\ntitle: IVIG vs placebo"))


def generate(target: Path, count: int, prefix: str = "synthetic", comparative: bool = True,
             questions: int = 0) -> list[Path]:
    """``count`` studies; with ``comparative``, every second one is a randomized trial; and
    ``questions`` question definitions (at most ``count // 2``, and only with ``comparative``)."""
    if questions and (not comparative or questions > count // 2):
        raise ValueError("each question needs its own seed copy and trial copy")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(SEED.parent / "sources", target / "sources")
    texts = [(path.read_text(encoding="utf-8"), id_line, title) for path, id_line, title in TEMPLATES]
    for text, id_line, title in texts:
        assert text.count(id_line) == 1 and text.count(title) == 1
    paths = []
    for i in range(count):
        text, id_line, title = texts[i % 2 if comparative else 0]
        study = text.replace(id_line, f"\nid: {prefix}-{i:05d}\n").replace(
            title, f"\ntitle: Synthetic study {i:05d} - {title.removeprefix(chr(10) + 'title: ')}")
        path = target / f"{prefix}-{i:05d}.yaml"
        path.write_text(study, encoding="utf-8")
        paths.append(path)
    question = QUESTION.read_text(encoding="utf-8")
    assert question.count(_BOUNFOUR) == 1 and question.count("\nid: ivig-refractory-cdm-question\n") == 1
    question = question.replace(_BOUNFOUR, "")
    assert len(_DALAKAS.findall(question)) == 1 and "study: dalakas-1993" in question
    question = _DALAKAS.sub("", question)
    assert "dalakas-1993" not in question
    for k in range(questions):
        text = (question.replace("\nid: ivig-refractory-cdm-question\n", f"\nid: {prefix}-question-{k:04d}\n")
                .replace("study: galimberti-2018\n", f"study: {prefix}-{2 * k:05d}\n")
                .replace("study: aggarwal-2022\n", f"study: {prefix}-{2 * k + 1:05d}\n"))
        path = target / f"{prefix}-question-{k:04d}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()
    generate(args.target, args.count, questions=args.questions)
    print(f"wrote {args.count} study and {args.questions} question definitions to {args.target}")


if __name__ == "__main__":
    main()
