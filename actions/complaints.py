"""Complaint actions: acknowledge with one specific apology, collect details, log it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import compensation
from actions.context import business, now, settings
from actions.incidents import (
    PENDING,
    ask_anything_else,
    explain,
    explained_by_incident,
    incident_for,
    still_broken_after_fix,
)
from actions.intents import complaint_behind, complaint_told
from redress.complaints import records as complaint_records
from redress.complaints.apology import describe_problem
from redress.complaints.categories import Category, Severity
from redress.complaints.severity import assess_severity
from redress.complaints.since import find_since
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import Complaint, Customer
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff import reply_times
from redress.handoff.reply_times import describe_reply_time, describe_reply_within
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices

UNVERIFIED = "unverified"
NOT_SURE = "not sure"
MAX_ACCOUNT_ATTEMPTS = 2
MAX_POSTCODE_ATTEMPTS = 2
SUMMARY_CHARS = 500
_DONT_KNOW = re.compile(
    r"\b(don'?t|do not|dont|can'?t|cannot) (know|have|remember|find|recall)|\bno idea\b|"
    r"\bnot sure\b|\bdunno\b|\bnot a customer\b|^\s*(no|nope|nah)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", re.IGNORECASE)


def _latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _category(tracker: Tracker) -> Category | None:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return Category.from_intent(intent)


class ActionAcknowledgeComplaint(Action):
    """The first reply to a complaint: one apology naming the problem, and what happens next."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return acknowledge(dispatcher, tracker, _category(tracker) or Category.OTHER)


def acknowledge(
    dispatcher: CollectingDispatcher, tracker: Tracker, category: Category
) -> list[EventType]:
    """Records the complaint and apologises for it once, naming it in the customer's words."""
    text = _latest_text(tracker)
    moment = now()
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        fix_failed = still_broken_after_fix(session, conversation.id, category, moment)
    if fix_failed:
        when = describe_reply_time(business().hours, moment)
        dispatcher.utter_message(response="utter_still_not_fixed", when_reply=when)
        # Nothing more to ask: the complaint is already logged, with its details.
        return [SlotSet(PENDING, None), SlotSet("since", tracker.get_slot("since") or NOT_SURE)]
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        same = [
            c
            for c in complaint_records.open_complaints(session, conversation.id)
            if c.category == category.value
        ]
        if same:
            # One apology per problem: more about the same problem is added to it.
            complaint = same[-1]
            complaint.facts = {
                **complaint.facts,
                "more": [*complaint.facts.get("more", []), text[:SUMMARY_CHARS]],
            }
            dispatcher.utter_message(response="utter_complaint_added")
            return [SlotSet("complaint_reference", complaint.reference)]
        earlier = (
            complaint_records.earlier_complaints(
                session, conversation.customer_id, category.value, moment
            )
            if conversation.customer_id
            else 0
        )
        assessment = assess_severity(category, text, moment, earlier_complaints=earlier)
        since = find_since(text, moment)
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category.value,
            severity=assessment.severity.value,
            severity_reasons=list(assessment.reasons),
            summary=text[:SUMMARY_CHARS],
            facts={"since": since.phrase} if since else {},
        )
        reference = complaint.reference
    dispatcher.utter_message(
        response="utter_complaint_apology", problem=describe_problem(category, text, moment)
    )
    if assessment.safety_risk:
        dispatcher.utter_message(response="utter_safety_advice")
    given = _details_already_given(tracker)
    verified = bool(tracker.get_slot("customer_verified"))
    account_known = verified or any(event["name"] == "account_ref" for event in given)
    asks_since = business().category_text(category).ask_since and not (
        verified and explained_by_incident(tracker, category)
    )
    if not account_known or (asks_since and since is None):
        dispatcher.utter_message(response="utter_details_next")
    return [
        SlotSet("complaint_category", category.value),
        SlotSet("complaint_reference", reference),
        SlotSet("since", since.phrase if since else None),
        SlotSet(PENDING, None),
        *given,
    ]


def _verified_customer_slots(customer: Customer) -> dict[str, Any]:
    """What the conversation knows once an account is found: used by the form and by
    corrections outside it, so both fill exactly the same slots."""
    return {
        "account_ref": customer.account_number,
        "customer_name": customer.first_name,
        "customer_verified": True,
        "postcode": customer.postcode,
    }


def _details_already_given(tracker: Tracker) -> list[EventType]:
    """Account and postcode the customer put in the complaint itself, so the form does not
    ask for them again (it validates them when it starts)."""
    if tracker.get_slot("customer_verified"):
        return []
    entities = {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities", [])}
    events: list[EventType] = []
    if reference := entities.get("account_number") or entities.get("email"):
        events.append(SlotSet("account_ref", str(reference)))
    if postcode := entities.get("postcode"):
        events.append(SlotSet("postcode", str(postcode)))
    return events


class ValidateComplaintForm(FormValidationAction):
    """Asks only for what the next step needs, and accepts corrections at any point."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # rasa_sdk asks for the required slots three times per run (extracting, validating,
        # choosing the next question): look the incident up once per set of details.
        self._incident_memo: dict[tuple[Any, ...], bool] = {}
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        needed = ["account_ref"]
        if tracker.get_slot("account_ref") == UNVERIFIED:
            needed.append("postcode")
        category = Category(tracker.get_slot("complaint_category") or Category.OTHER.value)
        if business().category_text(category).ask_since and not explained_by_incident(
            tracker, category, getattr(self, "_incident_memo", None)
        ):
            needed.append("since")
        return needed

    def validate_account_ref(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Looks the account up for real; two misses and the complaint goes on without it."""
        value = str(slot_value or "").strip()
        if value == UNVERIFIED:
            return {"account_ref": UNVERIFIED}
        attempts = int(tracker.get_slot("account_attempts") or 0) + 1
        if _DONT_KNOW.search(value):
            dispatcher.utter_message(response="utter_account_unverified")
            return {"account_ref": UNVERIFIED, "account_attempts": attempts}
        with unit_of_work(settings().database_url) as session:
            customer = customers.find_customer(session, value)
            if customer is not None:
                conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
                customers.attach_customer(session, conversation, customer)
                found = {**_verified_customer_slots(customer), "account_attempts": 0}
        if customer is not None:
            dispatcher.utter_message(
                response="utter_account_found", customer_name=found["customer_name"]
            )
            return found
        if attempts >= MAX_ACCOUNT_ATTEMPTS:
            dispatcher.utter_message(response="utter_account_unverified")
            return {"account_ref": UNVERIFIED, "account_attempts": attempts}
        dispatcher.utter_message(response="utter_account_not_found")
        return {"account_ref": None, "account_attempts": attempts}

    def validate_postcode(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        match = _POSTCODE.search(str(slot_value or ""))
        if match:
            return {"postcode": f"{match[1]} {match[2]}".upper(), "postcode_attempts": 0}
        attempts = int(tracker.get_slot("postcode_attempts") or 0) + 1
        if attempts >= MAX_POSTCODE_ATTEMPTS or _DONT_KNOW.search(str(slot_value or "")):
            return {"postcode": NOT_SURE, "postcode_attempts": attempts}
        dispatcher.utter_message(response="utter_postcode_invalid")
        return {"postcode": None, "postcode_attempts": attempts}

    def validate_since(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keeps the customer's own words; "not sure" is a fine answer."""
        value = " ".join(str(slot_value or "").split())
        if not value or _DONT_KNOW.search(value):
            return {"since": NOT_SURE}
        moment = now()
        # Answers are often bare: "monday", "3 days", "last night".
        found = next(
            (
                since
                for candidate in (value, f"since {value}", f"for {value}")
                if (since := find_since(candidate, moment))
            ),
            None,
        )
        return {"since": found.phrase if found else value[:80]}


class ActionLogComplaint(Action):
    """Files the details with the complaint and tells the customer what happens next."""

    def name(self) -> str:
        return "action_log_complaint"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        moment = now()
        config = business()
        facts = {
            key: tracker.get_slot(key)
            for key in ("account_ref", "postcode", "since")
            if tracker.get_slot(key) not in (None, "")
        }
        account = facts.get("account_ref") if tracker.get_slot("customer_verified") else None
        thresholds = config.alerts.possible_incident
        logged: list[tuple[str, Category, Severity, incidents.Incident | None, str]] = []
        person_for: list[str] = []
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            person_already = handoff_records.open_handoff(session, conversation.id) is not None
            for complaint in complaint_records.open_complaints(session, conversation.id):
                if complaint.facts.get("logged"):
                    continue
                _file_details(session, complaint, facts, conversation.customer_id, moment)
                category = Category(complaint.category)
                incident = incident_for(session, category, facts.get("postcode"), account, moment)
                offer = ""
                if incident is not None:
                    offer = incident_notices.link_complaint(
                        session, complaint, incident.id, moment
                    ).status
                else:
                    incident_notices.check_possible_incident(
                        session,
                        complaint,
                        incident_notices.complaint_district(complaint),
                        moment,
                        incident_notices.Thresholds(
                            complaints=thresholds.complaints,
                            within=timedelta(minutes=thresholds.within_minutes),
                        ),
                    )
                severity = Severity(complaint.severity)
                logged.append((complaint.reference, category, severity, incident, offer))
                person_for += _needs_person(session, complaint, moment)
            session.flush()
            compensation.make_offers(session, conversation.id)
            if config.handoff.compensation_needs_approval and compensation.awaits_approval(
                session, conversation.id
            ):
                person_for.append(reply_times.NEEDS_APPROVAL)
            for reason in dict.fromkeys(person_for):
                handoff_records.request_handoff(session, conversation.id, reason)
        events: list[EventType] = [SlotSet("requested_slot", None)]
        offered = False
        for reference, category, severity, incident, offer in logged:
            if incident is not None:
                events += explain(dispatcher, incident, reference, "" if offered else offer)
                offered = offered or offer == incident_notices.OFFERED
                continue
            if config.category_text(category).wider_problem:
                dispatcher.utter_message(response="utter_no_known_incident")
            hours = config.categories.reply_within_hours[severity.value]
            dispatcher.utter_message(
                response="utter_complaint_logged",
                complaint_reference=reference,
                next_step=config.category_text(category).next_step,
                reply_within=describe_reply_within(hours, config.hours, moment),
            )
        person_told = (
            bool(person_for) and not person_already and person_for[0] != reply_times.NEEDS_APPROVAL
        )
        if person_told:
            # Serious, or not the first time: a person too (an offer awaiting approval says so
            # itself).
            dispatcher.utter_message(
                response="utter_handoff_repeat"
                if person_for[0] == reply_times.REPEAT
                else "utter_handoff_serious",
                when_reply=describe_reply_time(config.hours, moment),
            )
        if not offered:
            # The remedy comes after the apology and the explanation; then "anything else?"
            events += compensation.present_next(
                dispatcher, tracker, person_asked=person_told
            ) or ask_anything_else(dispatcher)
        return events


def _needs_person(session: Session, complaint: Complaint, moment: datetime) -> list[str]:
    """Why this complaint needs a person as well, by the rules in business/handoff.yml."""
    rules = business().handoff
    earlier = (
        complaint_records.earlier_complaints(
            session,
            complaint.customer_id,
            complaint.category,
            moment,
            exclude=complaint.id,
            within_days=rules.repeat_within_days,
        )
        if complaint.customer_id and rules.repeat_within_days
        else 0
    )
    return reply_times.automatic_reasons(rules, Severity(complaint.severity), earlier)


def _file_details(
    session: Session,
    complaint: Complaint,
    facts: dict[str, Any],
    customer_id: int | None,
    moment: datetime,
) -> None:
    """Adds the collected facts and re-rates severity now that we know more."""
    category = Category(complaint.category)
    complaint.customer_id = complaint.customer_id or customer_id
    text = " ".join([complaint.summary, *complaint.facts.get("more", [])])
    since = facts.get("since")
    if since and since != NOT_SURE and not find_since(text, moment):
        found = find_since(since, moment)
        text = f"{text} {found.phrase}" if found else text
    earlier = (
        complaint_records.earlier_complaints(
            session, complaint.customer_id, category.value, moment, exclude=complaint.id
        )
        if complaint.customer_id
        else 0
    )
    assessment = assess_severity(category, text, moment, earlier_complaints=earlier)
    if assessment.severity.rank > Severity(complaint.severity).rank:
        complaint.severity = assessment.severity.value
        complaint.severity_reasons = list(assessment.reasons)
    complaint.facts = {**complaint.facts, **facts, "logged": True}


class ActionUpdateDetails(Action):
    """Details given outside the form: a correction to a logged complaint, or details
    before the customer has said what went wrong."""

    def name(self) -> str:
        return "action_update_details"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        hidden = _complaint_behind_details(tracker)
        if hidden is not None and not _has_open_complaint(tracker):
            # "BL-100005 here. my wifi has been down since yesterday": the details stood out,
            # but there is a complaint in it, and it deserves the complaint's answer.
            return [*acknowledge(dispatcher, tracker, hidden), FollowupAction("complaint_form")]
        text = _latest_text(tracker)
        entities = {
            e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities", [])
        }
        reference = entities.get("account_number") or entities.get("email")
        events: list[EventType] = []
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            complaints = complaint_records.open_complaints(session, conversation.id)
            changes: dict[str, Any] = {}
            customer = customers.find_customer(session, str(reference)) if reference else None
            if customer is not None:
                customers.attach_customer(session, conversation, customer)
                changes["account_ref"] = customer.account_number
                events += [
                    SlotSet(name, value)
                    for name, value in _verified_customer_slots(customer).items()
                ]
            if match := _POSTCODE.search(text):
                changes["postcode"] = f"{match[1]} {match[2]}".upper()
                events.append(SlotSet("postcode", changes["postcode"]))
            if since := find_since(text, now()):
                changes["since"] = since.phrase
            for complaint in complaints:
                if changes:
                    complaint.facts = {**complaint.facts, **changes}
                    if customer is not None:
                        complaint.customer_id = customer.id
        if not complaints:
            dispatcher.utter_message(response="utter_what_went_wrong")
        elif reference and customer is None:
            dispatcher.utter_message(response="utter_account_not_found")
        elif changes:
            dispatcher.utter_message(response="utter_details_updated")
        else:
            events += ask_anything_else(dispatcher)
        return events


# Words that only frame a detail ("my account number is ..."); what is left is the story.
_DETAIL_WORDS = {
    "my", "the", "a", "an", "is", "its", "it's", "it", "i", "im", "i'm", "am", "here",
    "account", "acc", "number", "no", "num", "email", "e-mail", "address", "postcode", "post",
    "code", "since", "from", "sorry", "meant", "mean", "wait", "actually", "and", "ok", "yes",
}  # fmt: skip
MIN_STORY_WORDS = 4
MIN_COMPLAINT_CONFIDENCE = 0.15


def _complaint_behind_details(tracker: Tracker) -> Category | None:
    """The complaint category when a message read as "giving details" also tells what went
    wrong: several words beyond the details, and a complaint intent close behind."""
    text = _latest_text(tracker)
    for entity in sorted(
        tracker.latest_message.get("entities", []), key=lambda e: e.get("start", 0), reverse=True
    ):
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int):
            text = text[:start] + " " + text[end:]
    story = [w for w in re.findall(r"[a-z']{2,}", text.lower()) if w not in _DETAIL_WORDS]
    if len(story) < MIN_STORY_WORDS:
        return None
    return complaint_behind(tracker, MIN_COMPLAINT_CONFIDENCE) or complaint_told(tracker)


def _has_open_complaint(tracker: Tracker) -> bool:
    with unit_of_work(settings().database_url) as session:
        return bool(complaint_records.open_complaints(session, tracker.sender_id))
