"""Request and response bodies of the admin REST API (the OpenAPI schemas, with examples)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.events.channels import ChannelType, OutboundKind
from customer_agent_shared.events.config import AgentRole, HandoffMode, Personality
from pydantic import BaseModel, ConfigDict, Field, model_validator

from admin_api.domain.access import Permission
from admin_api.domain.status import AgentStatus

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
CHANNEL_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""A channel id is the provider's (a phone number, an e-mail address, a page path): anything inbound events
may carry (``ChannelRef.id``), but for control characters."""


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


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class ErrorBody(BaseModel):
    """What went wrong, for a program (code) and for a person (message)."""

    model_config = _examples({"code": "not_found", "message": "Source 'src_1' does not exist on this account."})

    code: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong and what to do about it.")
    details: list[dict[str, Any]] | None = Field(default=None, description="Per-field problems (validation).")


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    model_config = _examples({"error": {"code": "forbidden", "message": "This API key lacks customer_agent:edit."}})

    error: ErrorBody


# --- accounts and keys -------------------------------------------------------------------------


class AccountCreate(ApiModel):
    """A new account."""

    model_config = _examples({"id": "acme", "name": "Acme Inc."})

    id: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN, description="Account id, chosen by the operator.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")


class AccountOut(BaseModel):
    """An account."""

    model_config = _examples({"id": "acme", "name": "Acme Inc.", "created_at": "2026-11-21T12:00:00Z"})

    id: str
    name: str
    created_at: datetime


class ApiKeyCreate(ApiModel):
    """Permissions of a new API key."""

    model_config = _examples({"permissions": ["customer_agent:read", "customer_agent:edit"]})

    permissions: list[Permission] = Field(min_length=1, max_length=2, description="What the key may do.")


class ApiKeyOut(BaseModel):
    """An API key as stored (the key itself is never shown again)."""

    model_config = _examples(
        {
            "id": "key_0f3a",
            "permissions": ["customer_agent:read"],
            "created_at": "2026-11-21T12:00:00Z",
            "revoked_at": None,
        }
    )

    id: str
    permissions: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    """A new API key: ``key`` is shown only in this response; store it safely."""

    model_config = _examples(
        {
            "id": "key_0f3a",
            "key": "cak_key_0f3a_4Yk…",
            "permissions": ["customer_agent:read"],
            "created_at": "2026-11-21T12:00:00Z",
            "revoked_at": None,
        }
    )

    key: str = Field(description="The secret to send as 'Authorization: Bearer <key>'.")


# --- agent -------------------------------------------------------------------------------------


class AgentProfileBody(ApiModel):
    """Name, role and personality of the agent, and how sure it must be to answer."""

    model_config = _examples(
        {"name": "Ada", "role": "customer_service", "personality": "friendly"},
        {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.7},
    )

    name: str = Field(min_length=1, max_length=100, description="Name that signs the agent's messages.")
    role: AgentRole = Field(description="What the agent is for.")
    personality: Personality = Field(description="Tone of the replies.")
    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The least confidence (the calibrated probability, 0..1, that an answer cites the right "
        "page) the agent needs to answer; higher answers less often and more precisely. null = the service's tuned "
        "default. Left out of a PUT, the stored value stays (a body of name, role and personality changes "
        "only those); send null to go back to the default.",
    )


class AgentStatusOut(BaseModel):
    """Whether the agent takes new conversations, and if not, why."""

    model_config = _examples({"status": "paused_credits_exhausted", "paused": False, "credits_exhausted": True})

    status: AgentStatus
    paused: bool = Field(description="Paused manually (POST /agent/pause).")
    credits_exhausted: bool = Field(description="Billing reported the credits exhausted.")


class PreviewRequest(ApiModel):
    """A question to preview."""

    model_config = _examples({"text": "How do I reset my password?", "locale": "da-DK"})

    text: str = Field(min_length=1, max_length=20_000, description="The visitor's question.")
    locale: str | None = Field(default=None, max_length=35, description="Visitor locale to simulate.")
    thread_id: str | None = Field(default=None, max_length=200, description="Preview thread for follow-ups.")


class CitationOut(BaseModel):
    """A cited source."""

    model_config = _examples({"title": "Reset your password", "url": "https://help.example.com/reset"})

    title: str
    url: str


class PreviewOut(BaseModel):
    """The answer the agent would give (never billed)."""

    model_config = _examples(
        {
            "text": "Klik på 'Glemt adgangskode' på login-siden.",
            "kind": "answer",
            "language": "da",
            "citations": [{"title": "Reset your password", "url": "https://help.example.com/reset"}],
        }
    )

    text: str
    kind: OutboundKind
    language: str
    citations: list[CitationOut]


# --- sources -----------------------------------------------------------------------------------


class UrlSourceCreate(ApiModel):
    """A web page to crawl; with import_related, linked pages on the same domain too (at most 1,000)."""

    model_config = _examples({"kind": "url", "url": "https://help.example.com/", "import_related": True})

    kind: Literal["url"]
    url: str = Field(min_length=1, max_length=2048, description="Absolute http(s) URL.")
    import_related: bool = Field(default=False, description="Crawl linked pages on the same domain.")
    citations_enabled: bool = Field(default=True, description="Answers may cite this source.")
    private: bool = Field(default=False, description="Private content is used but never cited.")


class ShortAnswerCreate(ApiModel):
    """A question with the exact answer to give."""

    model_config = _examples(
        {"kind": "short_answer", "question": "Do you ship to Norway?", "answer": "Yes, within 3 working days."}
    )

    kind: Literal["short_answer"]
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=10_000)
    citations_enabled: bool = Field(default=True, description="Answers may cite this source.")


SourceCreate = Annotated[UrlSourceCreate | ShortAnswerCreate, Field(discriminator="kind")]


class SourcePatch(ApiModel):
    """Fields to change; question and answer only for short answers."""

    model_config = _examples({"citations_enabled": False}, {"question": "Do you ship to Sweden?", "answer": "Yes."})

    citations_enabled: bool | None = None
    private: bool | None = None
    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=10_000)


class SourceOut(BaseModel):
    """A content source with its ingestion progress."""

    model_config = _examples(
        {
            "id": "src_5b1c",
            "kind": "url",
            "state": "syncing",
            "url": "https://help.example.com/",
            "import_related": True,
            "citations_enabled": True,
            "private": False,
            "discovered": 120,
            "fetched": 60,
            "indexed": 55,
            "failed": 1,
            "documents": 55,
            "chunks": 410,
            "embedded_chunks": 160,
            "progress": 0.5,
            "error": None,
            "last_synced_at": None,
            "created_at": "2026-11-21T12:00:00Z",
            "updated_at": "2026-11-21T12:01:00Z",
        }
    )

    id: str
    kind: str = Field(description="url, file, short_answer or knowledge_base.")
    state: str = Field(description="pending, syncing, ready or failed.")
    url: str | None = None
    import_related: bool = False
    question: str | None = None
    answer: str | None = None
    filename: str | None = None
    size: int | None = None
    citations_enabled: bool
    private: bool
    discovered: int
    fetched: int
    indexed: int
    failed: int
    documents: int
    chunks: int
    embedded_chunks: int = Field(
        default=0,
        description="Chunks that have their vector of the current embedding model; word search works at once, "
        "vectors follow.",
    )
    progress: float | None = Field(default=None, description="Share of discovered items processed, 0..1.")
    error: str | None = None
    last_synced_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class SourceList(BaseModel):
    """The account's sources."""

    model_config = _examples({"items": []})

    items: list[SourceOut]


# --- channels and handoff ----------------------------------------------------------------------


class HandoffTargetBody(ApiModel):
    """A user or team who receives handed-off threads."""

    model_config = _examples({"kind": "team", "id": "support"})

    kind: Literal["user", "team"]
    id: str = Field(min_length=1, max_length=200)


class HandoffRuleBody(ApiModel):
    """What happens when a thread leaves the agent on this channel."""

    model_config = _examples(
        {"mode": "handoff", "assign_to": [{"kind": "team", "id": "support"}], "update_avatar": True}
    )

    mode: HandoffMode = Field(default=HandoffMode.HANDOFF, description="handoff or stay_assigned.")
    assign_to: list[HandoffTargetBody] = Field(
        default_factory=list, max_length=50, description="Candidates; empty = the unassigned view."
    )
    update_avatar: bool = Field(default=True, description="Show the human's avatar after the handoff.")


class ChannelCreate(ApiModel):
    """Deploy the agent on a channel."""

    model_config = _examples(
        {"type": "live_chat", "id": "website", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}}
    )

    type: ChannelType
    id: str = Field(
        min_length=1,
        max_length=200,
        pattern=CHANNEL_ID_PATTERN,
        description="The provider's channel id, as inbound messages carry it (e.g. 'website', '+4512345678').",
    )
    handoff: HandoffRuleBody = Field(default_factory=HandoffRuleBody)


class ChannelUpdate(ApiModel):
    """A channel's new handoff rule."""

    model_config = _examples({"handoff": {"mode": "stay_assigned", "assign_to": [], "update_avatar": False}})

    handoff: HandoffRuleBody


class ChannelOut(BaseModel):
    """A channel the agent is deployed on."""

    model_config = _examples(
        {"type": "whatsapp", "id": "wa-main", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}}
    )

    type: ChannelType
    id: str
    handoff: HandoffRuleBody


class ChannelList(BaseModel):
    """Every deployment."""

    model_config = _examples({"items": []})

    items: list[ChannelOut]


class MessagesBody(ApiModel):
    """Availability messages in one language."""

    model_config = _examples(
        {
            "available": "A teammate will be with you shortly.",
            "away": "We are away.",
            "at_capacity": "We are busy; please wait.",
            "outside_hours": "We are closed.",
            "handoff_unavailable": "I cannot hand you over right now.",
        }
    )

    available: str = Field(min_length=1, max_length=1000)
    away: str = Field(min_length=1, max_length=1000)
    at_capacity: str = Field(min_length=1, max_length=1000)
    outside_hours: str = Field(min_length=1, max_length=1000)
    handoff_unavailable: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Optional: left out, the language keeps its current text, else the default one.",
    )


class HandoffSettingsBody(ApiModel):
    """Trigger words/phrases and availability messages; omitted fields keep their value."""

    model_config = _examples({"triggers": ["human", "talk to a person"]})

    triggers: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=200)
    messages: dict[str, MessagesBody] | None = Field(default=None, description="Keyed by language, e.g. 'en'.")


class HandoffSettingsOut(BaseModel):
    """The account's handoff settings."""

    model_config = _examples({"triggers": ["human"], "messages": {}})

    triggers: list[str]
    messages: dict[str, MessagesBody]


# --- users and teams ---------------------------------------------------------------------------


class WorkingIntervalBody(ApiModel):
    """Working time on one weekday."""

    model_config = _examples({"day": 0, "start": "09:00", "end": "17:00"})

    day: int = Field(ge=0, le=6, description="0 = Monday.")
    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM.")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM, 24:00 allowed.")


class WorkingHoursBody(ApiModel):
    """Weekly hours in an IANA time zone; no intervals = always."""

    model_config = _examples(
        {"timezone": "Europe/Copenhagen", "intervals": [{"day": 0, "start": "09:00", "end": "17:00"}]}
    )

    timezone: str = Field(default="UTC", max_length=64)
    intervals: list[WorkingIntervalBody] = Field(default_factory=list, max_length=100)


class UserBody(ApiModel):
    """A person who can receive handoffs."""

    model_config = _examples({"id": "u-ada", "name": "Ada", "paid_seat": True, "available": True, "team_ids": []})

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    paid_seat: bool = False
    available: bool = True
    working_hours: WorkingHoursBody = Field(default_factory=WorkingHoursBody)
    team_ids: list[str] = Field(default_factory=list, max_length=100)


class UsersBody(ApiModel):
    """The full list of users, wrapped (a bare JSON list is accepted too)."""

    model_config = _examples({"users": [{"id": "u-ada", "name": "Ada", "paid_seat": True}]})

    users: list[UserBody] = Field(max_length=1000)


class TeamBody(ApiModel):
    """A team that can receive handoffs."""

    model_config = _examples({"id": "support", "name": "Support", "max_capacity": 20, "member_ids": ["u-ada"]})

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)
    max_capacity: int | None = Field(default=None, ge=0, le=100_000, description="Max open threads; null = no limit.")
    member_ids: list[str] = Field(default_factory=list, max_length=1000)
    working_hours: WorkingHoursBody | None = None


class TeamsBody(ApiModel):
    """The full list of teams, wrapped (a bare JSON list is accepted too)."""

    model_config = _examples({"teams": [{"id": "support", "name": "Support", "max_capacity": 20, "member_ids": []}]})

    teams: list[TeamBody] = Field(max_length=500)


# --- credits -----------------------------------------------------------------------------------


class CreditPlanBody(ApiModel):
    """An account's plan: allotment, reset, pricing and auto-upgrade packs."""

    model_config = _examples(
        {
            "monthly_allotment": 1000,
            "reset_day": 1,
            "timezone": "UTC",
            "auto_upgrade_pack_credits": 500,
            "auto_upgrade_limit": 2,
        }
    )

    monthly_allotment: int = Field(default=1000, ge=0, le=100_000_000)
    reset_day: int = Field(default=1, ge=1, le=28)
    timezone: str = Field(default="UTC", max_length=64)
    pricing_rule: PricingRule = PricingRule.PER_CONVERSATION
    credits_per_unit: int = Field(default=1, ge=1, le=1000)
    resolution_hours: int = Field(default=72, ge=1, le=24 * 90)
    auto_upgrade_pack_credits: int = Field(default=0, ge=0, le=10_000_000, description="0 = auto-upgrade off.")
    auto_upgrade_limit: int = Field(default=0, ge=0, le=1000, description="Max auto packs per period.")


class CreditsOut(BaseModel):
    """Credit state as billing last reported it (known=false before its first report)."""

    model_config = _examples(
        {
            "known": True,
            "balance": 420,
            "allotment": 1000,
            "used_this_period": 580,
            "purchased_this_period": 0,
            "auto_upgrades_this_period": 0,
            "reset_at": "2026-12-01T00:00:00Z",
            "exhausted": False,
            "plan": {"monthly_allotment": 1000, "reset_day": 1, "timezone": "UTC"},
        }
    )

    known: bool
    balance: int | None = None
    allotment: int | None = None
    used_this_period: int | None = None
    purchased_this_period: int | None = None
    auto_upgrades_this_period: int | None = None
    reset_at: datetime | None = None
    exhausted: bool = False
    plan: CreditPlanBody | None = None


class PurchaseBody(ApiModel):
    """Credits bought."""

    model_config = _examples({"credits": 500})

    credits: int = Field(ge=1, le=10_000_000)


class CommandAccepted(BaseModel):
    """The command was recorded and will reach billing; GET /credits shows the outcome."""

    model_config = _examples({"command_id": "cmd_1f2e", "status": "accepted"})

    command_id: str
    status: Literal["accepted"] = "accepted"


# --- performance, knowledge gaps, audit --------------------------------------------------------


class QuestionCountOut(BaseModel):
    """A frequent question."""

    model_config = _examples({"question": "How do I reset my password?", "count": 12})

    question: str
    count: int


class PerformanceOut(BaseModel):
    """What the agent did over a period (preview conversations excluded)."""

    model_config = _examples(
        {
            "from": "2026-11-01",
            "to": "2026-11-30",
            "conversations": 100,
            "answered": 80,
            "resolved": 60,
            "cannot_answer": 10,
            "handoffs": 15,
            "resolution_rate": 0.6,
            "answer_rate": 0.88,
            "cannot_answer_rate": 0.12,
            "handoff_rate": 0.15,
            "handoff_rate_by_reason": {"trigger": 0.05, "cannot_answer": 0.1},
            "handoffs_by_reason": {"trigger": 5, "cannot_answer": 10},
            "credits_used": 100,
            "top_questions": [{"question": "How do I reset my password?", "count": 12}],
        }
    )

    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    conversations: int
    answered: int
    resolved: int
    cannot_answer: int
    handoffs: int
    resolution_rate: float
    answer_rate: float
    cannot_answer_rate: float
    handoff_rate: float
    handoff_rate_by_reason: dict[str, float]
    handoffs_by_reason: dict[str, int]
    credits_used: int
    top_questions: list[QuestionCountOut]


class KnowledgeGapOut(BaseModel):
    """Similar unanswered questions grouped together."""

    model_config = _examples(
        {
            "id": "gap_9a1",
            "question": "Can I pay with MobilePay?",
            "count": 7,
            "language": "da",
            "status": "open",
            "first_seen_at": "2026-11-20T08:00:00Z",
            "last_seen_at": "2026-11-21T09:00:00Z",
            "nearest_content": [{"title": "Payment", "url": "https://help.example.com/payment"}],
            "recommended_answer": "Answer to “Can I pay with MobilePay?”: see “Payment” (https://help.example.com/payment).",
            "resolved_source_id": None,
        }
    )

    id: str
    question: str
    count: int
    language: str | None = None
    status: Literal["open", "resolved"]
    first_seen_at: datetime
    last_seen_at: datetime
    nearest_content: list[CitationOut]
    recommended_answer: str | None = None
    resolved_source_id: str | None = None


class KnowledgeGapList(BaseModel):
    """Knowledge gaps, most frequent first."""

    model_config = _examples({"items": []})

    items: list[KnowledgeGapOut]


class ResolveGapBody(ApiModel):
    """The answer that closes the gap (becomes a short answer)."""

    model_config = _examples({"answer": "Yes, we accept MobilePay."})

    answer: str = Field(min_length=1, max_length=10_000)
    question: str | None = Field(default=None, min_length=1, max_length=1000, description="Defaults to the gap's.")


class ResolvedGapOut(BaseModel):
    """The resolved gap and the short answer created from it."""

    model_config = _examples(
        {
            "gap": {"id": "gap_9a1", "question": "Can I pay with MobilePay?", "count": 7, "status": "resolved"},
            "source": {"id": "src_77", "kind": "short_answer", "state": "pending"},
        }
    )

    gap: KnowledgeGapOut
    source: SourceOut


class AuditEntryOut(BaseModel):
    """One recorded change."""

    model_config = _examples(
        {
            "id": 42,
            "actor": "key_0f3a",
            "action": "edit",
            "target_type": "agent",
            "target_id": "profile",
            "before": {"name": "Customer Agent"},
            "after": {"name": "Ada"},
            "at": "2026-11-21T12:00:00Z",
        }
    )

    id: int
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime


class AuditPage(BaseModel):
    """Audit entries, newest first; pass next_before_id as before_id for the next page."""

    model_config = _examples({"items": [], "next_before_id": None})

    items: list[AuditEntryOut]
    next_before_id: int | None = None
