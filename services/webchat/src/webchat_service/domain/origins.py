"""Which browser origins may open a chat on an account's channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

ANY_CHANNEL = "*"


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, default ports dropped; raise ValueError if not an origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
    port = parts.port
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{parts.scheme}://{host}{suffix}"


@dataclass(frozen=True)
class OriginAllowlist:
    """Origins per ``account/channel`` (or ``*`` for every channel of every account)."""

    by_channel: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> OriginAllowlist:
        """Parse ``acme/web=https://a.example,https://b.example;*=http://127.0.0.1:8005``."""
        by_channel: dict[str, set[str]] = {}
        for entry in filter(None, (part.strip() for part in text.split(";"))):
            # The account id ends at the first "/" and the origins start after the last "=" (an origin has
            # none), so a channel id may hold "/", "=" and ","; one holding ";" is covered by "*" only.
            scope, separator, origins = entry.rpartition("=")
            scope = scope.strip()
            if not separator or not (scope == ANY_CHANNEL or _is_channel_scope(scope)):
                raise ValueError(f"{entry!r}: expected 'account/channel=origin,...' or '*=origin,...'")
            listed = [normalize_origin(origin) for origin in origins.split(",") if origin.strip()]
            if not listed:
                raise ValueError(f"{entry!r} lists no origin")
            by_channel.setdefault(scope, set()).update(listed)
        return cls({scope: frozenset(origins) for scope, origins in by_channel.items()})

    def allows(self, origin: str, *, account_id: str, channel_id: str) -> bool:
        """True when ``origin`` is listed for this channel or for every channel."""
        try:
            wanted = normalize_origin(origin)
        except ValueError:
            return False
        # A scope's account id ends at its first "/", so an account id holding one has no scope of its own.
        own = () if "/" in account_id else (f"{account_id}/{channel_id}",)
        return any(wanted in self.by_channel.get(scope, frozenset()) for scope in (*own, ANY_CHANNEL))


def _is_channel_scope(scope: str) -> bool:
    account, separator, channel = scope.partition("/")
    return bool(separator and account and channel)


def is_own_origin(origin: str, host: str) -> bool:
    """True when the page's origin is the host that served this request (a page webchat served itself)."""
    try:
        return urlsplit(normalize_origin(origin)).netloc == urlsplit(f"//{host.strip().lower()}").netloc
    except ValueError:
        return False
