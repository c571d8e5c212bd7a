"""metrics_check.py: PromQL name extraction, exposition parsing, and the live check on a fake /metrics."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import metrics_check
import pytest

K8S = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up == 0", {"up"}),
        ('sum by (service, le) (rate(a_bucket{x="y(z)"}[5m]))', {"a_bucket"}),
        ("histogram_quantile(0.95, sum by (le) (rate(a_bucket[$__rate_interval])))", {"a_bucket"}),
        ("max(b) > 0 and on (service) c offset 5m", {"b", "c"}),
        ('changes(d[15m]) > 3 unless ignoring (pod) e{k=~"a|b"}', {"d", "e"}),
        ("sum(increase(f_total[1h])) / sum(increase(g_total[1h])) > 0.05", {"f_total", "g_total"}),
        ("1 - h", {"h"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metrics_check.metric_names(expr) == names


def test_samples_of_follow_prometheus_client_naming() -> None:
    assert metrics_check.samples_of("x_total", "counter") == {"x_total", "x_created"}
    assert metrics_check.samples_of("x", "counter") == {"x_total", "x_created"}
    assert "x_bucket" in metrics_check.samples_of("x", "histogram")
    assert metrics_check.samples_of("x", "gauge") == {"x"}


def test_every_used_metric_is_declared_in_the_code() -> None:
    errors, _ = metrics_check.check(metrics_check.declared_in_code(), live=False)
    assert errors == []


def test_allowlist_entries_have_reasons_and_known_categories() -> None:
    allowed = metrics_check.allowlist()
    assert allowed["kafka_consumergroup_lag"].category == "external"
    assert all(entry.reason for entry in allowed.values())


EXPOSITION = """# HELP customer_agent_service_ready 1 when ready.
# TYPE customer_agent_service_ready gauge
customer_agent_service_ready{service="routing"} 1.0
# TYPE customer_agent_events_consumed counter
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
"""


@pytest.fixture
def fake_metrics() -> Iterator[str]:
    """A loopback HTTP server serving a fixed exposition at /metrics."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = EXPOSITION.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_exported_reads_families_without_samples(fake_metrics: str) -> None:
    names = metrics_check.exported(fake_metrics)
    assert {
        "customer_agent_service_ready",
        "customer_agent_events_consumed_total",
        "process_cpu_seconds_total",
    } <= names


def test_live_check_names_what_the_services_do_not_export(
    fake_metrics: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert metrics_check.main(["--live", fake_metrics]) == 1
    err = capsys.readouterr().err
    assert "UNKNOWN METRIC customer_agent_dead_letters_total" in err
    assert "customer_agent_service_ready " not in err  # exported, so not reported
    assert "kafka_consumergroup_lag" not in err  # external, documented in the allowlist


def test_live_check_reports_unreachable_services() -> None:
    assert metrics_check.main(["--live", "http://127.0.0.1:9/metrics"]) == 1
