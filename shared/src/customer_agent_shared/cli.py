"""The command line every service shares: ``<service> serve|migrate|asyncapi``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI

from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.runtime import serve
from customer_agent_shared.settings import ServiceSettings

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def run_service_command(
    argv: list[str] | None,
    *,
    prog: str,
    settings: SettingsT,
    migrations_dir: Path,
    asyncapi_document: Callable[[SettingsT], str],
    create_app: Callable[[SettingsT], FastAPI],
    also_migrate: Sequence[tuple[Path, str]] = (),
) -> int:
    """Serve the service (default), apply its migrations (then ``also_migrate``'s: folder, schema), or print
    its AsyncAPI document."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "asyncapi"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        for directory, schema in ((migrations_dir, settings.database_schema), *also_migrate):
            upgrade_to_head(directory, settings.database_url, schema)
        return 0
    if args.command == "asyncapi":
        sys.stdout.write(asyncapi_document(settings) + "\n")
        return 0
    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        graceful_seconds=settings.shutdown_grace_seconds,
    )
    return 0
