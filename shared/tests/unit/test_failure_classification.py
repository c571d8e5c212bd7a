"""Which handler failures are permanent (dead-letter now), transient (wait it out) or unknown (a few tries)."""

from __future__ import annotations

import ssl

import asyncpg.exceptions as pg  # type: ignore[import-untyped]
import httpx
import pytest
import redis.exceptions as redis_errors
import sqlalchemy.exc as sa
from aiokafka import errors as kafka
from customer_agent_shared.events.envelope import EventParseError
from customer_agent_shared.messaging.failures import (
    FailureKind,
    HandlerTimeoutError,
    PermanentHandlerError,
    TransientHandlerError,
    classify,
)
from opensearchpy import exceptions as opensearch
from pydantic import BaseModel, ValidationError

PERMANENT, TRANSIENT, UNKNOWN = FailureKind.PERMANENT, FailureKind.TRANSIENT, FailureKind.UNKNOWN


class Payload(BaseModel):
    """Test model."""

    n: int


def validation_error() -> ValidationError:
    try:
        Payload.model_validate({"n": "many"})
    except ValidationError as error:
        return error
    raise AssertionError("validated")


def http_status(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://model/v1/chat")
    return httpx.HTTPStatusError("status", request=request, response=httpx.Response(status, request=request))


def sqlalchemy_error(orig: Exception, *, invalidated: bool = False) -> sa.DBAPIError:
    error = sa.OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)
    error.__cause__ = orig
    return error


def chained(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    "error",
    [
        EventParseError("message body is not JSON"),
        validation_error(),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        PermanentHandlerError("unknown billing command type"),
        chained(PermanentHandlerError("refused"), ConnectionResetError()),  # the handler's word wins
    ],
)
def test_unreadable_invalid_or_refused_input_is_permanent(error: Exception) -> None:
    assert classify(error).kind is PERMANENT


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (pg.SerializationError("could not serialize access"), "postgres"),
        (pg.DeadlockDetectedError("deadlock detected"), "postgres"),
        (pg.CannotConnectNowError("the database system is starting up"), "postgres"),
        (pg.AdminShutdownError("terminating connection due to administrator command"), "postgres"),
        (pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), "postgres"),
        (pg.TooManyConnectionsError("too many clients"), "postgres"),
        (pg.InterfaceError("cannot perform operation: connection is closed"), "postgres"),
        (sqlalchemy_error(pg.SerializationError("could not serialize")), "postgres"),
        (sqlalchemy_error(RuntimeError("closed"), invalidated=True), "postgres"),
        (sa.TimeoutError("QueuePool limit of size 5 overflow 10 reached"), "postgres"),
        (opensearch.ConnectionError("N/A", "refused", ConnectionRefusedError()), "opensearch"),
        (opensearch.ConnectionTimeout("TIMEOUT", "timed out", TimeoutError()), "opensearch"),
        (opensearch.TransportError(429, "circuit_breaking_exception", {}), "opensearch"),
        (opensearch.TransportError(503, "unavailable", {}), "opensearch"),
        (httpx.ConnectError("refused"), "http"),
        (httpx.ReadTimeout("timed out"), "http"),
        (http_status(429), "http"),
        (http_status(503), "http"),
        (redis_errors.ConnectionError("Connection refused"), "redis"),
        (redis_errors.TimeoutError("Timeout reading from socket"), "redis"),
        (redis_errors.BusyLoadingError("loading the dataset"), "redis"),
        (redis_errors.LockNotOwnedError("lock lost"), "redis"),
        (kafka.KafkaConnectionError("no broker"), "kafka"),
        (kafka.RequestTimedOutError(), "kafka"),
        (kafka.KafkaTimeoutError(), "kafka"),
        (kafka.NotLeaderForPartitionError(), "kafka"),
        (ConnectionRefusedError(111, "Connect call failed"), "connection"),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0)"), "connection"),
        (TimeoutError(), "timeout"),
        (TransientHandlerError("model provider overloaded"), "handler"),
        (HandlerTimeoutError("took longer than 60 s"), "handler_timeout"),
    ],
)
def test_an_unavailable_dependency_is_transient(error: Exception, reason: str) -> None:
    failure = classify(error)
    assert (failure.kind, failure.reason) == (TRANSIENT, reason)


@pytest.mark.parametrize(
    "error",
    [
        KeyError("thread_id"),
        RuntimeError("cannot greet"),
        FileNotFoundError("prompts/answer.txt"),
        PermissionError("/var/lib/models"),
        pg.UniqueViolationError("duplicate key value"),
        sqlalchemy_error(pg.UndefinedColumnError('column "x" does not exist')),
        opensearch.TransportError(400, "mapper_parsing_exception", {}),
        opensearch.NotFoundError(404, "index_not_found_exception", {}),
        http_status(400),
        http_status(500),
        redis_errors.ResponseError("WRONGTYPE"),
        kafka.MessageSizeTooLargeError(),
        httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."),
        httpx.LocalProtocolError("Illegal header value"),
        ssl.SSLCertVerificationError(1, "certificate verify failed"),
    ],
)
def test_anything_else_is_unknown_a_bug_until_shown_otherwise(error: Exception) -> None:
    assert classify(error).kind is UNKNOWN


def raised_while_handling_a_reset(*, drop_context: bool) -> KeyError:
    """A KeyError raised in an ``except ConnectionResetError`` block (its context dropped or kept)."""
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError:
            if drop_context:
                raise KeyError("fallback") from None
            raise KeyError("fallback")  # noqa: B904 - the implicit context is what is tested
    except KeyError as error:
        return error
    raise AssertionError("not raised")


def test_an_error_raised_from_or_during_an_outage_is_transient() -> None:
    assert classify(chained(RuntimeError("reply failed"), pg.AdminShutdownError("shutdown"))).kind is TRANSIENT
    assert classify(raised_while_handling_a_reset(drop_context=False)).reason == "connection"
    assert classify(raised_while_handling_a_reset(drop_context=True)).kind is UNKNOWN  # not a cause any more


def test_a_cyclic_chain_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert classify(first).kind is UNKNOWN
