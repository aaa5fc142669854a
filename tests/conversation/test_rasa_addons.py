"""Our additions to Rasa (rasa_addons/), run in the Rasa environment as scripts/run-rasa runs
them: the lock store hands out each ticket once when two Rasa servers ask at the same moment,
and the action-result check accepts and refuses exactly what Rasa's own check does while
building its validator once."""

from __future__ import annotations

import pytest
import redis

from tests.rasa_env import run_in_rasa

pytestmark = pytest.mark.conversation

REDIS_DB = 13


@pytest.fixture
def clean_redis() -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def test_two_servers_taking_tickets_at_once_never_share_one(clean_redis: None) -> None:
    result = run_in_rasa(
        f"""
        import json, threading
        from rasa.utils.endpoints import EndpointConfig
        from rasa_addons.lock_store import AtomicRedisLockStore

        def store():  # one per "server": its own connection
            return AtomicRedisLockStore(EndpointConfig(
                url="127.0.0.1", port=6379, db={REDIS_DB}, key_prefix="check"))

        stores, tickets, start = [store(), store()], [], threading.Barrier(16)

        def take(s):
            start.wait()
            for _ in range(25):
                tickets.append(s.issue_ticket("one-conversation", 60))

        threads = [threading.Thread(target=take, args=(stores[i % 2],)) for i in range(16)]
        for t in threads: t.start()
        for t in threads: t.join()
        lock = stores[0].get_lock("one-conversation")
        held = len(lock.tickets)
        for number in list(tickets):
            stores[number % 2].cleanup("one-conversation", number)
        print(json.dumps({{"tickets": tickets, "held": held,
                          "left": stores[1].get_lock("one-conversation") is not None}}))
        """
    )
    assert len(result["tickets"]) == 400
    assert len(set(result["tickets"])) == 400  # Rasa's store hands some out twice
    assert result["held"] == 400  # none overwritten
    assert result["left"] is False  # the last one out removed the lock


def test_action_results_are_checked_as_rasa_checks_them() -> None:
    result = run_in_rasa(
        """
        import json
        from jsonschema import ValidationError, validators
        from rasa.core.actions.action import RemoteAction
        from rasa.utils.endpoints import EndpointConfig
        from rasa_addons import action_results

        built = []
        original_check = validators.Draft202012Validator.check_schema
        def counting_check(schema, *args, **kwargs):
            built.append(1)
            return original_check(schema, *args, **kwargs)
        validators.Draft202012Validator.check_schema = staticmethod(counting_check)

        action_results.install()
        action = RemoteAction("action_log_complaint", EndpointConfig("http://x"))
        good = {"events": [{"event": "slot", "name": "since", "value": "Friday"}],
                "responses": [{"response": "utter_complaint_apology", "text": None}]}
        accepted = all(action._validate_action_result(good) for _ in range(50))
        refused = []
        for bad in ({"events": [{"event": "no_such_event"}]}, {"events": "slot"},
                    {"responses": ["text"]}):
            try:
                action._validate_action_result(bad)
                refused.append(None)
            except ValidationError as error:
                refused.append(error.message)
        print(json.dumps({"accepted": accepted, "refused": refused, "built": len(built)}))
        """
    )
    assert result["accepted"] is True
    assert all(
        message and "Failed to validate Action server response" in message
        for message in result["refused"]
    ), result["refused"]
    # Once when installed, and once more per refusal (Rasa's own path); never per answer.
    assert result["built"] == 1 + len(result["refused"])


def test_a_message_sent_again_is_recognised_by_its_record_id_with_what_was_said() -> None:
    result = run_in_rasa(
        """
        import json
        from rasa.shared.core.domain import Domain
        from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
        from rasa.shared.core.trackers import DialogueStateTracker
        from rasa_addons.turns_once import answers_to

        buttons = [{"title": "Yes", "payload": "/affirm"}]
        tracker = DialogueStateTracker.from_events("c-1", [
            UserUttered("hi", metadata={"message_id": 5}),
            ActionExecuted("utter_greet"),
            BotUttered("Hello, what happened?"),
            UserUttered("no internet", metadata={"message_id": 7}),
            BotUttered("I'm sorry.", data={"buttons": buttons}),
            BotUttered("Shall I keep you posted?"),
            UserUttered("thanks", metadata={"message_id": 9}),
        ], domain=Domain.empty())
        print(json.dumps({str(k): answers_to(tracker, k) for k in (7, 9, 8)}))
        """
    )
    assert result["7"] == [
        {"recipient_id": "c-1", "text": "I'm sorry.", "buttons": [
            {"title": "Yes", "payload": "/affirm"}]},
        {"recipient_id": "c-1", "text": "Shall I keep you posted?"},
    ]  # fmt: skip
    assert result["9"] is None  # in the tracker, nothing said to it yet: taken as new
    assert result["8"] is None  # never told to Rasa
