"""A yes or a no outside the form: it answers the last question the assistant asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names, replies, taking
from actions.case_questions import SPECIFIC, case_question
from actions.case_questions import answer as answer_case_question
from actions.context import business, now, settings
from actions.intents import complaint_told
from redress.complaints import records as complaint_records
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.incidents import notices as incident_notices
from redress.incidents import records as incidents_records
from redress.incidents import wording
from redress.incidents.in_conversation import answer_fix_check, asked_if_fixed

# A yes or no this short is an answer, never a complaint told with it.
MIN_ANSWER_STORY_WORDS = 5
FIX = "fix"
OFFER = "offer"


@dataclass(frozen=True)
class Answered:
    """Which question the yes or no answered, and when the next incident update is due."""

    question: str
    next_update: datetime | None = None


class ActionAnswerYesNo(Action):
    """A yes or a no outside the form answers the last question asked: whether the fix
    worked, whether they want updates, whether they take the offer, or whether there is
    anything else."""

    def name(self) -> str:
        return "action_answer_yes_no"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        yes = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        if (question := case_question(tracker, topics=SPECIFIC)) is not None:
            # "yes but when does it come off my bill?": a question, answered; the question
            # it was waiting on is asked again, and nothing is taken as agreed.
            return answer_case_question(dispatcher, tracker, question)
        answered = _record_answer(tracker, yes)
        if not answered.question and (told := _complaint_in_answer(tracker)) is not None:
            # "no, still waiting for my refund": nothing was asked and nothing is logged, so
            # it is the complaint itself.
            return taking.start_complaint(dispatcher, tracker, told)
        if answered.question == names.COMPENSATION_OFFER:
            return replies.answer_offer(dispatcher, tracker, yes)
        if answered.question == names.ALTERNATIVE:
            return _answer_alternative(dispatcher, tracker, yes)
        if answered.question == FIX:
            return _answer_fix(dispatcher, tracker, yes)
        if answered.question == OFFER:
            return _answer_updates(dispatcher, tracker, yes, answered.next_update)
        if answered.question == names.ANYTHING_ELSE and not yes:
            dispatcher.utter_message(response=replies.farewell(tracker))
            return [SlotSet(names.PENDING, None)]
        if (
            yes
            and not answered.question
            and (confirmed := replies.confirm_offer(dispatcher, tracker)) is not None
        ):
            # A yes to nothing asked while an offer is open: the offer is put plainly, so
            # the yes is given to it (or not), never assumed.
            return confirmed
        if yes:
            dispatcher.utter_message(response="utter_what_else")
            return [SlotSet(names.PENDING, None)]
        return replies.ask_anything_else(dispatcher)


def _record_answer(tracker: Tracker, yes: bool) -> Answered:
    """Works out which question was answered and records the answers the records keep
    (the fix check, the updates offer)."""
    pending = tracker.get_slot(names.PENDING)
    moment = now()
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        # "Is it working now?" arrives by push, so it is the last question when it is the
        # assistant's latest message, whatever the conversation asked before.
        check = asked_if_fixed(session, conversation.id)
        if check is not None:
            answer_fix_check(session, check, yes, moment, business())
            return Answered(FIX)
        if pending in {names.COMPENSATION_OFFER, names.ALTERNATIVE}:
            return Answered(pending)
        if pending == names.UPDATES_OFFER and (
            offer := incident_notices.open_offer(session, conversation.id)
        ):
            incident_notices.answer_offer(session, offer, yes, moment)
            row = incidents_records.get_row(session, offer.incident_id)
            return Answered(OFFER, row.next_update_by)
        return Answered(pending or "")


def _answer_alternative(
    dispatcher: CollectingDispatcher, tracker: Tracker, yes: bool
) -> list[EventType]:
    """After a declined offer, "would you like a person to look at another remedy?"."""
    if not yes:
        return replies.ask_anything_else(dispatcher)
    with unit_of_work(settings().database_url) as session:
        handoff_records.request_handoff(session, tracker.sender_id, "compensation_alternative")
    dispatcher.utter_message(response="utter_handoff_requested", when_reply=replies.when_reply())
    return [SlotSet(names.PENDING, None)]


def _answer_fix(dispatcher: CollectingDispatcher, tracker: Tracker, yes: bool) -> list[EventType]:
    if yes:
        dispatcher.utter_message(response="utter_glad_its_fixed")
        return replies.next_offer_or_anything_else(dispatcher, tracker)
    dispatcher.utter_message(response="utter_still_not_fixed", when_reply=replies.when_reply())
    return [SlotSet(names.PENDING, None)]


def _answer_updates(
    dispatcher: CollectingDispatcher, tracker: Tracker, yes: bool, next_update: datetime | None
) -> list[EventType]:
    if not yes:
        dispatcher.utter_message(response="utter_updates_declined")
    else:
        at_latest = ""
        if next_update is not None:
            due = wording.describe_time(next_update, now(), business().hours.timezone)
            at_latest = f" I'll message you by {due} at the latest."
        dispatcher.utter_message(response="utter_updates_on", at_latest=at_latest)
    return replies.next_offer_or_anything_else(dispatcher, tracker)


def _complaint_in_answer(tracker: Tracker) -> Category | None:
    if len(replies.latest_text(tracker).split()) < MIN_ANSWER_STORY_WORDS:
        return None  # "yes", "no thanks": an answer, whatever the detector thinks
    with unit_of_work(settings().database_url) as session:
        if complaint_records.open_complaints(session, tracker.sender_id):
            return None
    return complaint_told(tracker)
