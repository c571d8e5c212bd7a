"""Parsers of the plain-text file types (txt, rst, cfg/conf, csv, json) into sections.

Parsers whose output can outgrow their input (csv rows repeat the header, json
lines repeat the path, cfg sections repeat the defaults) spend each piece of
output from the file's ``TextBudget`` as they produce it.
"""

from __future__ import annotations

import configparser
import csv
import io
import json
import re
import sys
from typing import Any

from ingestion_service.adapters.parse_limits import TextBudget
from ingestion_service.domain.documents import DocumentRefused, Section

MAX_JSON_DEPTH = 64


_RST_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>])\1{2,}\s*$")


def sections_from_lines(lines: list[tuple[str | None, str]]) -> list[Section]:
    """Group (heading-or-None, line) pairs into sections."""
    sections: list[Section] = []
    heading = ""
    body: list[str] = []
    for new_heading, line in lines:
        if new_heading is not None:
            if heading or "".join(body).strip():
                sections.append(Section(heading, "\n".join(body).strip()))
            heading, body = new_heading, []
        else:
            body.append(line)
    if heading or "".join(body).strip():
        sections.append(Section(heading, "\n".join(body).strip()))
    return sections


def parse_rst(text: str) -> list[Section]:
    """A line followed (and maybe preceded) by an underline of punctuation is a heading."""
    raw = text.splitlines()
    lines: list[tuple[str | None, str]] = []
    index = 0
    while index < len(raw):
        line = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else ""
        if (
            line.strip()
            and not _RST_UNDERLINE.match(line)
            and _RST_UNDERLINE.match(following)
            and len(following.strip()) >= len(line.strip())
        ):
            lines.append((line.strip(), ""))
            index += 2
            continue
        if _RST_UNDERLINE.match(line):
            index += 1
            continue
        lines.append((None, line))
        index += 1
    return sections_from_lines(lines)


def parse_plain(text: str) -> list[Section]:
    """Plain text: one section, paragraphs kept."""
    return [Section("", text.strip())] if text.strip() else []


def parse_config(text: str, budget: TextBudget) -> list[Section]:
    """INI-style cfg/conf: each [section] becomes a section of 'key = value' lines; otherwise plain text."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    try:
        parser.read_string(text)
    except configparser.Error:
        return parse_plain(text)
    sections: list[Section] = []
    defaults = parser.defaults()
    if defaults:
        sections.append(Section("DEFAULT", "\n".join(f"{k} = {v}" for k, v in defaults.items())))
        budget.spend(sections[-1].text)
    for name in parser.sections():
        # Every section repeats the defaults: spend as the sections are made.
        body = "\n".join(f"{key} = {value}" if value is not None else key for key, value in parser[name].items())
        budget.spend(body)
        sections.append(Section(name, body))
    return sections or parse_plain(text)


def _csv_line(header: list[str], row: list[str]) -> str:
    return "; ".join(
        f"{name.strip() or f'column {i + 1}'}: {value.strip()}"
        for i, (name, value) in enumerate(zip(header, row, strict=False))
        if value.strip()
    )


def parse_csv(text: str, filename: str, budget: TextBudget) -> list[Section]:
    """One line per row: 'header: value; header: value' so each row reads on its own."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    lines: list[str] = []
    data_rows = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = row
                continue
            data_rows += 1
            line = _csv_line(header, row)
            budget.spend(line)
            if line:
                lines.append(line)
    except csv.Error as error:
        raise _csv_refusal(filename, error, reader.line_num) from error
    if header is None:
        return []
    if not data_rows:
        return [Section("", " | ".join(header))]
    return [Section("", "\n\n".join(lines))]


def _csv_refusal(filename: str, error: csv.Error, line: int) -> DocumentRefused:
    if "field larger than field limit" in str(error):
        return DocumentRefused(
            f"{filename!r} was refused: a CSV field on line {line} is longer than "
            f"{csv.field_size_limit():,} characters",
            failure_type="csv_field_too_long",
        )
    return DocumentRefused(
        f"{filename!r} is not a readable CSV file (line {line}: {error})", failure_type="invalid_csv"
    )


def _flatten_json(value: Any, path: str, out: list[str], budget: TextBudget, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise _json_too_deep(budget.filename)
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten_json(item, f"{path}.{key}" if path else str(key), out, budget, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten_json(item, f"{path}[{index}]", out, budget, depth + 1)
    elif value is not None and str(value).strip():
        line = f"{path}: {value}" if path else str(value)
        budget.spend(line)
        out.append(line)


def _json_too_deep(filename: str) -> DocumentRefused:
    return DocumentRefused(
        f"{filename!r} was refused: its JSON is nested more than {MAX_JSON_DEPTH} levels deep",
        failure_type="json_too_deep",
    )


def parse_json(text: str, filename: str, budget: TextBudget) -> list[Section]:
    """Every leaf value as 'path.to.key: value'."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentRefused(f"{filename!r} is not valid JSON: {error}", failure_type="invalid_json") from error
    except RecursionError as error:
        raise _json_too_deep(filename) from error
    except ValueError as error:  # not a JSONDecodeError: an integer past the digits int() may convert
        raise DocumentRefused(
            f"{filename!r} was refused: a number in its JSON has more than {sys.get_int_max_str_digits():,} "
            "digits (put it in quotes to keep it as text)",
            failure_type="json_number_too_long",
        ) from error
    lines: list[str] = []
    _flatten_json(data, "", lines, budget)
    return [Section("", "\n".join(lines))] if lines else []
