"""Hostile uploads through the real parser processes: each ends refused or stopped with its reason,
and the event loop keeps answering meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ingestion_service.adapters.file_parsers import FileLimits, parse_file, start_parser
from ingestion_service.adapters.parse_limits import MIB
from ingestion_service.domain.documents import DocumentRefused, ParserStopped

from .. import samples
from .conftest import loop_lateness

pytestmark = pytest.mark.integration

SMALL = FileLimits(parse_memory_bytes=96 * MIB, parse_cpu_seconds=5, parse_timeout_seconds=20.0)

HOSTILE: list[tuple[str, bytes, str, str]] = [
    ("keys.json", samples.amplifying_json(), "amplification", "grows past"),
    ("deep.json", samples.deeply_nested_json(), "json_too_deep", "nested more than 64 levels"),
    ("field.csv", samples.csv_with_huge_field(), "csv_field_too_long", "longer than 131,072 characters"),
    ("columns.csv", samples.csv_with_many_columns(), "amplification", "20 times its size"),
    ("run.docx", samples.docx_repeating_one_run(), "amplification", "20 times its size"),
    ("defaults.cfg", samples.config_repeating_defaults(), "amplification", "20 times its size"),
    ("bomb.docx", samples.zip_bomb_docx(), "zip_bomb", "zip bomb"),
    ("lists.json", samples.json_of_empty_lists(), "parser_memory", "ran out of memory (limit 96 MiB)"),
]


async def _outcome(filename: str, content: bytes) -> DocumentRefused | None:
    try:
        await parse_file(filename, content, SMALL)
    except DocumentRefused as refused:
        return refused
    return None


async def test_hostile_files_end_with_their_reason_while_the_loop_stays_responsive() -> None:
    async with loop_lateness() as lateness:
        outcomes = await asyncio.gather(*(_outcome(name, content) for name, content, _type, _words in HOSTILE))
    for (name, _content, failure_type, words), outcome in zip(HOSTILE, outcomes, strict=True):
        assert outcome is not None, f"{name} was parsed"
        assert (outcome.failure_type, name) == (failure_type, name), outcome.reason
        assert words in outcome.reason, name
        assert repr(name) in outcome.reason
    assert isinstance(outcomes[-1], ParserStopped)
    assert lateness
    assert max(lateness) < 1.0


async def test_a_parser_over_its_wall_clock_limit_is_killed() -> None:
    with pytest.raises(ParserStopped, match=r"longer than 0\.05 s") as stopped:
        await parse_file("lists.json", samples.json_of_empty_lists(), FileLimits(parse_timeout_seconds=0.05))
    assert stopped.value.failure_type == "parser_timeout"


async def test_a_parser_process_inherits_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:secret@db/x")
    monkeypatch.setenv("INGESTION_EMBEDDINGS_API_KEY", "sk-secret")
    process = await start_parser()  # it waits for its request: read its environment meanwhile
    try:
        environ = await asyncio.to_thread(Path(f"/proc/{process.pid}/environ").read_bytes)
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    finally:
        process.kill()
        await process.wait()
    assert names == {"PATH", "LANG"}
