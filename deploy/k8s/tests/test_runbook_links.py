"""Every alert a person must act on links to a section of docs/runbook.md that exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy/k8s/base/observability/prometheus-rules.yaml"


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_warning_or_critical_alert_links_to_an_existing_runbook_section() -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text())["spec"]["groups"] for rule in group["rules"]]
    alerts = [rule for rule in rules if rule.get("alert") and rule["labels"]["severity"] in {"warning", "critical"}]
    assert alerts
    for alert in alerts:
        url = alert["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        assert (REPO / path).is_file(), f"{alert['alert']}: runbook_url {url!r} names no file of the repository"
        assert anchor in anchors((REPO / path).read_text()), f"{alert['alert']}: no section #{anchor} in {path}"


def test_the_dead_letter_alerts_point_at_the_operator_command() -> None:
    rules = {
        rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["spec"]["groups"] for rule in group["rules"]
    }
    for name in ("CustomerAgentDeadLettersGrowing", "CustomerAgentDeadLettersSurge"):
        assert "customer-agent dlq list" in rules[name]["annotations"]["description"], name
        assert rules[name]["annotations"]["runbook_url"] == "docs/runbook.md#dead-letters"
