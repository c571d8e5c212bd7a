"""Keys, files, ETags, status, sources: the small pure rules."""

from __future__ import annotations

import pytest
from admin_api.domain.access import Permission, grants, hash_key, new_key_id, new_secret_key
from admin_api.domain.errors import InvalidRequest, PayloadTooLarge, PreconditionFailed, UnsupportedFileType
from admin_api.domain.etags import check_if_match, etag_of
from admin_api.domain.files import ALLOWED_FILE_TYPES, check_upload, file_extension
from admin_api.domain.sources import check_source_url, citations_allowed, is_newer_status
from admin_api.domain.status import AgentStatus, agent_status


def test_keys_are_random_and_only_their_digest_is_kept() -> None:
    key_id = new_key_id()
    first, second = new_secret_key(key_id), new_secret_key(key_id)
    assert first != second
    assert key_id in first
    assert len(hash_key(first)) == 64
    assert hash_key(first) != first


@pytest.mark.parametrize(
    ("permissions", "needed", "allowed"),
    [
        ({"customer_agent:read"}, Permission.READ, True),
        ({"customer_agent:read"}, Permission.EDIT, False),
        ({"customer_agent:edit"}, Permission.READ, True),
        ({"customer_agent:edit"}, Permission.EDIT, True),
        (set(), Permission.READ, False),
    ],
)
def test_permissions(permissions: set[str], needed: Permission, allowed: bool) -> None:
    assert grants(permissions, needed) is allowed


def test_exactly_the_fifteen_file_types_are_allowed() -> None:
    assert sorted(ALLOWED_FILE_TYPES) == sorted(
        ["docx", "htm", "xhtml", "cfg", "pptx", "conf", "csv", "json", "html", "text", "txt", "pdf", "rst", "xml", "md"]
    )


@pytest.mark.parametrize(
    ("name", "extension"),
    [("a.PDF", "pdf"), ("dir/x.tar.gz", "gz"), ("README", ""), (".md", ""), ("notes.md", "md"), ("a\\b.txt", "txt")],
)
def test_file_extension(name: str, extension: str) -> None:
    assert file_extension(name) == extension


@pytest.mark.parametrize("name", [f"file.{ext}" for ext in ALLOWED_FILE_TYPES])
def test_allowed_uploads_pass(name: str) -> None:
    assert check_upload(name, 10, 100) == name.rsplit(".", 1)[1]


@pytest.mark.parametrize(
    ("name", "size", "error", "text"),
    [
        ("virus.exe", 10, UnsupportedFileType, "docx, htm, xhtml"),
        ("README", 10, UnsupportedFileType, "without an extension"),
        ("big.pdf", 101, PayloadTooLarge, "limit"),
        ("empty.txt", 0, InvalidRequest, "empty"),
        ("  ", 10, InvalidRequest, "no name"),
    ],
)
def test_refused_uploads(name: str, size: int, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        check_upload(name, size, 100)


def test_etags_change_with_content_and_if_match_is_checked() -> None:
    etag = etag_of({"name": "Ada"})
    assert etag == etag_of({"name": "Ada"})
    assert etag != etag_of({"name": "Bob"})
    for header in (None, "*", etag, f"W/{etag}", f'"other", {etag}'):
        check_if_match(header, etag, "agent profile")
    with pytest.raises(PreconditionFailed, match="changed since you read it"):
        check_if_match('"stale"', etag, "agent profile")


@pytest.mark.parametrize(
    ("paused", "exhausted", "status"),
    [
        (False, False, AgentStatus.RUNNING),
        (True, False, AgentStatus.PAUSED_MANUAL),
        (False, True, AgentStatus.PAUSED_CREDITS_EXHAUSTED),
        (True, True, AgentStatus.PAUSED_MANUAL),
    ],
)
def test_agent_status(paused: bool, exhausted: bool, status: AgentStatus) -> None:
    assert agent_status(paused=paused, credits_exhausted=exhausted) is status


@pytest.mark.parametrize(
    ("requested", "private", "allowed"), [(True, False, True), (True, True, False), (False, False, False)]
)
def test_private_content_is_never_cited(requested: bool, private: bool, allowed: bool) -> None:
    assert citations_allowed(requested=requested, private=private) is allowed


@pytest.mark.parametrize(("stored", "incoming", "newer"), [(None, 0, True), (1, 2, True), (2, 2, False), (3, 1, False)])
def test_older_status_reports_are_ignored(stored: int | None, incoming: int, newer: bool) -> None:
    assert is_newer_status(stored, incoming) is newer


@pytest.mark.parametrize("url", ["ftp://x.com", "example.com", "http://", "javascript:alert(1)"])
def test_only_web_addresses_are_sources(url: str) -> None:
    with pytest.raises(InvalidRequest, match="web address"):
        check_source_url(url)


def test_web_address_is_trimmed() -> None:
    assert check_source_url("  https://help.example.com/a  ") == "https://help.example.com/a"
