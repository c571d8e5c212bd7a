"""What a handler's failure means for its message: permanent, transient or unknown.

*Permanent*: the message can never succeed (it cannot be parsed, breaks the
contract, or a domain rule refuses it): dead-letter it at once. *Transient*: a
dependency is down, slow or overloaded (a connection error or timeout, an
OpenSearch or HTTP 429/502/503/504, a PostgreSQL serialization conflict,
deadlock, restart or failover, a retriable Kafka error, a lost Redis lock):
the message is fine, so it is retried until the dependency is back and never
dead-lettered. *Unknown*: anything else, most likely a bug: a few retries, then
the dead-letter topic, from where a fixed release can replay it.

The exception chain (``__cause__``, else ``__context__``) is searched from the
outside in and the first error that is permanent or transient decides, so a
``RuntimeError`` raised from a dropped connection is transient, while a
``PermanentHandlerError`` raised while handling one stays permanent.
"""

from __future__ import annotations

import enum
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import redis.exceptions as redis_errors
import sqlalchemy.exc as sqlalchemy_errors
from aiokafka.errors import KafkaError, KafkaTimeoutError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError as OpenSearchTransportError
from pydantic import ValidationError

from customer_agent_shared.events.envelope import EventParseError


class PermanentHandlerError(Exception):
    """Raised by a handler for input that will never succeed: dead-letter it at once."""


class TransientHandlerError(Exception):
    """Raised by a handler when something it needs is unavailable for now: retry until it is back."""


class HandlerTimeoutError(TransientHandlerError):
    """A handler attempt ran longer than the handler timeout and was cancelled."""


class DependencyUnresponsiveError(TransientHandlerError):
    """A handler attempt timed out while a dependency did not answer its health check: an outage."""


class FailureKind(enum.Enum):
    """How the reliable consumer treats a failed message."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Failure:
    """A classified error: its kind and, for metrics and logs, what failed (a bounded label)."""

    kind: FailureKind
    reason: str


PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    EventParseError,
    ValidationError,
    UnicodeDecodeError,
    PermanentHandlerError,
)

RETRY_LATER_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses (OpenSearch, HTTP APIs) that mean "overloaded or restarting: ask again later"."""

TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "57P")
"""Connection exceptions, transaction rollbacks (serialization failure, deadlock), insufficient resources,
and the server shutting down, crashed or starting up."""

_LOCAL_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ssl.SSLCertVerificationError,
)
"""OS errors about this machine's files, or a certificate that will not verify, not about reaching another
machine: a bug or a misconfiguration, which waiting does not fix."""

_REDIS_TRANSIENT = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
    redis_errors.MasterDownError,
    redis_errors.ReadOnlyError,
    redis_errors.LockNotOwnedError,
)

_PERMANENT = Failure(FailureKind.PERMANENT, "permanent")
_UNKNOWN = Failure(FailureKind.UNKNOWN, "unknown")


def classify(error: BaseException) -> Failure:
    """Classify ``error`` by the first permanent or transient error of its chain (see the module)."""
    for link in exception_chain(error):
        if isinstance(link, PERMANENT_ERRORS):
            return _PERMANENT
        reason = transient_reason(link)
        if reason is not None:
            return Failure(FailureKind.TRANSIENT, reason)
    return _UNKNOWN


def exception_chain(error: BaseException, *, limit: int = 20) -> Iterator[BaseException]:
    """``error``, then what caused it (``__cause__``, else ``__context__`` unless suppressed), and so on."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen and len(seen) < limit:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def transient_reason(error: BaseException) -> str | None:
    """What is unavailable when ``error`` alone means a transient failure (None if it does not)."""
    if isinstance(error, HandlerTimeoutError):
        return "handler_timeout"
    if isinstance(error, DependencyUnresponsiveError):
        return "dependency_unresponsive"
    if isinstance(error, TransientHandlerError):
        return "handler"
    return _postgres(error) or _opensearch(error) or _redis(error) or _kafka(error) or _http(error) or _network(error)


def _postgres(error: BaseException) -> str | None:
    # Drivers are looked up, not imported: no error of theirs exists in a process that never imported them.
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES):
        return "postgres"
    if isinstance(error, sqlalchemy_errors.DBAPIError) and error.connection_invalidated:
        return "postgres"
    if isinstance(error, sqlalchemy_errors.DisconnectionError | sqlalchemy_errors.TimeoutError):
        return "postgres"  # a dropped pooled connection; no pooled connection free in time
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(error, asyncpg.InterfaceError) and "connection" in str(error).lower():
        return "postgres"  # "cannot perform operation: connection is closed"
    return None


def _opensearch(error: BaseException) -> str | None:
    if isinstance(error, OpenSearchConnectionError):  # ConnectionTimeout is one too
        return "opensearch"
    if isinstance(error, OpenSearchTransportError) and error.status_code in RETRY_LATER_STATUSES:
        return "opensearch"
    return None


def _redis(error: BaseException) -> str | None:
    return "redis" if isinstance(error, _REDIS_TRANSIENT) else None


def _kafka(error: BaseException) -> str | None:
    if isinstance(error, KafkaTimeoutError) or (isinstance(error, KafkaError) and error.retriable):
        return "kafka"
    return None


def _http(error: BaseException) -> str | None:
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return None
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return None  # a request we built wrong (a URL's scheme, a header): it fails the same way every time
    if isinstance(error, httpx.TransportError):  # connect/read/write/pool timeouts, refused, reset
        return "http"
    if isinstance(error, httpx.HTTPStatusError) and error.response.status_code in RETRY_LATER_STATUSES:
        return "http"
    return None


def _network(error: BaseException) -> str | None:
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, OSError) and not isinstance(error, _LOCAL_OS_ERRORS):
        return "connection"  # refused, reset, unreachable, DNS; asyncio's "Multiple exceptions" too
    return None
