"""Database errors on real PostgreSQL never carry the values sent: they reach logs and dead-letter headers."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

SECRET = "visitor-secret-4417"

STATEMENTS = [
    pytest.param("INSERT INTO notes VALUES (:text, 1)", {"text": SECRET}, IntegrityError, id="unique-violation"),
    pytest.param("INSERT INTO notes VALUES ('x', :n)", {"n": SECRET}, DBAPIError, id="driver-encoding"),
    pytest.param("SELECT CAST(CAST(:n AS text) AS integer)", {"n": SECRET}, DBAPIError, id="input-syntax"),
]


@pytest.mark.parametrize(("statement", "parameters", "expected"), STATEMENTS)
async def test_a_failed_statement_shows_no_parameter_in_its_message_or_traceback(
    scratch_schema: tuple[AsyncEngine, str], statement: str, parameters: dict[str, str], expected: type[Exception]
) -> None:
    engine, schema = scratch_schema
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        await connection.execute(text("CREATE TABLE notes (text text PRIMARY KEY, n integer)"))
        await connection.execute(text("INSERT INTO notes VALUES (:text, 1)"), {"text": SECRET})
        with pytest.raises(expected) as raised:
            async with connection.begin_nested():
                await connection.execute(text(statement), parameters)

    shown = "".join(traceback.format_exception(raised.value))  # what a log line's exc_info carries
    assert SECRET not in str(raised.value)  # what a dead-letter header carries
    assert SECRET not in shown
    assert "[SQL:" in shown  # the statement itself is still there to debug with
