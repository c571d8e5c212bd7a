"""robots.txt per RFC 9309, read by protego (Scrapy's parser): group by product token, longest match wins.

A crawled site writes its own robots.txt: protego matches wildcards without backtracking, where the
hand-written ``*`` → ``.*`` expressions this replaces took hours on a crafted rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protego import Protego

MAX_ROBOTS_CHARS = 500_000


@dataclass(frozen=True)
class RobotsPolicy:
    """What one site's robots.txt says to one user agent, plus the sitemaps the file lists."""

    parsed: Protego | None = None
    user_agent: str = "*"
    sitemaps: list[str] = field(default_factory=list)
    crawl_delay: float | None = None
    allow_all: bool = True

    def allowed(self, path: str) -> bool:
        """May the crawler fetch ``path`` (with its query)? /robots.txt itself always may be fetched."""
        if path == "/robots.txt":
            return True
        if self.parsed is None:
            return self.allow_all
        return bool(self.parsed.can_fetch(path, self.user_agent))


ALLOW_ALL = RobotsPolicy()
DISALLOW_ALL = RobotsPolicy(allow_all=False)


def parse_robots(text: str, user_agent: str) -> RobotsPolicy:
    """Parse robots.txt for ``user_agent`` (its product token, e.g. 'CustomerAgentBot/1.0').

    Groups naming the product token (case-insensitive) apply; if none does, the ``*`` groups apply;
    with neither, everything is allowed.
    """
    parsed = Protego.parse(text[:MAX_ROBOTS_CHARS])
    delay = parsed.crawl_delay(user_agent)
    return RobotsPolicy(
        parsed=parsed,
        user_agent=user_agent,
        sitemaps=list(parsed.sitemaps),
        crawl_delay=float(delay) if delay is not None else None,
    )


def policy_for_status(status_code: int) -> RobotsPolicy | None:
    """RFC 9309 §2.3.1: 4xx → allow all; 5xx/unreachable → disallow all; 2xx → parse (None)."""
    if 400 <= status_code < 500:
        return ALLOW_ALL
    if status_code >= 500:
        return DISALLOW_ALL
    return None
