"""Command line: ``routing-service serve|migrate|asyncapi``."""

from __future__ import annotations

from customer_agent_shared.cli import run_service_command

from routing_service.bootstrap import MIGRATIONS_DIR, asyncapi_document, build_service, create_app
from routing_service.settings import RoutingSettings


def main(argv: list[str] | None = None) -> int:
    """Run the service (default), its migrations, or print its AsyncAPI document."""
    return run_service_command(
        argv,
        prog="routing-service",
        settings=RoutingSettings(),
        migrations_dir=MIGRATIONS_DIR,
        asyncapi_document=lambda settings: asyncapi_document(build_service(settings)),
        create_app=create_app,
    )


if __name__ == "__main__":
    raise SystemExit(main())
