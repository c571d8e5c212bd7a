"""The OpenSearch client's orjson serializer writes what the standard one wrote, and reads responses."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from customer_agent_shared.clients import OrjsonSerializer
from opensearchpy import JSONSerializer
from opensearchpy.exceptions import SerializationError

SERIALIZER = OrjsonSerializer()


def test_a_request_body_reads_back_as_the_standard_encoder_wrote_it() -> None:
    body = {
        "query": {"match": {"stemmed.da.body": "åbningstider 😀"}},
        "when": datetime.datetime(2026, 11, 21, 20, 0, 5, 678, tzinfo=datetime.UTC),
        "day": datetime.date(2026, 11, 21),
        "id": uuid.UUID(int=5),
        "weight": Decimal("1.5"),
        "values": [1, 2.5, None, True],
    }
    written = SERIALIZER.dumps(body)
    assert isinstance(written, str)
    assert json.loads(written) == json.loads(JSONSerializer().dumps(body))
    assert "åbningstider 😀" in written  # not escaped, as before


def test_text_orjson_refuses_goes_through_the_standard_encoder() -> None:
    assert json.loads(SERIALIZER.dumps({"text": "broken \ud800 pair"})) == {"text": "broken \ud800 pair"}
    assert json.loads(SERIALIZER.dumps({1: "not a string key"})) == {"1": "not a string key"}


def test_a_string_body_is_sent_as_it_is() -> None:
    assert SERIALIZER.dumps('{"already":"json"}\n') == '{"already":"json"}\n'


def test_a_response_is_parsed_from_text_or_bytes_and_bad_json_is_a_serialization_error() -> None:
    assert SERIALIZER.loads('{"hits":{"total":{"value":1}}}') == {"hits": {"total": {"value": 1}}}
    assert SERIALIZER.loads(b'{"responses":[]}') == {"responses": []}  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        SERIALIZER.loads("{not json")
