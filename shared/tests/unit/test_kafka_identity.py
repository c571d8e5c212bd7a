"""Which Kafka user a pytest session's integration tests run as."""

from __future__ import annotations

from pathlib import Path

import pytest
from customer_agent_shared.testing.kafka_identity import SUPER_USER, suite_user

REPO = Path("/repo")


def paths(*names: str) -> list[Path]:
    return [REPO / name for name in names]


def test_a_services_integration_tests_run_as_the_service() -> None:
    tests = paths("services/routing/tests/unit/test_x.py", "services/routing/tests/integration/test_y.py")
    assert suite_user(tests, REPO) == "routing"


def test_the_shared_librarys_integration_tests_run_as_the_super_user() -> None:
    assert suite_user(paths("shared/tests/integration/test_outbox.py"), REPO) == SUPER_USER


@pytest.mark.parametrize(
    "names",
    [
        ("services/routing/tests/unit/test_x.py", "shared/tests/unit/test_y.py"),
        ("tests/e2e/test_journey.py", "deploy/k8s/tests/test_manifests.py"),
        (),
    ],
)
def test_sessions_without_integration_tests_keep_the_environment(names: tuple[str, ...]) -> None:
    assert suite_user([*paths(*names), Path("/elsewhere/tests/integration/test_z.py")], REPO) is None


def test_two_services_in_one_session_are_refused() -> None:
    tests = paths("services/routing/tests/integration/test_a.py", "services/billing/tests/integration/test_b.py")
    with pytest.raises(ValueError, match="one suite per pytest process"):
        suite_user(tests, REPO)
