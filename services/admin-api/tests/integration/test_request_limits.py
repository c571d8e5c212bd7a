"""A huge body costs admin-api at most its endpoint's limit: no key or a wrong one means 401 (or 429 past the
address's budget) before any byte is read, a Content-Length past the limit means 413 at once, a chunked body is
cut off with 413 at the limit, and an upload past the process's concurrent uploads waits its turn (429). The key
checked before the body is not looked up again by the endpoint, unless the body took longer than a few seconds
(a key revoked meanwhile no longer passes).
Measured over real HTTP (uvicorn in-process), counting the body bytes the app was handed, with a client
that keeps sending until the answer comes."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import h11
import httpx
import pytest
import uvicorn
from admin_api.domain.access import Principal
from admin_api.entrypoints.http.limits import KEY_REUSE_SECONDS
from admin_api.entrypoints.http.security import ApiServices
from customer_agent_shared.testing.plumbing import eventually
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .harness import OPERATOR, Harness
from .test_rate_limits import SMALL, budgets_of

pytestmark = pytest.mark.integration

CHUNK = 64 * 1024
HUGE = 32 * 1024 * 1024


class BodyMeter:
    """Wraps the app and counts the request body bytes it received."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a receive that counts."""

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class SlowBody:
    """A body of ``total`` bytes sent chunk by chunk, remembering how far the sending got."""

    def __init__(self, total: int = HUGE, head: bytes = b"") -> None:
        self.total = total
        self.head = head
        self.sent = 0
        self.exhausted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            yield self.head
        while self.sent < self.total:
            self.sent += CHUNK
            yield b"x" * CHUNK
            await asyncio.sleep(0.001)
        self.exhausted = True


@dataclass
class Answer:
    """The response to a request whose body was still being sent when it came."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]


async def send_slowly(port: int, method: str, path: str, headers: dict[str, str], body: SlowBody) -> Answer:
    """Send the request, its body chunk by chunk, while reading: stop sending once the response is in."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = h11.Connection(h11.CLIENT)
    if "Content-Length" not in headers:
        headers = {**headers, "Transfer-Encoding": "chunked"}
    request = h11.Request(method=method, target=path, headers=[("Host", "admin-api"), *headers.items()])
    writer.write(connection.send(request) or b"")

    async def pump() -> None:
        async for chunk in body:
            writer.write(connection.send(h11.Data(data=chunk)) or b"")
            await writer.drain()
        writer.write(connection.send(h11.EndOfMessage()) or b"")

    pumping = asyncio.create_task(pump())
    try:
        response, content = await asyncio.wait_for(_read_response(reader, connection), timeout=60)
    finally:
        pumping.cancel()
        writer.close()
    return Answer(
        response.status_code,
        {name.decode(): value.decode() for name, value in response.headers},
        json.loads(content),
    )


async def _read_response(reader: asyncio.StreamReader, connection: h11.Connection) -> tuple[h11.Response, bytes]:
    response: h11.Response | None = None
    content = b""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            content += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            return response, content
        else:
            raise AssertionError(f"unexpected {event!r}")


def _started(server: uvicorn.Server) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return server.started

    return check


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[tuple[int, BodyMeter]]:
    """The app behind uvicorn on a free local port, counting the body bytes it reads."""
    meter = BodyMeter(app)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(meter, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(_started(server), "uvicorn listening", within=10.0)
        yield listener.getsockname()[1], meter
    finally:
        server.should_exit = True
        await serving
        listener.close()


async def test_a_huge_body_without_a_key_is_refused_before_a_byte_is_read(harness: Harness) -> None:
    account = await harness.new_account()
    body = SlowBody()
    async with served(harness.app) as (port, meter):
        answer = await send_slowly(port, "PUT", account.path("/agent"), {"Content-Type": "application/json"}, body)
    assert answer.status == 401, answer.body
    assert answer.body["error"]["code"] == "unauthenticated"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert meter.read == 0
    assert not body.exhausted


async def test_a_declared_length_past_the_limit_is_refused_before_a_byte_is_read(harness: Harness) -> None:
    account = await harness.new_account()
    body = SlowBody()
    headers = {**account.edit, "Content-Type": "application/json", "Content-Length": str(HUGE)}
    async with served(harness.app) as (port, meter):
        answer = await send_slowly(port, "PUT", account.path("/agent"), headers, body)
    assert answer.status == 413, answer.body
    assert answer.body["error"]["code"] == "payload_too_large"
    assert "limit" in answer.body["error"]["message"]
    assert meter.read == 0
    assert not body.exhausted


async def test_a_chunked_body_is_cut_off_at_the_limit(harness: Harness) -> None:
    account = await harness.new_account()
    body = SlowBody()
    headers = {**account.edit, "Content-Type": "application/json"}
    async with served(harness.app) as (port, meter):
        answer = await send_slowly(port, "PUT", account.path("/agent"), headers, body)
        assert answer.status == 413, answer.body
        assert harness.settings.max_json_body_bytes < meter.read <= harness.settings.max_json_body_bytes + CHUNK
        assert not body.exhausted
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:  # the server carries on
            assert (await client.get(account.path("/agent"), headers=account.read)).status_code == 200


async def test_an_upload_is_cut_off_at_the_upload_limit(harness: Harness) -> None:
    account = await harness.new_account()
    headers, head = upload_parts("limit-test-boundary")
    headers = {**account.edit, **headers}
    body = SlowBody(head=head)
    async with served(harness.app) as (port, meter):
        answer = await send_slowly(port, "POST", account.path("/sources/files"), headers, body)
    assert answer.status == 413, answer.body
    upload_limit = harness.settings.max_upload_bytes + 64 * 1024
    assert upload_limit < meter.read <= upload_limit + CHUNK + len(head)
    assert not body.exhausted


def upload_parts(boundary: str) -> tuple[dict[str, str], bytes]:
    """The multipart headers and the head of a file part, its content to follow."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, head


BOGUS = {"Authorization": "Bearer bogus"}


def count_key_lookups(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys admin-api looks up (each a PostgreSQL round trip) from now on, in order."""
    api: ApiServices = harness.app.state.api
    accounts = api.accounts
    authenticate = accounts.authenticate
    looked_up: list[str] = []

    async def counted(key: str) -> Principal | None:
        looked_up.append(key)
        return await authenticate(key)

    monkeypatch.setattr(accounts, "authenticate", counted)
    return looked_up


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("POST", "/sources/files", "unknown or was revoked"),
        ("PUT", "/agent", "unknown or was revoked"),
        ("POST", "/credits/purchases", "operator's bootstrap token"),
    ],
)
async def test_a_huge_body_with_a_wrong_key_is_refused_before_a_byte_is_read(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, method: str, path: str, message: str
) -> None:
    account = await harness.new_account()
    looked_up = count_key_lookups(harness, monkeypatch)
    headers, head = upload_parts("wrong-key-boundary")
    body = SlowBody(head=head)
    async with served(harness.app) as (port, meter):
        answer = await send_slowly(port, method, account.path(path), {**BOGUS, **headers}, body)
    assert answer.status == 401, answer.body
    assert message in answer.body["error"]["message"]
    assert meter.read == 0
    assert not body.exhausted
    assert looked_up == ["bogus"]


async def test_wrong_keys_are_charged_to_the_address_before_a_byte_is_read(harness: Harness) -> None:
    account = await harness.new_account()
    headers, head = upload_parts("budget-boundary")
    async with budgets_of(harness, SMALL, harness.settings.redis_url), served(harness.app) as (port, meter):
        statuses = []
        for _ in range(4):
            body = SlowBody(head=head)
            answer = await send_slowly(port, "POST", account.path("/sources/files"), {**BOGUS, **headers}, body)
            statuses.append(answer.status)
    assert statuses == [401, 401, 401, 429]
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert meter.read == 0


async def test_a_request_with_a_body_looks_its_key_up_once(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    account, other = await harness.new_account(), await harness.new_account()
    profile = {"name": "Ada", "role": "sales_representative", "personality": "witty"}
    looked_up = count_key_lookups(harness, monkeypatch)
    saved = await harness.client.put(account.path("/agent"), json=profile, headers=account.edit)
    assert saved.status_code == 200, saved.text
    assert looked_up == [account.edit_key]
    # The endpoint still checks the permission and the account of the key found before the body.
    read_only = await harness.client.put(account.path("/agent"), json=profile, headers=account.read)
    assert read_only.status_code == 403, read_only.text
    elsewhere = await harness.client.put(other.path("/agent"), json=profile, headers=account.edit)
    assert elsewhere.status_code == 404, elsewhere.text
    assert looked_up == [account.edit_key, account.read_key, account.edit_key]


class PausedUpload(SlowBody):
    """An upload that sends its head, waits until ``resume`` is set, then sends the rest."""

    def __init__(self, head: bytes, tail: bytes) -> None:
        super().__init__(head=head)
        self.tail = tail
        self.resume = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        await self.resume.wait()
        yield self.tail


async def test_a_key_revoked_while_an_upload_trickles_in_no_longer_authorises_it(harness: Harness) -> None:
    account = await harness.new_account()
    keys = (await harness.client.get(f"/v1/accounts/{account.id}/api-keys", headers=OPERATOR)).json()
    edit_key_id = next(key["id"] for key in keys if "customer_agent:edit" in key["permissions"])
    headers, head = upload_parts("revoked-boundary")
    body = PausedUpload(head, b"Opening hours are 9 to 17.\r\n--revoked-boundary--\r\n")
    async with served(harness.app) as (port, meter):
        upload = asyncio.create_task(
            send_slowly(port, "POST", account.path("/sources/files"), {**account.edit, **headers}, body)
        )

        async def key_checked_and_body_read() -> bool:
            return meter.read >= len(head)

        await eventually(key_checked_and_body_read, "the middleware passing the key and the upload's head read")
        revoked = await harness.client.delete(f"/v1/accounts/{account.id}/api-keys/{edit_key_id}", headers=OPERATOR)
        assert revoked.status_code == 204, revoked.text
        await asyncio.sleep(KEY_REUSE_SECONDS + 0.5)  # the upload is slower than the key found before it is reused
        body.resume.set()
        answer = await upload
    assert answer.status == 401, answer.body
    assert "revoked" in answer.body["error"]["message"]
    listed = await harness.client.get(account.path("/sources"), headers=account.read)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


class HeldBody(SlowBody):
    """A body that sends its head, then waits, as a slow client's upload does."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        await asyncio.Event().wait()


async def test_uploads_past_the_process_limit_wait_their_turn(harness: Harness) -> None:
    account = await harness.new_account()
    headers, head = upload_parts("busy-boundary")
    headers = {**account.edit, **headers}
    slots = harness.settings.max_concurrent_uploads
    path = account.path("/sources/files")
    async with served(harness.app) as (port, meter):
        bodies = [HeldBody(head=head) for _ in range(slots)]
        held = [asyncio.create_task(send_slowly(port, "POST", path, headers, body)) for body in bodies]

        async def all_started() -> bool:
            return meter.read >= slots * len(head)

        try:
            await eventually(all_started, "the uploads that fill every slot under way")
            answer = await send_slowly(port, "POST", path, headers, HeldBody(head=head))
            assert answer.status == 429, answer.body
            assert answer.headers["retry-after"] == "5"
            assert "uploads" in answer.body["error"]["message"]
            assert meter.read == slots * len(head)
        finally:
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:  # the slots are free again

            async def uploaded() -> int | None:
                files = {"file": ("faq.txt", b"Opening hours are 9 to 17.", "text/plain")}
                response = await client.post(path, files=files, headers=account.edit)
                return response.status_code if response.status_code != 429 else None

            assert await eventually(uploaded, "an upload once the held ones are gone") == 201
