"""Retrieval rules: which terms a question is about, the OpenSearch query, and how well a chunk supports it.

Pure: the adapter sends ``build_query``'s body and hands the hits back as ``Passage``s.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from customer_agent_shared.content_index import localized_field

from conversation_service.domain.language import STOP_WORDS, word_list, words
from conversation_service.domain.lexicon import GLOSSARY_ONLY, Lexicon
from conversation_service.domain.links import is_citable_url

SHORT_ANSWER_KIND = "short_answer"
_ALL_STOP_WORDS = frozenset[str]().union(*STOP_WORDS.values())

# Words that carry no topic in a support question, whatever the language.
_GENERIC = frozenset(
    word_list(
        "hello hi hey thanks thank please long time take takes taking get got need want know tell also still "
        "much many make does doing done just really some any there here would should could will shall may "
        "might hej hejsa tak gerne vide fortælle også stadig meget mange lang tager tage gøre få have bare "
        "tid hallo hoi dank bedankt graag weten vertellen ook nog veel duurt doen krijgen even gewoon tijd "
        "danke bitte wissen sagen auch noch viel viele lange dauert machen bekommen gerne zeit bonjour merci "
        "savoir dire aussi encore beaucoup faire avoir temps hola gracias saber decir también todavía mucho "
        "muchos hacer tener tiempo"
    )
)
# Words that point back at an earlier turn: a question containing one is read with the thread.
_ANAPHORA = frozenset(
    word_list(
        "it that this those these them its there det den dette disse dem dat dit deze die het daar es das "
        "dies dieser diese ça cela ce cet cette ces eso esto ese esa ello"
    )
)
_FOLLOW_UP_MAX_TERMS = 2
_MIN_TERM_LENGTH = 3
_PREFIX = 6


@dataclass(frozen=True)
class QueryTerms:
    """What a question is about: its content words, their English translations, and thread context."""

    language: str
    terms: tuple[str, ...]
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    context_terms: tuple[str, ...] = ()
    phrase_translations: tuple[str, ...] = ()
    question: str = ""  # what the vector search embeds: the question, after the one it follows up

    @property
    def all_terms(self) -> tuple[str, ...]:
        """Question terms followed by the context terms borrowed from the thread."""
        return self.terms + tuple(term for term in self.context_terms if term not in self.terms)

    @property
    def english(self) -> tuple[str, ...]:
        """Every English term the lexicon gave for the question (and its context)."""
        seen: dict[str, None] = {}
        for term in self.all_terms:
            for english in self.translations.get(term, ()):
                seen.setdefault(english, None)
        for english in self.phrase_translations:
            seen.setdefault(english, None)
        return tuple(seen)

    @property
    def key(self) -> Hashable:
        """A hashable value equal for equal terms (the translations dict is not hashable itself)."""
        translations = tuple(sorted(self.translations.items()))
        return (self.language, self.terms, translations, self.context_terms, self.phrase_translations, self.question)

    @property
    def is_empty(self) -> bool:
        """True when the question names nothing to look for."""
        return not self.all_terms and not self.phrase_translations and not self.question.strip()


def content_terms(text: str) -> tuple[str, ...]:
    """The words of ``text`` that carry its topic (no stop words, generic verbs or very short words)."""
    seen: dict[str, None] = {}
    for word in words(text):
        if len(word) >= _MIN_TERM_LENGTH and word not in _ALL_STOP_WORDS and word not in _GENERIC:
            seen.setdefault(word, None)
    return tuple(seen)


def is_follow_up(text: str, terms: Sequence[str]) -> bool:
    """A question that leans on the thread: very few topic words, or a word pointing back."""
    return len(terms) <= _FOLLOW_UP_MAX_TERMS and (not terms or bool(_ANAPHORA.intersection(words(text))))


def analyze_question(
    text: str, language: str, previous_questions: Sequence[str] = (), *, lexicon: Lexicon = GLOSSARY_ONLY
) -> QueryTerms:
    """Terms of a question (with the lexicon's English words); a follow-up borrows the latest earlier question's."""
    terms = content_terms(text)
    context: tuple[str, ...] = ()
    question = text.strip()
    translations, phrases = lexicon.translate_question(terms, text, language)
    if previous_questions and is_follow_up(text, terms):
        for previous in reversed(previous_questions):
            context = content_terms(previous)
            if context:
                question = f"{previous.strip()} {question}"
                earlier, earlier_phrases = lexicon.translate_question(context, previous, language)
                translations = {**earlier, **translations}
                phrases = tuple(dict.fromkeys((*phrases, *earlier_phrases)))
                break
    return QueryTerms(
        language=language,
        terms=terms,
        translations=translations,
        context_terms=context,
        phrase_translations=phrases,
        question=question,
    )


def fields_for(language: str, name: str, boost: float = 1.0) -> list[str]:
    """``name`` (standard analyzer, every chunk) plus its field analysed for ``language`` (that language's chunks)."""
    suffix = f"^{boost:g}" if boost != 1.0 else ""
    fields = [f"{name}{suffix}"]
    if localized := localized_field(language, name):
        fields.append(f"{localized}{suffix}")
    return fields


def english_fields_for(name: str, boost: float = 1.0) -> list[str]:
    """``name`` analysed for English (English chunks): where the lexicon's English translations are looked for."""
    suffix = f"^{boost:g}" if boost != 1.0 else ""
    return [f"{localized_field('en', name)}{suffix}"]


def build_query(
    terms: QueryTerms, *, language_boost: float = 1.0, context_boost: float = 0.6, translation_boost: float = 0.7
) -> dict[str, object]:
    """The OpenSearch query (without the account filter, which ``AccountScopedSearch`` adds).

    A lexicon translation is weaker evidence than the visitor's own word, so a page in the visitor's
    language that has the word outranks an English page that has its translation (``translation_boost``).
    """
    language = terms.language
    native = " ".join(terms.terms)
    context = " ".join(term for term in terms.context_terms if term not in terms.terms)
    english = " ".join(terms.english)
    should: list[dict[str, object]] = []

    def match(query: str, fields: list[str], boost: float = 1.0) -> None:
        if query:
            should.append(
                {
                    "multi_match": {
                        "query": query,
                        "fields": fields,
                        "type": "best_fields",
                        "tie_breaker": 0.3,
                        "boost": boost,
                    }
                }
            )

    passage_fields = [
        *fields_for(language, "title", 2),
        *fields_for(language, "section"),
        *fields_for(language, "body"),
    ]
    english_passage_fields = [
        *english_fields_for("title", 2),
        *english_fields_for("section"),
        *english_fields_for("body"),
    ]
    match(native, passage_fields)
    match(native, [*fields_for(language, "question", 3), "answer"], boost=1.5)
    match(context, passage_fields, boost=context_boost)
    if language != "en":
        match(english, english_passage_fields, boost=translation_boost)
        match(english, english_fields_for("question", 3), boost=1.5 * translation_boost)
    if not should:
        return {"match_none": {}}
    return {
        "bool": {
            "must": [{"bool": {"should": should, "minimum_should_match": 1}}],
            "should": [{"term": {"language": {"value": terms.language, "boost": language_boost}}}],
        }
    }


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk, as the composer needs it."""

    chunk_id: str
    score: float
    title: str
    url: str
    body: str
    language: str
    source_kind: str = "url"
    section: str = ""
    question: str = ""
    answer: str = ""
    private: bool = False
    citations_allowed: bool = True
    similarity: float | None = None  # cosine to the question, when the vector search found it
    fused: float | None = None  # hybrid rank score, when both searches ran

    @property
    def is_short_answer(self) -> bool:
        """True for an admin-written question/answer pair."""
        return self.source_kind == SHORT_ANSWER_KIND

    @property
    def citable(self) -> bool:
        """Whether the visitor may be shown this source."""
        uploaded = self.source_kind == "file"
        return self.citations_allowed and not self.private and is_citable_url(self.url, uploaded_file=uploaded)

    @property
    def text(self) -> str:
        """The passage text an answer is taken from."""
        if self.is_short_answer:
            return self.answer or self.body
        return self.body


class StemIndex:
    """Words of a text, indexed so a term matches a word sharing its first letters (a cheap stemmer)."""

    def __init__(self, text: str) -> None:
        self.tokens = frozenset(words(text))
        self.prefixes = frozenset(
            token[:length] for token in self.tokens for length in (4, 5, _PREFIX) if len(token) >= length
        )
        self.short = frozenset(token for token in self.tokens if 4 <= len(token) < _PREFIX)

    def contains(self, term: str) -> bool:
        """True when a word of the text has the same stem as ``term``."""
        if term in self.tokens:
            return True
        if len(term) < 4:
            return False
        if term[:_PREFIX] in self.prefixes:
            return True
        return any(term[:length] in self.short for length in (4, 5) if len(term) > length)

    def contains_cognate(self, term: str) -> bool:
        """True when a word of the text is a near-spelling of ``term`` across languages
        (danmark/denmark, produkt/product, adresse/address): same first letter, one or two edits."""
        if len(term) < 5:
            return False
        allowed = 1 if len(term) < 8 else 2
        return any(
            token[0] == term[0]
            and abs(len(token) - len(term)) <= allowed
            and edit_distance(token, term, allowed) <= allowed
            for token in self.tokens
        )


def edit_distance(first: str, second: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning ``limit + 1``) as soon as it must exceed ``limit``."""
    previous = list(range(len(second) + 1))
    for row, first_char in enumerate(first, start=1):
        current = [row]
        for column, second_char in enumerate(second, start=1):
            current.append(
                min(previous[column] + 1, current[column - 1] + 1, previous[column - 1] + (first_char != second_char))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


TermWeights = dict[str, float]
"""How specific each question term is in the account's content (missing = weight 1)."""


def effective_weights(terms: QueryTerms, weights: TermWeights) -> TermWeights:
    """Weights as used for support: a foreign word the lexicon cannot translate is rare in content of
    another language for that reason alone, so it never weighs more than the average translated term
    (its own inflated weight left out of that average; the average of all terms when none translated)."""
    if not weights or terms.language == "en":
        return weights
    translated = [weight for term, weight in weights.items() if term in terms.translations]
    reference = translated or list(weights.values())
    average = sum(reference) / len(reference)
    return {term: weight if term in terms.translations else min(weight, average) for term, weight in weights.items()}


def _covered(index: StemIndex, term: str, translations: Iterable[str], *, foreign: bool = False) -> bool:
    translations = tuple(translations)
    if index.contains(term) or any(all(index.contains(part) for part in english.split()) for english in translations):
        return True
    # A foreign word the lexicon does not know may still be a cognate of a word in the content.
    return foreign and not translations and index.contains_cognate(term)


def support(terms: QueryTerms, text: str, weights: TermWeights | None = None) -> float:
    """Weighted share (0..1) of the question's topic words that ``text`` contains, directly or translated.

    With ``weights`` a rare term counts more than a common one, so a question about something the
    content never mentions ('pizza prices') is not supported by a page that merely mentions 'price'.
    """
    effective = effective_weights(terms, weights or {})
    index = StemIndex(text)
    total = covered = 0.0
    for term in terms.all_terms:
        weight = effective.get(term, 1.0)
        total += weight
        if _covered(index, term, terms.translations.get(term, ()), foreign=terms.language != "en"):
            covered += weight
    for english in terms.phrase_translations:
        total += 1.0
        covered += index.contains(english)
    return covered / total if total else 0.0


def passage_support(terms: QueryTerms, passage: Passage, weights: TermWeights | None = None) -> float:
    """Support of a passage: a short answer is judged on its question, a page on all its text."""
    if passage.is_short_answer:
        return support(terms, f"{passage.question} {passage.answer}", weights)
    return support(terms, f"{passage.title} {passage.section} {passage.body}", weights)


@dataclass(frozen=True)
class Retrieval:
    """What a search returned: passages, best first, and the weight of each question term."""

    passages: list[Passage]
    weights: TermWeights = field(default_factory=dict)
    question_vector: tuple[float, ...] | None = None
    """The question's vector, when the search had one (a knowledge gap carries it for grouping)."""
    vector_model: str | None = None


# Share of word support in a hybrid rank (chosen on bench/quality's dev split).
LEXICAL_SHARE = 0.7


@dataclass(frozen=True)
class Ranked:
    """A passage with its word support, its rank score and whether it supports an answer by itself."""

    passage: Passage
    support: float
    rank: float
    supported: bool = False


def rank_passages(
    terms: QueryTerms,
    passages: Sequence[Passage],
    *,
    weights: TermWeights | None = None,
    min_support: float = 0.6,
    short_answer_bonus: float = 0.3,
    lexical_share: float = LEXICAL_SHARE,
) -> list[Ranked]:
    """Order passages: by the hybrid rank when both searches ran, with a share of word support (the
    question's words found in the passage, weighted by rarity), else by word support first and BM25
    second; a short answer whose question holds the visitor's words comes first. ``supported`` marks the
    passages whose word support reaches ``min_support`` (the ones cited beside the best)."""
    if not passages:
        return []
    top_score = max(passage.score for passage in passages) or 1.0
    top_fused = max(passage.fused or 0.0 for passage in passages) or 1.0
    ranked: list[Ranked] = []
    for passage in passages:
        covered = passage_support(terms, passage, weights)
        supported = covered >= min_support
        if passage.fused is not None:
            rank = (1.0 - lexical_share) * passage.fused / top_fused + lexical_share * covered
        else:
            rank = 0.7 * covered + 0.3 * (passage.score / top_score)
        if passage.is_short_answer and supported:
            rank += short_answer_bonus
        ranked.append(Ranked(passage, covered, rank, supported))
    ranked.sort(key=lambda item: item.rank, reverse=True)
    return ranked


class ContentUnavailableError(RuntimeError):
    """The content index cannot be reached: the agent cannot answer and hands the thread off."""
