"""The seeded fault plan: which faults, in which order, how long each holds, and the pauses between them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from tests.e2e.stack_control import SERVICES

CONSUMERS = ("conversation", "routing", "billing")
"""Services whose Kafka consumers carry the reply path and metering: the ones a SIGSTOP freezes."""


class FaultKind(StrEnum):
    """One kind of fault the harness applies to the running stack."""

    KILL_SERVICE = "kill_service"
    """kill -9 a service's process group, then start it again."""
    FREEZE_CONSUMER = "freeze_consumer"
    """SIGSTOP a consuming service, SIGCONT it after ``hold_seconds``."""
    STOP_POSTGRES = "stop_postgres"
    """Stop PostgreSQL (fast shutdown) for ``hold_seconds``, then start it."""
    KILL_KAFKA = "kill_kafka"
    """kill -9 the broker, then start it (it recovers its logs)."""
    STOP_OPENSEARCH = "stop_opensearch"
    """Stop OpenSearch for ``hold_seconds``, then start it."""
    FREEZE_OPENSEARCH = "freeze_opensearch"
    """SIGSTOP OpenSearch for ``hold_seconds``: its port still accepts connections, nothing answers."""
    RESTART_REDIS = "restart_redis"
    """Stop Redis and start it again."""


@dataclass(frozen=True)
class Fault:
    """One fault to apply: what, to whom, for how long."""

    kind: FaultKind
    target: str
    hold_seconds: float = 0.0

    def describe(self) -> str:
        """A short human-readable label."""
        hold = f" for {self.hold_seconds:.0f} s" if self.hold_seconds else ""
        return f"{self.kind.value}({self.target}){hold}"


@dataclass(frozen=True)
class PlannedFault:
    """A fault and the pause before it, in its lane."""

    pause_seconds: float
    fault: Fault


@dataclass(frozen=True)
class FaultPlan:
    """Two lanes that run side by side: the stores' faults and the services' processes' faults."""

    seed: int
    stores: tuple[PlannedFault, ...]
    processes: tuple[PlannedFault, ...]


def _store_deck(rng: random.Random, *, postgres_first: bool) -> list[Fault]:
    deck = [
        Fault(FaultKind.KILL_KAFKA, "kafka"),
        Fault(FaultKind.STOP_OPENSEARCH, "opensearch", round(rng.uniform(5, 20), 1)),
        Fault(FaultKind.FREEZE_OPENSEARCH, "opensearch", round(rng.uniform(10, 20), 1)),
        Fault(FaultKind.RESTART_REDIS, "redis"),
    ]
    rng.shuffle(deck)
    postgres = Fault(FaultKind.STOP_POSTGRES, "postgres", round(rng.uniform(10, 30), 1))
    # A short run gets through only part of the deck: the PostgreSQL stop, the fault that dead-letters
    # messages on a consumer that treats an outage as poison, is always in it.
    deck.insert(0 if postgres_first else rng.randrange(len(deck) + 1), postgres)
    return deck


def _process_deck(rng: random.Random) -> list[Fault]:
    deck = [Fault(FaultKind.KILL_SERVICE, service) for service in SERVICES]
    deck.append(Fault(FaultKind.FREEZE_CONSUMER, rng.choice(CONSUMERS), round(rng.uniform(10, 25), 1)))
    rng.shuffle(deck)
    return deck


def plan_faults(seed: int, *, decks: int) -> FaultPlan:
    """The whole plan for a seed: ``decks`` shuffled rounds of every fault in each lane, random pauses."""
    rng = random.Random(seed)
    stores: list[PlannedFault] = []
    processes: list[PlannedFault] = []
    for round_number in range(decks):
        for fault in _store_deck(rng, postgres_first=round_number == 0):
            stores.append(PlannedFault(round(rng.uniform(2, 10), 1), fault))
        for fault in _process_deck(rng):
            processes.append(PlannedFault(round(rng.uniform(2, 12), 1), fault))
    return FaultPlan(seed, tuple(stores), tuple(processes))
