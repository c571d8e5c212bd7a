"""Detecting the encoding of uploaded text files that are not UTF-8: Western code pages, and CJK ones as themselves."""

from __future__ import annotations

import pytest
from ingestion_service.adapters.parse_limits import FileLimits
from ingestion_service.adapters.parse_worker import parse_content
from ingestion_service.adapters.text_decoding import DETECTION_BYTES, decode_text

WESTERN = [
    ("Le cœur a ses raisons que la raison ne connaît point.", "cp1252"),
    ("Ça va? Où est la gare?", "latin-1"),
    ("Le délai de livraison est de 3 à 5 jours ouvrés.", "latin-1"),
    ("Über uns", "latin-1"),
    ("Größe: 5 Äpfel", "cp1252"),
    ("Rückgabe innerhalb von 30 Tagen möglich.", "latin-1"),
    ("Smørrebrød", "latin-1"),
    ("Rødgrød med fløde. Blåbær på øen.", "latin-1"),
    ("Levering sker inden for 2-3 hverdage, og returnering er gratis i 30 dage.", "cp1252"),
    ("Año nuevo", "latin-1"),
    ("¿Dónde está el baño? Mañana será otro día.", "latin-1"),
    ("El envío es gratuito a partir de 50 € \u2013 \u201csin sorpresas\u201d.", "cp1252"),
]

CJK = [
    (
        "日本語のテキストです。これは文書の例です。東京は日本の首都であり、多くの人々が住んでいます。"
        "今日はとても良い天気ですね。明日は雨が降るでしょう。",
        "shift_jis",
    ),
    (
        "这是一个中文文本的例子。北京是中国的首都\uff0c有很多人住在那里。今天天气很好\uff0c我们去公园散步吧。明天可能会下雨。",
        "gbk",
    ),
    (
        "這是一個中文文本的例子。台北是台灣的首都\uff0c有很多人住在那裡。今天天氣很好\uff0c我們去公園散步吧。明天可能會下雨。",
        "big5",
    ),
    (
        "이것은 한국어 텍스트의 예입니다. 서울은 한국의 수도이며 많은 사람들이 살고 있습니다. "
        "오늘은 날씨가 아주 좋네요. 내일은 비가 올 것 같습니다.",
        "euc-kr",
    ),
]


def test_a_short_latin_1_file_is_not_read_as_cjk() -> None:
    # The detection alone read it as Korean (johab): "h複lo w他ld".
    content = "h\xe9llo w\xf6rld".encode("latin-1") * 10
    document = parse_content("txt", "greeting.txt", content, FileLimits())
    assert document.text == "héllo wörld" * 10


@pytest.mark.parametrize(("text", "encoding"), WESTERN, ids=[text[:12] for text, _ in WESTERN])
def test_short_western_texts_are_read_in_their_code_page(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "notes.txt") == text


@pytest.mark.parametrize(("text", "encoding"), CJK, ids=[encoding for _, encoding in CJK])
def test_cjk_texts_are_read_as_themselves(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), "notes.txt") == text


LONG = [*CJK, ("Grüße aus München!", "utf-16-le")]


@pytest.mark.parametrize(("line", "encoding"), LONG, ids=[encoding for _, encoding in LONG])
@pytest.mark.parametrize("prefix", ["", "x"])  # one of the two cuts the bytes at DETECTION_BYTES in a character
def test_a_file_past_the_detected_bytes_is_read_as_itself(line: str, encoding: str, prefix: str) -> None:
    text = prefix + f"{line}\n" * (DETECTION_BYTES // len(line) + 1)
    assert decode_text(text.encode(encoding), "long.txt") == text
