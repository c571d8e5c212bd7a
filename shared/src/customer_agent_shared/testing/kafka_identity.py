"""Integration tests reach Kafka through the local SCRAM listener, the service under test as its own user.

``deploy/local/kafka.sh`` gives every principal of ``customer_agent_shared.kafka_acls`` a SCRAM user on
``127.0.0.1:$KAFKA_SECURE_PORT``, plus the super user ``admin``. A service's integration suite
(``services/<name>/tests/integration``) runs the service as ``<name>``: the ``KAFKA_*`` variables every
settings class reads (and the processes a test starts inherit), so a topic or consumer group the service
uses without an ACL fails its tests. The tests' own clients play every other party (they create throwaway
topics, publish the service's inputs, read its outputs) and connect as ``admin``: the same variables
prefixed with ``TESTS_`` (``testing.kafka.client_options``). The shared library's suite runs as ``admin``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, MutableMapping
from pathlib import Path

SUPER_USER = "admin"
TESTS_PREFIX = "TESTS_"
"""Prefix of the variables the tests' own Kafka clients read (``TESTS_KAFKA_SASL_USERNAME``, ...)."""


def local_client_env(user: str, repo: Path) -> dict[str, str]:
    """What a client needs on the local SCRAM listener as ``user``, as ``deploy/local/kafka.sh client-env``
    prints it (listener port and password as the local stack has them)."""
    script = repo / "deploy" / "local" / "kafka.sh"
    done = subprocess.run(["bash", str(script), "client-env", user], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{script} client-env {user}` failed: {done.stderr.strip()}; start the stack: make up")
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def suite_user(paths: Iterable[Path], repo: Path) -> str | None:
    """The Kafka user of a session's integration tests: ``<name>`` under ``services/<name>``, the super
    user under ``shared``; None when the session runs no integration test."""
    users = set()
    for path in paths:
        parts = path.relative_to(repo).parts if path.is_relative_to(repo) else ()
        if parts[:3] == ("shared", "tests", "integration"):
            users.add(SUPER_USER)
        elif parts[:1] == ("services",) and parts[2:4] == ("tests", "integration"):
            users.add(parts[1])
    if len(users) > 1:
        raise ValueError(f"integration tests of {sorted(users)} in one session: run one suite per pytest process")
    return next(iter(users), None)


def connect_as(user: str, repo: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """Point ``KAFKA_*`` at the SCRAM listener as ``user``, and ``TESTS_KAFKA_*`` as the super user."""
    environ.update(local_client_env(user, repo))
    environ.update({TESTS_PREFIX + name: value for name, value in local_client_env(SUPER_USER, repo).items()})
