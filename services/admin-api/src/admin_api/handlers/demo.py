"""The demo account `make up` offers in the console: created once at start-up when ADMIN_DEMO_ACCOUNT is on,
with a short answer and the agent on the live-chat channel of webchat's demo page."""

from __future__ import annotations

import logging

from customer_agent_shared.events.channels import ChannelType
from customer_agent_shared.events.config import ChannelDeployment

from admin_api.domain.errors import Conflict
from admin_api.handlers.accounts import OPERATOR, AccountUseCases
from admin_api.handlers.configuration import ConfigurationUseCases
from admin_api.handlers.sources import SourceUseCases

logger = logging.getLogger(__name__)

DEMO_ACCOUNT_ID = "demo"
DEMO_ACCOUNT_NAME = "Demo shop"
DEMO_CHANNEL_ID = "website"
DEMO_QUESTION = "What are your opening hours?"
DEMO_ANSWER = "We are open Monday to Friday from 9:00 to 17:00, and Saturday from 10:00 to 14:00."


async def ensure_demo_account(
    accounts: AccountUseCases, configuration: ConfigurationUseCases, sources: SourceUseCases
) -> None:
    """Create the demo account with one short answer and a live-chat channel, unless it exists."""
    try:
        await accounts.create_account(DEMO_ACCOUNT_ID, DEMO_ACCOUNT_NAME)
    except Conflict:
        return
    await sources.create_short_answer(
        DEMO_ACCOUNT_ID, actor=OPERATOR, question=DEMO_QUESTION, answer=DEMO_ANSWER, citations_enabled=True
    )
    channel = ChannelDeployment(type=ChannelType.LIVE_CHAT, id=DEMO_CHANNEL_ID)
    await configuration.deploy_channel(DEMO_ACCOUNT_ID, actor=OPERATOR, deployment=channel)
    logger.info("demo account created", extra={"account_id": DEMO_ACCOUNT_ID})
