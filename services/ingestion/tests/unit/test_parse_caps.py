"""Caps on what parsing one uploaded file may produce, checked while it is parsed (no process, no network)."""

from __future__ import annotations

import pytest
from ingestion_service.adapters.parse_limits import FileLimits, TextBudget
from ingestion_service.adapters.parse_worker import parse_content
from ingestion_service.domain.documents import DocumentRefused

from .. import samples


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("json", samples.amplifying_json()),
        ("csv", samples.csv_with_many_columns()),
        ("docx", samples.docx_repeating_one_run()),
        ("cfg", samples.config_repeating_defaults()),
    ],
)
def test_output_past_the_ratio_is_refused_while_parsing(kind: str, content: bytes) -> None:
    with pytest.raises(DocumentRefused) as refused:
        parse_content(kind, f"hostile.{kind}", content, FileLimits())
    assert refused.value.failure_type == "amplification"
    assert "20 times its size" in refused.value.reason
    assert f"'hostile.{kind}' was refused" in refused.value.reason


def test_output_past_the_absolute_cap_is_refused() -> None:
    text = ("A sentence of ordinary prose that goes on. " * 3000).encode()
    with pytest.raises(DocumentRefused, match="the limit of 100,000 characters") as refused:
        parse_content("txt", "long.txt", text, FileLimits(max_text_chars=100_000))
    assert refused.value.failure_type == "amplification"


def test_the_budget_stops_at_the_first_piece_past_it() -> None:
    budget = TextBudget("f.json", 100, FileLimits(max_text_ratio=2.0))
    budget.spend("x" * 200)
    with pytest.raises(DocumentRefused, match="grows past 200 characters"):
        budget.spend("y")


def test_ordinary_files_stay_within_the_caps() -> None:
    for kind in ("json", "csv", "docx", "pptx", "cfg", "xml", "md", "pdf", "html"):
        document = parse_content(kind, f"ok.{kind}", samples.sample(kind), FileLimits())
        assert samples.phrase_for(kind) in document.text, kind


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_refused(depth: int) -> None:
    with pytest.raises(DocumentRefused, match="nested more than 64 levels") as refused:
        parse_content("json", "deep.json", samples.deeply_nested_json(depth), FileLimits())
    assert refused.value.failure_type == "json_too_deep"


def test_a_csv_field_past_the_reader_limit_is_refused() -> None:
    with pytest.raises(DocumentRefused, match="longer than 131,072 characters") as refused:
        parse_content("csv", "notes.csv", samples.csv_with_huge_field(), FileLimits())
    assert refused.value.failure_type == "csv_field_too_long"
    assert "line 2" in refused.value.reason
