"""Citations are web pages or file names; a model's reply links only to what its sources gave."""

from __future__ import annotations

import time

import pytest
from conversation_service.domain.links import is_citable_url, restrict_links, urls_in


@pytest.mark.parametrize(
    ("url", "citable"),
    [
        ("https://docs.example.com/a", True),
        ("http://docs.example.com/a", True),
        ("handbook.pdf", False),  # a bare name is an uploaded file's only: see below
        ("evil.example/phish", False),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("//evil.example/x", False),
        ("https:///nohost", False),
        ("ftp://files.example.com/x", False),
    ],
)
def test_only_web_pages_and_file_names_are_citable(url: str, citable: bool) -> None:
    assert is_citable_url(url) is citable


def test_an_uploaded_file_is_cited_by_its_bare_name_only() -> None:
    assert is_citable_url("handbook.pdf", uploaded_file=True)
    assert not is_citable_url("evil.example/phish", uploaded_file=True)
    assert not is_citable_url("javascript:alert(1)", uploaded_file=True)


def test_a_reply_keeps_links_to_its_sources_and_loses_the_others() -> None:
    reply = (
        "Reset it in [Settings](https://docs.example.com/reset). "
        "Or [click here](https://evil.example/phish) or https://evil.example/x. "
        "See https://docs.example.com/reset. Never javascript:alert(1) or [x](javascript:alert(1)). "
        "Mail mailto:thief@evil.example or open //evil.example/x. Your data: safe, in the config file: app.ini."
    )

    kept = restrict_links(reply, {"https://docs.example.com/reset"})

    assert "[Settings](https://docs.example.com/reset)" in kept
    assert "See https://docs.example.com/reset." in kept
    assert "evil" not in kept
    assert "javascript" not in kept
    assert "click here" in kept
    assert "mailto" not in kept
    assert "Your data: safe, in the config file: app.ini." in kept  # words before a colon are not links


def test_addresses_written_in_a_source_may_be_linked() -> None:
    sources = ["Write to us via https://help.example.com/contact.", "Nothing here."]
    assert urls_in(sources) == {"https://help.example.com/contact"}


def test_link_filtering_is_linear_on_hostile_output() -> None:
    hostile = "[" * 50_000 + "https://" + "a" * 50_000 + "(" * 50_000
    started = time.process_time()
    restrict_links(hostile, set())
    assert time.process_time() - started < 1.0
