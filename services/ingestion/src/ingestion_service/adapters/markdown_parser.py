"""Markdown into sections with markdown-it-py (CommonMark plus tables): headings start sections.

A well-kept parser built to run in linear time replaces line-by-line regular expressions, which
backtracked on hostile uploads (one 4,000-character line took 55 s).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingestion_service.domain.documents import Section

_MARKDOWN = MarkdownIt("commonmark").enable("table")
_BLOCK_ENDS = frozenset(
    {"paragraph_close", "table_close", "bullet_list_close", "ordered_list_close", "blockquote_close"}
)


def _plain(inline: Token) -> str:
    """The text of an inline token: words and code kept, link targets and emphasis marks dropped."""
    parts: list[str] = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def parse_markdown(text: str) -> list[Section]:
    """Headings start sections; paragraphs, list items, code blocks and table rows (as ``a | b``) are kept."""
    sections: list[Section] = []
    heading = ""
    body: list[str] = []
    row: list[str] | None = None
    in_heading = False

    def close_section() -> None:
        content = "\n".join(body).strip()
        if heading or content:
            sections.append(Section(heading, content))

    for token in _MARKDOWN.parse(text):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "inline" and in_heading:
            close_section()
            heading, body, in_heading = _plain(token), [], False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            body.append(" | ".join(row))
            row = None
        elif token.type == "inline":
            if row is not None:
                row.append(_plain(token))
            else:
                body.append(_plain(token))
        elif token.type in ("fence", "code_block"):
            body.extend([token.content.rstrip("\n"), ""])
        elif token.type in _BLOCK_ENDS:
            body.append("")
    close_section()
    return sections
