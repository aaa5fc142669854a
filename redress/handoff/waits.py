"""Never silent while waiting for a person (docs/principles.md: 8).

A handoff nobody has taken over is checked against ``business/handoff.yml``'s waiting rules,
counting only opening hours (a customer who asked at night starts waiting when we open):

- after ``update_after_minutes`` the customer is told they are still in the queue, and the
  agent desk re-alerts the thread;
- after ``follow_up_after_minutes`` the customer is offered a follow-up on their channel
  (Yes/No buttons): they needn't keep the chat open, the conversation stays in the queue
  either way, and the thread is alerted again.

Each step happens once per handoff: a compare-and-set on the handoff's ``reminded_at`` /
``follow_up_offered_at`` decides which gateway does it, and the customer's message goes into
the outbox in the same transaction, so it is delivered (and retried) like every other push.

The customer's answer to the follow-up offer is recognised by the gateway (the buttons, or a
typed yes/no right after the offer) and kept as a conversation event the card shows.

No Rasa and no Slack here: the desk (``bot.slack.desk``) posts the re-alerts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from redress.business import Business
from redress.conversations import records as conversations
from redress.db.models import Conversation, Handoff
from redress.incidents.notices import enqueue

REQUESTED = "requested"
UPDATE = "update"
FOLLOW_UP = "follow_up"
# Conversation events.
FOLLOW_UP_WANTED = "follow_up_wanted"
FOLLOW_UP_DECLINED = "follow_up_declined"
WAIT_UPDATE_SENT = "handoff_wait_update"
FOLLOW_UP_OFFERED = "handoff_follow_up_offered"

ASKS_FOLLOW_UP = "follow_up"
FOLLOW_UP_YES = "/redress_follow_up_yes"
FOLLOW_UP_NO = "/redress_follow_up_no"

# What the customer reads. Checked by tests/unit/slack/test_desk_texts.py with check_text.
STILL_WAITING = (
    "Thank you for waiting. Everyone in our {team} is busy right now, so this is taking "
    "longer than it should. You're still in the queue, and someone will reply here as soon "
    "as they can."
)
OFFER_FOLLOW_UP = (
    "This is taking much longer than it should, and I don't want you stuck here waiting. "
    "Would you like us to get back to you {where} as soon as someone is free? "
    "You keep your place in the queue either way."
)
YES_BUTTON = "Yes, get back to me"
NO_BUTTON = "I'll keep waiting"
FOLLOW_UP_YES_TEXT = {
    "telegram": (
        "Done. You can close this chat now. The person who picks it up will message you here "
        "on Telegram, and you won't need to repeat anything."
    ),
    "web": (
        "Done. You can close this page now. The reply will be here when you open this chat "
        "again on this device, and you won't need to repeat anything."
    ),
}
FOLLOW_UP_YES_OTHER = (
    "Done. You can close this chat now. The person who picks it up will reply here, and you "
    "won't need to repeat anything."
)
FOLLOW_UP_NO_TEXT = "Okay. You're still in the queue, and someone will reply here soon."
WHERE = {"telegram": "here on Telegram", "web": "in this chat"}

_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|y|ok|okay|sure|please|yes please|get back to me)\b", re.IGNORECASE
)
_NO = re.compile(r"^\s*(no|nope|nah|n|i'?ll wait|i will wait|i'?ll keep waiting)\b", re.IGNORECASE)


@dataclass(frozen=True)
class WaitStep:
    """One step taken for a waiting customer: what the desk should re-alert."""

    handoff_id: int
    conversation_id: str
    step: str  # UPDATE or FOLLOW_UP
    waited: timedelta  # in opening hours
    channel: str  # the customer's channel
    desk_channel: str | None
    desk_thread: str | None


def due_steps(session: Session, now: datetime, business: Business) -> list[WaitStep]:
    """Takes every waiting step that is due, telling the customer through the outbox.
    Returns what was done, for the desk to re-alert its threads."""
    rules = business.handoff.waiting
    update_after = timedelta(minutes=rules.update_after_minutes)
    follow_up_after = timedelta(minutes=rules.follow_up_after_minutes)
    waiting = session.execute(
        select(Handoff.id, Handoff.created_at, Handoff.reminded_at)
        .where(Handoff.status == REQUESTED, Handoff.follow_up_offered_at.is_(None))
        .order_by(Handoff.id)
    ).all()
    steps = []
    for handoff_id, requested_at, reminded_at in waiting:
        waited = business.hours.open_time_between(requested_at, now)
        if waited >= follow_up_after:
            step = FOLLOW_UP
        elif waited >= update_after and reminded_at is None:
            step = UPDATE
        else:
            continue
        taken = _take_step(session, handoff_id, step, now, business.brand.team_name)
        if taken is not None:
            steps.append(
                WaitStep(
                    handoff_id=handoff_id,
                    conversation_id=taken.conversation_id,
                    step=step,
                    waited=waited,
                    channel=taken.channel,
                    desk_channel=taken.desk_channel,
                    desk_thread=taken.desk_thread,
                )
            )
    return steps


@dataclass(frozen=True)
class _Taken:
    conversation_id: str
    channel: str
    desk_channel: str | None
    desk_thread: str | None


def _take_step(
    session: Session, handoff_id: int, step: str, now: datetime, team: str
) -> _Taken | None:
    """Marks the step as taken (only if nobody else did, and the handoff still waits) and
    queues the customer's message. None when another gateway got there first."""
    column = Handoff.follow_up_offered_at if step == FOLLOW_UP else Handoff.reminded_at
    values = {"reminded_at": now}
    if step == FOLLOW_UP:
        values["follow_up_offered_at"] = now  # no separate update once the offer is made
    claim = update(Handoff).where(
        Handoff.id == handoff_id, Handoff.status == REQUESTED, column.is_(None)
    )
    if session.execute(claim.values(**values)).rowcount != 1:  # type: ignore[attr-defined]
        return None
    handoff = session.get(Handoff, handoff_id)
    assert handoff is not None
    session.refresh(handoff)
    conversation = session.get(Conversation, handoff.conversation_id)
    assert conversation is not None  # a foreign key
    if step == FOLLOW_UP:
        enqueue(
            session,
            conversation_id=conversation.id,
            kind=FOLLOW_UP_OFFERED,
            text=OFFER_FOLLOW_UP.format(where=WHERE.get(conversation.channel, "here")),
            dedupe_key=f"handoff:{handoff_id}:follow_up",
            now=now,
            buttons=[
                {"title": YES_BUTTON, "payload": FOLLOW_UP_YES},
                {"title": NO_BUTTON, "payload": FOLLOW_UP_NO},
            ],
            details={"asks": ASKS_FOLLOW_UP, "handoff": handoff_id},
        )
    else:
        enqueue(
            session,
            conversation_id=conversation.id,
            kind=WAIT_UPDATE_SENT,
            text=STILL_WAITING.format(team=team),
            dedupe_key=f"handoff:{handoff_id}:update",
            now=now,
            details={"handoff": handoff_id},
        )
    kind = FOLLOW_UP_OFFERED if step == FOLLOW_UP else WAIT_UPDATE_SENT
    conversations.record_event(session, conversation.id, kind, {"handoff": handoff_id})
    return _Taken(conversation.id, conversation.channel, handoff.desk_channel, handoff.desk_thread)


def recognise(sent: str, typed: str, *, asking: str | None) -> bool | None:
    """The customer's answer to the follow-up offer: True (get back to me), False (I'll
    wait) or None (not an answer). Typed answers count only right after the offer."""
    if sent == FOLLOW_UP_YES:
        return True
    if sent == FOLLOW_UP_NO:
        return False
    if asking != ASKS_FOLLOW_UP:
        return None
    if _NO.match(typed):
        return False
    if _YES.match(typed):
        return True
    return None


def waiting_handoff(session: Session, conversation_id: str) -> Handoff | None:
    """The conversation's handoff still waiting for a person, if any."""
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status == REQUESTED)
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def record_answer(session: Session, conversation: Conversation, wants: bool) -> Handoff | None:
    """Keeps the customer's choice. Returns the waiting handoff (None when a person has
    meanwhile picked the conversation up, or it was closed: the choice no longer matters)."""
    handoff = waiting_handoff(session, conversation.id)
    kind = FOLLOW_UP_WANTED if wants else FOLLOW_UP_DECLINED
    detail = {"handoff": handoff.id if handoff else None, "channel": conversation.channel}
    conversations.record_event(session, conversation.id, kind, detail)
    return handoff


def answer_text(wants: bool, channel: str) -> str:
    if not wants:
        return FOLLOW_UP_NO_TEXT
    return FOLLOW_UP_YES_TEXT.get(channel, FOLLOW_UP_YES_OTHER)
