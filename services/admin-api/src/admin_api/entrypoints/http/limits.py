"""Request limits enforced before anything reads a body: the bearer header must be there, and with a body it
must be a valid key (or the operator's token), whose principal is left in the request's state for the endpoint
(for a few seconds: a slower body has its key looked up again); a body may not outgrow its endpoint's limit,
whether its Content-Length says so or its chunks add up to it; and only so many uploads run at once in a
process."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin_api.domain.access import Principal, tokens_equal
from admin_api.domain.errors import AdminError, PayloadTooLarge, TooManyRequests
from admin_api.entrypoints.http.errors import admin_error_json

REFUSED = Counter(
    "customer_agent_admin_api_requests_refused_early_total",
    "Requests refused before their body was read, by reason (no_credentials, invalid_credentials, "
    "auth_rate_limited, body_too_large, uploads_busy).",
    ["reason"],
)

CredentialsCheck = Callable[[str], AdminError | None]
"""Why a request to this path without any ``Authorization: Bearer`` header is refused, or None."""
UPLOAD_RETRY_SECONDS = 5
AUTHENTICATED = "authenticated_key"
"""The request state's ``FoundKey`` of the key this middleware found, so the endpoint need not look it up."""
KEY_REUSE_SECONDS = 5.0
"""How long after the middleware found a key the endpoint takes it as still active: a body sent more slowly
(a trickled upload) has its key looked up again, so a key revoked meanwhile no longer passes."""


@dataclass(frozen=True)
class FoundKey:
    """A key this middleware found active: its token, whose it is, and when (``time.monotonic()``)."""

    token: str
    principal: Principal
    at: float


@dataclass(frozen=True)
class KeyVerdict:
    """Why a request's bearer token is refused, or whose key it is (neither for the operator's token)."""

    refusal: AdminError | None = None
    principal: Principal | None = None


KeyCheck = Callable[[str, str, str], Awaitable[KeyVerdict]]
"""The verdict on a request to this path with this bearer token, from this client address."""


def principal_found(scope: Scope, token: str) -> Principal | None:
    """The principal this middleware found for ``token`` on this request at most ``KEY_REUSE_SECONDS`` ago, or
    None (the key is to be looked up again)."""
    found: FoundKey | None = scope.get("state", {}).get(AUTHENTICATED)
    if found is None or not tokens_equal(found.token, token) or time.monotonic() - found.at > KEY_REUSE_SECONDS:
        return None
    return found.principal


@dataclass(frozen=True)
class BodyLimits:
    """The largest body each endpoint takes, in bytes."""

    json_bytes: int
    upload_bytes: int
    upload_path: re.Pattern[str]

    def is_upload(self, method: str, path: str) -> bool:
        """Whether this request uploads a file."""
        return method == "POST" and bool(self.upload_path.match(path))

    def for_request(self, method: str, path: str) -> int:
        """The limit of this request's body."""
        return self.upload_bytes if self.is_upload(method, path) else self.json_bytes


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
    return None


def _has_body(scope: Scope) -> bool:
    declared = _declared_length(scope)
    return bool(declared) or any(name == b"transfer-encoding" for name, _ in scope["headers"])


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than this endpoint's limit of {limit} bytes ({limit / 1_048_576:.1f} MiB)."
    )


async def _refuse(error: AdminError, reason: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer in the error shape at once. The connection stays open: the server drops the rest of the body as
    it arrives (never buffering it), and a client still sending is not reset before it reads the answer."""
    REFUSED.labels(reason=reason).inc()
    await admin_error_json(error)(scope, receive, send)


class RequestLimits:
    """Pure ASGI middleware: 401 without a bearer header, or with a body and no valid key; 413 past the body
    limit; 429 when the process already runs its most uploads. All before (or, for 413, while) the body is
    read, so a huge body costs at most its endpoint's limit, and only a valid key's."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: BodyLimits,
        credentials_refusal: CredentialsCheck,
        key_check: KeyCheck,
        upload_slots: int,
    ) -> None:
        self.app = app
        self.limits = limits
        self.credentials_refusal = credentials_refusal
        self.key_check = key_check
        self.upload_slots = upload_slots
        self.uploads = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the headers and the key, then pass the request on with its body counted as it streams in."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused, reason = await self._credentials_refusal(scope)
        if refused is not None:
            await _refuse(refused, reason, scope, receive, send)
            return
        limit = self.limits.for_request(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(_too_large(limit), "body_too_large", scope, receive, send)
            return
        if not self.limits.is_upload(scope["method"], scope["path"]):
            await _CountedRequest(self.app, limit, scope, receive, send).run()
            return
        if self.uploads >= self.upload_slots:  # each may spill its file to the pod's small /tmp
            busy = f"This server is receiving its most uploads at once ({self.upload_slots}); retry in a moment."
            refusal = TooManyRequests(busy, retry_after_seconds=UPLOAD_RETRY_SECONDS)
            await _refuse(refusal, "uploads_busy", scope, receive, send)
            return
        self.uploads += 1
        try:
            await _CountedRequest(self.app, limit, scope, receive, send).run()
        finally:
            self.uploads -= 1

    async def _credentials_refusal(self, scope: Scope) -> tuple[AdminError | None, str]:
        """Why the request is refused for its credentials (and the metric's reason), or None."""
        refused = self.credentials_refusal(scope["path"])
        if refused is None:
            return None, ""  # outside the API that takes keys
        token = _bearer(scope)
        if token is None:
            return refused, "no_credentials"
        if not _has_body(scope):
            return None, ""  # the endpoint checks it, charging the same budgets, with nothing to read first
        verdict = await self.key_check(scope["path"], token, _client(scope))
        if verdict.principal is not None:
            scope.setdefault("state", {})[AUTHENTICATED] = FoundKey(token, verdict.principal, time.monotonic())
        if isinstance(verdict.refusal, TooManyRequests):
            return verdict.refusal, "auth_rate_limited"  # the address's failed-authentication budget is spent
        return verdict.refusal, "invalid_credentials"


class _CountedRequest:
    """One request whose body is cut off with a 413 once more than ``limit`` bytes have arrived."""

    def __init__(self, app: ASGIApp, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        self.app, self.limit, self.scope = app, limit, scope
        self.outer_receive, self.outer_send = receive, send
        self.received = 0
        self.exceeded = False
        self.app_responded = False
        self.answered_by_limit = False

    async def run(self) -> None:
        """Run the app on the counted body."""
        await self.app(self.scope, self.receive, self.send)

    async def receive(self) -> Message:
        """The next body chunk; past the limit, the 413 goes out and the app sees the client gone."""
        if self.exceeded:
            return {"type": "http.disconnect"}
        message = await self.outer_receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                if not self.app_responded:
                    self.answered_by_limit = True
                    await _refuse(
                        _too_large(self.limit), "body_too_large", self.scope, self.outer_receive, self.outer_send
                    )
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        """Pass the app's response on, unless the 413 already answered the request."""
        if self.answered_by_limit:
            return  # the app answering the "disconnected" request after the 413
        if message["type"] == "http.response.start":
            self.app_responded = True
        await self.outer_send(message)
