"""Pure rules of ingestion: URLs, robots.txt, address policy, file types, chunking, progress."""

from __future__ import annotations

import itertools
import time

import pytest
from ingestion_service.domain.chunking import chunk_id, chunk_sections, content_hash
from ingestion_service.domain.documents import DocumentRefused, Section
from ingestion_service.domain.file_types import SUPPORTED_EXTENSIONS, check_file
from ingestion_service.domain.network_policy import AddressPolicy, parse_networks
from ingestion_service.domain.progress import (
    ReportThrottle,
    SourceThrottle,
    SyncProgress,
    VectorsReport,
    vectors_report,
)
from ingestion_service.domain.robots import (
    MAX_LINKS_PER_PAGE,
    MAX_ROBOTS_BYTES,
    count_rules,
    links_per_page,
    parse_robots,
    policy_for_status,
    robots_text,
)
from ingestion_service.domain.urls import UrlRefused, canonicalize, resolve_link, same_site

from .. import samples


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a/../b/./c?b=2&a=1#frag", "http://example.com/b/c?a=1&b=2"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x/", "https://example.com:8443/x/"),
        ("https://example.com/p?utm_source=x&id=3", "https://example.com/p?id=3"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)
def test_canonical_urls(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "http://u:p@h/", "/rel"]
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        canonicalize(url)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("b.html", "https://s.test/a/b.html"),
        ("/c#x", "https://s.test/c"),
        ("#top", None),
        ("mailto:a@b", None),
        ("logo.png", None),
        ("ftp://s.test/x", None),
    ],
)
def test_links_resolve_against_the_page(href: str, expected: str | None) -> None:
    assert resolve_link("https://s.test/a/index.html", href) == expected


def test_same_site_ignores_www_but_not_other_hosts() -> None:
    assert same_site("https://www.s.test/x", "https://s.test/")
    assert not same_site("https://other.test/x", "https://s.test/")
    assert not same_site("http://s.test:81/x", "http://s.test/")


ROBOTS = """
User-agent: *
Disallow: /private/
Allow: /private/public/
Disallow: /*.json$
Crawl-delay: 2

User-agent: CustomerAgentBot
Disallow: /bot-only-blocked
Allow: /page
Disallow: /page

Sitemap: https://s.test/sitemap.xml
"""


@pytest.mark.parametrize(
    ("agent", "path", "allowed"),
    [
        ("OtherBot/2.0", "/private/x", False),
        ("OtherBot/2.0", "/private/public/x", True),  # longest match wins, although Disallow came first
        ("OtherBot/2.0", "/data.json", False),
        ("OtherBot/2.0", "/data.json?x=1", True),  # '$' anchors the end
        ("OtherBot/2.0", "/bot-only-blocked", True),
        ("CustomerAgentBot/1.0", "/bot-only-blocked", False),
        ("CustomerAgentBot/1.0", "/private/x", True),  # its own group replaces '*'
        ("CustomerAgentBot/1.0", "/page", True),  # equal length: Allow wins
        ("CustomerAgentBot/1.0", "/robots.txt", True),
    ],
)
def test_robots_rules_follow_rfc9309(agent: str, path: str, allowed: bool) -> None:
    assert parse_robots(ROBOTS, agent).allowed(path) is allowed


def test_robots_lists_sitemaps_and_crawl_delay() -> None:
    policy = parse_robots(ROBOTS, "OtherBot")
    assert policy.sitemaps == ["https://s.test/sitemap.xml"]
    assert policy.crawl_delay == 2.0


def test_a_hostile_robots_pattern_is_matched_in_linear_time() -> None:
    policy = parse_robots("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*b\n", "CustomerAgentBot/1.0")
    started = time.process_time()
    assert policy.allowed("/" + "a" * 100_000)
    assert time.process_time() - started < 0.5  # the old regex took 1.8 s at 41 characters, hours at 100


def test_robots_txt_is_read_up_to_500_kib_and_its_rules_counted() -> None:
    text = robots_text(samples.robots_of_many_rules("Disallow: /deep/").encode())
    assert len(text.encode()) == MAX_ROBOTS_BYTES
    assert (
        count_rules("User-agent: *\nDisallow: /a\n allow : /b\nSitemap: /s.xml\n# Disallow: /c\nCrawl-delay: 1\n") == 2
    )
    assert count_rules(text) == text.count("\nDisallow:")


@pytest.mark.parametrize(
    ("rules", "links"), [(0, MAX_LINKS_PER_PAGE), (250, MAX_LINKS_PER_PAGE), (2000, 125), (10**7, 1)]
)
def test_the_links_judged_per_page_shrink_as_robots_txt_grows(rules: int, links: int) -> None:
    assert links_per_page(rules) == links


def test_judging_a_pages_links_against_the_largest_robots_txt_read_is_bounded() -> None:
    policy = parse_robots(
        robots_text(samples.robots_of_many_rules("Disallow: /deep/").encode()), "CustomerAgentBot/1.0"
    )
    links = [f"/deep/{index}/{'a' * 200}" for index in range(links_per_page(policy.rules))]
    started = time.process_time()
    assert not any(policy.allowed(link) for link in links)
    assert time.process_time() - started < 1.5  # about 0.3 s on an idle core; a 3,000-link page took a minute


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, True), (500, False), (503, False)])
def test_robots_error_statuses(status: int, allowed: bool) -> None:
    policy = policy_for_status(status)
    assert policy is not None
    assert policy.allowed("/anything") is allowed


@pytest.mark.parametrize(
    ("address", "allowed_networks", "refused"),
    [
        ("93.184.216.34", "", False),
        ("127.0.0.1", "", True),
        ("10.1.2.3", "", True),
        ("192.168.0.1", "", True),
        ("169.254.169.254", "", True),
        ("169.254.1.1", "", True),
        ("fd00:ec2::254", "", True),
        ("::1", "", True),
        ("::ffff:127.0.0.1", "", True),
        ("224.0.0.1", "", True),
        ("0.0.0.0", "", True),
        ("127.0.0.1", "127.0.0.0/8", False),
        ("127.0.0.2", "127.0.0.1/32", True),
        ("169.254.169.254", "127.0.0.0/8", True),
        ("10.1.2.3", "10.0.0.0/8, 192.168.0.0/16", False),
    ],
)
def test_address_policy(address: str, allowed_networks: str, refused: bool) -> None:
    policy = AddressPolicy(parse_networks(allowed_networks))
    assert (policy.refusal(address) is not None) is refused


def test_metadata_reason_is_named() -> None:
    assert "metadata" in (AddressPolicy().refusal("169.254.169.254") or "")


def test_bad_cidr_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks("not-a-cidr")


@pytest.mark.parametrize(
    ("filename", "content", "failure_type"),
    [
        ("a.exe", b"MZ..", "unsupported"),
        ("noext", b"text", "unsupported"),
        ("a.txt", b"", "empty"),
        ("a.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 20, "renamed_binary"),
        ("a.md", b"\x89PNG\r\n\x1a\n....", "renamed_binary"),
        ("a.csv", b"a,b\x00\x00\x01\x02", "renamed_binary"),
        ("a.pdf", b"just text", "renamed_binary"),
        ("a.docx", b"%PDF-1.4 ...", "renamed_binary"),
        ("a.pptx", b"plain", "renamed_binary"),
    ],
)
def test_file_checks_refuse(filename: str, content: bytes, failure_type: str) -> None:
    with pytest.raises(DocumentRefused) as refused:
        check_file(filename, content)
    assert refused.value.failure_type == failure_type
    assert filename in refused.value.reason


@pytest.mark.parametrize(
    ("filename", "content"),
    [("a.TXT", b"hello"), ("a.pdf", b"%PDF-1.7"), ("a.docx", b"PK\x03\x04"), ("u.txt", "héllo".encode("utf-16"))],
)
def test_file_checks_accept(filename: str, content: bytes) -> None:
    assert check_file(filename, content) == filename.rsplit(".", 1)[1].lower()


def test_exactly_fifteen_file_types() -> None:
    assert sorted(SUPPORTED_EXTENSIONS) == sorted(
        ["docx", "htm", "xhtml", "cfg", "pptx", "conf", "csv", "json", "html", "text", "txt", "pdf", "rst", "xml", "md"]
    )


def test_chunks_stay_in_their_section_and_overlap() -> None:
    paragraphs = "\n\n".join(f"Sentence number {i} talks about topic {i}." for i in range(60))
    chunks = chunk_sections([Section("Intro", "short"), Section("Long", paragraphs)], max_chars=300, overlap_chars=80)
    assert chunks[0].section == "Intro"
    assert chunks[0].body == "short"
    long_chunks = [c for c in chunks if c.section == "Long"]
    assert len(long_chunks) > 5
    assert all(len(c.body) <= 300 + 80 for c in long_chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for previous, current in itertools.pairwise(long_chunks):
        assert previous.body[-20:] in current.body  # overlap carries the tail forward
    text = " ".join(c.body for c in long_chunks)
    assert all(f"topic {i}." in text for i in range(60))


def test_a_giant_paragraph_is_split() -> None:
    chunks = chunk_sections([Section("", "word " * 2000)], max_chars=500, overlap_chars=0)
    assert len(chunks) >= 19
    assert all(len(c.body) <= 500 for c in chunks)


def test_heading_without_text_still_makes_a_chunk() -> None:
    assert [c.body for c in chunk_sections([Section("Only a heading", "")])] == ["Only a heading"]


def test_chunk_ids_are_stable_and_distinct() -> None:
    assert chunk_id("a", "s", "d", 0) == chunk_id("a", "s", "d", 0)
    ids = {chunk_id(a, s, d, p) for a in ("a", "b") for s in ("s", "t") for d in ("d", "e") for p in (0, 1)}
    assert len(ids) == 16


def test_content_hash_ignores_whitespace_only() -> None:
    assert content_hash("a  b\n c") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")


def test_throttle_reports_by_time_or_pages() -> None:
    throttle = ReportThrottle(interval_seconds=1.0, every_pages=10)
    assert throttle.due(0.0, 0)
    throttle.mark(0.0, 0)
    assert not throttle.due(0.5, 5)
    assert throttle.due(0.5, 10)
    assert throttle.due(1.0, 1)


def test_progress_keeps_recent_failures_only() -> None:
    progress = SyncProgress()
    for i in range(30):
        progress.record_failure(f"u{i}", error="boom")
    assert progress.failed == 30
    assert next(f.url for f in progress.recent_failures) == "u10"
    assert len(progress.recent_failures) == 20


@pytest.mark.parametrize(
    ("state", "complete", "due", "expected"),
    [
        ("ready", False, True, VectorsReport.NOW),
        ("ready", False, False, VectorsReport.LATER),
        ("ready", True, False, VectorsReport.NOW),  # the last chunk got its vector: never held back
        ("failed", False, True, VectorsReport.NOW),
        ("pending", False, False, VectorsReport.LATER),
        ("syncing", True, True, VectorsReport.BY_SYNC),  # its sync's reports carry the stored count
        ("deleted", True, True, VectorsReport.NONE),
    ],
)
def test_when_a_count_of_chunks_with_a_vector_is_reported(
    state: str, complete: bool, due: bool, expected: VectorsReport
) -> None:
    assert vectors_report(state, complete=complete, due=due) is expected


def test_source_throttle_is_per_source_and_forgets_what_is_due_anyway() -> None:
    throttle = SourceThrottle(interval_seconds=2.0)
    docs, faq = ("acct", "docs"), ("acct", "faq")
    assert throttle.due(docs, 0.0)
    throttle.mark(docs, 0.0)
    assert not throttle.due(docs, 1.9)
    assert throttle.due(faq, 1.9)
    throttle.mark(faq, 1.9)
    assert throttle.due(docs, 2.0)
    throttle.mark(faq, 3.0)
    assert throttle._last == {faq: 3.0}  # docs' last report is older than the interval: forgotten
