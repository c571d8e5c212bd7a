"""Check that every metric named in the alerts and the dashboard exists.

``--static``: declared in the code (``Counter/Gauge/Histogram/Summary("name", ...)`` under
``shared/src`` and ``services/*/src``). ``--live URL...``: exported by the running services
(each URL a ``/metrics`` endpoint). Names in ``observability/metrics-allowlist.txt`` are
tolerated as that file explains (external exporters, runtime collectors, pending metrics).
Only the standard library and PyYAML are needed.

    python metrics_check.py --static
    python metrics_check.py --live http://127.0.0.1:8000/metrics ... --require-all
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parent
REPO = K8S.parents[1]
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "untyped": ("",),
    "unknown": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}
DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary|Info)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", re.MULTILINE)


@dataclass(frozen=True)
class Allowed:
    """One tolerated metric and why."""

    name: str
    category: str
    reason: str


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (functions, keywords and label names excluded)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        name = match.group(0)
        rest = text[match.end() :].lstrip()
        if name in KEYWORDS or rest.startswith("("):
            continue
        names.add(name)
    return names


def used_metrics(k8s: Path = K8S) -> dict[str, set[str]]:
    """Metric name → where it is used (alert names, dashboard panel titles)."""
    used: dict[str, set[str]] = {}
    rules = yaml.safe_load((k8s / "base/observability/prometheus-rules.yaml").read_text())
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            for name in metric_names(str(rule["expr"])):
                used.setdefault(name, set()).add(f"alert {rule.get('alert') or rule.get('record')}")
    dashboard = json.loads((k8s / "base/observability/dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for name in metric_names(target["expr"]):
                used.setdefault(name, set()).add(f"panel {panel['title']!r}")
    return used


def allowlist(k8s: Path = K8S) -> dict[str, Allowed]:
    """The tolerated metrics of ``observability/metrics-allowlist.txt``."""
    allowed = {}
    for line in (k8s / "observability/metrics-allowlist.txt").read_text().splitlines():
        body, _, reason = line.partition("#")
        fields = body.split()
        if not fields:
            continue
        name, category = fields
        if category not in {"external", "runtime", "pending"}:
            raise SystemExit(f"metrics-allowlist: unknown category {category!r} for {name}")
        if not reason.strip():
            raise SystemExit(f"metrics-allowlist: {name} needs a reason after '#'")
        allowed[name] = Allowed(name, category, reason.strip())
    return allowed


def samples_of(family: str, kind: str) -> set[str]:
    """Sample names a metric family exposes (prometheus_client strips ``_total`` from counters)."""
    if kind == "counter":
        family = family.removesuffix("_total")
    return {family + suffix for suffix in SUFFIXES.get(kind, ("",))}


def declared_in_code(repo: Path = REPO) -> set[str]:
    """Sample names of every metric the code declares."""
    kinds = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary", "Info": "info"}
    names: set[str] = set()
    for root in [repo / "shared/src", *sorted((repo / "services").glob("*/src"))]:
        for path in root.rglob("*.py"):
            for kind, name in DECLARATION.findall(path.read_text()):
                names |= samples_of(name, kinds[kind])
    return names


def exported(url: str) -> set[str]:
    """Sample names an endpoint exposes, from its ``# TYPE`` lines and samples."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            names |= samples_of(family, kind.strip())
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def check(available: set[str], *, live: bool, k8s: Path = K8S) -> tuple[list[str], list[str]]:
    """(errors, warnings) for the metrics used against the ``available`` sample names."""
    errors, warnings = [], []
    allowed = allowlist(k8s)
    for name, where in sorted(used_metrics(k8s).items()):
        entry = allowed.get(name)
        places = ", ".join(sorted(where))
        if entry is not None and (entry.category == "external" or (entry.category == "runtime" and not live)):
            continue
        if name in available:
            if entry is not None and entry.category == "pending":
                warnings.append(f"{name} is exported now: drop its 'pending' line from metrics-allowlist.txt")
            continue
        if entry is not None and entry.category == "pending":
            warnings.append(f"{name} (used by {places}) is not exported yet: {entry.reason}")
            continue
        source = "exported by the running services" if live else "declared in shared/src or services/*/src"
        errors.append(f"{name} (used by {places}) is not {source}")
    return errors, warnings


def main(argv: list[str] | None = None) -> int:
    """Run the static or the live check; exit 1 on any unknown metric."""
    parser = argparse.ArgumentParser(description="every metric in alerts and dashboard must exist")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--static", action="store_true", help="against the metrics declared in the code")
    mode.add_argument("--live", nargs="+", metavar="URL", help="against running services' /metrics")
    parser.add_argument("--k8s-dir", type=Path, default=K8S, help="deploy/k8s directory to read (default: this one)")
    args = parser.parse_args(argv)
    available: set[str] = set()
    if args.live:
        for url in args.live:
            try:
                available |= exported(url)
            except OSError as error:
                print(f"ERROR cannot read {url}: {error} (are the services up? make services-up)", file=sys.stderr)
                return 1
    else:
        available = declared_in_code()
    errors, warnings = check(available, live=bool(args.live), k8s=args.k8s_dir)
    for line in warnings:
        print(f"WARNING {line}", file=sys.stderr)
    for line in errors:
        print(f"UNKNOWN METRIC {line}", file=sys.stderr)
    used = len(used_metrics(args.k8s_dir))
    print(f"metrics used by alerts and dashboard: {used}; unknown: {len(errors)}; warnings: {len(warnings)}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
