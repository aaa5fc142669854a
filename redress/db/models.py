"""Database models. Times are timezone-aware UTC; money is integer pence."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from redress.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# PostgreSQL only, and only where the pg_trgm extension could be created (migration 0016):
# trigram GIN indexes that make the console's search by part of a message, a name or an
# e-mail use an index. Not in the metadata, as they depend on the extension; the schema test
# leaves them out of its comparison. {index name: (table, column)}
TRIGRAM_INDEXES = {
    "ix_messages_text_trgm": ("messages", "text"),
    "ix_customers_name_trgm": ("customers", "name"),
    "ix_customers_email_trgm": ("customers", "email"),
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC time")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_number: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    postcode: Mapped[str] = mapped_column(String(8))
    plan: Mapped[str] = mapped_column(String(80))
    monthly_fee_pence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    # The channel's own id for the conversation (a Telegram chat id); none for web chats.
    external_id: Mapped[str | None] = mapped_column(String(100))
    # False once the channel tells us we can no longer reach the customer (bot blocked).
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    # SHA-256 of the secret a web chat client was given when it started the conversation;
    # only that client may post into it or watch it. None on other channels.
    client_token_hash: Mapped[str | None] = mapped_column(String(64))
    # open | with_agent (the assistant stays silent) | resolved
    status: Mapped[str] = mapped_column(String(20), default="open")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # After an agent resolves it: whether it is fixed for them, and their rating from 1 to 5.
    fixed: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    complaints: Mapped[list[Complaint]] = relationship(order_by="Complaint.id")
    handoffs: Mapped[list[Handoff]] = relationship(order_by="Handoff.id")
    events: Mapped[list[ConversationEvent]] = relationship(order_by="ConversationEvent.id")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # A client's own id for a message it sent: a repeat of it is the same message.
        UniqueConstraint("conversation_id", "client_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    role: Mapped[str] = mapped_column(String(10))  # customer | bot | agent
    channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(100))
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    # Buttons the server issued with this message: [{"title", "payload", "token"}].
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    # What was sent to the assistant when it differs from the text (button payloads,
    # neutralised slash text), and anything else worth keeping about the message.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Complaint(Base):
    __tablename__ = "complaints"
    # The console's case list: newest first, and by team and status.
    __table_args__ = (Index("ix_complaints_team_status", "team", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    category: Mapped[str] = mapped_column(String(30), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    severity_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open")
    summary: Mapped[str] = mapped_column(Text)
    # Facts collected in the conversation: account, postcode, since when, amounts.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The known incident that explains this complaint, when there is one.
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # --- The case: a logged complaint is worked by its team (business/teams.yml). ---
    # The team that owns it, set when it is logged (None until then: not a case yet).
    team: Mapped[str | None] = mapped_column(String(40), index=True)
    # The agent who claimed it (Slack user id or console operator), and when.
    owner_id: Mapped[str | None] = mapped_column(String(40))
    owner_name: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]
    # Where the team is with it while open: waiting_on_us | waiting_on_customer.
    desk_status: Mapped[str | None] = mapped_column(String(30))
    # Its card in the team's channel at the desk, and the posting queue's bookkeeping.
    desk_channel: Mapped[str | None] = mapped_column(String(40))
    desk_thread: Mapped[str | None] = mapped_column(String(40), index=True)
    posted_at: Mapped[datetime | None]
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_post_at: Mapped[datetime | None]
    last_post_error: Mapped[str | None] = mapped_column(String(300))
    # The earlier case about the same kind of problem that this one repeats.
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    # The last resolution: when, by whom (a name) and how (agent | assistant | incident).
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_via: Mapped[str | None] = mapped_column(String(20))

    customer: Mapped[Customer | None] = relationship()
    promises: Mapped[list[Promise]] = relationship(order_by="Promise.id")
    resolutions: Mapped[list[Resolution]] = relationship(order_by="Resolution.id")


class Incident(Base):
    """A known problem affecting many customers, and what we tell them about it. The
    customer-facing fields hold the latest wording; ``updates`` holds every earlier one."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    services: Mapped[list[Any]] = mapped_column(JSON, default=list)
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Postcode districts and region names; empty means everywhere.
    areas: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Account numbers affected (a billing run that hit some accounts); empty means any.
    accounts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    what_is_wrong: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    what_we_are_doing: Mapped[str] = mapped_column(Text)
    expected_fix_text: Mapped[str] = mapped_column(Text)
    expected_fix_at: Mapped[datetime | None]
    next_update_by: Mapped[datetime | None]
    # The promised time whose passing was already handled (holding message, alert), so a
    # missed promise is acted on once, whatever the restarts.
    missed_promise_handled: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", order_by="IncidentUpdate.id"
    )


class IncidentUpdate(Base):
    """One change to an incident: its status and what customers were told at that time."""

    __tablename__ = "incident_updates"
    __table_args__ = (Index("ix_incident_updates_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    status: Mapped[str] = mapped_column(String(20))
    what_is_wrong: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    what_we_are_doing: Mapped[str] = mapped_column(Text)
    expected_fix_text: Mapped[str] = mapped_column(Text)
    expected_fix_at: Mapped[datetime | None]
    next_update_by: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="updates")


class Handoff(Base):
    """A request for a person to take over, why, and what became of it at the agent desk:
    requested → taken_over → handed_back or resolved."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The thread at the agent desk, once posted (Slack channel id and the card's ts).
    desk_channel: Mapped[str | None] = mapped_column(String(40))
    desk_thread: Mapped[str | None] = mapped_column(String(40), index=True)
    posted_at: Mapped[datetime | None]
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_post_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    agent_name: Mapped[str | None] = mapped_column(String(120))
    taken_over_at: Mapped[datetime | None]
    # The customer was told about the wait (reminded) and offered a follow-up, once each.
    reminded_at: Mapped[datetime | None]
    follow_up_offered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class ConversationEvent(Base):
    """Something that happened in a conversation besides messages: misunderstandings, abuse,
    the assistant being unavailable. Kept for reports and for the agent's context."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskEvent(Base):
    """Every agent-desk event id seen (Slack's event_id, or an interaction's trigger), so a
    retried or duplicated delivery is processed once, even across restarts."""

    __tablename__ = "desk_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramUpdate(Base):
    """Every Telegram update taken in, written down before Telegram is told it arrived, so
    none is lost and none is answered twice, even across restarts (Telegram does not promise
    increasing ids across webhook changes).

    ``received`` until it has been dealt with, then ``answered``: the replies recorded and
    sent, or nothing to say (an edit, a group chat). ``payload`` is the update as Telegram
    sent it, kept only while it waits, so a gateway can answer one another gateway took in
    and stopped before answering; ``attempts`` counts the gateways that tried."""

    __tablename__ = "telegram_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    answered_at: Mapped[datetime | None]


class IncidentSubscription(Base):
    """A conversation linked to an incident: offered updates, and whether it took them.
    After the incident is resolved, ``service_back`` keeps the customer's answer to "is it
    working again for you?"."""

    __tablename__ = "incident_subscriptions"
    __table_args__ = (UniqueConstraint("incident_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    status: Mapped[str] = mapped_column(String(20), default="offered")  # subscribed | declined
    fix_check_sent_at: Mapped[datetime | None]
    service_back: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message to deliver to a customer later (an incident update), written in the same
    transaction as the change that causes it. ``dedupe_key`` makes each message exist once;
    ``message_id`` is set when it is recorded in the conversation, so a retry after a restart
    never records or sends it twice."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # pending → sending → sent; or failed (gave up) / undeliverable (customer unreachable)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class OperatorAlert(Base):
    """Something operators must look at: a possible incident nobody has opened, a promised
    update that did not come, messages that could not be delivered. ``dedupe_key`` keeps one
    alert per cause; ``posted_at`` is set once it reaches the agent desk. Until then each try
    at posting it is counted, ``next_post_at`` says when the next is due (a gateway's claim on
    it lasts until then, so a gateway that dies while posting leaves it to another), and
    ``last_post_error`` keeps why the last one failed."""

    __tablename__ = "operator_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    summary: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    posted_at: Mapped[datetime | None]
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_post_at: Mapped[datetime | None]
    last_post_error: Mapped[str | None] = mapped_column(String(300))
    acknowledged_at: Mapped[datetime | None]
    # Who acknowledged it, when known (the Slack name of whoever pressed Acknowledge).
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))


class CompensationOffer(Base):
    """What the policy offered for one complaint, and what became of it. One offer per
    complaint; the amount always comes from the policy and the records, never from a
    customer's message. ``explanation`` keeps which rule applied and which caps cut it."""

    __tablename__ = "compensation_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    rule: Mapped[str] = mapped_column(String(80))
    remedy: Mapped[str] = mapped_column(String(30))
    amount_pence: Mapped[int] = mapped_column(Integer)
    # offered | pending_approval | granted | declined | rejected | withdrawn, or
    # already_compensated (nothing offered: the same problem was put right before)
    status: Mapped[str] = mapped_column(String(20))
    explanation: Mapped[str] = mapped_column(Text)
    # The customer asked for more than the policy allows; a person is to look at it.
    review_requested_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompensationGrant(Base):
    """A remedy given. ``offer_id`` is unique, so an offer can be granted once, whatever
    retries, double clicks, tabs or channels do at the same moment."""

    __tablename__ = "compensation_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("compensation_offers.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    remedy: Mapped[str] = mapped_column(String(30))
    amount_pence: Mapped[int] = mapped_column(Integer)
    # "assistant (within policy)" or the person who approved it.
    approved_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FulfilmentDelivery(Base):
    """A grant to send to the business's billing system by webhook, once, with retries."""

    __tablename__ = "fulfilment_deliveries"
    __table_args__ = (Index("ix_fulfilment_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("compensation_grants.id"), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending → sending → sent; failed after the last try
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationIdentity(Base):
    """Who the customer in a conversation is, and how we know. ``claimed`` is the account
    the customer named (typing it proves nothing); ``verified`` is the account they proved
    is theirs: by the business's signed login, or a code e-mailed to the address on file.
    Names, plans, history and money are only for a verified account."""

    __tablename__ = "conversation_identities"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    claimed_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    verified_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    verified_via: Mapped[str | None] = mapped_column(String(20))  # signed_login | email_code
    verified_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VerificationCode(Base):
    """A one-time code e-mailed to the address on an account. Only a hash is kept; a code
    works for a few minutes, for a few tries, once."""

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    # open → used | spent (too many wrong tries) | replaced (a newer code was sent)
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PendingTurn(Base):
    """A customer message for the assistant whose answer is not recorded yet: being answered
    now, or kept because Rasa or an action was down or too slow. It is answered, in order and
    once, and a kept message's answer is pushed to the customer's channel: what the customer
    was told is kept (redress/conversations/pending.py)."""

    __tablename__ = "pending_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    # What the assistant gets for it (a button's payload, a command, or the text).
    sent: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataRequest(Base):
    """A customer's request about their personal data: erase it, say what is held (a subject
    access request), or stop messaging them. Never a complaint. ``due_at`` is the statutory
    one month from the request; ``reference`` is what the customer and operators quote."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    # erasure | access | stop_messages
    kind: Mapped[str] = mapped_column(String(20), index=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Whether the customer was verified as the account holder when they asked.
    verified: Mapped[bool] = mapped_column(default=False)
    # open → done | refused
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Who completed it (an operator's name or "cli"), and a note without personal data.
    completed_by: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(300))


class PrivacyAudit(Base):
    """What was done to personal data, without the personal data: an erasure, an export or a
    retention run, when, by whom, for which request, and how many rows in each store."""

    __tablename__ = "privacy_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # erase | export | retention
    action: Mapped[str] = mapped_column(String(20), index=True)
    request_reference: Mapped[str | None] = mapped_column(String(12))
    performed_by: Mapped[str] = mapped_column(String(120))
    performed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    dry_run: Mapped[bool] = mapped_column(default=False)
    # {"messages": 12, "tracker_events": 40, "slack_messages": 2, ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Promise(Base):
    """Something we told a customer would happen by a time: a reply (``reply_by``, from the
    category's reply time in the team's opening hours), or what an agent promised (a
    ``callback``, a ``visit``, or ``other``). ``open`` until it is ``kept`` (an agent replied,
    resolved the case or marked it done) or ``missed``; ``cancelled`` when it no longer
    applies. The warning before it is due, the alert and the customer's apology when it is
    missed each happen once (``warned_at``, ``missed_at``, ``customer_told_at``)."""

    __tablename__ = "promises"
    __table_args__ = (
        Index("ix_promises_status_due_at", "status", "due_at"),
        # A case's next promise owed, and whether it is overdue (the console's case list).
        Index("ix_promises_complaint_id_status_due_at", "complaint_id", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # reply_by | callback | visit | other
    # What was promised, in the words the customer was given ("call you back").
    what: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="open")
    # Who made it: "assistant", or the agent's name.
    made_by: Mapped[str] = mapped_column(String(120))
    warned_at: Mapped[datetime | None]
    missed_at: Mapped[datetime | None]
    customer_told_at: Mapped[datetime | None]
    kept_at: Mapped[datetime | None]
    kept_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resolution(Base):
    """One time a case was resolved, by whom and how, and what the customer said after:
    whether it is fixed, their 1-5 rating, and the later "is everything still working?".
    A case reopened and resolved again has a row for each time."""

    __tablename__ = "resolutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    via: Mapped[str] = mapped_column(String(20))  # agent | assistant | incident
    by: Mapped[str] = mapped_column(String(120))
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)
    fixed: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None]
    # The follow-up a while after ("is everything still working?"): when due, when sent,
    # and the answer.
    follow_up_due_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_sent_at: Mapped[datetime | None]
    still_working: Mapped[bool | None] = mapped_column(Boolean)
    reopened_at: Mapped[datetime | None]
    # The handoff an agent resolved it from (a person had the conversation), if any.
    handoff_id: Mapped[int | None] = mapped_column(Integer)
    # When the 1-5 rating was asked about this resolution: asked once.
    rating_asked_at: Mapped[datetime | None]


class OperatorToken(Base):
    """A token for the admin APIs, one per operator or script. Only its SHA-256 is kept; its
    role limits what it may do (agent < approver < admin)."""

    __tablename__ = "operator_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # agent | approver | admin
    # The most one offer may be for this token to approve it (approvers), in pence.
    approve_up_to_pence: Mapped[int | None] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """An operator's action: who (``actor``, and how they were known: ``via`` token, the
    built-in administrator, Slack, the console or the command line), what, on which record,
    and when. Written in the same transaction as the action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(160))
    via: Mapped[str] = mapped_column(String(20))  # admin_token | operator_token | slack | ...
    # approve | reject | incident_create | incident_update | incident_resolve | resolve |
    # reassign | claim | erase | ...
    action: Mapped[str] = mapped_column(String(40), index=True)
    # What it was done to: "offer", "incident", "case", "customer"..., and its id or reference.
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(80), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OperatorAccount(Base):
    """A person who signs in to the console. Only an argon2 hash of the password is kept;
    the role limits what they may do (agent < approver < admin). Failed sign-ins are
    counted so an account is locked for a while after too many."""

    __tablename__ = "operator_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What they sign in with, lower case.
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # agent | approver | admin
    # The most one offer may be for them to approve it (approvers), in pence.
    approve_up_to_pence: Mapped[int | None] = mapped_column(Integer)
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
    # Removed accounts are kept (the audit log names them) but can no longer sign in.
    removed_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in console session. The cookie holds a random secret; only its SHA-256 is
    kept. ``csrf_token`` is the token every form of this session must carry."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    operator: Mapped[OperatorAccount] = relationship()
