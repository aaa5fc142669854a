"""Offering a remedy in the conversation, within the policy (docs/principles.md: 5, 6).

Amounts and eligibility always come from the policy and the records (``redress``): nothing
a customer types, and no slot a message could set, changes what is offered or granted.
"""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.context import business, now, settings
from actions.intents import complaint_behind
from redress.compensation import ledger
from redress.compensation.policy import granted_words, offer_words, show_money
from redress.complaints import records as complaint_records
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import CompensationGrant, CompensationOffer
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff.reply_times import describe_reply_time

PENDING = "pending_question"
COMPENSATION_OFFER = "compensation_offer"
ALTERNATIVE = "compensation_alternative"
# The offer already put to the customer, so it is not put twice.
SHOWN = "offer_shown"


def _when_reply() -> str:
    return describe_reply_time(business().hours, now())


def make_offers(session: Session, conversation_id: str) -> None:
    """Works out the offer for each logged complaint in the conversation that has none."""
    policy = business().compensation
    if policy is None:
        return
    for complaint in complaint_records.open_complaints(session, conversation_id):
        if complaint.facts.get("logged") and complaint.customer_id is not None:
            ledger.make_offer(session, complaint, policy, now())


def awaits_approval(session: Session, conversation_id: str) -> bool:
    """Whether the conversation's latest offer waits for a person to approve it."""
    offer = ledger.latest_offer(session, conversation_id)
    return offer is not None and offer.status == ledger.PENDING_APPROVAL


def present_next(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, person_asked: bool = False
) -> list[EventType] | None:
    """Puts the next offer not yet shown to the customer. None when there is none.
    ``person_asked``: the customer was just told a person will help (and when)."""
    with unit_of_work(settings().database_url) as session:
        offer = _unshown_offer(session, tracker)
        if offer is None:
            return None
        reference, status = offer.reference, offer.status
        words = offer_words(offer.remedy, offer.amount_pence)
    if status == ledger.PENDING_APPROVAL and person_asked:
        dispatcher.utter_message(
            response="utter_compensation_needs_approval_by_the_person", offer_words=words
        )
        return [SlotSet(SHOWN, reference)]
    if status == ledger.PENDING_APPROVAL:
        dispatcher.utter_message(
            response="utter_compensation_needs_approval",
            offer_words=words,
            when_reply=_when_reply(),
        )
        return [SlotSet(SHOWN, reference)]
    dispatcher.utter_message(response="utter_compensation_offer", offer_words=words)
    return [SlotSet(SHOWN, reference), SlotSet(PENDING, COMPENSATION_OFFER)]


def _unshown_offer(session: Session, tracker: Tracker) -> CompensationOffer | None:
    offer = ledger.latest_offer(session, tracker.sender_id)
    if offer is None or offer.reference == tracker.get_slot(SHOWN):
        return None
    if offer.status not in {ledger.OFFERED, ledger.PENDING_APPROVAL}:
        return None
    return offer


def answer_offer(
    dispatcher: CollectingDispatcher, tracker: Tracker, accepted: bool
) -> list[EventType]:
    """The customer's yes or no to the offer they were shown."""
    policy = business().compensation
    moment = now()
    outcome: tuple[str, str, int] | None = None
    refused = False
    with unit_of_work(settings().database_url) as session:
        offer = ledger.open_offer(session, tracker.sender_id)
        if offer is None or policy is None:
            # Decided meanwhile (a person approved or turned it down): a person follows up.
            refused = accepted
            if accepted:
                handoff_records.request_handoff(session, tracker.sender_id, "compensation_review")
        elif not accepted:
            ledger.decline(session, offer, moment)
        else:
            offer_id = offer.id
            granted: CompensationGrant | None = None
            try:
                with session.begin_nested():
                    try:
                        granted = ledger.grant(
                            session,
                            offer_id,
                            policy,
                            moment,
                            fulfil=settings().fulfilment_webhook_url is not None,
                        )
                    except ledger.NotGrantable:
                        # Kept as withdrawn (no longer within the limits); a person follows up.
                        refused = True
            except IntegrityError:
                # The same offer granted a moment ago by another tab or channel: that grant.
                granted = ledger.grant_of(session, offer_id)
            if granted is not None:
                outcome = (granted.reference, granted.remedy, granted.amount_pence)
            else:
                refused = True
                handoff_records.request_handoff(session, tracker.sender_id, "compensation_review")
    if not accepted:
        dispatcher.utter_message(response="utter_compensation_declined")
        return [SlotSet(PENDING, ALTERNATIVE)]
    if refused or outcome is None:
        dispatcher.utter_message(
            response="utter_compensation_not_possible", when_reply=_when_reply()
        )
        return [SlotSet(PENDING, None)]
    reference, remedy, pence = outcome
    dispatcher.utter_message(
        response="utter_compensation_granted",
        granted_words=granted_words(remedy, pence),
        grant_reference=reference,
    )
    return [SlotSet(PENDING, None)]


# A complaint told together with the demand ("no internet for a week, I want money back"):
# enough words beyond the demand to tell a story, and a complaint intent behind.
_DEMAND_WORDS = {
    "want", "wants", "expect", "demand", "compensation", "compensate", "compo", "money", "back",
    "off", "bill", "refund", "credit", "discount", "give", "pay", "paid", "owed", "some",
    "something", "for", "this", "that", "the", "and", "you", "your", "are", "can", "have",
    "get", "what", "will", "going", "make", "about", "now", "please", "just", "its", "it's",
}  # fmt: skip
MIN_STORY_WORDS = 4
MIN_COMPLAINT_CONFIDENCE = 0.1


def complaint_in_message(tracker: Tracker) -> Category | None:
    text = str(tracker.latest_message.get("text") or "").lower()
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
        moment = now()
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            complaints = complaint_records.open_complaints(session, conversation.id)
        if not complaints and (hidden := complaint_in_message(tracker)) is not None:
            # "No internet for a week, I want compensation": the complaint comes first; the
            # offer follows once it is logged.
            from actions.complaints import acknowledge  # complaints imports this module

            return [*acknowledge(dispatcher, tracker, hidden), FollowupAction("complaint_form")]
        with unit_of_work(settings().database_url) as session:
            offer = ledger.latest_offer(session, conversation.id)
            if offer is None and complaints:
                make_offers(session, conversation.id)
                offer = ledger.latest_offer(session, conversation.id)
            state = None if offer is None else (offer.status, offer.remedy, offer.amount_pence)
            fresh = offer is not None and offer.reference != tracker.get_slot(SHOWN)
            logged = any(c.facts.get("logged") for c in complaints)
            if logged and (offer is None or not fresh):
                if offer is not None:
                    ledger.request_review(session, offer, moment)
                handoff_records.request_handoff(session, conversation.id, "compensation_review")
        if not complaints:
            dispatcher.utter_message(response="utter_compensation_what_happened")
            return []
        if not logged:
            dispatcher.utter_message(response="utter_compensation_after_details")
            return []
        if fresh:
            return present_next(dispatcher, tracker) or []
        if state is None:
            dispatcher.utter_message(
                response="utter_compensation_needs_person", when_reply=_when_reply()
            )
            return [SlotSet(PENDING, None)]
        status, remedy, pence = state
        if remedy == "priority_repair" or status != ledger.OFFERED:
            dispatcher.utter_message(
                response="utter_compensation_more_needs_person", when_reply=_when_reply()
            )
            return [SlotSet(PENDING, None)]
        dispatcher.utter_message(
            response="utter_compensation_most_i_can",
            amount=show_money(pence),
            offer_words=offer_words(remedy, pence),
            when_reply=_when_reply(),
        )
        return [SlotSet(PENDING, COMPENSATION_OFFER)]
