"""A client of any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, a hosted API)."""

from __future__ import annotations

from typing import Any

import httpx


class LlmError(Exception):
    """The endpoint failed, timed out or answered something unusable."""


class ChatCompletionsClient:
    """POSTs ``/chat/completions`` and returns the first choice's text."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_seconds: float = 8.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout_seconds)
        self._model = model

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's reply; raises ``LlmError`` on any failure."""
        body: dict[str, Any] = {"model": self._model, "messages": messages, "temperature": 0.1}
        try:
            response = await self._client.post("chat/completions", json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            raise LlmError(f"{type(error).__name__}: {error}") from error
        if not isinstance(content, str):
            raise LlmError("reply content is not text")
        return content

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
