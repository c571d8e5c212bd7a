"""Billing's Prometheus metrics; labels are bounded (never account or thread ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from billing_service.domain.ledger import Decision, EntryKind

CREDITS_USED = Counter(
    "customer_agent_billing_credits_used_total",
    "Credits charged for conversations, by pricing rule.",
    ["pricing_rule"],
)
CREDITS_GRANTED = Counter(
    "customer_agent_billing_credits_granted_total",
    "Credits added to balances (negative adjustments are not counted), by entry kind.",
    ["kind"],
)
EXHAUSTION_EVENTS = Counter(
    "customer_agent_billing_exhaustion_events_total",
    "Threshold crossings published: exhausted or restored.",
    ["transition"],
)
BALANCE_AFTER_CHANGE = Histogram(
    "customer_agent_billing_balance_credits",
    "Account balance after each ledger change (the distribution of balances, not one series per account).",
    buckets=(-100, 0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000),
)
EXHAUSTED_ACCOUNTS = Gauge(
    "customer_agent_billing_exhausted_accounts",
    "Accounts whose credits are exhausted, counted after the scheduler's last pass.",
)
ACCOUNTS_DUE_FOR_RESET = Gauge(
    "customer_agent_billing_accounts_due_for_reset",
    "Accounts past their reset date whose reset is not applied yet, counted after the scheduler's last pass "
    "(failed or not): above 0 for minutes, resets fall behind and exhausted accounts stay paused.",
)
RESET_FAILURES = Counter(
    "customer_agent_billing_reset_failures_total",
    "Monthly resets that failed and were skipped until the scheduler's next pass (the others went on); "
    "the logs name each account and its error.",
)
QUIET_CHARGE_FAILURES = Counter(
    "customer_agent_billing_quiet_charge_failures_total",
    "Quiet per-resolution charges that failed and were skipped until the scheduler's next pass (the others "
    "went on): a thread, or every thread of an account that could not be read; the logs name each.",
)
SCHEDULER_PASS_FAILURES = Counter(
    "customer_agent_billing_scheduler_pass_failures_total",
    "Scheduler passes that failed (`billing scheduler pass failed` in the logs, with the error) and were tried "
    "again after the interval; while they fail, due resets and quiet resolutions wait.",
)
RESETS_APPLIED = Counter(
    "customer_agent_billing_resets_total",
    "Monthly allotment resets applied.",
)


def observe_decision(decision: Decision) -> None:
    """Count what a committed ledger decision did."""
    for entry in decision.entries:
        if entry.kind is EntryKind.USAGE:
            CREDITS_USED.labels(pricing_rule=decision.account.plan.pricing_rule.value).inc(-entry.amount)
        elif entry.amount > 0:
            CREDITS_GRANTED.labels(kind=entry.kind.value).inc(entry.amount)
        if entry.kind is EntryKind.RESET:
            RESETS_APPLIED.inc()
    if decision.transition is not None:
        EXHAUSTION_EVENTS.labels(transition=decision.transition.value).inc()
    BALANCE_AFTER_CHANGE.observe(decision.account.balance)
