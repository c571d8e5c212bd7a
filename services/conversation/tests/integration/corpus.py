"""A small help-centre corpus in English, Danish and Dutch, loaded straight into a throwaway index."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.content_index import (
    EMBEDDING_FIELD,
    EMBEDDING_MODEL_FIELD,
    index_body,
    with_localized_fields,
)
from customer_agent_shared.embeddings import BuiltinEmbedder
from opensearchpy import AsyncOpenSearch

BASE = "https://help.example.com"
PASSWORD_URL = f"{BASE}/en/password"
SHIPPING_URL = f"{BASE}/en/shipping"
RETURNS_URL = f"{BASE}/en/returns"
DANISH_DELIVERY_URL = f"{BASE}/da/levering"
DUTCH_HOURS_URL = f"{BASE}/nl/openingstijden"
PRIVATE_WARRANTY_URL = f"{BASE}/internal/warranty"
WHOLESALE_URL = f"{BASE}/en/wholesale"
GIFT_CARD_PAGE_URL = f"{BASE}/en/gift-card-terms"
GIFT_CARD_ANSWER = "Yes! Gift cards from 100 to 1,000 DKK are sold in our web shop and never expire."


def _page(
    number: int,
    url: str,
    title: str,
    body: str,
    language: str = "en",
    *,
    private: bool = False,
    citations_allowed: bool = True,
) -> dict[str, Any]:
    return {
        "chunk_id": f"chunk-{number}",
        "source_id": f"source-{number}",
        "source_kind": "url",
        "document_id": f"doc-{number}",
        "url": url,
        "title": title,
        "section": title,
        "body": body,
        "language": language,
        "private": private,
        "citations_allowed": citations_allowed,
        "position": 0,
        "content_hash": f"hash-{number}",
        "updated_at": datetime.now(UTC).isoformat(),
    }


def documents(account_id: str) -> list[dict[str, Any]]:
    """The corpus of one account."""
    pages = [
        _page(
            1,
            PASSWORD_URL,
            "Reset your password",
            "To reset your password, open Settings and choose Security, then click Reset password. "
            "We send you an email with a reset link. The reset link is valid for 24 hours.",
        ),
        _page(
            2,
            SHIPPING_URL,
            "Shipping and delivery times",
            "Orders are shipped within 2 business days. Delivery within Europe takes 3 to 5 business days. "
            "You receive a tracking number by email when your parcel leaves our warehouse.",
        ),
        _page(
            3,
            RETURNS_URL,
            "Returns and refunds",
            "You can return any product within 30 days for a full refund. Pack the item in its original box and "
            "print the free return label from your account. The refund reaches your card within 5 business days "
            "after we receive the parcel.",
        ),
        _page(
            4,
            DANISH_DELIVERY_URL,
            "Levering i Danmark",
            "Vi leverer til hele Danmark med PostNord. Levering tager normalt 1 til 2 hverdage, og fragt er gratis "
            "ved køb over 499 kr.",
            "da",
        ),
        _page(
            5,
            DUTCH_HOURS_URL,
            "Openingstijden klantenservice",
            "Onze klantenservice is bereikbaar van maandag tot en met vrijdag van 9.00 tot 17.00 uur. "
            "Op zaterdag is de klantenservice open van 10.00 tot 14.00 uur.",
            "nl",
        ),
        _page(
            6,
            PRIVATE_WARRANTY_URL,
            "Warranty claims (internal)",
            "Warranty claims for broken products are approved by the support lead within 10 days. "
            "The customer then gets a replacement product.",
            private=True,
        ),
        _page(
            7,
            WHOLESALE_URL,
            "Wholesale pricing",
            "Wholesale customers get a discount of 20 percent on orders above 100 units.",
            citations_allowed=False,
        ),
        _page(
            8,
            GIFT_CARD_PAGE_URL,
            "Terms and conditions",
            "These terms cover orders, gift cards, vouchers, discounts and promotions. A gift card is a "
            "prepaid card. Offers cannot be combined.",
        ),
    ]
    short_answer = {
        **_page(9, "", "Do you offer gift cards?", GIFT_CARD_ANSWER),
        "source_kind": "short_answer",
        "question": "Do you offer gift cards?",
        "answer": GIFT_CARD_ANSWER,
    }
    return [{**document, "account_id": account_id} for document in [*pages, short_answer]]


def _passage_text(document: dict[str, Any]) -> str:
    """The text ingestion embeds: a short answer's question and answer, else the title and the body."""
    if document.get("question"):
        return f"{document['question']}\n{document['answer']}"
    return f"{document['title']}\n{document['body']}"


def with_vectors(corpus: list[dict[str, Any]], embedder: BuiltinEmbedder) -> list[dict[str, Any]]:
    """The documents with the vectors ingestion would have added."""
    vectors = embedder.embed_passages_now([_passage_text(document) for document in corpus])
    return [
        {**document, EMBEDDING_FIELD: vector, EMBEDDING_MODEL_FIELD: embedder.model_id}
        for document, vector in zip(corpus, vectors, strict=True)
    ]


async def create_index(
    client: AsyncOpenSearch, index: str, account_ids: list[str], *, embedder: BuiltinEmbedder | None = None
) -> None:
    """Create ``index`` with the contract's mapping and load the corpus for each account (with vectors if
    ``embedder`` is given; else every passage is judged by word support alone)."""
    await client.indices.create(index=index, body=index_body())
    lines: list[dict[str, Any]] = []
    for account_id in account_ids:
        corpus = documents(account_id)
        for document in with_vectors(corpus, embedder) if embedder is not None else corpus:
            lines.append({"index": {"_index": index, "_id": f"{account_id}:{document['chunk_id']}"}})
            lines.append(with_localized_fields(document))
    result = await client.bulk(body=lines, refresh=True)
    assert not result["errors"], result
