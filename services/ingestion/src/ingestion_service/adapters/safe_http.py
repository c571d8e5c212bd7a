"""HTTP fetching that cannot be pointed at internal services (SSRF-safe).

Every TCP connection is opened by ``GuardedNetworkBackend``: it resolves the
host itself, refuses the connection if any resolved address is private,
loopback, link-local, multicast, reserved or a cloud-metadata address (unless
inside an allowed network), and then connects to exactly the address it
checked — TLS still uses the original host name for SNI and certificate
checks. Redirects are followed by hand, one hop at a time, so each new host is
checked the same way; scheme, hop count, body size and total time are bounded.
"""

from __future__ import annotations

import asyncio
import socket
import typing
from dataclasses import dataclass

import httpcore
import httpx

from ingestion_service.adapters.content_decoding import BoundedDecoder, OverLimit, UndecodableBody
from ingestion_service.domain.network_policy import AddressPolicy
from ingestion_service.domain.urls import UrlRefused, canonicalize

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class FetchRefused(Exception):
    """A URL that was not fetched, with a reason a person can act on."""

    def __init__(self, reason: str, *, kind: str = "refused") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class BlockedAddressError(FetchRefused):
    """The host resolved to an address the crawler must not reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, kind="blocked_address")


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and pins the address of every outgoing connection."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        """Addresses of ``host``, every one checked against the policy (one bad address refuses all)."""
        literal = host.strip("[]")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(literal, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise FetchRefused(f"cannot resolve {host}: {error.strerror}", kind="dns") from error
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            refusal = self._policy.refusal(address)
            if refusal is not None:
                raise BlockedAddressError(f"refused to connect to {host}: it resolves to {refusal}")
        if not addresses:
            raise FetchRefused(f"{host} has no address", kind="dns")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable checked address of ``host``."""
        last_error: Exception | None = None
        for address in await self.resolve(host, port):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never used by the crawler."""
        raise FetchRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the inner backend."""
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections all go through ``GuardedNetworkBackend``."""

    def __init__(self, policy: AddressPolicy, *, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections // 2,
            keepalive_expiry=10.0,
            network_backend=GuardedNetworkBackend(policy),
        )


@dataclass(frozen=True)
class FetchResult:
    """A fetched (or not-modified) resource."""

    requested_url: str
    url: str
    status_code: int
    content_type: str
    body: bytes
    etag: str | None
    last_modified: str | None
    encoding: str | None

    @property
    def not_modified(self) -> bool:
        """The server answered 304 to our conditional request."""
        return self.status_code == 304


@dataclass(frozen=True)
class FetchLimits:
    """Bounds of one fetch."""

    max_bytes: int = 5_000_000
    max_redirects: int = 5
    timeout_seconds: float = 15.0


class SafeFetcher:
    """Fetches http(s) URLs with SSRF protection, manual redirects and size/time limits."""

    def __init__(self, policy: AddressPolicy, *, user_agent: str, limits: FetchLimits) -> None:
        self._limits = limits
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(limits.timeout_seconds),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "text/html,*/*;q=0.5",
    ) -> FetchResult:
        """GET ``url``; raise ``FetchRefused`` for anything unsafe, too big, too slow or unreachable."""
        try:
            async with asyncio.timeout(self._limits.timeout_seconds * (self._limits.max_redirects + 1)):
                return await self._fetch(url, etag, last_modified, accept)
        except TimeoutError as error:
            raise FetchRefused(f"{url}: timed out", kind="timeout") from error

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None, accept: str) -> FetchResult:
        try:
            current = canonicalize(url)
        except UrlRefused as error:
            raise FetchRefused(f"{url}: {error}", kind="scheme") from error
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(self._limits.max_redirects + 1):
            try:
                async with self._client.stream("GET", current, headers=headers) as response:
                    if response.status_code in REDIRECT_CODES:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchRefused(f"{current}: redirect without Location", kind="http_status")
                        try:
                            current = canonicalize(str(response.url.join(location)))
                        except UrlRefused as error:
                            raise FetchRefused(f"{current}: redirect refused: {error}", kind="scheme") from error
                        continue
                    body = b"" if response.status_code == 304 else await self._read_limited(response, current)
                    return FetchResult(
                        requested_url=url,
                        url=current,
                        status_code=response.status_code,
                        content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                        body=body,
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                        encoding=response.charset_encoding,
                    )
            except httpx.TransportError as error:
                raise FetchRefused(f"{current}: {type(error).__name__}: {error}", kind="network") from error
        raise FetchRefused(f"{url}: more than {self._limits.max_redirects} redirects", kind="redirects")

    async def _read_limited(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self._limits.max_bytes:
            raise FetchRefused(
                f"{url}: page is {declared} bytes, over the {self._limits.max_bytes} limit", kind="too_big"
            )
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding"), limit=self._limits.max_bytes)
            parts: list[bytes] = []
            received = 0
            async for raw in response.aiter_raw():
                received += len(raw)
                if received > self._limits.max_bytes:
                    raise OverLimit(f"over the {self._limits.max_bytes} byte limit")
                parts.extend(decoder.feed(raw))
            parts.append(decoder.finish())
        except OverLimit as error:
            raise FetchRefused(f"{url}: page is {error}", kind="too_big") from error
        except UndecodableBody as error:
            raise FetchRefused(f"{url}: {error}", kind="encoding") from error
        return b"".join(parts)
