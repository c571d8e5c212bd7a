"""URL rules of the crawler: allowed schemes, canonical form, same-site test."""

from __future__ import annotations

import functools
import posixpath
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that only track visitors and never change the content.
TRACKING_PARAMETERS = frozenset(
    {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid"}
)
# Links to these are not pages worth fetching as HTML.
SKIPPED_EXTENSIONS = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".ico",
        ".css",
        ".js",
        ".zip",
        ".gz",
        ".tgz",
        ".tar",
        ".bz2",
        ".mp3",
        ".mp4",
        ".avi",
        ".mov",
        ".woff",
        ".woff2",
        ".ttf",
        ".eot",
        ".exe",
        ".dmg",
        ".iso",
        ".bin",
        ".pdf",
    }
)


class UrlRefused(ValueError):
    """A URL the crawler will not fetch."""


def canonicalize(url: str) -> str:
    """Normal form of an http(s) URL: lower-case scheme/host, no default port, no fragment,
    resolved dot segments, sorted query without tracking parameters. Raises ``UrlRefused``."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UrlRefused(f"only http and https URLs are crawled, not {scheme or 'a relative URL'!r}")
    if not parts.hostname:
        raise UrlRefused("URL has no host")
    if parts.username or parts.password:
        raise UrlRefused("URLs with credentials are not crawled")
    host = parts.hostname.lower().rstrip(".")
    try:
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"invalid port: {error}") from error
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    normalised = posixpath.normpath(unquote(path))
    if path.endswith("/") and not normalised.endswith("/"):
        normalised += "/"
    normalised = "/" + normalised.lstrip("/")
    path = quote(normalised, safe="/:@!$&'()*+,;=-._~%")
    query_items = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in TRACKING_PARAMETERS]
    query = urlencode(sorted(query_items))
    return urlunsplit(SplitResult(scheme, netloc, path, query, ""))


def _link_base(base_url: str) -> str:
    """The part of ``base_url`` a relative link (not '?…' or ';…') depends on: its directory, so links
    from pages of one directory share cache entries."""
    if "?" in base_url or "#" in base_url or ";" in base_url:
        return base_url
    slash = base_url.rfind("/")
    return base_url[: slash + 1] if slash > base_url.find("//") + 1 else base_url


@functools.lru_cache(maxsize=65536)
def _resolve(base: str, href: str) -> str | None:
    try:
        absolute = canonicalize(urljoin(base, href))
    except (UrlRefused, ValueError):
        return None
    extension = posixpath.splitext(urlsplit(absolute).path)[1].lower()
    if extension in SKIPPED_EXTENSIONS:
        return None
    return absolute


def resolve_link(base_url: str, href: str) -> str | None:
    """Absolute canonical URL of a link on ``base_url``, or None if it is not crawlable."""
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    return _resolve(base_url if href.startswith(("?", ";")) else _link_base(base_url), href)


def site_of(url: str) -> str:
    """The host a URL belongs to, without a leading ``www.`` (same-domain test)."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def same_site(url: str, start_url: str) -> bool:
    """True when ``url`` is on the same domain (and scheme family) as the start URL."""
    return site_of(url) == site_of(start_url) and urlsplit(url).port == urlsplit(start_url).port


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL (robots.txt and politeness are per origin)."""
    parts = urlsplit(url)
    return urlunsplit(SplitResult(parts.scheme, parts.netloc, "", "", ""))


def path_and_query(url: str) -> str:
    """The part of a URL robots.txt rules are matched against."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
