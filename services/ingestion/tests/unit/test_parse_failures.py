"""Files whose content a parser cannot take as it is: refused with a reason, or read with U+FFFD, never a crash."""

from __future__ import annotations

import orjson
import pytest
from ingestion_service.adapters import parse_worker
from ingestion_service.adapters.file_parsers import FileLimits, parse_file
from ingestion_service.adapters.parse_worker import answer, parse_content
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument

from .. import samples

LONG_NUMBER_JSON = b'{"order": ' + b"1" * 5000 + b"}"
LONE_SURROGATE_JSON = b'{"name\\udc00": ["caf\\u00e9 \\ud800 open"]}'


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= character <= "\udfff" for character in text)


def test_a_json_number_past_the_digit_limit_is_refused_with_a_reason() -> None:
    with pytest.raises(DocumentRefused) as refused:
        parse_content("json", "orders.json", LONG_NUMBER_JSON, FileLimits())
    assert refused.value.failure_type == "json_number_too_long"
    assert "'orders.json' was refused: a number in its JSON has more than 4,300 digits" in refused.value.reason
    assert "put it in quotes" in refused.value.reason


async def test_a_json_number_past_the_digit_limit_is_not_a_parser_crash() -> None:
    with pytest.raises(DocumentRefused) as refused:
        await parse_file("orders.json", LONG_NUMBER_JSON, FileLimits())
    assert refused.value.failure_type == "json_number_too_long"  # a ParserStopped would be parser_crash


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("json", LONE_SURROGATE_JSON, "name\ufffd[0]: café \ufffd open"),
        ("pdf", samples.pdf_mapping_x_to_a_lone_surrogate("Opening hours XX daily"), "hours \ufffd\ufffd daily"),
        # These parsers already replace them; kept here so that none starts to pass them on.
        ("html", b"<html><body><p>Open &#xD800; daily, all year round.</p></body></html>", "Open \ufffd daily"),
        ("md", b"# Hours\n\nOpen &#55296; daily.\n", "Open \ufffd daily"),
        ("txt", "Open \ud800 daily.".encode("utf-16", "surrogatepass"), "Open \ufffd daily"),
        ("csv", "day,hours\nMonday,\ud800 9-17\n".encode("utf-16", "surrogatepass"), "hours: \ufffd 9-17"),
    ],
    ids=["json", "pdf", "html", "md", "txt", "csv"],
)
def test_lone_surrogates_in_parsed_text_become_replacement_characters(kind: str, content: bytes, expected: str) -> None:
    document = parse_content(kind, f"hours.{kind}", content, FileLimits())
    assert expected in document.text
    assert not _has_lone_surrogate(document.text + document.title)


async def test_a_lone_surrogate_is_not_a_parser_crash() -> None:
    document = await parse_file("menu.json", LONE_SURROGATE_JSON, FileLimits())
    assert "café \ufffd open" in document.text


@pytest.mark.parametrize("error", [ValueError("invalid literal for int()"), TypeError("'NoneType' object")])
def test_a_parsers_value_or_type_error_is_a_refusal_with_the_detail_kept_for_the_log(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing(kind: str, filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
        raise error

    monkeypatch.setattr(parse_worker, "parse_content", failing)
    monkeypatch.setattr(parse_worker, "reached_memory_limit", lambda: False)
    refused = orjson.loads(answer({"kind": "docx", "filename": "plan.docx"}, b"...", FileLimits()))["refused"]
    assert refused["failure_type"] == "unreadable"
    assert refused["reason"].startswith("'plan.docx' cannot be read: its content is not a .docx file")
    assert type(error).__name__ not in refused["reason"]
    assert refused["detail"] == f"{type(error).__name__}: {error}"


def test_a_value_error_near_the_memory_limit_is_still_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(kind: str, filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
        raise ValueError("parse error")  # what a C parser may say when an allocation fails

    monkeypatch.setattr(parse_worker, "parse_content", failing)
    monkeypatch.setattr(parse_worker, "reached_memory_limit", lambda: True)
    with pytest.raises(MemoryError):
        answer({"kind": "xml", "filename": "big.xml"}, b"<a/>", FileLimits())
