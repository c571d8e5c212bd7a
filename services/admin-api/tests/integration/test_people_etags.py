"""Users and teams are replaced conditionally: two admins editing at once never lose each other's change."""

from __future__ import annotations

import pytest

from .harness import Harness

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("path", "first", "second"),
    [
        ("/users", [{"id": "u-anna", "name": "Anna"}], [{"id": "u-bo", "name": "Bo"}]),
        ("/teams", [{"id": "t-sales", "name": "Sales"}], [{"id": "t-help", "name": "Help"}]),
    ],
)
async def test_a_replace_based_on_a_stale_read_is_refused(
    harness: Harness, path: str, first: list[dict[str, str]], second: list[dict[str, str]]
) -> None:
    client, account = harness.client, await harness.new_account()
    read = await client.get(account.path(path), headers=account.read)
    assert read.status_code == 200
    etag = read.headers["ETag"]
    saved = await client.put(account.path(path), json=first, headers={**account.edit, "If-Match": etag})
    assert saved.status_code == 200, saved.text
    assert saved.headers["ETag"] != etag
    stale = await client.put(account.path(path), json=second, headers={**account.edit, "If-Match": etag})
    assert stale.status_code == 412
    assert "changed since you read it" in stale.json()["error"]["message"]
    after = await client.get(account.path(path), headers=account.read)
    assert [item["id"] for item in after.json()] == [first[0]["id"]]
    assert after.headers["ETag"] == saved.headers["ETag"]
    fresh = await client.put(
        account.path(path), json=second, headers={**account.edit, "If-Match": after.headers["ETag"]}
    )
    assert fresh.status_code == 200
    unconditional = await client.put(account.path(path), json=first, headers=account.edit)
    assert unconditional.status_code == 200
