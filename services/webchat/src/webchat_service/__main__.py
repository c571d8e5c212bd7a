"""Command line: ``webchat-service serve|asyncapi`` (webchat keeps no PostgreSQL state to migrate)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from webchat_service.bootstrap import asyncapi_document, build_service, create_app
from webchat_service.settings import WebchatSettings

WS_PING_INTERVAL_SECONDS = 20.0


def main(argv: list[str] | None = None) -> int:
    """Run the service (default), or print its AsyncAPI document; ``migrate`` is accepted and does nothing."""
    parser = argparse.ArgumentParser(prog="webchat-service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "asyncapi"])
    args = parser.parse_args(argv)
    settings = WebchatSettings()
    if args.command == "migrate":
        print("webchat keeps its state in Redis: nothing to migrate")
        return 0
    if args.command == "asyncapi":
        sys.stdout.write(asyncapi_document(build_service(settings)) + "\n")
        return 0
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_ping_interval=WS_PING_INTERVAL_SECONDS,
        ws_ping_timeout=WS_PING_INTERVAL_SECONDS,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
