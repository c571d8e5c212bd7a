"""Scores of the answer-quality benchmark: per-question outcomes, the summary table, the agent's
coverage/precision curve over its confidence, and the targets."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conversation_service.domain.confidence import Evidence

if TYPE_CHECKING:  # see dataset.py
    from bench.quality.dataset import LANGUAGES, Question
else:
    from dataset import LANGUAGES, Question

AGENT = "agent"
BASELINE = "bm25"
TARGET_HIT3 = {"en": 0.85, "da": 0.75, "nl": 0.75, "de": 0.75}
TARGET_HIT1_GAIN = 0.15
TARGET_ABSTENTION = 0.90
TARGET_LANGUAGE = 1.0


@dataclass(frozen=True)
class Outcome:
    """What one system did with one question."""

    question: Question
    system: str
    answered: bool
    pages: tuple[str, ...]  # distinct cited pages in order (empty when it declined)
    would_be: tuple[str, ...] = ()  # its citations, or the nearest passages' pages when it declined
    confidence: float | None = None
    language_ok: bool | None = None  # None: the system has no reply language (the baseline)
    latency_ms: float | None = None
    evidence: Evidence | None = None  # what the agent's decision was computed from
    offered: tuple[str, ...] = ()  # pages a decline offered as maybe helpful (the rephrase request's citations)

    def rescored(self, confidence: float) -> Outcome:
        """The same outcome with another confidence (for refitting the decision's model)."""
        return dataclasses.replace(self, confidence=confidence)

    @property
    def hit1(self) -> bool:
        """An answer whose first cited page is an expected one."""
        return self.answered and bool(self.pages) and self.pages[0] in self.question.expected

    @property
    def hit3(self) -> bool:
        """An answer with an expected page among its first three distinct cited pages."""
        return self.answered and any(page in self.question.expected for page in self.pages[:3])

    @property
    def ok(self) -> bool:
        """Right first citation for an answerable question; a decline for an unanswerable one."""
        return self.hit1 if self.question.answerable else not self.answered


def rate(hits: int, total: int) -> float | None:
    """hits / total, None when there is nothing to count."""
    return hits / total if total else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Summary:
    """The scores of one system over a group of questions."""

    answerable: int
    unanswerable: int
    answered: float | None  # share of answerable questions answered
    hit1: float | None
    hit3: float | None
    precision: float | None  # answers with the right first page / all answers (unanswerable ones count as wrong)
    abstention: float | None  # share of unanswerable questions declined
    language: float | None  # share of replies (answers and declines) in the question's language
    p50_ms: float | None
    p99_ms: float | None


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    """The scores of ``outcomes`` (one system)."""
    answerable = [item for item in outcomes if item.question.answerable]
    unanswerable = [item for item in outcomes if not item.question.answerable]
    answers = [item for item in outcomes if item.answered]
    languages = [item.language_ok for item in outcomes if item.language_ok is not None]
    latencies = [item.latency_ms for item in outcomes if item.latency_ms is not None]
    return Summary(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        answered=rate(sum(item.answered for item in answerable), len(answerable)),
        hit1=rate(sum(item.hit1 for item in answerable), len(answerable)),
        hit3=rate(sum(item.hit3 for item in answerable), len(answerable)),
        precision=rate(sum(item.hit1 for item in answers), len(answers)),
        abstention=rate(sum(not item.answered for item in unanswerable), len(unanswerable)),
        language=rate(sum(languages), len(languages)),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
    )


def _cell(value: float | None, percent: bool = True) -> str:
    if value is None:
        return f"{'-':>7}"
    return f"{100 * value:6.1f}%" if percent else f"{value:7.0f}"


HEADER = (
    f"{'group':<16}{'system':<7}{'ans':>5}{'unans':>6}{'answered':>9}{'hit@1':>8}{'hit@3':>8}"
    f"{'precis.':>8}{'abstain':>8}{'lang ok':>8}{'p50 ms':>8}{'p99 ms':>8}"
)


def summary_line(group: str, system: str, summary: Summary) -> str:
    """One row of the table."""
    return (
        f"{group:<16}{system:<7}{summary.answerable:>5}{summary.unanswerable:>6}  {_cell(summary.answered)}"
        f" {_cell(summary.hit1)} {_cell(summary.hit3)} {_cell(summary.precision)} {_cell(summary.abstention)}"
        f" {_cell(summary.language)} {_cell(summary.p50_ms, False)} {_cell(summary.p99_ms, False)}"
    )


def _in_corpus(name: str) -> Callable[[Outcome], bool]:
    return lambda item: item.question.corpus == name


def _in_language(lang: str) -> Callable[[Outcome], bool]:
    return lambda item: item.question.lang == lang


def groups(outcomes: Sequence[Outcome]) -> list[tuple[str, Callable[[Outcome], bool]]]:
    """The rows of the table: overall, each corpus, each language (those that have questions)."""
    corpora = sorted({item.question.corpus for item in outcomes})
    languages = [lang for lang in LANGUAGES if any(item.question.lang == lang for item in outcomes)]
    rows: list[tuple[str, Callable[[Outcome], bool]]] = [("overall", lambda item: True)]
    rows += [(f"corpus {name}", _in_corpus(name)) for name in corpora]
    rows += [(f"lang {lang}", _in_language(lang)) for lang in languages]
    return rows


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The summary table: each group, the agent above the baseline."""
    lines = [HEADER]
    for name, belongs in groups(outcomes):
        for system in (AGENT, BASELINE):
            chosen = [item for item in outcomes if item.system == system and belongs(item)]
            lines.append(summary_line(name if system == AGENT else "", system, summarize(chosen)))
    return lines


@dataclass(frozen=True)
class CurvePoint:
    """The agent's scores if it answered exactly the questions whose confidence is at least ``threshold``."""

    threshold: float
    coverage: float | None  # share of answerable questions answered
    precision: float | None  # answers with the right first page / answers
    abstention: float | None  # share of unanswerable questions declined


def curve_point(outcomes: Sequence[Outcome], threshold: float) -> CurvePoint:
    """The scores at one confidence threshold (the engine's own gate ignored; see ``Outcome.would_be``)."""
    answered = [item for item in outcomes if (item.confidence or 0.0) >= threshold]
    answerable = sum(item.question.answerable for item in outcomes)
    unanswerable = len(outcomes) - answerable
    right = sum(bool(item.would_be) and item.would_be[0] in item.question.expected for item in answered)
    covered = sum(item.question.answerable for item in answered)
    declined = sum(not item.question.answerable for item in outcomes) - (len(answered) - covered)
    return CurvePoint(threshold, rate(covered, answerable), rate(right, len(answered)), rate(declined, unanswerable))


def curve(outcomes: Sequence[Outcome], rows: int = 10) -> list[CurvePoint]:
    """About ``rows`` evenly spaced thresholds from the lowest to the highest confidence seen."""
    seen = [item.confidence for item in outcomes if item.confidence is not None]
    if not seen:
        return []
    low, high = min(seen), max(seen)
    steps = max(1, rows - 1)
    thresholds = sorted({low + (high - low) * step / steps for step in range(steps + 1)})
    return [curve_point(outcomes, threshold) for threshold in thresholds]


def best_threshold(outcomes: Sequence[Outcome], target: float) -> CurvePoint | None:
    """The threshold with the best coverage among those whose precision reaches ``target`` (the highest such
    threshold when several tie), trying every confidence seen; None when none reaches it."""
    candidates = sorted({item.confidence for item in outcomes if item.confidence is not None})
    points = [curve_point(outcomes, threshold) for threshold in candidates]
    good = [point for point in points if point.precision is not None and point.precision >= target]
    if not good:
        return None
    return max(good, key=lambda point: (point.coverage or 0.0, point.threshold))


def curve_lines(outcomes: Sequence[Outcome], target: float) -> list[str]:
    """The agent's coverage/precision curve and the threshold that reaches ``target`` precision."""
    agent = [item for item in outcomes if item.system == AGENT]
    lines = [f"{'confidence >=':>14}{'coverage':>10}{'precision':>11}{'abstain':>9}"]
    for point in curve(agent):
        lines.append(
            f"{point.threshold:>14.3f}  {_cell(point.coverage)}   {_cell(point.precision)} {_cell(point.abstention)}"
        )
    best = best_threshold(agent, target)
    if best is None:
        lines.append(f"no confidence threshold reaches precision {target:.2f}")
    else:
        lines.append(
            f"precision >= {target:.2f} with the best coverage: confidence >= {best.threshold:.3f} "
            f"(coverage {_cell(best.coverage).strip()}, precision {_cell(best.precision).strip()}, "
            f"abstention on unanswerable {_cell(best.abstention).strip()})"
        )
    return lines


def offer_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """What the agent's declines offered: pages for answerable questions (the right one among them?) and
    pages for questions the content cannot answer."""
    declined = [item for item in outcomes if item.system == AGENT and not item.answered]
    answerable = [item for item in declined if item.question.answerable]
    offered = [item for item in answerable if item.offered]
    right = sum(any(page in item.question.expected for page in item.offered) for item in offered)
    unanswerable = [item for item in declined if not item.question.answerable]
    offered_in_vain = sum(bool(item.offered) for item in unanswerable)
    return [
        f"declined answerable questions: {len(answerable)}; pages offered to {len(offered)}, the right page among "
        f"them for {right}",
        f"declined unanswerable questions: {len(unanswerable)}; pages offered to {offered_in_vain}",
    ]


def _verdict(value: float | None, goal: float) -> str:
    if value is None:
        return "no questions"
    return f"{100 * value:5.1f}% vs {100 * goal:5.1f}%: {'met' if value >= goal - 1e-9 else 'NOT met'}"


def target_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """The targets of the issue and whether each is met."""
    lines: list[str] = []
    for lang in LANGUAGES:
        agent = summarize([item for item in outcomes if item.system == AGENT and item.question.lang == lang])
        baseline = summarize([item for item in outcomes if item.system == BASELINE and item.question.lang == lang])
        if not agent.answerable:
            continue
        lines.append(f"hit@3 {lang}: {_verdict(agent.hit3, TARGET_HIT3[lang])}")
        goal = (baseline.hit1 or 0.0) + TARGET_HIT1_GAIN
        lines.append(f"hit@1 {lang} >= BM25 {_cell(baseline.hit1).strip()} + 15 points: {_verdict(agent.hit1, goal)}")
    overall = summarize([item for item in outcomes if item.system == AGENT])
    lines.append(f"abstention on unanswerable: {_verdict(overall.abstention, TARGET_ABSTENTION)}")
    lines.append(f"reply language right: {_verdict(overall.language, TARGET_LANGUAGE)}")
    return lines


def verbose_line(agent: Outcome, baseline: Outcome) -> str:
    """One question's result: id, ok/miss, confidence, the agent's first two pages, the baseline's first."""
    mark = "ok  " if agent.ok else "miss"
    confidence = f"{agent.confidence:.3f}" if agent.confidence is not None else "-"
    cited = (
        ", ".join(agent.pages[:2]) if agent.answered else "declined (nearest: " + ", ".join(agent.would_be[:2]) + ")"
    )
    base = baseline.pages[0] if baseline.pages else "-"
    expected = ", ".join(agent.question.expected) or "unanswerable"
    return (
        f"{agent.question.id:<16} {mark} conf {confidence:>6}  agent: {cited}  | bm25: {base}  | expected: {expected}"
    )
