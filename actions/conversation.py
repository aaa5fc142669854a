"""Actions around the complaint: a person asked for, abuse, misunderstandings, updates."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names, replies, taking
from actions.case_questions import SPECIFIC, case_question
from actions.case_questions import answer as answer_case_question
from actions.context import business, now, settings
from actions.intents import complaint_told
from redress.compensation.consent import accepts
from redress.complaints import records as complaint_records
from redress.complaints.questions import Topic, asks_what_will_happen
from redress.conversations import records as conversations
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.incidents.in_conversation import status_lines

FALLBACK_INTENT = "nlu_fallback"


def _request_person(
    tracker: Tracker, reason: str, *, event: tuple[str, dict[str, Any]] | None = None
) -> bool:
    """Records the request (and what led to it, in the same transaction); returns True when
    one was already open."""
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        if event is not None:
            conversations.record_event(session, conversation.id, *event)
        already = any(h.status == "requested" for h in conversation.handoffs)
        handoff_records.request_handoff(session, conversation.id, reason)
    return already


class ActionRequestHuman(Action):
    """The customer asked for a person: record it and say honestly what happens next."""

    def name(self) -> str:
        return "action_request_human"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if asks_what_will_happen(replies.latest_text(tracker)) and (
            question := case_question(tracker, topics={Topic.CALLBACK})
        ):
            # "Will somebody ring me?" asks what happens next; it is not a request.
            return answer_case_question(dispatcher, tracker, question)
        already = _request_person(tracker, "customer_asked")
        when = replies.when_reply()
        said = [
            e
            for e in tracker.events
            if e.get("event") == "user" and (e.get("text") or "/")[:1] != "/"
        ]
        told = len(said) > 1 or bool(tracker.get_slot(names.REFERENCE))
        response = "utter_handoff_requested" if told else "utter_handoff_requested_first"
        if already:
            response = "utter_handoff_already_requested"
        dispatcher.utter_message(response=response, when_reply=when)
        return []


class ActionHandleAbuse(Action):
    """Stays calm, never answers back, and brings a person in."""

    def name(self) -> str:
        return "action_handle_abuse"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _request_person(tracker, "abuse", event=("abuse", {}))
        when = replies.when_reply()
        dispatcher.utter_message(response="utter_abuse", when_reply=when)
        return []


def _record_message_event(tracker: Tracker, kind: str, **detail: Any) -> None:
    """Records an event about the customer's latest message, with its text (cut short)."""
    text = replies.latest_text(tracker)[:500]
    with unit_of_work(settings().database_url) as session:
        conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        conversations.record_event(session, tracker.sender_id, kind, {"text": text, **detail})


class ActionAnswerOffTopic(Action):
    """A message that is not about the business. When it is a complaint about something the
    business plainly does not provide (the NLU names it: ``complaint_first.not_ours``), the
    answer is kind and names it; otherwise it says what the assistant can help with."""

    def name(self) -> str:
        return "action_answer_off_topic"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (question := case_question(tracker)) is not None:
            return answer_case_question(dispatcher, tracker, question)
        decision = tracker.latest_message.get("complaint_first") or {}
        thing = decision.get("not_ours") if isinstance(decision, dict) else None
        if not isinstance(thing, str) or not thing:
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        _record_message_event(tracker, "not_ours", thing=thing)
        dispatcher.utter_message(response="utter_not_ours", thing=thing)
        return []


class ActionHandleMisunderstanding(Action):
    """First miss: ask again with easy choices. Second miss in a row: bring a person in."""

    def name(self) -> str:
        return "action_handle_misunderstanding"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (question := case_question(tracker)) is not None:
            return answer_case_question(dispatcher, tracker, question)
        misses = _misses_in_a_row(tracker)
        _record_message_event(tracker, "misunderstood", in_a_row=misses)
        if misses < business().handoff.misunderstandings_in_a_row:
            with unit_of_work(settings().database_url) as session:
                complaints = complaint_records.open_complaints(session, tracker.sender_id)
                references = " and ".join(c.reference for c in complaints)
            if references:
                dispatcher.utter_message(
                    response="utter_misunderstood_with_complaint", complaint_reference=references
                )
            else:
                dispatcher.utter_message(response="utter_misunderstood_first")
            return []
        already = _request_person(tracker, "misunderstood_twice")
        when = replies.when_reply()
        response = "utter_handoff_already_requested" if already else "utter_misunderstood_twice"
        dispatcher.utter_message(response=response, when_reply=when)
        return []


def _misses_in_a_row(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row were not understood."""
    misses = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        misses += 1
    return misses


class ActionGiveUpdate(Action):
    """Where the customer's complaints stand, in plain words."""

    def name(self) -> str:
        return "action_give_update"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (question := case_question(tracker, topics=SPECIFIC - {Topic.FIX_TIME})) is not None:
            # "when's the engineer actually coming?": the specific answer, not the status
            # (which already says when it will be fixed, with an incident's history).
            return answer_case_question(dispatcher, tracker, question)
        config, moment = business(), now()
        with unit_of_work(settings().database_url) as session:
            complaints = complaint_records.open_complaints(session, tracker.sender_id)
            lines = replies.where_complaints_stand(session, complaints)
            incident_lines = status_lines(session, complaints, moment, config.hours.timezone)
        if not complaints and (told := complaint_told(tracker)) is not None:
            # "any update on my order? it's two weeks late": nothing is logged yet, and the
            # message is the complaint itself, so it gets the complaint's answer.
            return taking.start_complaint(dispatcher, tracker, told)
        if lines:
            dispatcher.utter_message(response="utter_status_open", status_lines=" ".join(lines))
            for text in incident_lines:
                dispatcher.utter_message(text=text)
        else:
            dispatcher.utter_message(response="utter_status_none")
        return []


class ActionWorkingAgain(Action):
    """ "Oh wait, it's back on, never mind": glad, and kept with the open complaints (not
    closed: the team still sees what happened, and the customer can say it stopped again).
    Nothing is asked for any more."""

    def name(self) -> str:
        return "action_working_again"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = replies.latest_text(tracker)[:500]
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            complaints = complaint_records.open_complaints(session, conversation.id)
            for complaint in complaints:
                complaint.facts = {**complaint.facts, "working_again": text}
            references = [c.reference for c in complaints]
            conversations.record_event(
                session, conversation.id, "working_again", {"text": text, "complaints": references}
            )
        if references:
            dispatcher.utter_message(
                response="utter_working_again_noted", complaint_reference=" and ".join(references)
            )
        else:
            dispatcher.utter_message(response="utter_working_again")
        return [SlotSet(names.PENDING, None)]


def _taking_the_offer(tracker: Tracker) -> bool:
    """ "ok fine, I'll take it for now" while an offer is put: a plain yes to it, whatever
    the NLU made of the politeness around it."""
    return tracker.get_slot(names.PENDING) == names.COMPENSATION_OFFER and accepts(
        replies.latest_text(tracker)
    )


class ActionGoodbye(Action):
    """Goodbye, said once in full; a second goodbye gets a shorter one, not the same line."""

    def name(self) -> str:
        return "action_goodbye"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _taking_the_offer(tracker):
            return replies.answer_offer(dispatcher, tracker, True)
        dispatcher.utter_message(response=replies.farewell(tracker))
        return [SlotSet(names.PENDING, None)]


class ActionThanks(Action):
    """Thanks: you're welcome, once; or, while an offer is put, a plain yes to it."""

    def name(self) -> str:
        return "action_thanks"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if _taking_the_offer(tracker):
            return replies.answer_offer(dispatcher, tracker, True)
        if replies.said_before(tracker, "utter_you_are_welcome"):
            dispatcher.utter_message(response=replies.farewell(tracker))
        else:
            dispatcher.utter_message(response="utter_you_are_welcome")
        return []


class ActionGreet(Action):
    """A hello: the opening greeting the first time; later, where the customer stands
    ("hello?? is anyone coming?" while waiting for a person gets an honest answer, not the
    greeting again)."""

    def name(self) -> str:
        return "action_greet"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with unit_of_work(settings().database_url) as session:
            waiting = handoff_records.open_handoff(session, tracker.sender_id)
            complaints = complaint_records.open_complaints(session, tracker.sender_id)
            lines = replies.where_complaints_stand(session, complaints)
        if waiting is not None and waiting.status == handoff_records.REQUESTED:
            dispatcher.utter_message(
                response="utter_still_waiting", when_reply=replies.when_reply()
            )
            return []
        if lines:
            dispatcher.utter_message(response="utter_greet_back", status_lines=" ".join(lines))
            return [SlotSet(names.PENDING, names.ANYTHING_ELSE)]
        dispatcher.utter_message(response="utter_greet")
        return []
