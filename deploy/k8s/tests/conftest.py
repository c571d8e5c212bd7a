"""Fixtures of the deploy/k8s tests: the generator's view of the services, and the tool cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

K8S = Path(__file__).resolve().parents[1]
REPO = K8S.parents[1]
if str(K8S) not in sys.path:
    sys.path.insert(0, str(K8S))


@pytest.fixture(scope="session")
def services() -> list[dict[str, object]]:
    """The services as generate.py last recorded them (base/services.json)."""
    import json

    return list(json.loads((K8S / "base" / "services.json").read_text()))
