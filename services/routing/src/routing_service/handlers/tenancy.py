"""The tenant check every routing use case makes before touching state."""

from __future__ import annotations

from typing import Any, Protocol

from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.reliable import PermanentHandlerError


class AccountScoped(Protocol):
    """Event data that names its account."""

    @property
    def account_id(self) -> str:
        """The account the data belongs to."""
        ...


def require_matching_account(event: CloudEvent[Any]) -> None:
    """Refuse (dead-letter) an event whose envelope and data name different accounts."""
    data: AccountScoped = event.data
    if event.accountid != data.account_id:
        raise PermanentHandlerError(
            f"event accountid {event.accountid!r} differs from data.account_id {data.account_id!r}"
        )
