"""Alerts evaluated by ``promtool test rules`` on series shaped like those the services export.

Annotations are left out of the rules under test: promtool compares them whole, and what is tested here is
when an alert fires (expression, ``for``, labels), not the wording of its summary.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).resolve().parents[1]
RULES = K8S / "base/observability/prometheus-rules.yaml"
WARNING = [{"exp_labels": {"severity": "warning"}}]


def promtool_test(tmp_path: Path, input_series: dict[str, str], expected: list[tuple[str, str, Any]]) -> None:
    """Run promtool over the real rules: ``input_series`` one sample a minute, ``expected`` as
    (evaluation time, alert name, alerts expected then)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (check.sh installs it too)")
    spec = yaml.safe_load(RULES.read_text())["spec"]
    for group in spec["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(spec))
    test = {
        "interval": "1m",
        "input_series": [{"series": series, "values": values} for series, values in input_series.items()],
        "alert_rule_test": [
            {"eval_time": at, "alertname": name, "exp_alerts": alerts} for at, name, alerts in expected
        ],
    }
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_credit_resets_behind_fires_after_ten_minutes_of_accounts_left_due_on_any_replica(tmp_path: Path) -> None:
    due = "customer_agent_billing_accounts_due_for_reset"
    promtool_test(
        tmp_path,
        {
            f'{due}{{pod="billing-a"}}': "0x40",
            # 3 accounts left due from minute 2 to 19 (a reset failing), then reset.
            f'{due}{{pod="billing-b"}}': "0 0 3x17 0x20",
            # The 1st of the month: thousands due for a few minutes, then all reset.
            f'{due}{{pod="billing-c"}}': "0x24 5000x5 0x10",
        },
        [
            ("11m", "CustomerAgentCreditResetsBehind", []),
            ("12m", "CustomerAgentCreditResetsBehind", WARNING),
            ("19m", "CustomerAgentCreditResetsBehind", WARNING),
            ("21m", "CustomerAgentCreditResetsBehind", []),
            ("29m", "CustomerAgentCreditResetsBehind", []),
            ("35m", "CustomerAgentCreditResetsBehind", []),
        ],
    )


def test_credit_reset_failures_fires_at_the_first_failure_and_clears_fifteen_minutes_after_the_last(
    tmp_path: Path,
) -> None:
    promtool_test(
        tmp_path,
        # Two accounts fail at minute 6 and once more at each later pass until minute 10.
        {'customer_agent_billing_reset_failures_total{pod="billing-a"}': "0x5 2 4 6 8 10x30"},
        [
            ("5m", "CustomerAgentCreditResetFailures", []),
            ("6m", "CustomerAgentCreditResetFailures", WARNING),
            ("20m", "CustomerAgentCreditResetFailures", WARNING),
            ("26m", "CustomerAgentCreditResetFailures", []),
        ],
    )


def test_quiet_charge_failures_fires_at_the_first_failure_and_clears_fifteen_minutes_after_the_last(
    tmp_path: Path,
) -> None:
    promtool_test(
        tmp_path,
        {
            # An account billing cannot read fails once a pass (two a minute) from minute 6 to minute 10.
            'customer_agent_billing_quiet_charge_failures_total{pod="billing-a"}': "0x5 2 4 6 8 10x30",
            # Resets failing do not fire it: they have their own alert.
            'customer_agent_billing_reset_failures_total{pod="billing-a"}': "0 2+2x40",
        },
        [
            ("5m", "CustomerAgentQuietChargeFailures", []),
            ("6m", "CustomerAgentQuietChargeFailures", WARNING),
            ("20m", "CustomerAgentQuietChargeFailures", WARNING),
            ("26m", "CustomerAgentQuietChargeFailures", []),
        ],
    )


def test_billing_scheduler_failing_fires_after_ten_minutes_of_failed_passes_and_not_on_a_failover(
    tmp_path: Path,
) -> None:
    failures = "customer_agent_billing_scheduler_pass_failures_total"
    promtool_test(
        tmp_path,
        {
            # A database failover: the passes of minutes 3 to 5 fail, then they succeed again.
            f'{failures}{{pod="billing-a"}}': "0 0 0 2 4 6 6x40",
            # Every pass (two a minute) fails from minute 20 to minute 40.
            f'{failures}{{pod="billing-b"}}': "0x19 2+2x20 42x10",
        },
        [
            ("9m", "CustomerAgentBillingSchedulerFailing", []),
            ("15m", "CustomerAgentBillingSchedulerFailing", []),
            ("29m", "CustomerAgentBillingSchedulerFailing", []),
            ("30m", "CustomerAgentBillingSchedulerFailing", WARNING),
            ("44m", "CustomerAgentBillingSchedulerFailing", WARNING),
            ("46m", "CustomerAgentBillingSchedulerFailing", []),
        ],
    )
