"""Entity tags for conditional updates: a digest of the resource's JSON form."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from admin_api.domain.errors import PreconditionFailed


def etag_of(value: Any) -> str:
    """A strong ETag (quoted) for a JSON-compatible value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current_etag: str, what: str) -> None:
    """Raise PreconditionFailed unless If-Match is absent, '*' or lists the current ETag."""
    if if_match is None:
        return
    candidates = [part.strip().removeprefix("W/") for part in if_match.split(",")]
    if "*" in candidates or current_etag in candidates:
        return
    raise PreconditionFailed(
        f"The {what} changed since you read it (current ETag {current_etag}). "
        "Read it again, re-apply your change and send the new ETag in If-Match."
    )
