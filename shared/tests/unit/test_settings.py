"""Settings read shared variables unprefixed and service variables with their prefix."""

from __future__ import annotations

import pytest
from customer_agent_shared.settings import ServiceSettings, async_database_url, unknown_settings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class ExampleSettings(ServiceSettings):
    """A service's settings."""

    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore", populate_by_name=True)

    http_port: int = Field(default=8123)
    bootstrap_token: str = Field(default="", validation_alias=AliasChoices("EXAMPLE_TOKEN", "EXAMPLE_OLD_TOKEN"))


def test_shared_and_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
    monkeypatch.setenv("EXAMPLE_HTTP_PORT", "9999")
    monkeypatch.setenv("HTTP_PORT", "1")  # unprefixed service fields are not read
    settings = ExampleSettings()
    assert settings.kafka_bootstrap_servers == "broker:29092"
    assert settings.http_port == 9999


def test_plain_postgres_urls_get_the_async_driver() -> None:
    assert async_database_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_database_url("postgresql+asyncpg://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"


def test_prefixed_variables_no_setting_reads_are_reported() -> None:
    environ = {
        "EXAMPLE_HTTP_PORT": "9999",
        "example_consumer_group": "g",  # names are not case-sensitive
        "EXAMPLE_OLD_TOKEN": "t",  # read through an alias
        "EXAMPLE_HTTP_PROT": "9999",  # misspelt
        "EXAMPLE_REMOVED_SETTING": "1",
        "KAFKA_BOOTSTRAP_SERVERS": "broker:29092",  # shared, not prefixed
        "OTHER_HTTP_PORT": "1",  # another service's
    }
    assert unknown_settings(ExampleSettings, environ) == ["EXAMPLE_HTTP_PROT", "EXAMPLE_REMOVED_SETTING"]
