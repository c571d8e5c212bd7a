"""schemathesis against the live OpenAPI document: generated requests to every operation (bounded
budget) never cause a 5xx, and every response conforms to the documented schema, codes and types."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from admin_api.handlers.preview import PreviewUseCase
from customer_agent_shared.events.channels import OutboundKind
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.preview import PreviewAnswered, PreviewRequested
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .harness import OPERATOR, Account, Harness

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES_PER_OPERATION = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class EchoConversation:
    """Stands in for Kafka and the conversation service: answers each preview at once."""

    def __init__(self) -> None:
        self.preview = PreviewUseCase(self, timeout_seconds=2.0)  # type: ignore[arg-type]

    async def send_event(self, _topic: str, _key: str, event: CloudEvent[PreviewRequested]) -> None:
        """Reply with an echo of the question."""
        answer = PreviewAnswered(
            account_id=event.data.account_id,
            correlation_id=event.data.correlation_id,
            text=event.data.text,
            kind=OutboundKind.ANSWER,
            language="en",
        )
        asyncio.get_running_loop().call_soon(self.preview.deliver, answer)


def generate_cases(strategy: Any, count: int) -> list[Any]:
    """Draw up to ``count`` cases from a schemathesis strategy (no shrinking, no example database)."""
    cases: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases


async def test_generated_requests_never_fail_the_schema(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    api = harness.service.api
    assert api is not None
    real_preview, api.preview = (
        api.preview,
        EchoConversation().preview,
    )  # the real request/reply: test_credits_and_preview
    try:
        requests = await _run(client, schema, account, failures)
    finally:
        api.preview = real_preview
    assert requests >= 30
    assert not failures, "\n".join(failures[:20])


async def _run(client: Any, schema: Any, account: Account, failures: list[str]) -> int:
    requests = operator_successes = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        is_operator = "operator" in (operation.tags or [])
        pinned = {} if operation.path == "/v1/accounts" else {"account_id": account.id}
        strategy = operation.as_strategy(path_parameters=pinned)
        cases = await asyncio.to_thread(generate_cases, strategy, EXAMPLES_PER_OPERATION)
        for case in cases:
            headers = dict(OPERATOR if is_operator else account.edit)
            kwargs = case.as_transport_kwargs(base_url="http://admin-api", headers=headers)
            data = kwargs.get("data")
            request = client.build_request(
                kwargs["method"],
                kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                content=data if isinstance(data, (bytes, str)) else None,
                data=data if isinstance(data, dict) else None,
                files=_files(kwargs.get("files")),
            )
            await request.aread()  # buffer multipart bodies so the checks can read the request
            response = await client.send(request)
            requests += 1
            if is_operator and response.status_code < 300:
                operator_successes += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as error:  # collect every failure, report them together
                failures.append(f"{operation.label} -> {response.status_code}: {str(error)[:400]}")
    assert operator_successes > 0, "the operator endpoints were never called with the bootstrap token"
    return requests


def _files(files: Any) -> Any:
    """Multipart parts as httpx takes them: every value bytes, str, or a (name, content, type) tuple."""
    if not files:
        return None
    items = files.items() if isinstance(files, dict) else files
    parts = []
    for name, value in items:
        if isinstance(value, tuple):
            parts.append((name, (value[0], _text(value[1]), *value[2:])))
        else:
            parts.append((name, _text(value)))
    return parts


def _text(value: Any) -> Any:
    if isinstance(value, (bytes, str)) or hasattr(value, "read"):
        return value
    return str(value).lower() if isinstance(value, bool) else str(value)
