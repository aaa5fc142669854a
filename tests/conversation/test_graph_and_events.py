"""The model graph run without dask's scheduler (rasa_addons/graph_runner.py) and events
looked up by name from a table (rasa_addons/event_types.py) give exactly what Rasa's own
give, on the trained model, in the Rasa environment."""

from __future__ import annotations

import pytest

from tests.rasa_env import run_in_rasa

pytestmark = pytest.mark.conversation

SAME_ANSWERS = """
import asyncio, json
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_addons import graph_runner

MESSAGES = [
    "my broadband has been down since tuesday and nobody has called me back",
    "you charged me twice this month",
    "hello", "yes", "no thanks", "can I speak to a real person", "is this a bot",
    "what's the weather in paris", "the engineer never turned up!!!", "asdfgh",
]

async def answers(agent):
    out = []
    for text in MESSAGES:
        parsed = await agent.parse_message(text)
        tracker = DialogueStateTracker.from_events("check", [
            ActionExecuted("action_session_start"), SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered(text, parsed["intent"], parsed["entities"], parse_data=parsed),
        ], slots=agent.domain.slots)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        out.append({
            "intent": parsed["intent"], "ranking": parsed.get("intent_ranking"),
            "entities": parsed["entities"], "action": prediction.max_confidence_index,
            "policy": prediction.policy_name, "probabilities": prediction.probabilities,
        })
    return out

async def main():
    agent = Agent.load("models/redress.tar.gz")
    rasas = await answers(agent)
    graph_runner.install()
    ours = await answers(agent)
    again = await answers(agent)  # the second run uses the plans made by the first
    print(json.dumps({"rasas": rasas, "ours": ours, "again": again}))

asyncio.run(main())
"""


def test_the_graph_run_node_by_node_gives_rasas_answers() -> None:
    result = run_in_rasa(SAME_ANSWERS)

    assert len(result["rasas"]) == 10
    assert result["ours"] == result["rasas"]
    assert result["again"] == result["rasas"]


SAME_EVENTS = """
import json
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa_addons import event_types

names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic", "no-such-event"]

def resolved():
    out = {}
    for name in names:
        try:
            found = Event.resolve_by_type(name)
            out[name] = found.__name__ if found else None
        except ValueError as error:
            out[name] = f"error: {error}"
    return out

rasas = resolved()
event_types.install()
ours = resolved()

class LaterEvent(Event):  # an event class imported after the table was made
    type_name = "later_event"
    def __eq__(self, other): return isinstance(other, LaterEvent)
    def __hash__(self): return 1
    def as_story_string(self): return None
print(json.dumps({"rasas": rasas, "ours": ours,
                  "later": Event.resolve_by_type("later_event").__name__}))
"""


def test_events_are_found_by_name_as_rasa_finds_them() -> None:
    result = run_in_rasa(SAME_EVENTS)

    assert len(result["rasas"]) > 20
    assert result["ours"] == result["rasas"]
    assert result["rasas"]["no-such-event"].startswith("error: Unknown event name")
    assert result["rasas"]["topic"] is None
    assert result["later"] == "LaterEvent"
