"""Invariants over what the stores hold at the end: dead letters, the credit ledger, outboxes, thread owners."""

from __future__ import annotations

from collections import defaultdict

from customer_agent_shared.topics import BILLING_CREDIT_STATE, CONVERSATIONS_EVENTS, DEAD_LETTER_SUFFIX

from tests.faults.history import LedgerRow, RunHistory, Violation
from tests.faults.reply_checks import ReplyIndex

HUMAN_SIDE = frozenset({"human", "unassigned", "closed"})
"""Routing's states in which the agent no longer owns a thread (closed: a person closed it)."""


def dlq_empty(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """No dead letter mentions the run's accounts: an outage delays work, it never parks it."""
    letters = [record for record in history.records if record.topic.endswith(DEAD_LETTER_SUFFIX)]
    if not letters:
        return []
    topics = sorted({record.topic for record in letters})
    message = f"{len(letters)} dead letters in {', '.join(topics)}"
    return [Violation("dlq_empty", message, tuple(record.cite() for record in letters))]


def _billable_threads(history: RunHistory) -> dict[str, set[str]]:
    threads: dict[str, set[str]] = defaultdict(set)
    for record in history.on(CONVERSATIONS_EVENTS):
        data = record.data
        if record.event_type == "conversation.answered" and data.get("billable", True):
            threads[str(data.get("account_id"))].add(str(data.get("thread_id")))
    return threads


def ledger_matches_billable_threads(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """One usage entry per thread the agent answered (per-conversation pricing), none for any other."""
    billable = _billable_threads(history)
    violations = []
    for account in history.accounts:
        entries = [entry for entry in history.final.ledger.get(account, []) if entry.kind == "usage"]
        charged = [entry.cause.removeprefix("thread:") for entry in entries]
        unit = int((history.final.credits.get(account, {}).get("plan") or {}).get("credits_per_unit", 1))
        uncharged = sorted(billable.get(account, set()) - set(charged))
        unearned = sorted(set(charged) - billable.get(account, set()))
        twice = sorted({thread for thread in charged if charged.count(thread) > 1})
        wrong = [entry for entry in entries if entry.amount != -unit]
        if uncharged or unearned or twice or wrong:
            message = (
                f"{account}: answered but not charged {uncharged}; charged but never answered {unearned}; "
                f"charged twice {twice}; {len(wrong)} usage entries not of -{unit}"
            )
            violations.append(Violation("ledger_matches_billable_threads", message, tuple(map(repr, entries))))
    return violations


def ledger_sums_to_balance(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """The ledger's entries add up to the balance GET /credits shows, and to its last balance_after."""
    violations = []
    for account in history.accounts:
        entries = history.final.ledger.get(account, [])
        credits = history.final.credits.get(account, {})
        total = sum(entry.amount for entry in entries)
        shown = credits.get("balance") if credits.get("known") else 0
        last = entries[-1].balance_after if entries else 0
        if not total == shown == last:
            message = f"{account}: ledger sums to {total}, last balance_after {last}, GET /credits shows {shown}"
            violations.append(Violation("ledger_sums_to_balance", message, (repr(credits), *map(repr, entries))))
    return violations


def purchases_credited_once(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """Every purchase admin-api accepted (202) is in the ledger exactly once, for its credits."""
    violations = []
    for account in history.accounts:
        entries = [entry for entry in history.final.ledger.get(account, []) if entry.kind == "purchase"]
        purchases = [purchase for purchase in history.purchases if purchase.account_id == account]
        accepted = {f"command:{p.command_id}": p.credits for p in purchases if p.command_id is not None}
        unconfirmed = len(purchases) - len(accepted)
        found: dict[str, list[LedgerRow]] = defaultdict(list)
        for entry in entries:
            found[entry.cause].append(entry)
        missing = sorted(cause for cause, credits in accepted.items() if [e.amount for e in found[cause]] != [credits])
        unknown = sorted(cause for cause in found if cause not in accepted)
        if missing or len(unknown) > unconfirmed:
            message = f"{account}: accepted purchases not credited once {missing}; unknown purchases {unknown}"
            violations.append(Violation("purchases_credited_once", message, tuple(map(repr, entries))))
    return violations


def crossings(entries: list[LedgerRow]) -> tuple[int, int]:
    """How many times the balance fell to zero or below, and rose above it again (auto-upgrade packs off)."""
    exhausted, exhaustions, restorations = False, 0, 0
    for entry in entries:
        now = entry.balance_after <= 0
        exhaustions += now and not exhausted
        restorations += exhausted and not now
        exhausted = now
    return exhaustions, restorations


def one_exhaustion_per_crossing(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """billing.credit-state.v1 carries one credits.exhausted per crossing to zero, one credits.restored back."""
    announced: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in history.on(BILLING_CREDIT_STATE):
        announced[(str(record.data.get("account_id")), str(record.event_type))].add(str(record.event_id))
    violations = []
    for account in history.accounts:
        exhaustions, restorations = crossings(history.final.ledger.get(account, []))
        told = (len(announced[(account, "credits.exhausted")]), len(announced[(account, "credits.restored")]))
        if told != (exhaustions, restorations):
            message = (
                f"{account}: the ledger crossed to exhausted {exhaustions} and back {restorations} times; "
                f"billing announced {told[0]} exhaustions and {told[1]} restorations"
            )
            evidence = tuple(r.cite() for r in history.on(BILLING_CREDIT_STATE) if r.data.get("account_id") == account)
            violations.append(Violation("one_exhaustion_per_crossing", message, evidence))
    return violations


def outboxes_drained(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """No outbox row of the run waits to be published, and none was set aside as refused."""
    violations = []
    if history.final.pending_outbox:
        message = f"{len(history.final.pending_outbox)} outbox rows still pending"
        violations.append(Violation("outboxes_drained", message, tuple(history.final.pending_outbox)))
    if history.final.dead_outbox:
        message = f"{len(history.final.dead_outbox)} outbox rows set aside as refused"
        violations.append(Violation("outboxes_drained", message, tuple(history.final.dead_outbox)))
    return violations


def owners_agree(history: RunHistory, index: ReplyIndex) -> list[Violation]:
    """Routing and conversation agree on who owns each thread, and both agree with the handoffs published."""
    final = history.final
    problems: list[str] = []
    for thread, state in sorted(final.routing_threads.items()):
        handed_off = final.conversation_threads.get(thread)
        if state not in HUMAN_SIDE and state != "agent":
            problems.append(f"{thread}: routing left it {state}")
        elif state == "agent" and handed_off is None:
            problems.append(f"{thread}: routing gave it to the agent; conversation never saw it")
        elif state == "agent" and handed_off:
            problems.append(f"{thread}: conversation handed it off; routing still has the agent on it")
        elif thread in index.handoffs and state not in HUMAN_SIDE:
            problems.append(f"{thread}: handed off on {thread[1]}, but routing says {state}")
    for thread, handed_off in sorted(final.conversation_threads.items()):
        if handed_off and final.routing_threads.get(thread) not in HUMAN_SIDE:
            problems.append(f"{thread}: conversation handed it off; routing says {final.routing_threads.get(thread)}")
    problems = list(dict.fromkeys(problems))
    if not problems:
        return []
    return [Violation("owners_agree", f"{len(problems)} threads with disagreeing owners", tuple(problems))]
