"""The checker: every invariant over a run's full history, and a report that names the seed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from tests.faults import reply_checks, state_checks
from tests.faults.history import RunHistory, Violation
from tests.faults.reply_checks import ReplyIndex

Check = Callable[[RunHistory, ReplyIndex], list[Violation]]

INVARIANTS: dict[str, Check] = {
    "one_reply_per_message": reply_checks.one_reply_per_message,
    "reply_fits_message": reply_checks.reply_fits_message,
    "one_handoff_per_thread": reply_checks.one_handoff_per_thread,
    "resends_are_the_same_event": reply_checks.resends_are_the_same_event,
    "order_per_thread": reply_checks.order_per_thread,
    "dlq_empty": state_checks.dlq_empty,
    "ledger_matches_billable_threads": state_checks.ledger_matches_billable_threads,
    "ledger_sums_to_balance": state_checks.ledger_sums_to_balance,
    "purchases_credited_once": state_checks.purchases_credited_once,
    "one_exhaustion_per_crossing": state_checks.one_exhaustion_per_crossing,
    "outboxes_drained": state_checks.outboxes_drained,
    "owners_agree": state_checks.owners_agree,
}


def check(history: RunHistory) -> dict[str, list[Violation]]:
    """Every invariant's violations (an empty list: it held)."""
    index = ReplyIndex.build(history)
    return {name: invariant(history, index) for name, invariant in INVARIANTS.items()}


def unanswered(history: RunHistory) -> int:
    """How many accepted messages have no reply or handoff yet (the run waits for this to reach zero)."""
    index = ReplyIndex.build(history)
    return len(reply_checks.one_reply_per_message(history, index))


def _handoffs_by_reason(history: RunHistory) -> dict[str, int]:
    reasons = Counter(str(r.data.get("reason")) for r in history.records if r.event_type == "thread.handed_off")
    return dict(reasons)


def report(history: RunHistory, results: dict[str, list[Violation]], *, faults: list[str], skipped: int) -> str:
    """The seed, what ran, one line per invariant (and whether every fault happened), then every violation
    with its records."""
    lines = [
        f"fault harness seed {history.seed} (reproduce: make test-faults SEED={history.seed})",
        f"accounts {len(history.accounts)}, accepted messages {len(history.sent)}, "
        f"purchases {len(history.purchases)}, records {len(history.records)}, "
        f"re-sent copies {reply_checks.count_resends(history)}",
        f"handoffs by reason {_handoffs_by_reason(history)}, credit crossings (exhausted, restored) "
        f"{[state_checks.crossings(entries) for entries in history.final.ledger.values()]}",
        "faults applied:",
        *(f"  {fault}" for fault in faults),
        "invariants:",
        *(f"  {'FAIL' if found else 'ok  '} {name} ({len(found)})" for name, found in results.items()),
        f"  {'FAIL' if skipped else 'ok  '} every_fault_applied ({skipped} skipped)",
    ]
    for found in results.values():
        lines.extend(violation.render() for violation in found[:10])
        if len(found) > 10:
            lines.append(f"  … {len(found) - 10} more violations of this invariant")
    return "\n".join(lines)
