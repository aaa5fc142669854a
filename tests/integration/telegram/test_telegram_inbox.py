"""The Telegram inbox and the gateway's own answers, on SQLite and PostgreSQL: an update is
taken in once, again only while unanswered, and claimed by one gateway; a burst of messages
over a chat's limit gets one "slow down"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from bot.telegram import inbox, own_answers
from redress.clock import utcnow
from redress.conversations import records as conversations
from redress.db.models import Message, TelegramUpdate
from redress.db.session import unit_of_work

PAYLOAD = {"update_id": 1, "message": {"text": "hello"}}


def take_in(url: str, update_id: int) -> str:
    with unit_of_work(url) as session:
        return inbox.take_in(session, update_id, {**PAYLOAD, "update_id": update_id})


def row(url: str, update_id: int) -> TelegramUpdate:
    with unit_of_work(url) as session:
        found = session.get(TelegramUpdate, update_id)
        assert found is not None
        session.expunge(found)
        return found


def test_an_update_is_new_once_then_again_until_answered(database_url: str) -> None:
    assert take_in(database_url, 11) == inbox.NEW
    taken = row(database_url, 11)
    assert (taken.status, taken.attempts) == ("received", 1)
    assert taken.payload == {**PAYLOAD, "update_id": 11}
    assert take_in(database_url, 11) == inbox.AGAIN
    with unit_of_work(database_url) as session:
        inbox.mark_answered(session, 11)
    answered = row(database_url, 11)
    assert (answered.status, answered.attempts, answered.payload) == ("answered", 2, None)
    assert answered.answered_at is not None
    assert take_in(database_url, 11) == inbox.SEEN


def test_an_update_that_keeps_failing_is_left_after_three_attempts(database_url: str) -> None:
    assert [take_in(database_url, 12) for _ in range(4)] == [
        inbox.NEW,
        inbox.AGAIN,
        inbox.AGAIN,
        inbox.SEEN,
    ]


def _received(url: str, update_id: int, minutes_ago: float) -> None:
    take_in(url, update_id)
    with unit_of_work(url) as session:
        session.execute(
            update(TelegramUpdate)
            .where(TelegramUpdate.update_id == update_id)
            .values(received_at=utcnow() - timedelta(minutes=minutes_ago))
        )


def test_only_updates_left_long_enough_and_not_too_long_are_waiting(database_url: str) -> None:
    _received(database_url, 21, 0.5)  # perhaps still being answered by another gateway
    _received(database_url, 22, 3)
    _received(database_url, 23, 60 * 25)  # too old to answer now
    _received(database_url, 24, 5)
    with unit_of_work(database_url) as session:
        inbox.mark_answered(session, 24)
    with unit_of_work(database_url) as session:
        waiting = inbox.waiting(session, utcnow())
    assert [(w.update_id, w.attempts, w.payload["update_id"]) for w in waiting] == [(22, 1, 22)]


def test_one_gateway_claims_a_waiting_update(database_url: str) -> None:
    _received(database_url, 31, 3)
    with unit_of_work(database_url) as session:
        (left,) = inbox.waiting(session, utcnow())
    with unit_of_work(database_url) as session:
        first = inbox.claim(session, left)
    with unit_of_work(database_url) as session:
        second = inbox.claim(session, left)  # another gateway, with what it read before
    assert (first, second) == (True, False)
    assert row(database_url, 31).attempts == 2


def _conversation(url: str) -> str:
    with unit_of_work(url) as session:
        return conversations.conversation_on_channel(session, "telegram", "555").id


def _too_fast(url: str, conversation_id: str, n: int) -> list[dict[str, Any]]:
    with unit_of_work(url) as session:
        return own_answers.record_too_fast(
            session,
            conversation_id,
            f"spam {n}",
            details={},
            telegram_id=str(n),
            client_message_id=f"update-{n}",
            slow_down="Slow down, please.",
        )


def test_a_burst_is_told_to_slow_down_once_and_the_next_burst_once_more(
    database_url: str,
) -> None:
    conversation_id = _conversation(database_url)
    first_burst = [_too_fast(database_url, conversation_id, n) for n in range(4)]
    assert [len(said) for said in first_burst] == [1, 0, 0, 0]
    assert first_burst[0][0]["text"] == "Slow down, please."
    with unit_of_work(database_url) as session:  # a message let through, and its answer
        conversation = conversations.get_conversation(session, conversation_id)
        assert conversation is not None
        conversations.record_message(session, conversation, "customer", "a real question")
        conversations.record_message(session, conversation, "bot", "an answer")
    second_burst = [_too_fast(database_url, conversation_id, n) for n in range(4, 7)]
    assert [len(said) for said in second_burst] == [1, 0, 0]


def test_an_earlier_attempt_gives_what_it_recorded_and_did_not_send(database_url: str) -> None:
    conversation_id = _conversation(database_url)
    with unit_of_work(database_url) as session:
        assert own_answers.earlier_attempt(session, conversation_id, "77") is None
        said = own_answers.record_command(session, conversation_id, "/start", "77", "Welcome!")
        later = own_answers.record_command(session, conversation_id, "/help", "78", "Help!")
    with unit_of_work(database_url) as session:
        assert own_answers.earlier_attempt(session, conversation_id, "77") == said
        assert own_answers.unsent(session, said + later) == said + later
    with unit_of_work(database_url) as session:
        message = session.get(Message, said[0]["id"])
        assert message is not None
        message.external_id = "10001"  # Telegram confirmed it
    with unit_of_work(database_url) as session:
        assert own_answers.earlier_attempt(session, conversation_id, "77") == []
        assert own_answers.unsent(session, said + later) == later
