"""Command line: ``conversation-service serve|migrate|asyncapi``."""

from __future__ import annotations

import argparse
import sys

from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.runtime import serve

from conversation_service.bootstrap import MIGRATIONS_DIR, asyncapi_document, build_service, create_app
from conversation_service.settings import ConversationSettings


def main(argv: list[str] | None = None) -> int:
    """Run the conversation service (default), its migrations, or print its AsyncAPI document."""
    parser = argparse.ArgumentParser(prog="conversation-service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "asyncapi"])
    args = parser.parse_args(argv)
    settings = ConversationSettings()
    if args.command == "migrate":
        upgrade_to_head(MIGRATIONS_DIR, settings.database_url, settings.database_schema)
        return 0
    if args.command == "asyncapi":
        sys.stdout.write(asyncapi_document(build_service(settings)) + "\n")
        return 0
    serve(create_app(settings), host=settings.http_host, port=settings.http_port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
