"""Webchat in-process on real Kafka and Redis: a visitor's socket against the external contract."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from customer_agent_shared.events.channels import MESSAGE_FORWARDED, MESSAGE_RECEIVED, MessageForwarded, MessageReceived
from customer_agent_shared.events.envelope import make_event, parse_event
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CHANNELS_INBOUND, INBOX_HANDOFFS
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .harness import handoff_event, receive, reply_event, running_webchat

pytestmark = pytest.mark.integration


async def test_a_visitor_message_becomes_a_valid_message_received(infrastructure: InfrastructureSettings) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    account = unique_name("acc")
    start = await end_offsets(bootstrap, CHANNELS_INBOUND)
    async with running_webchat(bootstrap) as webchat, webchat.visitor(account, "web") as visitor:
        session = await receive(visitor)
        assert session["type"] == "session"
        thread_id = session["thread_id"]
        await visitor.send(json.dumps({"type": "message", "text": "Hvordan nulstiller jeg?", "locale": "da-DK"}))
        await visitor.send(json.dumps({"type": "message", "text": "And in English?"}))

        def mine(records: list[ReceivedRecord]) -> list[ReceivedRecord]:
            return [record for record in records if record.key == f"{account}:{thread_id}".encode()]

        records = await collect_records(
            bootstrap, CHANNELS_INBOUND, from_offsets=start, until=lambda found: len(mine(found)) >= 2
        )
    events = [parse_event(r.value, MessageReceived, expected_types=(MESSAGE_RECEIVED,)) for r in mine(records)]
    assert [e.data.text for e in events] == ["Hvordan nulstiller jeg?", "And in English?"]
    first, second = events
    assert first.accountid == account
    assert first.data.account_id == account
    assert first.data.channel.type == "live_chat"
    assert first.data.channel.id == "web"
    assert first.data.thread_id == thread_id == second.data.thread_id
    assert first.data.sender.locale == "da-DK"
    assert second.data.sender.locale is None
    assert first.data.sender.id == second.data.sender.id
    assert first.id != second.id
    assert first.data.message_id != second.data.message_id


async def test_a_reply_reaches_the_socket_once_though_delivered_twice(infrastructure: InfrastructureSettings) -> None:
    account = unique_name("acc")
    async with (
        running_webchat(infrastructure.kafka_bootstrap_servers) as webchat,
        webchat.visitor(account, "web") as visitor,
    ):
        thread_id = (await receive(visitor))["thread_id"]
        answer = reply_event(account, thread_id, "Use the Forgot password link.")
        await webchat.reply(answer)
        await webchat.reply(answer)  # at-least-once: the same event again, same id
        # Replies for threads webchat does not hold, or on another channel, are not its business.
        await webchat.reply(reply_event(account, "someone-elses-thread", "not for you"))
        await webchat.reply(reply_event(account, thread_id, "wrong channel", channel_id="other"))
        follow_up = reply_event(account, thread_id, "Anything else?")
        await webchat.reply(follow_up)
        first = await receive(visitor)
        second = await receive(visitor)
    assert first == {
        "type": "message",
        "text": "Use the Forgot password link.",
        "kind": "answer",
        "language": "en",
        "author": {"kind": "ai_agent", "name": "Ava"},
        "citations": [
            {"title": "Password help", "url": "https://acme.example/help/password"},
            {"title": "handbook.pdf", "url": "handbook.pdf"},
        ],
        "powered_by_ai": True,
    }
    # Same partition, so the repeat came before the follow-up: it was dropped, not late.
    assert second["text"] == "Anything else?"


async def test_a_handoff_tells_the_visitor_who_took_over(infrastructure: InfrastructureSettings) -> None:
    account = unique_name("acc")
    async with (
        running_webchat(infrastructure.kafka_bootstrap_servers) as webchat,
        webchat.visitor(account, "web") as visitor,
    ):
        thread_id = (await receive(visitor))["thread_id"]
        handoff = handoff_event(account, thread_id)
        await webchat.hand_off(handoff)
        # A later visitor message forwarded to the inbox is no frame for the visitor.
        forwarded = MessageForwarded(
            account_id=account,
            channel=handoff.data.channel,
            thread_id=thread_id,
            assignee=handoff.data.assignee,
            message=MessageReceived.model_validate(
                {
                    "account_id": account,
                    "channel": {"type": "live_chat", "id": "web"},
                    "thread_id": thread_id,
                    "message_id": "m2",
                    "sender": {"id": "v"},
                    "text": "hello?",
                    "sent_at": handoff.time,
                }
            ),
        )
        forwarded_event = make_event(MESSAGE_FORWARDED, forwarded, source="routing", account_id=account)
        await webchat.publish(INBOX_HANDOFFS, forwarded_event, thread_id)
        # A later handoff of the thread (given back to the agent, then handed off again) behind the forward, on
        # the same partition: the frame after Ada's is Bo's, so the forward between them made none.
        await webchat.hand_off(handoff_event(account, thread_id, assignee_id="bo"))
        assert await receive(visitor) == {"type": "handoff", "assignee": {"kind": "user", "id": "ada"}}
        assert await receive(visitor) == {"type": "handoff", "assignee": {"kind": "user", "id": "bo"}}
        # The reply travels on another topic than the handoffs (no order between them): sent once they are shown.
        await webchat.reply(reply_event(account, thread_id, "Bo is here."))
        assert (await receive(visitor))["text"] == "Bo is here."


async def test_a_reconnecting_visitor_resumes_the_thread_and_gets_what_arrived_meanwhile(
    infrastructure: InfrastructureSettings,
) -> None:
    account = unique_name("acc")
    async with running_webchat(infrastructure.kafka_bootstrap_servers) as webchat:
        async with webchat.visitor(account, "web") as visitor:
            thread_id = (await receive(visitor))["thread_id"]
            await webchat.reply(reply_event(account, thread_id, "seen while connected"))
            assert (await receive(visitor))["text"] == "seen while connected"
        await webchat.reply(reply_event(account, thread_id, "sent while away"))

        async def reply_kept() -> bool:
            kept = await webchat.kept(account, "web", thread_id)
            return any(frame.get("text") == "sent while away" for frame in kept)

        # The handoff travels on another topic than the reply: published once webchat keeps the reply, it is after it.
        await eventually(reply_kept, "webchat keeping the reply for the visitor")
        await webchat.hand_off(handoff_event(account, thread_id))
        async with webchat.visitor(account, "web", thread_id=thread_id) as visitor:
            assert await receive(visitor) == {"type": "session", "thread_id": thread_id}
            assert (await receive(visitor))["text"] == "sent while away"
            assert (await receive(visitor))["type"] == "handoff"
        # A thread webchat does not hold on this channel is not resumed: a new one starts.
        async with webchat.visitor(account, "other", thread_id=thread_id) as visitor:
            other = await receive(visitor)
    assert other["type"] == "session"
    assert other["thread_id"] != thread_id


@pytest.mark.parametrize(
    ("channel", "elsewhere"),
    [("web", ("other",)), ("site/main", ("site", "main", "site/main/more"))],  # a channel id may hold "/"
)
async def test_an_origin_not_allowed_is_refused(
    infrastructure: InfrastructureSettings, channel: str, elsewhere: tuple[str, ...]
) -> None:
    account = unique_name("acc")
    allowed = f"{account}/{channel}=https://shop.example"
    async with running_webchat(
        infrastructure.kafka_bootstrap_servers, allowed_origins=allowed, allow_own_origin=False
    ) as webchat:
        with pytest.raises(InvalidStatus) as refused:
            async with webchat.visitor(account, channel, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403
        assert b"https://evil.example" in refused.value.response.body
        with pytest.raises(InvalidStatus):  # webchat's own pages are refused too once switched off
            async with webchat.visitor(account, channel):
                pass
        for other in elsewhere:  # listed for another channel only
            with pytest.raises(InvalidStatus) as refused:
                async with webchat.visitor(account, other, origin="https://shop.example"):
                    pass
            assert refused.value.response.status_code == 403
        async with webchat.visitor(account, channel, origin="https://shop.example") as visitor:
            assert (await receive(visitor))["type"] == "session"


async def test_a_visitor_over_budget_is_closed_with_try_again_later(infrastructure: InfrastructureSettings) -> None:
    account = unique_name("acc")
    async with (
        running_webchat(infrastructure.kafka_bootstrap_servers, messages_per_visitor="2/minute") as webchat,
        webchat.visitor(account, "web") as visitor,
    ):
        await receive(visitor)
        for text in ("one", "two", "three"):
            await visitor.send(json.dumps({"type": "message", "text": text}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(visitor)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    assert "too many messages" in closed.value.rcvd.reason


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("x" * 5000, 1009),  # larger than the frame limit
        (json.dumps({"type": "message", "text": "y" * 1001}), 1009),  # text longer than allowed
        (json.dumps({"type": "typing"}), 1007),
        (json.dumps({"type": "message", "text": "hi", "locale": "<script>"}), 1007),
    ],
)
async def test_bad_frames_close_the_socket_with_a_reason(
    infrastructure: InfrastructureSettings, frame: str, code: int
) -> None:
    account = unique_name("acc")
    async with (
        running_webchat(infrastructure.kafka_bootstrap_servers, max_frame_bytes=4096, max_text_chars=1000) as webchat,
        webchat.visitor(account, "web") as visitor,
    ):
        await receive(visitor)
        await visitor.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(visitor)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


# A page path, as admin-api accepts a channel id: slashes (leading too) and what a URL must escape.
PATH_CHANNEL = '/help/faq?q=1#top 50% "<é>"'


async def test_a_channel_id_holding_slashes_opens_chats_and_gets_replies(
    infrastructure: InfrastructureSettings,
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    account = unique_name("acc")
    start = await end_offsets(bootstrap, CHANNELS_INBOUND)
    async with running_webchat(bootstrap) as webchat:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{webchat.origin}/demo/{account}/{quote(PATH_CHANNEL, safe='')}")
        assert page.status_code == 200
        assert 'data-channel="/help/faq?q=1#top 50% &quot;&lt;é&gt;&quot;"' in page.text
        async with webchat.visitor(account, PATH_CHANNEL) as visitor:
            thread_id = (await receive(visitor))["thread_id"]
            await webchat.reply(reply_event(account, thread_id, "Here.", channel_id=PATH_CHANNEL))
            assert (await receive(visitor))["text"] == "Here."
            # Sent after the reply: the running stack answers it too, and its answer must not come first.
            await visitor.send(json.dumps({"type": "message", "text": "Where is the FAQ?"}))
            key = f"{account}:{thread_id}".encode()
            records = await collect_records(
                bootstrap, CHANNELS_INBOUND, from_offsets=start, until=lambda found: any(r.key == key for r in found)
            )
        async with webchat.visitor(account, PATH_CHANNEL, thread_id=thread_id) as visitor:
            assert await receive(visitor) == {"type": "session", "thread_id": thread_id}
        # The channel's last segment alone is another channel: the thread is not resumed there.
        async with webchat.visitor(account, PATH_CHANNEL.rsplit("/", 1)[1], thread_id=thread_id) as visitor:
            assert (await receive(visitor))["thread_id"] != thread_id
    mine = [r for r in records if r.key == key]
    received = [parse_event(r.value, MessageReceived, expected_types=(MESSAGE_RECEIVED,)) for r in mine]
    assert [event.data.channel.id for event in received] == [PATH_CHANNEL]


async def test_ids_the_inbound_contract_refuses_open_no_socket_and_no_page(
    infrastructure: InfrastructureSettings,
) -> None:
    refusals = [
        ("acc", "web\x00", "channel id must not contain control characters"),
        ("acc", "line\nbreak", "channel id must not contain control characters"),
        ("acc\x7f", "web", "account id must not contain control characters"),
        ("acc", "c" * 201, "channel id must be 1-200 characters long"),
        ("a" * 101, "web", "account id must be 1-100 characters long"),
    ]
    async with running_webchat(infrastructure.kafka_bootstrap_servers) as webchat, httpx.AsyncClient() as http:
        for account_id, channel_id, words in refusals:
            with pytest.raises(InvalidStatus) as refused:
                async with webchat.visitor(account_id, channel_id):
                    pass
            assert refused.value.response.status_code == 404
            assert words in json.loads(refused.value.response.body)["error"]["message"]
            page = await http.get(f"{webchat.origin}/demo/{quote(account_id, safe='')}/{quote(channel_id, safe='')}")
            assert page.status_code == 404
            assert words in page.json()["detail"]
