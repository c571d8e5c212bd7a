"""The page worker process: parses crawled pages, knowledge-base articles, robots.txt files and sitemaps, one
request at a time.

``page_worker_pool.PageWorkers`` keeps a few, started as ``python -I -m
ingestion_service.adapters.page_worker`` with a scrubbed environment, and kills and replaces one whose
request outlives the time limit (a process pool cannot cancel a running task). A request is two frames on
stdin, a JSON header naming the task and the content's bytes; the answer is one JSON frame on stdout; a
frame is its length in 4 bytes, then the bytes. Nothing is unpickled on either side, so a worker a hostile
page took over can send the service nothing but data.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.language import warm_up
from ingestion_service.adapters.page_parser import PageOutcome, parse_page
from ingestion_service.adapters.parse_limits import reached_memory_limit
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.adapters.sitemaps import MAX_SITEMAPS, parse_sitemap
from ingestion_service.domain.documents import ParsedDocument
from ingestion_service.domain.robots import ALLOW_ALL, DISALLOW_ALL, RobotsPolicy, parse_robots, robots_text
from ingestion_service.domain.urls import path_and_query, same_site

LENGTH = struct.Struct(">I")
READY = b'{"ready":true}'
OUT_OF_MEMORY = "the content needs more memory than a page worker may use"


def frame(data: bytes) -> bytes:
    """``data`` as one frame."""
    return LENGTH.pack(len(data)) + data


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next frame's bytes; None at the end of the stream."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        return None
    (size,) = LENGTH.unpack(head)
    data = stream.read(size)
    return data if len(data) == size else None


@functools.lru_cache(maxsize=8)
def robots_policy(body: bytes, user_agent: str) -> RobotsPolicy:
    """A robots.txt parsed once per worker, although every page of its crawl sends it again."""
    return parse_robots(robots_text(body), user_agent)


def judged_links(header: dict[str, Any], robots: bytes) -> list[int]:
    """Indices of the header's ``urls`` on the ``start`` URL's site that its robots.txt allows."""
    if header["parsed"]:
        policy = robots_policy(robots, header["user_agent"])
    else:
        policy = ALLOW_ALL if header["allow_all"] else DISALLOW_ALL
    start = header["start"]
    return [
        index
        for index, url in enumerate(header["urls"])
        if same_site(url, start) and policy.allowed(path_and_query(url))
    ]


def handle(header: dict[str, Any], content: bytes) -> PageOutcome | ParsedDocument | dict[str, Any]:
    """The answer to one request (what ``page_worker_pool.PageWorkers`` asks for)."""
    task = header["task"]
    if task == "page":
        return parse_page(header["url"], FetchResult(**header["fetched"], body=content), header["start"])
    if task == "html":  # a knowledge-base article's body: its links are not followed
        document = extract_html(content.decode("utf-8", errors="replace"))
        document.links = []
        return document
    if task == "robots":
        policy = robots_policy(content, header["user_agent"])
        return {"sitemaps": policy.sitemaps, "crawl_delay": policy.crawl_delay, "rules": policy.rules}
    if task == "judge":
        return {"allowed": judged_links(header, content)}
    if task == "sitemap":
        sitemap = parse_sitemap(content)
        return {"pages": sitemap.pages[: header["limit"]], "sitemaps": sitemap.sitemaps[:MAX_SITEMAPS]}
    raise ValueError(f"unknown task {task!r}")


def respond(header: bytes, content: bytes) -> bytes:
    """The JSON answer to one request; an error is answered too (the worker goes on serving)."""
    try:
        return orjson.dumps(handle(orjson.loads(header), content))
    except Exception as error:
        if isinstance(error, MemoryError) or reached_memory_limit():
            # The C parsers report a failed allocation as a parse error: the address space tells.
            return orjson.dumps({"worker_error": OUT_OF_MEMORY, "memory": True})
        return orjson.dumps({"worker_error": f"{type(error).__name__}: {error}"[:500]})


def release_memory() -> Callable[[], object]:
    """What hands freed memory back to the system (glibc's ``malloc_trim``; nothing elsewhere): a 5 MB page's
    tree would otherwise stay with the idle worker, about 100 MB."""
    with contextlib.suppress(OSError, AttributeError):
        trim = ctypes.CDLL("libc.so.6").malloc_trim
        return lambda: trim(0)
    return lambda: None


def limit_memory(arguments: list[str]) -> None:
    """Cap this process's address space as ``--memory-bytes=N`` asks; no core file; first to go on an OOM."""
    for argument in arguments:
        if argument.startswith("--memory-bytes="):
            limit = int(argument.partition("=")[2])
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def main() -> int:
    """Entry point of a page worker: load the language model, say so, then answer until stdin closes."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not between the answers
    limit_memory(sys.argv[1:])
    warm_up()
    trim = release_memory()
    answers.write(frame(READY))
    answers.flush()
    requests = sys.stdin.buffer
    while (header := read_frame(requests)) is not None and (content := read_frame(requests)) is not None:
        reply = respond(header, content)
        del header, content
        trim()
        answers.write(frame(reply))
        answers.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
