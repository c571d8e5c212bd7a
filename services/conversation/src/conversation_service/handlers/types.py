"""Types the use cases share."""

from __future__ import annotations

from collections.abc import Callable

from conversation_service.adapters.unit_of_work import ConversationUnitOfWork

UnitOfWorkFactory = Callable[[], ConversationUnitOfWork]
"""Opens a new unit of work over conversation's schema."""
