"""The pipeline benchmark's account: a deployed live-chat channel, credits, and short answers it asks about."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

import httpx

ADMIN_URL = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
BOOTSTRAP_TOKEN = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")

FREQUENT_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What are your opening hours?", "We are open every weekday from 9 to 17."),
    ("How do I reset my password?", "Choose 'Forgot password' on the sign-in page and follow the e-mail."),
    ("Do you ship to Norway?", "Yes, we ship to Norway within five working days."),
    ("How can I return a product?", "Returns are free within 30 days; print the label from your order page."),
    ("Do you offer gift cards?", "Gift cards from 10 to 500 euros are sold in the shop."),
    ("Which payment methods do you accept?", "We accept cards, bank transfer and invoice for companies."),
    ("How long does delivery take?", "Delivery takes two to four working days inside the EU."),
    ("Can I change my delivery address?", "Until the parcel is packed you can change the address in your account."),
    ("Where is my invoice?", "Invoices are in your account under Orders, as PDF files."),
    ("Do you have a student discount?", "Students get 15 percent off with a valid student card."),
    ("How do I cancel my subscription?", "Cancel it any time under Account, Subscription, Cancel."),
    ("Is there a warranty on laptops?", "Laptops carry a two-year warranty from the day of purchase."),
    ("Can I pick up my order in a store?", "Click and collect is free in all our stores in Copenhagen."),
    ("How do I contact customer support?", "Write to support or call us on weekdays between 9 and 17."),
    ("Do you sell refurbished phones?", "Refurbished phones are tested and sold with a one-year warranty."),
    ("What does shipping cost?", "Shipping is free above 50 euros, otherwise it costs 5 euros."),
    ("Can I order by phone?", "Orders by phone are taken on weekdays between 10 and 16."),
    ("Do you price match competitors?", "We match the price of Danish shops for the same product in stock."),
    ("How do I track my parcel?", "The tracking link is in the shipping e-mail and in your account."),
    ("Are your products eco certified?", "Many products carry the Nordic Swan label; see each product page."),
)
"""Question and short answer pairs: ``--questions N`` asks the first N, each thread always the same one."""


@dataclass(frozen=True)
class BenchAccount:
    """The benchmark's account, the key it acts with and the short answers it added."""

    account_id: str
    headers: dict[str, str]
    source_ids: list[str]


async def create_account() -> BenchAccount:
    """Create an account with a deployed live-chat channel and plenty of credits (no short answers yet)."""
    account = f"bench-{uuid.uuid4().hex[:8]}"
    operator = {"Authorization": f"Bearer {BOOTSTRAP_TOKEN}"}
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        (await client.post("/v1/accounts", json={"id": account, "name": "Bench"}, headers=operator)).raise_for_status()
        key_response = await client.post(
            f"/v1/accounts/{account}/api-keys",
            json={"permissions": ["customer_agent:read", "customer_agent:edit"]},
            headers=operator,
        )
        key_response.raise_for_status()
        headers = {"Authorization": f"Bearer {key_response.json()['key']}"}
        base = f"/v1/accounts/{account}"
        (
            await client.post(
                f"{base}/channels",
                json={"type": "live_chat", "id": "bench", "handoff": {"mode": "handoff", "assign_to": []}},
                headers=headers,
            )
        ).raise_for_status()
        (
            await client.post(f"{base}/credits/purchases", json={"credits": 10_000_000}, headers=operator)
        ).raise_for_status()
    return BenchAccount(account, headers, [])


async def add_short_answers(bench_account: BenchAccount, questions: int) -> None:
    """Add the first ``questions`` short answers, recording each in ``bench_account`` as soon as it exists
    (so ``remove_short_answers`` finds it even if this fails later), and wait until all are ready."""
    base = f"/v1/accounts/{bench_account.account_id}/sources"
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        for question, answer in FREQUENT_QUESTIONS[:questions]:
            source = await client.post(
                base,
                json={"kind": "short_answer", "question": question, "answer": answer},
                headers=bench_account.headers,
            )
            source.raise_for_status()
            bench_account.source_ids.append(source.json()["id"])
        for source_id in bench_account.source_ids:
            for _ in range(120):
                state = (await client.get(f"{base}/{source_id}", headers=bench_account.headers)).json()["state"]
                if state == "ready":
                    break
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"the short answer {source_id} never became ready")
    await asyncio.sleep(2)  # let routing and conversation fold the configuration snapshot


async def remove_short_answers(bench_account: BenchAccount) -> None:
    """Remove the benchmark's short answers, so their chunks leave the shared content index.

    OpenSearch scores with the statistics of the whole index, not of one account: every run's identical
    short answer left behind would make its words commoner and shift later runs' raw scores (once, with a
    raw-score gate since removed, the agent stopped answering after ~20 runs).
    """
    base = f"/v1/accounts/{bench_account.account_id}/sources"
    async with httpx.AsyncClient(base_url=ADMIN_URL, timeout=30) as client:
        for source_id in bench_account.source_ids:
            response = await client.delete(f"{base}/{source_id}", headers=bench_account.headers)
            if response.status_code not in (204, 404):  # 404: already gone
                print(f"could not remove the short answer {source_id}: {response.status_code} {response.text}")
