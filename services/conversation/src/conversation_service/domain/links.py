"""Which links a reply may carry: citations are web pages or file names, and a model links only to its sources.

A citation's URL comes from a crawled page, an article event or a file name, and a model's text is
whatever it wrote: a channel that renders either as a link must never get ``javascript:`` or an address
no source gave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# Bounded, non-nested patterns: matched in linear time on any model output.
_MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]{0,500})\]\(([^()\s]{0,2000})\)")
_BARE_LINK = re.compile(
    r"(?i)(?:\b(?:https?://|ftp://|www\.)|\b(?:javascript|data|vbscript|file|mailto|tel|sms):(?=\S)|(?<![\w:/])//(?=\w))"
    r"[^\s<>\"'()\[\]]*"
)
_TRAILING_PUNCTUATION = ".,;:!?"


def is_citable_url(url: str, *, uploaded_file: bool = False) -> bool:
    """An http(s) address; for an uploaded file, which has no address of its own, its bare file name."""
    parts = urlsplit(url.strip())
    if parts.scheme:
        return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
    return uploaded_file and bool(url.strip()) and not any(mark in url for mark in ("/", "\\", ":"))


def _normal(url: str) -> str:
    return url.strip().rstrip(_TRAILING_PUNCTUATION).rstrip("/").lower()


def restrict_links(text: str, allowed: Iterable[str]) -> str:
    """``text`` with every link not in ``allowed`` removed (a Markdown link keeps its words)."""
    known = {_normal(url) for url in allowed if url}

    def markdown(match: re.Match[str]) -> str:
        words, url = match.group(1), match.group(2)
        return match.group(0) if _normal(url) in known and is_citable_url(url) else words

    def bare(match: re.Match[str]) -> str:
        url = match.group(0)
        kept = url.rstrip(_TRAILING_PUNCTUATION)
        if _normal(kept) in known and is_citable_url(kept):
            return url
        return url[len(kept) :]  # the sentence's own punctuation stays

    without_markdown = _MARKDOWN_LINK.sub(markdown, text)
    return re.sub(r"[ \t]{2,}", " ", _BARE_LINK.sub(bare, without_markdown)).strip()


def urls_in(texts: Iterable[str]) -> set[str]:
    """The http(s) addresses written in ``texts`` (a source may name a page the model can then link)."""
    found: set[str] = set()
    for text in texts:
        for match in _BARE_LINK.finditer(text):
            url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
            if is_citable_url(url):
                found.add(url)
    return found


def cited_links(sources: Iterable[tuple[str, str]]) -> set[str]:
    """What a reply citing these ``(url, text)`` sources may link: their pages and the addresses in their text."""
    cited = list(sources)
    return {url for url, _ in cited if url} | urls_in(text for _, text in cited)
