"""Markdown's line rules agree with the regular expressions they replaced, in linear time."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from ingestion_service.adapters.file_parsers import is_table_separator, markdown_heading, parse_markdown

# The expressions as they were: the reference for what a heading and a separator row are.
OLD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
OLD_SEPARATOR = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="# \tab|-:", max_size=14))
def test_line_rules_agree_with_the_old_expressions(line: str) -> None:
    old_heading = OLD_HEADING.match(line)
    assert markdown_heading(line) == (old_heading.group(2) if old_heading else None)
    assert is_table_separator(line) is (OLD_SEPARATOR.fullmatch(line) is not None)


def test_hostile_lines_parse_in_linear_time() -> None:
    # The old heading expression took 55 s on the first line at 4,000 spaces (cubic); this one has 20,000.
    lines = ["# a" + " " * 20_000 + "b", "#" + " \t" * 10_000 + "#" * 10_000 + "!", "| " + "-  " * 10_000 + "x"]
    started = time.process_time()
    sections = parse_markdown("\n".join(lines))
    assert time.process_time() - started < 0.5
    assert [section.heading for section in sections][:2] == ["a" + " " * 20_000 + "b", "#" * 10_000 + "!"]


def test_headings_and_tables() -> None:
    text = "# Title #\nintro\n\n| a | b |\n|---|:---:|\n| 1 | 2 |\n```\n# not a heading\n```\n## Next\nbody"
    sections = parse_markdown(text)
    assert [section.heading for section in sections] == ["Title", "Next"]
    assert "|---|" not in sections[0].text
    assert "# not a heading" in sections[0].text
