"""Text plumbing with no dependency beyond the standard library (a parser process imports it at start)."""

from __future__ import annotations

import re

# Half of a UTF-16 pair on its own: a JSON escape may name one (\ud800), a PDF's broken character map may make
# one, but no UTF-8 can carry it, so an event holding one could never be written.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, the replacement character."""
    return LONE_SURROGATE.sub("\ufffd", text)
