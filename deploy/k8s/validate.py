"""Validate rendered Kubernetes manifests offline: built-in kinds and the CRDs we use.

Built-in kinds are checked strictly (unknown fields rejected) against the Kubernetes
OpenAPI-derived JSON schemas shipped in the ``kubernetes-validate`` PyPI package; the
custom resources (Strimzi KafkaTopic, KEDA ScaledObject, Prometheus Operator ServiceMonitor
and PrometheusRule) against the minimal schemas in ``deploy/k8s/schemas/``. A kind with no
schema at all is an error, not a warning. Runs in the tool environment ``check.sh`` builds
(``kubernetes-validate`` brings ``jsonschema`` and ``pyyaml``).

    python validate.py --kubernetes-version 1.31 rendered.yaml [...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def crd_schema(resource: dict[str, Any], schemas: Path = SCHEMAS) -> dict[str, Any] | None:
    """The shipped schema of a custom resource, or None for built-in kinds."""
    group_version = str(resource.get("apiVersion", ""))
    if "/" not in group_version or "." not in group_version.split("/")[0]:
        return None
    group, version = group_version.split("/", 1)
    path = schemas / f"{str(resource.get('kind', '')).lower()}-{group}-{version}.json"
    if not path.exists():
        return None
    return dict(json.loads(path.read_text()))


def is_builtin(resource: dict[str, Any]) -> bool:
    """Kubernetes' own API groups: core (no group) and *.k8s.io or dotless groups like apps."""
    group = str(resource.get("apiVersion", "")).rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def validate(resource: dict[str, Any], kubernetes_version: str, schemas: Path = SCHEMAS) -> list[str]:
    """Every problem with one resource, as readable lines."""
    where = f"{resource.get('kind')}/{(resource.get('metadata') or {}).get('name')}"
    schema = crd_schema(resource, schemas)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        return [
            f"{where}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(resource), key=lambda e: list(map(str, e.absolute_path)))
        ]
    if not is_builtin(resource):
        return [f"{where}: no schema for {resource.get('apiVersion')} {resource.get('kind')} (add one to {schemas})"]
    try:
        kubernetes_validate.validate(resource, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path) or "<root>"
        return [f"{where}: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{where}: {error.message}"]
    return []


def main(argv: list[str] | None = None) -> int:
    """Validate every document of the given files; exit 1 if any is invalid."""
    parser = argparse.ArgumentParser(description="offline schema validation of rendered manifests")
    parser.add_argument("--kubernetes-version", default="1.31")
    parser.add_argument("--schemas", type=Path, default=SCHEMAS, help="directory of the CRD schemas")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    problems: list[str] = []
    count = 0
    for path in args.files:
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            count += 1
            problems.extend(
                f"{path.name}: {line}" for line in validate(document, args.kubernetes_version, args.schemas)
            )
    for line in problems:
        print(f"INVALID {line}", file=sys.stderr)
    print(f"validated {count} resources against Kubernetes {args.kubernetes_version}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
