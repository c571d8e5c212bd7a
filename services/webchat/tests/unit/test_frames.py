"""The client frame DESIGN.md pins, checked before anything is published."""

from __future__ import annotations

import json

import pytest
from webchat_service.domain.frames import FrameRefused, VisitorMessage, parse_client_frame


def parse(frame: object) -> VisitorMessage:
    raw = frame if isinstance(frame, str) else json.dumps(frame)
    return parse_client_frame(raw, max_text_chars=100, max_locale_chars=35)


def test_a_message_frame_with_and_without_locale() -> None:
    assert parse({"type": "message", "text": "Hej", "locale": "da-DK"}) == VisitorMessage("Hej", "da-DK")
    assert parse({"type": "message", "text": "Hi"}) == VisitorMessage("Hi", None)


def test_half_of_a_surrogate_pair_is_replaced_and_the_message_kept() -> None:
    message = parse('{"type": "message", "text": "hi \\ud800 \\ud83d\\ude00"}')
    assert message == VisitorMessage("hi \ufffd \U0001f600", None)
    assert message.text.encode() == "hi \ufffd \U0001f600".encode()  # an event can carry it


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        ("{not json", 1007, "not JSON"),
        ('{"type": "message", "text": ' + "[" * 5000 + "]" * 5000 + "}", 1007, "nests too deep"),
        ([1, 2], 1007, "expected"),
        ({"type": "typing"}, 1007, "expected"),
        ({"type": "message"}, 1007, "non-empty"),
        ({"type": "message", "text": "   "}, 1007, "non-empty"),
        ({"type": "message", "text": 5}, 1007, "non-empty"),
        ({"type": "message", "text": "x" * 101}, 1009, "longer than 100"),
        ({"type": "message", "text": "hi", "locale": "da_DK<"}, 1007, "language tag"),
        ({"type": "message", "text": "hi", "locale": "a" * 36}, 1007, "language tag"),
    ],
)
def test_a_frame_outside_the_protocol_is_refused_with_a_reason(frame: object, code: int, words: str) -> None:
    with pytest.raises(FrameRefused, match=words) as refused:
        parse(frame)
    assert refused.value.code == code
