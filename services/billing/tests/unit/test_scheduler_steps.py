"""One step of a scheduler pass fails alone: its own error is kept, logged and counted, a failing database's raised."""

from __future__ import annotations

import logging

import pytest
from billing_service.handlers.scheduler import UnreadableAccountError, failing_alone
from customer_agent_shared.messaging.failures import TransientHandlerError
from prometheus_client import CollectorRegistry, Counter


def _failures() -> tuple[Counter, CollectorRegistry]:
    registry = CollectorRegistry()
    return Counter("steps_failed", "Steps that failed alone.", registry=registry), registry


def test_a_step_that_goes_through_is_no_failure() -> None:
    with failing_alone() as failure:
        done = True

    assert done
    assert not failure
    assert failure.error is None


def test_a_steps_own_error_is_kept_and_skipping_it_logs_and_counts_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counter, registry = _failures()
    own = UnreadableAccountError("acc-1")

    with failing_alone() as failure:
        raise own
    with caplog.at_level(logging.ERROR, logger="billing_service.handlers.scheduler"):
        failure.skip("charge failed; skipped until the next pass", counter, account_id="acc-1", whole_account=True)

    assert failure.error is own
    [logged] = caplog.records
    assert (logged.levelno, logged.getMessage()) == (logging.ERROR, "charge failed; skipped until the next pass")
    assert (getattr(logged, "account_id", None), getattr(logged, "whole_account", None)) == ("acc-1", True)
    assert logged.exc_info is not None
    assert logged.exc_info[1] is own
    assert logged.funcName == "test_a_steps_own_error_is_kept_and_skipping_it_logs_and_counts_it"  # the step's caller
    assert registry.get_sample_value("steps_failed_total") == 1


def test_a_failing_database_is_raised_not_kept(caplog: pytest.LogCaptureFixture) -> None:
    outage = TransientHandlerError("PostgreSQL connection lost")

    with pytest.raises(TransientHandlerError) as raised, failing_alone() as failure:
        raise outage

    assert raised.value is outage
    assert not failure
    assert not caplog.records


def test_an_own_error_caused_by_a_failing_database_is_raised_too() -> None:
    with pytest.raises(UnreadableAccountError), failing_alone() as failure:
        raise UnreadableAccountError("acc-1") from TransientHandlerError("PostgreSQL connection lost")

    assert not failure
