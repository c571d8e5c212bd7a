"""The labelled questions: loading, the dev/test split rule, and a consistency check.

Run ``python bench/quality/dataset.py`` to check ``questions.json`` (ids unique, every expected page a page
of its corpus, splits as the rule gives them) and print the counts per corpus, language and split;
``--write-splits`` rewrites the ``split`` fields by the rule.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Run as a script, this directory is on sys.path; mypy sees the modules by their path from the repository.
if TYPE_CHECKING:
    from bench.quality.corpora import CORPORA
else:
    from corpora import CORPORA

QUESTIONS = Path(__file__).parent / "questions.json"
LANGUAGES = ("en", "da", "nl", "de")
SPLITS = ("dev", "test")
SPLIT_SEED = "customer-agent-quality-v1"


@dataclass(frozen=True)
class Question:
    """One labelled question; no expected page means the corpus cannot answer it."""

    id: str
    corpus: str
    lang: str
    q: str
    expected: tuple[str, ...]
    split: str

    @property
    def answerable(self) -> bool:
        """Whether some page of the corpus answers it."""
        return bool(self.expected)


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The questions of ``path``."""
    raw: list[dict[str, Any]] = json.loads(path.read_text())["questions"]
    return [
        Question(item["id"], item["corpus"], item["lang"], item["q"], tuple(item["expected"]), item["split"])
        for item in raw
    ]


def _digest(text: str) -> str:
    return hashlib.sha256(f"{SPLIT_SEED}:{text}".encode()).hexdigest()


def stratum(item: Question) -> tuple[str, str, bool]:
    """The split is balanced within each corpus, language and answerable group."""
    return (item.corpus, item.lang, item.answerable)


def assign_splits(questions: list[Question]) -> dict[str, str]:
    """The split rule: within each stratum, order the ids by a seeded SHA-256 and alternate dev and test,
    starting with the split the stratum's own hash picks (so odd strata do not all favour dev)."""
    groups: dict[tuple[str, str, bool], list[str]] = defaultdict(list)
    for item in questions:
        groups[stratum(item)].append(item.id)
    splits: dict[str, str] = {}
    for key, ids in groups.items():
        first = int(_digest("|".join(map(str, key))), 16) % 2
        for position, question_id in enumerate(sorted(ids, key=_digest)):
            splits[question_id] = SPLITS[(position + first) % 2]
    return splits


def problems(questions: list[Question]) -> list[str]:
    """Everything inconsistent in the questions (empty when all is well)."""
    found: list[str] = []
    counts = Counter(item.id for item in questions)
    found += [f"duplicate id {question_id}" for question_id, count in counts.items() if count > 1]
    rule = assign_splits(questions)
    page_ids = {name: corpus.page_ids() for name, corpus in CORPORA.items() if corpus.installed()}
    for item in questions:
        if item.corpus not in CORPORA:
            found.append(f"{item.id}: unknown corpus {item.corpus}")
            continue
        if item.lang not in LANGUAGES:
            found.append(f"{item.id}: unknown language {item.lang}")
        if item.split != rule[item.id]:
            found.append(f"{item.id}: split {item.split}, the rule gives {rule[item.id]}")
        known = page_ids.get(item.corpus)
        found += [
            f"{item.id}: {page} is no page of {item.corpus}" for page in item.expected if known and page not in known
        ]
    return found


def count_table(questions: list[Question]) -> list[str]:
    """Questions per corpus, language and split (answerable + unanswerable), as printable lines."""
    cells: Counter[tuple[str, str, str, bool]] = Counter(
        (item.corpus, item.lang, item.split, item.answerable) for item in questions
    )
    header = (
        f"{'corpus':<9} {'lang':<4} " + "  ".join(f"{split:>11}" for split in SPLITS) + "   (answerable+unanswerable)"
    )
    lines = [header]
    for corpus in CORPORA:
        for lang in LANGUAGES:
            row = [
                f"{cells[(corpus, lang, split, True)]:>5}+{cells[(corpus, lang, split, False)]:<5}" for split in SPLITS
            ]
            if any(cells[(corpus, lang, split, flag)] for split in SPLITS for flag in (True, False)):
                lines.append(f"{corpus:<9} {lang:<4} " + "  ".join(row))
    totals = [
        f"{sum(cells[(c, lang, split, True)] for c in CORPORA for lang in LANGUAGES):>5}+"
        f"{sum(cells[(c, lang, split, False)] for c in CORPORA for lang in LANGUAGES):<5}"
        for split in SPLITS
    ]
    lines.append(f"{'total':<14} " + "  ".join(totals))
    return lines


def write_splits(path: Path = QUESTIONS) -> None:
    """Rewrite the ``split`` of every question by the rule, one question per line."""
    document: dict[str, Any] = json.loads(path.read_text())
    questions = [
        Question(item["id"], item["corpus"], item["lang"], item["q"], tuple(item["expected"]), item.get("split", ""))
        for item in document["questions"]
    ]
    rule = assign_splits(questions)
    for item in document["questions"]:
        item["split"] = rule[item["id"]]
    lines = ",\n".join("    " + json.dumps(item, ensure_ascii=False) for item in document["questions"])
    head = json.dumps({"description": document["description"]}, ensure_ascii=False, indent=2)[:-2]
    path.write_text(f'{head},\n  "questions": [\n{lines}\n  ]\n}}\n')


def main() -> int:
    """Check the questions and print their counts."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--write-splits", action="store_true", help="rewrite the split fields by the rule")
    args = parser.parse_args()
    if args.write_splits:
        write_splits()
    questions = load_questions()
    print("\n".join(count_table(questions)))
    languages = Counter(item.lang for item in questions)
    print(f"{len(questions)} questions; by language: {dict(languages)}")
    found = problems(questions)
    print("\n".join(found) if found else "consistent: ids, corpora, languages, expected pages, splits")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
