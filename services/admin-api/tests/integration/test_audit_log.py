"""The audit log's filters as an outside tool sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from .harness import Harness, get_until

pytestmark = pytest.mark.integration


async def test_audit_log_reads_a_time_without_an_offset_as_utc(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    log = (await get_until(harness, account, "/audit-log", lambda body: bool(body["items"])))["items"]
    newest = datetime.fromisoformat(log[0]["at"])
    for moment, expected in ((newest, 1), (newest + timedelta(seconds=1), 0)):
        naive = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
        for value in (naive, moment.astimezone(timezone(timedelta(hours=2))).isoformat()):
            page = await client.get(account.path("/audit-log"), params={"from": value}, headers=account.read)
            assert page.status_code == 200, page.text
            assert len([entry for entry in page.json()["items"] if entry["at"] == log[0]["at"]]) == expected
