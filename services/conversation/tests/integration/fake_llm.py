"""A local fake OpenAI-compatible chat-completions endpoint (it stands in for vLLM/Ollama/a hosted API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


@dataclass
class FakeModel:
    """What the fake endpoint answers next, and the requests it saw."""

    reply: str = ""
    status: int = 200
    delay: float = 0.0
    failures_first: int = 0  # answer 503 to this many requests before the configured reply
    requests: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[datetime] = field(default_factory=list)


@asynccontextmanager
async def serving_fake_llm() -> AsyncIterator[tuple[FakeModel, str]]:
    """The fake endpoint on a free loopback port: its model and base URL."""
    model = FakeModel()

    async def completions(request: web.Request) -> web.Response:
        model.requests.append(await request.json())
        model.received_at.append(datetime.now(UTC))
        await asyncio.sleep(model.delay)
        if len(model.requests) <= model.failures_first:
            return web.json_response({"error": "overloaded"}, status=503)
        if model.status != 200:
            return web.json_response({"error": "boom"}, status=model.status)
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": model.reply}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield model, f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()
