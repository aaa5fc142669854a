"""The form's questions, asked at most twice and never twice in the same words: the second
time shorter and with a way out ("not sure is fine"). After that the form goes on without the
answer (see ValidateComplaintForm.required_slots), so a customer is never asked the same
thing in a loop."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names

MAX_ASKS = 2


def times_asked(tracker: Tracker, slot: str) -> int:
    return list(tracker.get_slot(names.ASKED) or []).count(slot)


class _AskAtMostTwice(Action, metaclass=ABCMeta):
    """Abstract (the action server registers only concrete actions): each subclass names
    the slot it asks for."""

    @property
    @abstractmethod
    def slot(self) -> str: ...

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        again = times_asked(tracker, self.slot) >= 1
        dispatcher.utter_message(response=f"utter_ask_{self.slot}{'_again' if again else ''}")
        return [SlotSet(names.ASKED, [*(tracker.get_slot(names.ASKED) or []), self.slot])]


class ActionAskAccountRef(_AskAtMostTwice):
    @property
    def slot(self) -> str:
        return names.ACCOUNT


class ActionAskSince(_AskAtMostTwice):
    @property
    def slot(self) -> str:
        return names.SINCE


class ActionAskPostcode(_AskAtMostTwice):
    @property
    def slot(self) -> str:
        return names.POSTCODE
