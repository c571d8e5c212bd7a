"""What of a chunk its vector is computed from."""

from __future__ import annotations

from collections.abc import Mapping


def embedding_text(fields: Mapping[str, str], *, max_chars: int) -> str:
    """A chunk as one passage: a short answer's question and answer, else title, section and body.

    The headings go first because they say what the passage is about; the text is cut at ``max_chars``
    (the model's cost grows with every token, and its window is 512 tokens).
    """
    question = fields.get("question", "").strip()
    if question:
        parts = [question, fields.get("answer", "").strip()]
    else:
        title = fields.get("title", "").strip()
        section = fields.get("section", "").strip()
        heading = title if not section or section == title else f"{title}: {section}" if title else section
        parts = [heading, fields.get("body", "").strip()]
    text = "\n".join(part for part in parts if part)
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars]
