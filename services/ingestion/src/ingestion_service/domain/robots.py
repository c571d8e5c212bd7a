"""robots.txt per RFC 9309: group selection by product token, longest match wins, Allow wins ties."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote


@dataclass(frozen=True)
class Rule:
    """One allow or disallow line."""

    allow: bool
    pattern: str

    def matches(self, path: str) -> bool:
        """True when the rule's pattern (with ``*`` and ``$``) matches ``path``."""
        return _compiled(self.pattern).matches(path)


@dataclass
class RobotsPolicy:
    """The rules that apply to one user agent, plus the sitemaps the file lists."""

    rules: list[Rule] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    crawl_delay: float | None = None

    def allowed(self, path: str) -> bool:
        """RFC 9309 §2.2.2: the most specific (longest) matching rule wins; Allow wins a tie."""
        path = _normalise(path)
        if path == "/robots.txt":
            return True
        best: Rule | None = None
        for rule in self.rules:
            if not rule.pattern or not rule.matches(path):
                continue
            longer = best is None or len(rule.pattern) > len(best.pattern)
            if longer or (best is not None and len(rule.pattern) == len(best.pattern) and rule.allow):
                best = rule
        return best is None or best.allow


ALLOW_ALL = RobotsPolicy()
DISALLOW_ALL = RobotsPolicy(rules=[Rule(allow=False, pattern="/")])


def _normalise(path: str) -> str:
    return quote(unquote(path), safe="/?=&*$:@!'()+,;%-._~")


@dataclass(frozen=True)
class _Pattern:
    """A rule's pattern as its literal pieces between ``*``: matched in time linear in the path.

    A regular expression with one ``.*`` per ``*`` backtracks: ``/*a*a*a*a*a*a*a*a*b`` against a
    41-character path took seconds, and a crawled site writes its own robots.txt. Matching the pieces
    left to right, each at its first place after the previous one, finds a match whenever one exists.
    """

    pieces: tuple[str, ...]
    anchored: bool

    def matches(self, path: str) -> bool:
        """True when the path starts with a match of the pattern (ends with it too when anchored)."""
        first, *rest = self.pieces
        if not path.startswith(first):
            return False
        position = len(first)
        if not rest:
            return position == len(path) if self.anchored else True
        *middle, last = rest
        for piece in middle:
            found = path.find(piece, position)
            if found < 0:
                return False
            position = found + len(piece)
        if self.anchored:
            return len(path) - len(last) >= position and path.endswith(last)
        return path.find(last, position) >= 0


_cache: dict[str, _Pattern] = {}


def _compiled(pattern: str) -> _Pattern:
    compiled = _cache.get(pattern)
    if compiled is None:
        anchored = pattern.endswith("$")
        body = _normalise(pattern[:-1] if anchored else pattern)
        compiled = _Pattern(tuple(body.split("*")), anchored)
        if len(_cache) < 4096:
            _cache[pattern] = compiled
    return compiled


def parse_robots(text: str, user_agent: str) -> RobotsPolicy:
    """Parse robots.txt for ``user_agent`` (its product token, e.g. 'CustomerAgentBot').

    Groups naming the product token (case-insensitive) are merged; if none does,
    the ``*`` groups apply; with neither, everything is allowed.
    """
    token = user_agent.split("/")[0].strip().lower()
    groups: list[tuple[list[str], list[Rule], list[float]]] = []
    sitemaps: list[str] = []
    agents: list[str] = []
    rules: list[Rule] = []
    delays: list[float] = []
    in_rules = False
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        if key == "sitemap":
            if value:
                sitemaps.append(value)
            continue
        if key == "user-agent":
            if in_rules:
                groups.append((agents, rules, delays))
                agents, rules, delays = [], [], []
                in_rules = False
            agents.append(value.lower())
        elif key in ("allow", "disallow"):
            if not agents:
                continue
            in_rules = True
            rules.append(Rule(allow=key == "allow", pattern=value))
        elif key == "crawl-delay":
            in_rules = True
            try:
                delays.append(float(value))
            except ValueError:
                continue
    if agents:
        groups.append((agents, rules, delays))
    chosen = [g for g in groups if token in g[0]] or [g for g in groups if "*" in g[0]]
    merged = RobotsPolicy(sitemaps=sitemaps)
    for _, group_rules, group_delays in chosen:
        merged.rules.extend(group_rules)
        if group_delays:
            merged.crawl_delay = max(group_delays[0], merged.crawl_delay or 0.0)
    return merged


def policy_for_status(status_code: int) -> RobotsPolicy | None:
    """RFC 9309 §2.3.1: 4xx → allow all; 5xx/unreachable → disallow all; 2xx → parse (None)."""
    if 400 <= status_code < 500:
        return ALLOW_ALL
    if status_code >= 500:
        return DISALLOW_ALL
    return None
