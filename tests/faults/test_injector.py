"""A fault that cannot happen fails the run instead of passing it by silently (no stack needed)."""

from __future__ import annotations

import pytest

from tests.e2e import stack_control
from tests.faults.checker import check, report
from tests.faults.history import FinalState, RunHistory
from tests.faults.injector import FaultInjector, stores_out_of_reach
from tests.faults.schedule import Fault, FaultKind, plan_faults


@pytest.fixture
def only_kafka_started_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if deploy/local had started Kafka and found every other store already running on its port."""
    monkeypatch.setattr(stack_control, "started_here", lambda component: component == "kafka")


def empty_history() -> RunHistory:
    """A run that sent nothing: every invariant holds."""
    return RunHistory(
        seed=1, accounts=[], sent=[], purchases=[], records=[], final=FinalState(), unavailable_wait_seconds=60
    )


@pytest.mark.usefixtures("only_kafka_started_here")
async def test_a_fault_on_a_store_deploy_local_did_not_start_is_skipped_and_fails_the_report() -> None:
    injector = FaultInjector()

    await injector.apply(Fault(FaultKind.STOP_POSTGRES, "postgres", 10.0))

    assert [applied.fault.target for applied in injector.skipped] == ["postgres"]
    history = empty_history()
    text = report(history, check(history), faults=[a.describe() for a in injector.applied], skipped=1)
    assert "stop_postgres(postgres) for 10 s: skipped (postgres was not started by deploy/local" in text
    assert "FAIL every_fault_applied (1 skipped)" in text


@pytest.mark.usefixtures("only_kafka_started_here")
def test_the_stores_a_plan_cannot_reach_are_named_before_the_run() -> None:
    assert stores_out_of_reach(plan_faults(27, decks=1)) == ["opensearch", "postgres", "redis"]


def test_a_run_whose_faults_all_happened_reports_so() -> None:
    history = empty_history()

    assert "ok   every_fault_applied (0 skipped)" in report(history, check(history), faults=[], skipped=0)
