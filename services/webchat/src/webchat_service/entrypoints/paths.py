"""The ``{channel_id:channel}`` path parameter: the rest of the path, whatever it holds."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class ChannelIdConvertor(Convertor[str]):
    """The rest of the path, slashes and line breaks included."""

    # A channel id may hold "/" (a page path), so it cannot be one segment. Starlette's ``path`` (".*")
    # stops at a line break and its pattern's "$" matches before a trailing one, so "web%0A" would open
    # channel "web"; this matches everything, and the id checks refuse control characters by name.
    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("channel", ChannelIdConvertor())
