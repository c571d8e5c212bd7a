"""JSON log lines: the fields a log pipeline reads, the handled event's context, and awkward text."""

from __future__ import annotations

import json
import logging
import sys

from customer_agent_shared.observability.logging import JsonLogFormatter, _ContextFilter, log_context


def _line(record: logging.LogRecord) -> dict[str, object]:
    _ContextFilter("billing").filter(record)
    parsed: dict[str, object] = json.loads(JsonLogFormatter().format(record))
    return parsed


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("billing_service.handlers")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, args, None, extra=extra)


def test_a_line_has_time_level_logger_message_service_extra_fields_and_the_event_context() -> None:
    with log_context(event_id="evt-1", thread_id="t-1", account_id=None):
        line = _line(_record("charged %s credits", 2, outcome="charged", balance=98, items=[1, 2]))
    assert isinstance(line.pop("time"), str)  # its format: the next test
    assert line == {
        "level": "INFO",
        "logger": "billing_service.handlers",
        "message": "charged 2 credits",
        "outcome": "charged",
        "balance": 98,
        "items": [1, 2],
        "service": "billing",
        "event_id": "evt-1",
        "thread_id": "t-1",
    }


def test_the_time_is_the_record_time_to_the_millisecond() -> None:
    record = _record("tick")
    record.created, record.msecs = 1_795_300_000.25, 250.0
    expected = logging.Formatter().formatTime(record)
    assert _line(record)["time"] == expected
    record.created, record.msecs = 1_795_300_001.5, 500.0  # the next second is not the cached one
    assert _line(record)["time"] == logging.Formatter().formatTime(record)


def test_an_exception_and_values_json_cannot_hold_still_make_one_line() -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        record = _record("failed", problem=object(), text="lone \ud800 surrogate")
        record.exc_info = sys.exc_info()
    formatted = JsonLogFormatter().format(record)
    assert "\n" not in formatted
    formatted.encode()  # writable as UTF-8
    line = json.loads(formatted)
    assert line["text"] == "lone \ud800 surrogate"
    assert line["problem"].startswith("<object object")
    assert "ValueError: bad input" in line["exc_info"]
