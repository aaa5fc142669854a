"""Asking for compensation in the conversation, within the policy (docs/principles.md: 5, 6).

Amounts and eligibility always come from the policy and the records (``redress``): nothing
a customer types, and no slot a message could set, changes what is offered or granted.
"""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import names, replies, taking
from actions.case_questions import answer as answer_case_question
from actions.case_questions import case_question
from actions.context import business, now, settings
from actions.intents import complaint_behind
from redress.compensation import in_conversation as compensation
from redress.compensation import ledger
from redress.compensation.consent import is_plain_yes
from redress.compensation.policy import offer_words, show_money
from redress.complaints import records as complaint_records
from redress.complaints.categories import Category
from redress.complaints.questions import Topic
from redress.conversations import records as conversations
from redress.db.session import unit_of_work

# A complaint told together with the demand ("no internet for a week, I want money back"):
# enough words beyond the demand to tell a story, and a complaint intent behind.
_DEMAND_WORDS = {
    "want", "wants", "expect", "demand", "compensation", "compensate", "compo", "money", "back",
    "off", "bill", "refund", "credit", "discount", "give", "pay", "paid", "owed", "some",
    "something", "for", "this", "that", "the", "and", "you", "your", "are", "can", "have",
    "get", "what", "will", "going", "make", "about", "now", "please", "just", "its", "it's",
}  # fmt: skip
MIN_STORY_WORDS = 4
# Questions about money already offered or given, answered from the records.
MONEY_QUESTIONS = {Topic.REFUND_TIME, Topic.APPROVAL, Topic.REMEDY_FORM}
MIN_COMPLAINT_CONFIDENCE = 0.1


def complaint_in_message(tracker: Tracker) -> Category | None:
    text = replies.latest_text(tracker).lower()
    story = [w for w in re.findall(r"[a-z']{3,}", text) if w not in _DEMAND_WORDS]
    if len(story) < MIN_STORY_WORDS:
        return None
    return complaint_behind(tracker, MIN_COMPLAINT_CONFIDENCE)


class ActionAskCompensation(Action):
    """ "What are you going to do about it?", "that's not enough", "I want £500": an honest
    answer. What the policy allows is offered; anything more goes to a person, and the
    customer is told when to expect an answer. An amount typed by the customer is never
    used."""

    def name(self) -> str:
        return "action_ask_compensation"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot(names.PENDING) == names.COMPENSATION_OFFER and is_plain_yes(
            replies.latest_text(tracker)
        ):
            # "Fine, I'll take the credit for now" after "that's not enough": a yes to the
            # offer that is still open, whatever else was said before.
            return replies.answer_offer(dispatcher, tracker, True)
        if (question := case_question(tracker, topics=MONEY_QUESTIONS)) is not None:
            # "when does the credit come off my bill?", "can it go on my card instead?"
            return answer_case_question(dispatcher, tracker, question)
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            complained = bool(complaint_records.open_complaints(session, conversation.id))
        if not complained and (hidden := complaint_in_message(tracker)) is not None:
            # "No internet for a week, I want compensation": the complaint comes first; the
            # offer follows once it is logged.
            return taking.start_complaint(dispatcher, tracker, hidden)
        with unit_of_work(settings().database_url) as session:
            stands = compensation.asked_for_more(
                session,
                tracker.sender_id,
                tracker.get_slot(names.SHOWN),
                business().compensation,
                now(),
            )
        return _answer(dispatcher, tracker, stands)


def _answer(
    dispatcher: CollectingDispatcher, tracker: Tracker, stands: compensation.AskedForMore
) -> list[EventType]:
    if not stands.complaints:
        dispatcher.utter_message(response="utter_compensation_what_happened")
        return []
    if not stands.logged:
        dispatcher.utter_message(response="utter_compensation_after_details")
        return []
    if stands.fresh:
        return replies.present_next_offer(dispatcher, tracker) or []
    if stands.already is not None:
        # Already compensated for this problem: said again, and a person looks at it.
        return replies.say_already_given(dispatcher, stands.already, review=True)
    if stands.status is None:
        dispatcher.utter_message(
            response="utter_compensation_needs_person", when_reply=replies.when_reply()
        )
        return [SlotSet(names.PENDING, None)]
    if stands.remedy == "priority_repair" or stands.status != ledger.OFFERED:
        dispatcher.utter_message(
            response="utter_compensation_more_needs_person", when_reply=replies.when_reply()
        )
        return [SlotSet(names.PENDING, None)]
    dispatcher.utter_message(
        response="utter_compensation_most_i_can",
        amount=show_money(stands.amount_pence),
        offer_words=offer_words(stands.remedy or "", stands.amount_pence),
        when_reply=replies.when_reply(),
    )
    return [SlotSet(names.PENDING, names.COMPENSATION_OFFER)]
