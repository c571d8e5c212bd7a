"""Shared pieces of the request and response bodies: the base model, examples, the error shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, BaseModel):
        return any(_has_nul(item) for item in value.__dict__.values())
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class ApiModel(BaseModel):
    """Base of request bodies: text may not contain NUL characters (PostgreSQL cannot store them)."""

    @model_validator(mode="after")
    def _no_nul_characters(self) -> ApiModel:
        if _has_nul(self.__dict__):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return self


def examples(*samples: dict[str, Any]) -> ConfigDict:
    """Model settings: unknown fields refused, these examples in the OpenAPI schema."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(samples)})


class ErrorBody(BaseModel):
    """What went wrong, for a program (code) and for a person (message)."""

    model_config = examples({"code": "not_found", "message": "Source 'src_1' does not exist on this account."})

    code: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong and what to do about it.")
    details: list[dict[str, Any]] | None = Field(default=None, description="Per-field problems (validation).")


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    model_config = examples({"error": {"code": "forbidden", "message": "This API key lacks customer_agent:edit."}})

    error: ErrorBody


class CitationOut(BaseModel):
    """A cited source."""

    model_config = examples({"title": "Reset your password", "url": "https://help.example.com/reset"})

    title: str
    url: str
