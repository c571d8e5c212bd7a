"""robots.txt per RFC 9309, read by protego (Scrapy's parser): group by product token, longest match wins.

A crawled site writes its own robots.txt: protego matches wildcards without backtracking, where the
hand-written ``*`` → ``.*`` expressions this replaces took hours on a crafted rule. Matching is still linear
in the rules, so what one page costs is bounded: the file is read up to 500 KiB (as Google reads it, the least
RFC 9309 §2.5 allows) and a page's links are judged at most ``ROBOTS_CHECKS_PER_PAGE`` link-rule pairs' worth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protego import Protego

MAX_ROBOTS_BYTES = 500 * 1024
MAX_LINKS_PER_PAGE = 1000
ROBOTS_CHECKS_PER_PAGE = 250_000  # link x rule pairs: under half a second with long wildcard rules
MAX_LINK_CHARS = 2048  # as the sitemap protocol's URLs; a longer link costs every wildcard rule more


@dataclass(frozen=True)
class RobotsPolicy:
    """What one site's robots.txt says to one user agent, plus the sitemaps the file lists."""

    parsed: Protego | None = None
    user_agent: str = "*"
    sitemaps: list[str] = field(default_factory=list)
    crawl_delay: float | None = None
    allow_all: bool = True
    rules: int = 0

    def allowed(self, path: str) -> bool:
        """May the crawler fetch ``path`` (with its query)? /robots.txt itself always may be fetched."""
        if path == "/robots.txt":
            return True
        if self.parsed is None:
            return self.allow_all
        return bool(self.parsed.can_fetch(path, self.user_agent))


@dataclass(frozen=True)
class SiteRobots:
    """A site's robots.txt as a crawl holds it: the bytes read (parsed and matched in the page workers) or,
    without a file, what its status decided; and what the file says besides its rules."""

    user_agent: str
    body: bytes | None = None  # None: ``allow_all`` decides
    allow_all: bool = True
    sitemaps: tuple[str, ...] = ()
    crawl_delay: float | None = None
    rules: int = 0


ALLOW_ALL = RobotsPolicy()
DISALLOW_ALL = RobotsPolicy(allow_all=False)


def parse_robots(text: str, user_agent: str) -> RobotsPolicy:
    """Parse robots.txt for ``user_agent`` (its product token, e.g. 'CustomerAgentBot/1.0').

    Groups naming the product token (case-insensitive) apply; if none does, the ``*`` groups apply;
    with neither, everything is allowed.
    """
    parsed = Protego.parse(text)
    delay = parsed.crawl_delay(user_agent)
    return RobotsPolicy(
        parsed=parsed,
        user_agent=user_agent,
        sitemaps=list(parsed.sitemaps),
        crawl_delay=float(delay) if delay is not None else None,
        rules=count_rules(text),
    )


def robots_text(body: bytes) -> str:
    """The part of a fetched robots.txt that is read: its first 500 KiB, as text."""
    return body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")


def count_rules(text: str) -> int:
    """Allow and Disallow lines of a robots.txt (what judging one link may have to match it against)."""
    return sum(1 for line in text.splitlines() if line.partition(":")[0].strip().lower() in ("allow", "disallow"))


def links_per_page(rules: int) -> int:
    """How many of a page's links are judged against a robots.txt of ``rules`` rules; the rest are dropped."""
    return max(1, min(MAX_LINKS_PER_PAGE, ROBOTS_CHECKS_PER_PAGE // max(1, rules)))


def policy_for_status(status_code: int) -> RobotsPolicy | None:
    """RFC 9309 §2.3.1: 4xx → allow all; 5xx/unreachable → disallow all; 2xx → parse (None)."""
    if 400 <= status_code < 500:
        return ALLOW_ALL
    if status_code >= 500:
        return DISALLOW_ALL
    return None
