from __future__ import annotations

from ingestion_service.domain.embedding_text import embedding_text


def test_a_page_chunk_reads_its_headings_before_its_body() -> None:
    fields = {"title": "Installing Debian", "section": "Dual boot", "body": "Shrink the Windows partition first."}
    assert embedding_text(fields, max_chars=1000) == "Installing Debian: Dual boot\nShrink the Windows partition first."


def test_a_section_equal_to_the_title_is_not_repeated() -> None:
    fields = {"title": "FAQ", "section": "FAQ", "body": "Answers."}
    assert embedding_text(fields, max_chars=1000) == "FAQ\nAnswers."


def test_a_short_answer_reads_its_question_and_answer() -> None:
    fields = {"title": "x", "body": "ignored", "question": "Do you ship abroad?", "answer": "Yes, to the EU."}
    assert embedding_text(fields, max_chars=1000) == "Do you ship abroad?\nYes, to the EU."


def test_a_long_chunk_is_cut_at_a_word_boundary() -> None:
    fields = {"title": "T", "body": "word " * 500}
    text = embedding_text(fields, max_chars=103)
    assert len(text) <= 103
    assert text.endswith("word")
