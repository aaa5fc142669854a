"""Session start: brand slots so every response speaks for the configured business."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import business


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Starts the session carrying earlier slots over, then sets the brand slots."""
        brand = business().brand
        carried = [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in {"requested_slot", "session_started_metadata"}
        ]
        return [
            SessionStarted(),
            *carried,
            SlotSet("business_name", brand.business_name),
            SlotSet("assistant_name", brand.assistant_name),
            SlotSet("team_name", brand.team_name),
            ActionExecuted("action_listen"),
        ]
