"""Errors the admin rules raise; the HTTP layer maps each kind to a status code."""

from __future__ import annotations


class AdminError(Exception):
    """Base of every expected, user-facing error: a stable code and a message a person can act on."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(AdminError):
    """The request is well-formed but breaks a rule (HTTP 422)."""

    code = "invalid_request"


class NotFound(AdminError):
    """The resource does not exist or belongs to another account (HTTP 404)."""

    code = "not_found"


class Conflict(AdminError):
    """The request conflicts with the current state (HTTP 409)."""

    code = "conflict"


class PreconditionFailed(AdminError):
    """The If-Match ETag no longer matches: someone else changed the resource (HTTP 412)."""

    code = "precondition_failed"


class Unauthenticated(AdminError):
    """No valid API key (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(AdminError):
    """The key lacks the permission (HTTP 403)."""

    code = "forbidden"


class UnsupportedFileType(AdminError):
    """The uploaded file's type is not one of the accepted types (HTTP 415)."""

    code = "unsupported_file_type"


class PayloadTooLarge(AdminError):
    """The upload exceeds the size limit (HTTP 413)."""

    code = "payload_too_large"


class UpstreamTimeout(AdminError):
    """Another service did not answer in time (HTTP 504)."""

    code = "upstream_timeout"


class TooManyRequests(AdminError):
    """A request budget is used up (HTTP 429); ``retry_after_seconds`` says when the next request may pass."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
