"""check.sh (make k8s-check) passes on the manifests and FAILS on deliberately broken copies.

Each case copies deploy/k8s to a temporary directory, breaks one thing the way a person
editing it could, and runs the real check.sh on the copy with --k8s-dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

K8S = Path(__file__).resolve().parents[1]
RULES = "base/observability/prometheus-rules.yaml"


def copy_of_k8s(tmp_path: Path) -> Path:
    """A copy of deploy/k8s without its tests."""
    target = tmp_path / "k8s"
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return target


def run_check(k8s_dir: Path, *, skip_generate: bool) -> subprocess.CompletedProcess[str]:
    """Run the real check.sh against ``k8s_dir``."""
    env = {**os.environ, "K8S_CHECK_SKIP_GENERATE": "1" if skip_generate else "0"}
    return subprocess.run(
        ["bash", str(K8S / "check.sh"), "--k8s-dir", str(k8s_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def replace(path: Path, old: str, new: str) -> None:
    """Replace one exact occurrence, failing loudly if the fixture text moved."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_check_passes_on_an_untouched_copy(tmp_path: Path) -> None:
    result = run_check(copy_of_k8s(tmp_path), skip_generate=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k8s-check passed" in result.stdout


def test_check_fails_when_a_generated_manifest_drifts_from_the_registry(tmp_path: Path) -> None:
    k8s = copy_of_k8s(tmp_path)
    topics = k8s / "base/kafka/topics.yaml"
    replace(topics, "partitions: 6", "partitions: 12")
    result = run_check(k8s, skip_generate=False)
    assert result.returncode != 0
    assert "stale generated files" in result.stderr
    assert "topics.yaml" in result.stderr


BREAKAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "overlay patch with a wrong type": (
        lambda k8s: replace(
            k8s / "overlays/dev/kustomization.yaml",
            "{op: replace, path: /spec/minReplicas, value: 1}",
            '{op: replace, path: /spec/minReplicas, value: "one"}',
        ),
        "spec.minReplicas: 'one' is not of type",
    ),
    "misspelt field in a custom resource": (
        lambda k8s: replace(
            k8s / "overlays/prod/kustomization.yaml",
            "path: /spec/config/min.insync.replicas",
            "path: /spec/configs",
        ),
        "KafkaTopic/",
    ),
    "kustomization pointing at a missing file": (
        lambda k8s: replace(k8s / "base/kustomization.yaml", "- common.yaml", "- commons.yaml"),
        "kustomize build of overlay",
    ),
    "invalid PromQL in an alert": (
        lambda k8s: replace(
            k8s / RULES,
            "changes(customer_agent_service_ready[15m]) > 3",
            "changes(customer_agent_service_ready[15m] > 3",
        ),
        "promtool check rules",
    ),
    "alert on a metric nobody exports": (
        lambda k8s: replace(
            k8s / RULES, "customer_agent_outbox_pending) >= 100", "customer_agent_outbox_pendng) >= 100"
        ),
        "customer_agent_outbox_pendng",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_check_fails_on_a_broken_copy(case: str, tmp_path: Path) -> None:
    k8s = copy_of_k8s(tmp_path)
    breakage, expected = BREAKAGES[case]
    breakage(k8s)
    result = run_check(k8s, skip_generate=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "k8s-check FAILED" in result.stderr
    assert expected in output
