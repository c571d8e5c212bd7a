"""Decode a compressed HTTP body with its output bounded as it inflates, not after.

httpx inflates each received chunk in one call, and layer after layer: a 660-byte ``gzip, gzip``
response grew to 603 MiB in memory before a size check saw any of it. Here each call may produce at
most what is left of the page limit, one layer only (the crawler asks for gzip or deflate, nothing
stacked), so a page never holds more than the limit whatever the ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate")


class UndecodableBody(Exception):
    """The body's encoding is not one the crawler accepts, or the data does not decode."""


class OverLimit(Exception):
    """The decoded body would exceed the limit."""


def content_codings(header: str | None) -> list[str]:
    """The Content-Encoding header's codings, ``identity`` left out, lower-cased."""
    codings = [part.strip().lower() for part in (header or "").split(",")]
    return [coding for coding in codings if coding and coding != "identity"]


class BoundedDecoder:
    """Inflates one gzip or deflate stream (gzip members may follow each other) up to ``limit`` bytes."""

    def __init__(self, header: str | None, *, limit: int) -> None:
        codings = content_codings(header)
        if len(codings) > 1:
            raise UndecodableBody(f"stacked content encodings ({', '.join(codings)}) are refused")
        if codings and codings[0] not in SUPPORTED_ENCODINGS:
            raise UndecodableBody(f"content encoding {codings[0]!r} is not accepted")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._produced = 0
        self._inflater = self._new_inflater()
        self._first_chunk = True

    def _new_inflater(self) -> zlib._Decompress | None:
        if self._coding is None:
            return None
        # gzip: the gzip header; deflate: the zlib header (a raw stream is tried if that fails, as browsers do).
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._coding != "deflate" else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces; raises ``OverLimit`` past the limit."""
        if self._inflater is None:
            yield self._count(data)
            return
        first, self._first_chunk = self._first_chunk, False
        try:
            yield from self._inflate(data)
        except zlib.error as error:
            if not (first and self._coding == "deflate"):
                raise UndecodableBody(f"the {self._coding} body does not decode: {error}") from error
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        assert self._inflater is not None
        pending = data
        while pending:
            piece = self._inflater.decompress(pending, self._limit - self._produced + 1)
            if piece:
                yield self._count(piece)
            if not self._inflater.eof:
                pending = self._inflater.unconsumed_tail
            elif self._coding == "deflate":
                return  # nothing follows a deflate stream: what does is ignored
            else:
                pending = self._inflater.unused_data  # the next member of a multi-member gzip body
                if pending:
                    self._inflater = self._new_inflater()
                    assert self._inflater is not None

    def finish(self) -> bytes:
        """What the decoder still holds at the end of the body."""
        if self._inflater is None:
            return b""
        return self._count(self._inflater.flush())

    def _count(self, piece: bytes) -> bytes:
        self._produced += len(piece)
        if self._produced > self._limit:
            raise OverLimit(f"over the {self._limit} byte limit once decoded")
        return piece
