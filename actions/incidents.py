"""Incidents in the conversation: explain the known problem behind a complaint, offer
updates, answer "any update?" with its history, and hear whether a fix worked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import compensation
from actions.context import business, now, settings
from actions.intents import complaint_told
from redress.complaints import records as complaint_records
from redress.complaints.categories import Category
from redress.conversations import records as conversations
from redress.db.models import Complaint, IncidentSubscription
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff.reply_times import describe_reply_time
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents import records as incidents_records

# What the assistant's last yes-or-no question was, so a bare "yes" answers the right one.
PENDING = "pending_question"
ANYTHING_ELSE = "anything_else"
UPDATES_OFFER = "updates_offer"
UNKNOWN_VALUES = {None, "", "unverified", "not sure"}
# A yes or no this short is an answer, never a complaint told with it.
MIN_ANSWER_STORY_WORDS = 5


def known(value: Any) -> str | None:
    return None if value in UNKNOWN_VALUES else str(value)


def incident_for(
    session: Session,
    category: Category,
    postcode: str | None,
    account: str | None,
    at: datetime,
) -> incidents.Incident | None:
    """The active incident that explains a complaint of this category from this customer,
    the most recently started first. Only what the customer gave us is used: an unknown
    postcode or account matches nothing limited to areas or accounts."""
    if not business().category_text(category).wider_problem:
        return None
    found = incidents.matching_incidents(
        incidents_records.active_incidents(session),
        category,
        known(postcode),
        at,
        business().regions,
        account=known(account),
    )
    return found[0] if found else None


def explained_by_incident(
    tracker: Tracker, category: Category, memo: dict[tuple[Any, ...], bool] | None = None
) -> bool:
    """Whether the details so far already tie this complaint to a known incident (then we
    don't ask what we no longer need, like when it started). ``memo`` keeps the answer for
    the same details within one action run, which asks several times."""
    account = tracker.get_slot("account_ref") if tracker.get_slot("customer_verified") else None
    postcode = tracker.get_slot("postcode")
    key = (category, postcode, account)
    if memo is not None and key in memo:
        return memo[key]
    with unit_of_work(settings().database_url) as session:
        found = incident_for(session, category, postcode, account, now()) is not None
    if memo is not None:
        memo[key] = found
    return found


def explain(
    dispatcher: CollectingDispatcher,
    incident: incidents.Incident,
    reference: str,
    subscription_status: str,
) -> list[EventType]:
    """Explains the incident behind a complaint and offers updates unless already answered."""
    moment = now()
    zone = business().hours.timezone
    dispatcher.utter_message(
        response="utter_incident_explained",
        explanation=incidents.explain(incident, moment, zone).text(),
        complaint_reference=reference,
    )
    if subscription_status == incident_notices.OFFERED:
        dispatcher.utter_message(response="utter_offer_updates")
        return [SlotSet(PENDING, UPDATES_OFFER)]
    return []


def ask_anything_else(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_anything_else")
    return [SlotSet(PENDING, ANYTHING_ELSE)]


class ActionAnswerYesNo(Action):
    """A yes or a no outside the form answers the last question asked: whether the fix
    worked, whether they want updates, or whether there is anything else."""

    def name(self) -> str:
        return "action_answer_yes_no"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        yes = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        pending = tracker.get_slot(PENDING)
        moment = now()
        next_update: datetime | None = None
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            # "Is it working now?" arrives by push, so it is the last question when it is
            # the assistant's latest message, whatever the conversation asked before.
            check = _asked_if_fixed(session, conversation.id)
            if check is not None:
                incident_notices.answer_fix_check(session, check, yes, moment)
                if not yes:
                    handoff_records.request_handoff(
                        session, conversation.id, "still_broken_after_fix"
                    )
                answered = "fix"
            elif pending in {compensation.COMPENSATION_OFFER, compensation.ALTERNATIVE}:
                answered = pending
            elif pending == UPDATES_OFFER and (
                offer := incident_notices.open_offer(session, conversation.id)
            ):
                incident_notices.answer_offer(session, offer, yes, moment)
                next_update = incidents_records.get_row(session, offer.incident_id).next_update_by
                answered = "offer"
            else:
                answered = pending or ""
        if not answered and (told := _complaint_in_answer(tracker)) is not None:
            # "no, still waiting for my refund": nothing was asked and nothing is logged, so
            # it is the complaint itself.
            from actions.complaints import acknowledge  # complaints imports this module

            return [*acknowledge(dispatcher, tracker, told), FollowupAction("complaint_form")]
        if answered == compensation.COMPENSATION_OFFER:
            return compensation.answer_offer(dispatcher, tracker, yes)
        if answered == compensation.ALTERNATIVE:
            if not yes:
                return ask_anything_else(dispatcher)
            with unit_of_work(settings().database_url) as session:
                handoff_records.request_handoff(
                    session, tracker.sender_id, "compensation_alternative"
                )
            dispatcher.utter_message(
                response="utter_handoff_requested",
                when_reply=describe_reply_time(business().hours, moment),
            )
            return [SlotSet(PENDING, None)]
        if answered == "fix":
            if yes:
                dispatcher.utter_message(response="utter_glad_its_fixed")
                return compensation.present_next(dispatcher, tracker) or ask_anything_else(
                    dispatcher
                )
            when = describe_reply_time(business().hours, moment)
            dispatcher.utter_message(response="utter_still_not_fixed", when_reply=when)
            return [SlotSet(PENDING, None)]
        if answered == "offer":
            if yes:
                at_latest = ""
                if next_update is not None:
                    due = incidents.describe_time(next_update, moment, business().hours.timezone)
                    at_latest = f" I'll message you by {due} at the latest."
                dispatcher.utter_message(response="utter_updates_on", at_latest=at_latest)
            else:
                dispatcher.utter_message(response="utter_updates_declined")
            return compensation.present_next(dispatcher, tracker) or ask_anything_else(dispatcher)
        if answered == ANYTHING_ELSE and not yes:
            dispatcher.utter_message(response="utter_goodbye")
            return [SlotSet(PENDING, None)]
        if yes:
            dispatcher.utter_message(response="utter_what_else")
            return [SlotSet(PENDING, None)]
        return ask_anything_else(dispatcher)


def _complaint_in_answer(tracker: Tracker) -> Category | None:
    if len(str(tracker.latest_message.get("text") or "").split()) < MIN_ANSWER_STORY_WORDS:
        return None  # "yes", "no thanks": an answer, whatever the detector thinks
    with unit_of_work(settings().database_url) as session:
        if complaint_records.open_complaints(session, tracker.sender_id):
            return None
    return complaint_told(tracker)


def still_broken_after_fix(
    session: Session, conversation_id: str, category: Category, at: datetime
) -> bool:
    """A complaint that answers "is it working now?" after a fix ("still no internet"):
    kept as a no to the fix, and a person is asked to look. Returns whether it was that."""
    check = _asked_if_fixed(session, conversation_id)
    if check is None:
        return False
    if category.value not in incidents_records.get_row(session, check.incident_id).categories:
        return False
    incident_notices.answer_fix_check(session, check, False, at)
    handoff_records.request_handoff(session, conversation_id, "still_broken_after_fix")
    return True


def incident_status_lines(session: Session, complaints: list[Complaint], at: datetime) -> list[str]:
    """For "any update?": each known incident behind the customer's complaints, with what
    has happened so far, in plain words."""
    zone = business().hours.timezone
    lines = []
    for incident_id in dict.fromkeys(c.incident_id for c in complaints if c.incident_id):
        row = incidents_records.get_row(session, incident_id)
        incident = incidents_records.to_domain(row)
        history = incidents.history_summary(
            [incidents_records.update_to_domain(u) for u in row.updates], at, zone
        )
        if incident.active:
            now_text = incidents.explain(incident, at, zone)
            latest = " ".join(
                part
                for part in (
                    incident.what_is_wrong,
                    now_text.what_we_are_doing,
                    now_text.when_fixed,
                    now_text.next_update,
                )
                if part
            )
        else:
            latest = (
                "We've fixed it now. If it's still not right for you, tell me and I'll get a "
                "person to look at it."
            )
        began = f"It began at {incidents.describe_time(incident.start, at, zone)}."
        lines.append(f"{latest}\nWhat has happened so far:\n{began}\n{history}")
    return lines


def _asked_if_fixed(session: Session, conversation_id: str) -> IncidentSubscription | None:
    """The fix check to answer: "is it working now?" is the assistant's latest message."""
    check = incident_notices.open_fix_check(session, conversation_id)
    latest = conversations.last_bot_details(session, conversation_id).get("kind")
    return check if check is not None and latest == incident_notices.RESOLVED else None
