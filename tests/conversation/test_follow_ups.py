"""Conversation tests: what customers say after the first message. The trained model, the
action server and the gateway. The messages are written for these tests and are not in the
training data."""

from __future__ import annotations

import pytest

from tests.stack import Stack, texts

pytestmark = pytest.mark.conversation


def handoff_reasons(record: dict) -> list[str]:
    return [e["detail"]["reason"] for e in record["events"] if e["kind"] == "handoff_requested"]


def test_asking_if_it_is_a_bot_gets_an_honest_answer_and_no_person_nobody_asked_for(
    stack: Stack,
) -> None:
    conversation_id, replies = stack.say(None, "hold on, am I actually talking to a bot here?")
    said = texts(replies)
    assert "not a person" in said, said
    assert "take over whenever you like" in said, said
    assert handoff_reasons(stack.record(conversation_id)) == []


def test_asking_if_it_is_a_bot_mid_complaint_carries_on_with_the_details(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None, "my wifi keeps dropping every evening and I can't stream anything"
    )
    assert texts(replies).startswith("I'm sorry"), texts(replies)
    _, replies = stack.say(conversation_id, "wait, is this a real person replying?")
    said = texts(replies)
    assert "not a person" in said, said
    # The question it was waiting on is asked again, not forgotten.
    assert "account number" in said.lower(), said
    assert handoff_reasons(stack.record(conversation_id)) == []


def test_it_coming_back_on_is_met_with_relief_not_a_form(stack: Stack) -> None:
    conversation_id, replies = stack.say(None, "my internet just cut out completely, again")
    assert texts(replies).startswith("I'm sorry"), texts(replies)
    _, replies = stack.say(conversation_id, "oh hang on, it's back on now. never mind!")
    said = texts(replies)
    assert "good to hear" in said, said
    assert "account number" not in said.lower(), said
    record = stack.record(conversation_id)
    assert handoff_reasons(record) == []
    assert not [e for e in record["events"] if e["kind"] == "abuse"]
    assert record["complaints"][0]["facts"]["working_again"]


def test_any_update_after_logging_says_when_to_expect_a_reply(stack: Stack) -> None:
    conversation_id, replies = stack.say(
        None, "BL-100013 here, my broadband has been down since yesterday morning"
    )
    said = texts(replies)
    assert "I've logged this as" in said, said
    _, replies = stack.say(conversation_id, "any update on this?")
    said = texts(replies)
    reference = stack.record(conversation_id)["complaints"][0]["reference"]
    assert reference in said, said
    assert "you'll hear from us by" in said, said


def test_someone_who_depends_on_a_dead_line_is_told_how_to_get_help_and_gets_a_person(
    stack: Stack,
) -> None:
    conversation_id, replies = stack.say(
        None,
        "my nan is 88 and lives on her own, her phone line has been dead since yesterday "
        "and it's the only way she can call her doctor",
    )
    said = texts(replies)
    assert said.startswith("I'm sorry"), said
    assert "999" in said, said
    assert "asked a person" in said, said
    record = stack.record(conversation_id)
    assert record["complaints"][0]["severity"] == "critical"
    assert handoff_reasons(record) == ["critical_severity"]


def test_hello_while_waiting_for_a_person_is_answered_honestly(stack: Stack) -> None:
    conversation_id, replies = stack.say(None, "I need to speak to a real person please")
    assert "asked a person" in texts(replies), texts(replies)
    _, replies = stack.say(conversation_id, "hello?? anyone there?")
    said = texts(replies)
    assert "waiting for a person" in said, said
    assert "Hi, I'm" not in said, said


def test_hello_mid_complaint_while_waiting_for_a_person_is_not_called_off_topic(
    stack: Stack,
) -> None:
    conversation_id, replies = stack.say(
        None, "my gran's pendant alarm runs on the landline and the line has gone dead"
    )
    assert "asked a person" in texts(replies), texts(replies)
    _, replies = stack.say(conversation_id, "hello? anyone there?")
    said = texts(replies)
    assert "waiting for a person" in said, said
    assert "I can only help with problems" not in said, said
