"""The performance page's charts: a period cut into buckets, and Chart.js configurations of their figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MAX_BUCKETS = 31
COLORS = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777")


@dataclass(frozen=True)
class Bucket:
    """Consecutive days (inclusive) shown as one point of a chart."""

    first: date
    last: date

    @property
    def label(self) -> str:
        """'2026-11-03', or '2026-11-03 to 11-09' for several days."""
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} to {self.last.strftime('%m-%d')}"


def buckets(first: date, last: date) -> list[Bucket]:
    """Days for a period of up to a month; for a longer one, as many days per bucket as keep it to 31."""
    days = (last - first).days + 1
    size = max(1, -(-days // MAX_BUCKETS))
    found = []
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=size - 1))
        found.append(Bucket(start, end))
        start = end + timedelta(days=1)
    return found


def _dataset(label: str, values: list[Any], index: int, **extra: Any) -> dict[str, Any]:
    color = COLORS[index % len(COLORS)]
    return {"label": label, "data": values, "backgroundColor": color, "borderColor": color, **extra}


def _chart(kind: str, labels: list[str], datasets: list[dict[str, Any]], *, percent: bool = False) -> dict[str, Any]:
    y_axis: dict[str, Any] = {"beginAtZero": True}
    if percent:
        y_axis["max"] = 100
    return {
        "type": kind,
        "data": {"labels": labels, "datasets": datasets},
        "options": {"responsive": True, "maintainAspectRatio": False, "animation": False, "scales": {"y": y_axis}},
    }


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def performance_charts(
    periods: list[Bucket], series: list[dict[str, Any]], summary: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Chart.js configurations: conversations and handoffs, answer and resolution rates, credits used (per
    bucket), and handoffs by reason (over the whole period)."""
    labels = [bucket.label for bucket in periods]

    def column(name: str) -> list[Any]:
        return [figures[name] for figures in series]

    def rates(name: str) -> list[float | None]:
        # A bucket without conversations has no rate: a gap in the line, not a fall to zero.
        return [_rate(figures[name]) if figures["conversations"] else None for figures in series]

    reasons = sorted(summary["handoffs_by_reason"].items(), key=lambda item: -item[1])
    return {
        "conversations": _chart(
            "bar",
            labels,
            [_dataset("Conversations", column("conversations"), 0), _dataset("Handoffs", column("handoffs"), 3)],
        ),
        "rates": _chart(
            "line",
            labels,
            [
                _dataset("Answer rate %", rates("answer_rate"), 0, spanGaps=True),
                _dataset("Resolution rate %", rates("resolution_rate"), 1, spanGaps=True),
            ],
            percent=True,
        ),
        "credits": _chart("bar", labels, [_dataset("Credits used", column("credits_used"), 2)]),
        "handoffs": _chart(
            "bar",
            [reason.replace("_", " ") for reason, _ in reasons],
            [_dataset("Handoffs by reason", [count for _, count in reasons], 4)],
        ),
    }
