"""Markdown uploads become sections, and hostile ones parse in linear time."""

from __future__ import annotations

import time

from ingestion_service.adapters.markdown_parser import parse_markdown


def test_hostile_markdown_parses_in_linear_time() -> None:
    # The old heading expression took 55 s on the first line with 4,000 spaces (cubic); this one has 20,000.
    lines = [
        "# a" + " " * 20_000 + "b",
        "#" + " \t" * 10_000 + "#" * 10_000 + "!",
        "| " + "-  " * 10_000 + "x",
        "> " * 5_000 + "deep",
        "*" * 20_000 + "a" + "_" * 20_000,
        "[" * 20_000 + "x" + "]" * 20_000,
    ]
    started = time.process_time()
    sections = parse_markdown("\n".join(lines))
    assert time.process_time() - started < 2.0
    assert sections[0].heading == "a" + " " * 20_000 + "b"


def test_headings_paragraphs_tables_and_code() -> None:
    text = (
        "Preface.\n\n# Title #\nintro with a [link](https://x.test) and `code`\n\n"
        "| a | b |\n|---|:---:|\n| 1 | 2 |\n\n```\n# not a heading\n```\n\n## Next\n- one\n- two\n"
    )
    sections = parse_markdown(text)
    assert [section.heading for section in sections] == ["", "Title", "Next"]
    title = sections[1].text
    assert "intro with a link and code" in title
    assert "a | b" in title
    assert "1 | 2" in title
    assert "---" not in title
    assert "# not a heading" in title
    assert sections[2].text.split() == ["one", "two"]
