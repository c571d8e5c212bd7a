"""Messages that are not questions: asking for a person, or telling whether an answer helped."""

from __future__ import annotations

import re
from enum import StrEnum

from conversation_service.domain.language import word_list, words


class Intent(StrEnum):
    """What a visitor's message is, before retrieval."""

    QUESTION = "question"
    HUMAN_REQUEST = "human_request"
    POSITIVE_FEEDBACK = "positive_feedback"
    NEGATIVE_FEEDBACK = "negative_feedback"


# Phrases (lower case, matched on word boundaries) asking for a person, in several languages.
_HUMAN_PHRASES = (
    # en
    "talk to a human", "speak to a human", "talk to a person", "speak to a person", "real person",
    "human agent", "a human", "talk to someone", "speak to someone", "customer service agent",
    "live agent", "an agent", "representative", "operator",
    # da
    "menneske", "et rigtigt menneske", "tale med en person", "snakke med en person", "medarbejder",
    "tale med nogen", "kundeservicemedarbejder",
    # nl
    "medewerker", "een mens", "echt persoon", "met iemand spreken", "met een persoon",
    # de
    "mitarbeiter", "einem menschen", "mensch sprechen", "echte person", "mit jemandem sprechen",
    # fr
    "un humain", "parler à une personne", "un conseiller", "parler à quelqu'un",
    # es
    "un humano", "hablar con una persona", "un agente", "hablar con alguien", "persona real",
)  # fmt: skip

_HUMAN_PATTERN = re.compile(r"(?<!\w)(" + "|".join(re.escape(phrase) for phrase in _HUMAN_PHRASES) + r")(?!\w)")

_POSITIVE = frozenset(
    word_list(
        "thanks thank thx great perfect helpful helped tak tusind super perfekt dank bedankt danke merci "
        "gracias perfecto parfait prima fint"
    )
)
_NEGATIVE_PHRASES = (
    "not helpful", "didn't help", "did not help", "doesn't help", "useless", "wrong answer", "not what i asked",
    "hjalp ikke", "hjælper ikke", "ikke hjælpsom", "forkert svar",
    "helpt niet", "niet behulpzaam", "verkeerd antwoord",
    "hilft nicht", "nicht hilfreich", "falsche antwort",
    "pas utile", "ne m'aide pas", "mauvaise réponse",
    "no ayuda", "no me ayuda", "respuesta incorrecta",
)  # fmt: skip
_NEGATIVE_PATTERN = re.compile(r"(?<!\w)(" + "|".join(re.escape(phrase) for phrase in _NEGATIVE_PHRASES) + r")(?!\w)")
_MAX_FEEDBACK_WORDS = 6


def classify(text: str) -> Intent:
    """Classify a message: a request for a person wins, then short feedback, else it is a question."""
    lowered = " ".join(text.lower().split()).replace("\u2019", "'")
    if _HUMAN_PATTERN.search(lowered):
        return Intent.HUMAN_REQUEST
    tokens = words(lowered)
    if _NEGATIVE_PATTERN.search(lowered) and len(tokens) <= _MAX_FEEDBACK_WORDS + 2:
        return Intent.NEGATIVE_FEEDBACK
    if tokens and len(tokens) <= _MAX_FEEDBACK_WORDS and "?" not in lowered and _POSITIVE.intersection(tokens):
        return Intent.POSITIVE_FEEDBACK
    return Intent.QUESTION
