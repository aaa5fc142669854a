"""Rasa's structured log events keep their name and level but not what customers said."""

from __future__ import annotations

from rasa_addons.private_logs import withhold


def test_text_and_conversation_state_are_withheld_with_their_size() -> None:
    event = {
        "event": "rest.message.received.failure",
        "text": "my card is 4111 1111 1111 1111",
        "rasa_events": [{"event": "user"}, {"event": "bot"}],
        "sender_id": "c-123",
        "level": "error",
    }
    logged = withhold(None, "error", dict(event))
    assert logged == {
        "event": "rest.message.received.failure",
        "text": "[withheld: 30]",
        "rasa_events": "[withheld: 2]",
        "sender_id": "c-123",
        "level": "error",
    }


def test_nothing_to_withhold_leaves_the_event_as_it_was() -> None:
    event = {"event": "rasa.core.processor.predict", "action": "utter_greet", "text": None}
    assert withhold(None, "debug", dict(event)) == event
