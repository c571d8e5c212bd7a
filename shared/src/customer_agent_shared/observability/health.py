"""``/healthz`` (the process is alive), ``/readyz`` (dependencies answer) and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from customer_agent_shared.observability.metrics import DEPENDENCY_UP, SERVICE_READY

ReadinessCheck = Callable[[], Awaitable[bool]]
ReadinessCondition = Callable[[], str | None]
"""A state of the process itself: why it is not ready, or None when it is."""


class Readiness:
    """Named readiness checks, run concurrently with a timeout.

    ``/readyz`` answers from the latest results while they are younger than ``max_age_seconds``, and
    ``keep_fresh`` renews them in the background: a probe then costs no round trip to every
    dependency, and a slow one (an OpenSearch ping on a busy host) never makes the probe itself slow.
    """

    def __init__(self, service: str, timeout_seconds: float = 2.0, *, max_age_seconds: float = 3.0) -> None:
        self.service = service
        self._checks: dict[str, ReadinessCheck] = {}
        self._conditions: dict[str, ReadinessCondition] = {}
        self._timeout = timeout_seconds
        self._max_age = max_age_seconds
        self._latest: tuple[float, dict[str, bool]] | None = None
        self._in_flight: asyncio.Task[dict[str, bool]] | None = None
        self.shutting_down = False

    def add(self, name: str, check: ReadinessCheck) -> None:
        """Register a dependency check."""
        self._checks[name] = check
        self._latest = None

    def add_condition(self, name: str, condition: ReadinessCondition) -> None:
        """Register a condition of the process (a consumer blocked on an outage, say)."""
        self._conditions[name] = condition

    def reasons(self) -> dict[str, str]:
        """Why each condition that does not hold fails."""
        return {name: reason for name, condition in self._conditions.items() if (reason := condition()) is not None}

    async def run(self) -> dict[str, bool]:
        """Run every check now; a check that raises or times out is down."""
        return await self._shared_check_run() | self._condition_status()

    async def dependencies_answer(self) -> bool:
        """Whether every dependency check passes now (the process's own conditions left out)."""
        return all((await self._shared_check_run()).values())

    async def current(self) -> dict[str, bool]:
        """The checks' latest results while fresh (else run them now) and the conditions as they are now."""
        latest = self._latest
        if latest is not None and asyncio.get_running_loop().time() - latest[0] < self._max_age:
            return latest[1] | self._condition_status()
        return await self.run()

    async def keep_fresh(self) -> None:
        """Renew the results twice per ``max_age_seconds`` until cancelled."""
        while True:
            await self._shared_check_run()
            await asyncio.sleep(self._max_age / 2)

    async def _shared_check_run(self) -> dict[str, bool]:
        # Callers that arrive while a run is in flight share it instead of pinging every dependency again.
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.create_task(self._check_dependencies())
        return await asyncio.shield(self._in_flight)

    async def _check_dependencies(self) -> dict[str, bool]:
        async def guarded(check: ReadinessCheck) -> bool:
            try:
                return bool(await asyncio.wait_for(check(), self._timeout))
            except Exception:
                return False

        names = list(self._checks)
        results = await asyncio.gather(*(guarded(self._checks[name]) for name in names))
        status = dict(zip(names, results, strict=True))
        for name, up in status.items():
            DEPENDENCY_UP.labels(service=self.service, dependency=name).set(1 if up else 0)
        self._latest = (asyncio.get_running_loop().time(), status)
        return status

    def _condition_status(self) -> dict[str, bool]:
        failing = self.reasons()
        return {name: name not in failing for name in self._conditions}


def health_router(readiness: Readiness) -> APIRouter:
    """Routes for liveness, readiness and Prometheus metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is running")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": readiness.service}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        responses={503: {"description": "A dependency is down or the service is stopping"}},
    )
    async def readyz() -> JSONResponse:
        checks = await readiness.current()
        ready = all(checks.values()) and not readiness.shutting_down
        SERVICE_READY.labels(service=readiness.service).set(1 if ready else 0)
        body: dict[str, object] = {
            "status": "ready" if ready else "not_ready",
            "service": readiness.service,
            "checks": checks,
        }
        if reasons := readiness.reasons():
            body["reasons"] = reasons
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
