"""The Grafana dashboard of the Customer Agent, as data: golden signals per service and the business view.

``generate.py`` writes it to ``base/observability/dashboard.json``; Kustomize ships it as the
ConfigMap ``customer-agent-dashboard`` labelled ``grafana_dashboard: "1"`` (the label
Grafana's dashboard sidecar watches).
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SERVICE = 'service=~"$service"'
JOB = 'job=~"$service"'
RATE = "$__rate_interval"


def _target(expr: str, legend: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": "A"}


def _panel(
    title: str, targets: list[tuple[str, str]], *, unit: str = "short", kind: str = "timeseries", width: int = 8
) -> dict[str, Any]:
    refs = "ABCDEFGH"
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "gridPos": {"w": width, "h": 8},
        "targets": [{**_target(expr, legend), "refId": refs[i]} for i, (expr, legend) in enumerate(targets)],
    }


def _quantile(q: float) -> str:
    buckets = f"rate(customer_agent_event_handling_seconds_bucket{{{SERVICE}}}[{RATE}])"
    return f"histogram_quantile({q}, sum by (service, le) ({buckets}))"


def _row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"w": 24, "h": 1}, "panels": []}


GOLDEN_SIGNALS = [
    _row("Golden signals"),
    _panel(
        "Traffic: events handled per second",
        [(f"sum by (service) (rate(customer_agent_events_consumed_total{{{SERVICE}}}[{RATE}]))", "{{service}}")],
        unit="ops",
    ),
    _panel(
        "Errors: failed and dead-lettered events per second",
        [
            (
                "sum by (service, outcome) (rate(customer_agent_events_consumed_total"
                f'{{{SERVICE}, outcome=~"failed|dead_lettered"}}[{RATE}]))',
                "{{service}} {{outcome}}",
            )
        ],
        unit="ops",
    ),
    _panel(
        "Latency: event handling p50 / p95",
        [
            (_quantile(0.5), "{{service}} p50"),
            (_quantile(0.95), "{{service}} p95"),
        ],
        unit="s",
    ),
    _panel(
        "Saturation: consumer lag (Kafka Exporter)",
        [
            (
                'sum by (consumergroup) (kafka_consumergroup_lag{consumergroup=~"($service)\\\\..+"})',
                "{{consumergroup}}",
            )
        ],
    ),
    _panel("Saturation: outbox rows pending", [("max by (schema) (customer_agent_outbox_pending)", "{{schema}}")]),
    _panel(
        "Dead letters per topic",
        [
            (
                f"sum by (topic, reason) (increase(customer_agent_dead_letters_total{{{SERVICE}}}[{RATE}]))",
                "{{topic}} {{reason}}",
            )
        ],
    ),
    _panel("Ready replicas", [(f"sum by (service) (customer_agent_service_ready{{{SERVICE}}})", "{{service}}")]),
    _panel(
        "Dependencies down",
        [
            (
                f"sum by (service, dependency) (1 - customer_agent_dependency_up{{{SERVICE}}})",
                "{{service}} → {{dependency}}",
            )
        ],
    ),
    _panel(
        "Events published per second",
        [(f"sum by (service) (rate(customer_agent_events_published_total{{{SERVICE}}}[{RATE}]))", "{{service}}")],
        unit="ops",
    ),
    _panel("CPU (cores)", [(f"sum by (job) (rate(process_cpu_seconds_total{{{JOB}}}[{RATE}]))", "{{job}}")]),
    _panel("Resident memory", [(f"sum by (job) (process_resident_memory_bytes{{{JOB}}})", "{{job}}")], unit="bytes"),
    _panel(
        "Handler retries per second",
        [(f"sum by (service) (rate(customer_agent_event_retries_total{{{SERVICE}}}[{RATE}]))", "{{service}}")],
        unit="ops",
    ),
    _panel(
        "Consumer batches: mean size, and batches split after a failure per second",
        [
            (
                f"sum by (service) (rate(customer_agent_consumer_batch_size_sum{{{SERVICE}}}[{RATE}]))"
                f" / sum by (service) (rate(customer_agent_consumer_batch_size_count{{{SERVICE}}}[{RATE}]))",
                "{{service}} mean size",
            ),
            (
                f'sum by (service) (rate(customer_agent_consumer_batches_total{{{SERVICE},outcome="split"}}[{RATE}]))',
                "{{service}} split/s",
            ),
        ],
    ),
    _panel(
        "Conversation: searches run ahead for a batch, and those its messages used, per second",
        [
            (
                f"sum by (outcome) (rate(customer_agent_conversation_prefetched_searches_total[{RATE}]))",
                "{{outcome}}",
            )
        ],
        unit="ops",
    ),
]

BUSINESS = [
    _row("Business"),
    _panel(
        "Conversations: routing decisions",
        [(f"sum by (outcome) (increase(customer_agent_routing_decisions_total[{RATE}]))", "{{outcome}}")],
    ),
    _panel(
        "Answer rate (answers / replies, 1h)",
        [
            (
                'sum(increase(customer_agent_conversation_replies_total{outcome="answered"}[1h]))'
                " / sum(increase(customer_agent_conversation_replies_total"
                '{outcome=~"answered|rephrase|cannot_answer|handoff"}[1h]))',
                "answer rate",
            )
        ],
        unit="percentunit",
    ),
    _panel(
        "Handoffs by reason",
        [(f"sum by (reason) (increase(customer_agent_routing_handoffs_total[{RATE}]))", "{{reason}}")],
    ),
    _panel(
        "Credits used and granted",
        [
            (
                f"sum by (pricing_rule) (increase(customer_agent_billing_credits_used_total[{RATE}]))",
                "used {{pricing_rule}}",
            ),
            (f"sum by (kind) (increase(customer_agent_billing_credits_granted_total[{RATE}]))", "granted {{kind}}"),
        ],
    ),
    _panel(
        "Accounts out of credits",
        [("max(customer_agent_billing_exhausted_accounts)", "exhausted accounts")],
        kind="stat",
        width=4,
    ),
    _panel(
        "Credit exhaustion transitions (24h)",
        [("sum by (transition) (increase(customer_agent_billing_exhaustion_events_total[24h]))", "{{transition}}")],
        kind="stat",
        width=4,
    ),
    _panel(
        "Credit resets: accounts past their reset date, failed resets and quiet charges, failed scheduler passes",
        [
            ("max(customer_agent_billing_accounts_due_for_reset)", "due for reset"),
            (f"sum(increase(customer_agent_billing_reset_failures_total[{RATE}]))", "failed resets"),
            (f"sum(increase(customer_agent_billing_quiet_charge_failures_total[{RATE}]))", "failed quiet charges"),
            (f"sum(increase(customer_agent_billing_scheduler_pass_failures_total[{RATE}]))", "failed passes"),
        ],
    ),
    _panel(
        "Conversation outcomes",
        [(f"sum by (outcome) (increase(customer_agent_conversation_replies_total[{RATE}]))", "{{outcome}}")],
    ),
    _panel(
        "Ingestion: finished source syncs by state",
        [
            (
                f"sum by (source_kind, state) (increase(customer_agent_ingestion_syncs_total[{RATE}]))",
                "{{source_kind}} {{state}}",
            )
        ],
    ),
    _panel(
        "Ingestion: documents and chunks indexed per second",
        [
            (
                f"sum by (source_kind) (rate(customer_agent_ingestion_documents_indexed_total[{RATE}]))",
                "documents {{source_kind}}",
            ),
            (f"sum(rate(customer_agent_ingestion_chunks_indexed_total[{RATE}]))", "chunks"),
        ],
        unit="ops",
    ),
    _panel("Ingestion: website syncs waiting or running", [("sum(customer_agent_ingestion_sync_backlog)", "backlog")]),
]


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = y = row_height = 0
    laid = []
    for panel_id, panel in enumerate(panels, start=1):
        grid = dict(panel["gridPos"])
        if x + grid["w"] > 24 or panel["type"] == "row":
            x, y, row_height = 0, y + row_height, 0
        grid.update(x=x, y=y)
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        laid.append({**panel, "id": panel_id, "gridPos": grid})
    return laid


def dashboard(services: list[str]) -> dict[str, Any]:
    """The whole dashboard; ``services`` fill the service variable."""
    return {
        "uid": "customer-agent",
        "title": "Customer Agent",
        "tags": ["customer-agent"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "service",
                    "type": "custom",
                    "label": "Service",
                    "multi": True,
                    "includeAll": True,
                    "allValue": "|".join(services),
                    "query": ",".join(services),
                    "current": {"text": "All", "value": "$__all"},
                    "options": [],
                },
            ]
        },
        "panels": _layout(GOLDEN_SIGNALS + BUSINESS),
    }
