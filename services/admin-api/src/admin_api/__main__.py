"""Command line: ``admin-api serve|migrate|asyncapi``."""

from __future__ import annotations

from customer_agent_shared.cli import run_service_command

from admin_api.bootstrap import (
    MIGRATIONS_DIR,
    asyncapi_document,
    build_service,
    create_app,
    upload_store_migrations,
)
from admin_api.settings import AdminSettings


def main(argv: list[str] | None = None) -> int:
    """Run the service (default), its migrations, or print its AsyncAPI document."""
    settings = AdminSettings()
    return run_service_command(
        argv,
        prog="admin-api",
        settings=settings,
        migrations_dir=MIGRATIONS_DIR,
        also_migrate=upload_store_migrations(settings),
        asyncapi_document=lambda settings: asyncapi_document(build_service(settings)),
        create_app=create_app,
    )


if __name__ == "__main__":
    raise SystemExit(main())
