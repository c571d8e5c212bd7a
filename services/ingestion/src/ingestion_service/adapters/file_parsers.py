"""Parsing an uploaded file: its type is checked here, its bytes are parsed in a limited parser process.

Every file type is parsed by ``parse_worker`` in a fresh child process with an
address-space and a CPU-time limit, a wall-clock timeout and a scrubbed
environment (no secrets), so a hostile file can exhaust only that process: the
service and its event loop never parse upload bytes. A child that is stopped
or crashes ends in ``ParserStopped``, which the caller counts as an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

import orjson

from ingestion_service.adapters.parse_limits import MIB, FileLimits, TextBudget
from ingestion_service.adapters.parse_worker import OUT_OF_MEMORY_EXIT
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, ParserStopped, Section
from ingestion_service.domain.file_types import check_file

__all__ = ["FileLimits", "ParserStopped", "TextBudget", "parse_file", "start_parser"]

logger = logging.getLogger(__name__)

WORKER_MODULE = "ingestion_service.adapters.parse_worker"


def parser_environment() -> dict[str, str]:
    """The whole environment of a parser process: what Python needs to start, none of the service's secrets."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}


async def parse_file(filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
    """Parse an uploaded file into a document; raise ``DocumentRefused`` with a clear reason."""
    if len(content) > limits.max_file_bytes:
        raise DocumentRefused(
            f"{filename!r} is {len(content)} bytes, over the {limits.max_file_bytes} byte limit", failure_type="too_big"
        )
    kind = check_file(filename, content)
    document = await run_parser(kind, filename, content, limits)
    if not document.title:
        stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        headings = (s.heading for s in document.sections if s.heading)
        document.title = (stem if kind == "pdf" else next(headings, "")) or stem
    if document.is_empty():
        raise DocumentRefused(f"{filename!r} contains no text to index", failure_type="empty")
    return document


async def start_parser(
    module: str = WORKER_MODULE, *, stderr: int | None = asyncio.subprocess.PIPE, arguments: Sequence[str] = ()
) -> asyncio.subprocess.Process:
    """A new parser process running ``module`` (the file parser, which limits itself before it reads the file,
    or a long-lived ``page_worker``, whose ``stderr`` is the service's: None), waiting for its request on stdin."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",  # isolated: no PYTHON* variables, no user site-packages, no current directory on the path
        "-m",
        module,
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=parser_environment(),
    )


async def run_parser(kind: str, filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
    """Parse ``content`` in a new limited parser process, killed when it outlives the timeout."""
    request = orjson.dumps({"kind": kind, "filename": filename, "limits": limits.to_json()}) + b"\n"
    process = await start_parser()
    try:
        async with asyncio.timeout(limits.parse_timeout_seconds):
            stdout, stderr = await process.communicate(request + content)
    except TimeoutError as error:
        raise ParserStopped(
            f"{filename!r}: parsing took longer than {limits.parse_timeout_seconds:g} s", failure_type="parser_timeout"
        ) from error
    finally:
        if process.returncode is None:  # timed out, or the handler was cancelled
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        raise stopped_parser(filename, process.returncode or 0, stderr, limits)
    answer = orjson.loads(stdout)
    if "refused" in answer:
        refused = answer["refused"]
        if "detail" in refused:  # the parser's own words, which the reason leaves out
            logger.warning("parser could not read a file", extra={"kind": kind, "detail": refused["detail"]})
        raise DocumentRefused(refused["reason"], failure_type=refused["failure_type"])
    return ParsedDocument(
        title=answer["title"], sections=[Section(heading, text) for heading, text in answer["sections"]]
    )


def stopped_parser(filename: str, returncode: int, stderr: bytes, limits: FileLimits) -> ParserStopped:
    """Why a parser process ended without an answer, from its exit code (or the signal that ended it)."""
    if returncode == OUT_OF_MEMORY_EXIT:
        return ParserStopped(
            f"{filename!r}: the parser ran out of memory (limit {limits.parse_memory_bytes // MIB} MiB)",
            failure_type="parser_memory",
        )
    if returncode == -signal.SIGXCPU:
        return ParserStopped(
            f"{filename!r}: the parser used more than {limits.parse_cpu_seconds} s of CPU time",
            failure_type="parser_cpu",
        )
    if returncode == -signal.SIGKILL:
        return ParserStopped(
            f"{filename!r}: the parser was killed (most likely out of memory)", failure_type="parser_killed"
        )
    if returncode < 0:
        return ParserStopped(
            f"{filename!r}: the parser crashed ({signal.Signals(-returncode).name})", failure_type="parser_crash"
        )
    tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
    return ParserStopped(
        f"{filename!r}: the parser failed (exit {returncode}: {tail[0][:200]})", failure_type="parser_crash"
    )
