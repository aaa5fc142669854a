"""Complaint actions: acknowledge with one specific apology, collect details, file it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, names, replies, taking
from actions.asking import MAX_ASKS, times_asked
from actions.case_questions import SPECIFIC, case_question
from actions.case_questions import answer as answer_case_question
from actions.context import business, now, settings
from actions.intents import complaint_behind, complaint_told
from redress.complaints import filing
from redress.complaints import records as complaint_records
from redress.complaints.apology import sorry_again, told_on
from redress.complaints.categories import Category
from redress.complaints.since import find_since, find_start
from redress.conversations import records as conversations
from redress.conversations.customers import cannot_give
from redress.db.models import Customer
from redress.db.session import unit_of_work
from redress.handoff import reply_times
from redress.incidents import notices as incident_notices
from redress.incidents.wording import describe_time

# The responses that tell a customer their complaint repeats an earlier one: said once in
# a conversation.
REPEATS = ("utter_complaint_logged_repeat", "utter_complaint_repeat")
MAX_ACCOUNT_ATTEMPTS = 2
MAX_POSTCODE_ATTEMPTS = 2
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", re.IGNORECASE)


class ActionAcknowledgeComplaint(Action):
    """The first reply to a complaint: one apology naming the problem, and what happens next."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        category = Category.from_intent(intent) or Category.OTHER
        if (question := case_question(tracker, category)) is not None:
            # "when am I getting my refund then??" once the refund complaint is told: a
            # question about it, not the same complaint again (and no details form).
            answered = answer_case_question(dispatcher, tracker, question)
            return [*answered, FollowupAction(names.LISTEN)]
        return taking.acknowledge(dispatcher, tracker, category)


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
        signed_in: list[EventType] = []
        if (
            not tracker.get_slot(names.VERIFIED)
            and tracker.get_slot(names.ACCOUNT) is None
            and (customer := identity.verified_customer_of(tracker))
        ):
            # Signed in on the business's site (or proven earlier): nothing to ask or check.
            slots = identity.verified_slots(customer)
            tracker.add_slots(signed_in := [SlotSet(k, v) for k, v in slots.items()])
        return signed_in + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        needed = [names.ACCOUNT]
        if tracker.get_slot(names.ACCOUNT) is not None and not tracker.get_slot(names.VERIFIED):
            # Not given, or named but not proven: the account's postcode is not used.
            needed.append(names.POSTCODE)
        category = Category(tracker.get_slot(names.CATEGORY) or Category.OTHER.value)
        if business().category_text(category).ask_since and not replies.explained_by_incident(
            tracker, category, getattr(self, "_incident_memo", None)
        ):
            needed.append(names.SINCE)
        # A question asked twice and still not answered is not asked a third time: the
        # complaint goes on without it.
        return [
            slot
            for slot in needed
            if tracker.get_slot(slot) is not None or times_asked(tracker, slot) < MAX_ASKS
        ]

    def validate_account_ref(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Looks the account up for real; two misses and the complaint goes on without it."""
        value = str(slot_value or "").strip()
        if value == names.UNVERIFIED:
            return {names.ACCOUNT: names.UNVERIFIED}
        if (
            value == tracker.get_slot(names.ACCOUNT)
            and tracker.get_slot(names.VERIFIED) is not None
        ):
            # The account already found or named (a second complaint in the same
            # conversation): not looked up, thanked for or sent a code again.
            return {names.ACCOUNT: value}
        attempts = int(tracker.get_slot(names.ACCOUNT_ATTEMPTS) or 0) + 1
        unverified = {names.ACCOUNT: names.UNVERIFIED, names.ACCOUNT_ATTEMPTS: attempts}
        if cannot_give(value):
            dispatcher.utter_message(response="utter_account_unverified")
            return unverified
        with unit_of_work(settings().database_url) as session:
            lookup = identity.look_up(session, tracker, value)
            found = {**lookup.slots(), names.ACCOUNT_ATTEMPTS: 0}
        if lookup.outcome == identity.LIMITED:
            dispatcher.utter_message(response="utter_account_lookup_limited")
            return unverified
        if lookup.outcome in (identity.FOUND, identity.CLAIMED):
            if lookup.outcome == identity.FOUND:
                name = found[names.CUSTOMER_NAME]
                dispatcher.utter_message(response="utter_account_found", customer_name=name)
            else:
                identity.say_check_needed(dispatcher)
            since = find_start(replies.latest_text(tracker), now())
            if since is not None and not tracker.get_slot(names.SINCE):
                # "BL-100004, it went off about 7 this morning": not asked again.
                found[names.SINCE] = since.phrase
            return found
        if attempts >= MAX_ACCOUNT_ATTEMPTS:
            dispatcher.utter_message(response="utter_account_unverified")
            return unverified
        dispatcher.utter_message(response="utter_account_not_found")
        return {names.ACCOUNT: None, names.ACCOUNT_ATTEMPTS: attempts}

    def validate_postcode(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        match = _POSTCODE.search(str(slot_value or ""))
        if match:
            return {names.POSTCODE: f"{match[1]} {match[2]}".upper(), names.POSTCODE_ATTEMPTS: 0}
        attempts = int(tracker.get_slot(names.POSTCODE_ATTEMPTS) or 0) + 1
        if attempts >= MAX_POSTCODE_ATTEMPTS or cannot_give(str(slot_value or "")):
            return {names.POSTCODE: names.NOT_SURE, names.POSTCODE_ATTEMPTS: attempts}
        dispatcher.utter_message(response="utter_postcode_invalid")
        return {names.POSTCODE: None, names.POSTCODE_ATTEMPTS: attempts}

    def validate_since(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keeps the customer's own words; "not sure" is a fine answer."""
        value = " ".join(str(slot_value or "").split())
        if not value or cannot_give(value):
            return {names.SINCE: names.NOT_SURE}
        moment = now()
        # Answers are often bare: "monday", "3 days", "last night".
        found = next(
            (
                since
                for candidate in (value, f"since {value}", f"for {value}")
                if (since := find_start(candidate, moment))
            ),
            None,
        )
        return {names.SINCE: found.phrase if found else value[:80]}


class ActionLogComplaint(Action):
    """Files the details with the complaint and tells the customer what happens next."""

    def name(self) -> str:
        return "action_log_complaint"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        facts = {
            key: tracker.get_slot(key)
            for key in (names.ACCOUNT, names.POSTCODE, names.SINCE)
            if tracker.get_slot(key) not in (None, "")
        }
        account = facts.get(names.ACCOUNT) if tracker.get_slot(names.VERIFIED) else None
        if names.ACCOUNT not in facts:
            # Asked twice and not given, or the customer left first: said, not hidden.
            dispatcher.utter_message(response="utter_account_unverified")
        moment = now()  # one time for filing and for what the customer is told
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            filed = filing.file_all(session, conversation, facts, account, business(), moment)
        events: list[EventType] = [SlotSet(names.REQUESTED_SLOT, None)]
        events += _tell_what_happens_next(dispatcher, tracker, filed, moment)
        person_told = _tell_about_a_person(dispatcher, filed)
        if any(f.updates_offer == incident_notices.OFFERED for f in filed.filed):
            return events
        # A person already asked for (a critical first message) approves it too.
        person_asked = person_told or filed.person_already
        if _leaving(tracker):
            # "thanks, bye" before the details were all in: logged with what was given; an
            # offer is still put (it can be taken later), but "anything else?" is not asked.
            offered = replies.present_next_offer(dispatcher, tracker, person_asked=person_asked)
            if offered is None:
                dispatcher.utter_message(response=replies.farewell(tracker))
            return events + (offered or [])
        return events + replies.next_offer_or_anything_else(
            dispatcher, tracker, person_asked=person_asked
        )


def _leaving(tracker: Tracker) -> bool:
    return (tracker.latest_message.get("intent") or {}).get("name") in {"goodbye", "thanks"}


def _tell_what_happens_next(
    dispatcher: CollectingDispatcher, tracker: Tracker, filed: filing.Filing, moment: datetime
) -> list[EventType]:
    """For each complaint: the incident behind it, or its reference, team and the reply time
    recorded with it (its reply-by promise, said in the business's time zone). Updates are
    offered once, for the first incident that offers them; a repeat of an earlier complaint
    is said once in the conversation, for the first complaint that repeats one."""
    config = business()
    zone = config.hours.timezone
    events: list[EventType] = []
    offered = False
    repeat_said = replies.said_before(tracker, *REPEATS)
    # Said once, before the first complaint it covers ("these" for several).
    unexplained = [
        c
        for c in filed.filed
        if c.incident is None and config.category_text(c.category).wider_problem
    ]
    checked = False
    for complaint in filed.filed:
        repeat = {} if repeat_said else repeat_words(complaint.repeat_of, moment, zone)
        repeat_said = repeat_said or bool(repeat)
        if complaint.incident is not None:
            offer = "" if offered else complaint.updates_offer
            events += replies.explain_incident(
                dispatcher, complaint.incident, complaint.reference, offer, complaint.category
            )
            offered = offered or offer == incident_notices.OFFERED
            if repeat:
                dispatcher.utter_message(response="utter_complaint_repeat", **repeat)
            continue
        text = config.category_text(complaint.category)
        if text.wider_problem and not checked:
            several = len(unexplained) > 1
            response = "utter_no_known_incident" + ("_for_these" if several else "")
            if replies.said_before(tracker, "utter_no_known_incident"):
                response = "utter_no_known_incident_again"
            dispatcher.utter_message(response=response)
            checked = True
        dispatcher.utter_message(
            response="utter_complaint_logged_repeat" if repeat else "utter_complaint_logged",
            complaint_reference=complaint.reference,
            next_step=text.next_step,
            reply_by=describe_time(complaint.reply_by, moment, zone),
            **repeat,
        )
    return events


def repeat_words(earlier: filing.Earlier | None, moment: datetime, zone: str) -> dict[str, str]:
    """What the customer is told about the earlier complaint one repeats (none without)."""
    if earlier is None:
        return {}
    return {
        "sorry_again": sorry_again(earlier.still_open),
        "told_on": told_on(earlier.told_at, moment, zone),
        "earlier_reference": earlier.reference,
    }


def _tell_about_a_person(dispatcher: CollectingDispatcher, filed: filing.Filing) -> bool:
    """Serious, or not the first time: a person too (an offer awaiting approval says so
    itself). Returns whether the customer was told."""
    reasons = filed.person_for
    if not reasons or filed.person_already or reasons[0] == reply_times.NEEDS_APPROVAL:
        return False
    repeat = reasons[0] == reply_times.REPEAT
    response = "utter_handoff_repeat" if repeat else "utter_handoff_serious"
    dispatcher.utter_message(response=response, when_reply=replies.when_reply())
    return True


class ActionUpdateDetails(Action):
    """Details given outside the form: a correction to a logged complaint, or details
    before the customer has said what went wrong."""

    def name(self) -> str:
        return "action_update_details"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if (question := case_question(tracker, topics=SPECIFIC)) is not None:
            return answer_case_question(dispatcher, tracker, question)
        hidden = _complaint_behind_details(tracker)
        if hidden is not None and not replies.has_open_complaint(tracker):
            # "BL-100005 here. my wifi has been down since yesterday": the details stood out,
            # but there is a complaint in it, and it deserves the complaint's answer.
            return taking.start_complaint(dispatcher, tracker, hidden)
        given = replies.entities(tracker)
        reference = given.get("account_number") or given.get("email")
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            complaints = complaint_records.open_complaints(session, conversation.id)
            lookup = identity.look_up(session, tracker, str(reference)) if reference else None
            customer = lookup.customer if lookup else None
            changes = _corrections(replies.latest_text(tracker), customer)
            for complaint in complaints if changes else []:
                complaint.facts = {**complaint.facts, **changes}
                if lookup is not None and lookup.outcome == identity.FOUND:
                    complaint.customer_id = lookup.customer.id  # type: ignore[union-attr]
        events: list[EventType] = [
            SlotSet(name, value) for name, value in (lookup.slots() if lookup else {}).items()
        ]
        if names.POSTCODE in changes:
            events.append(SlotSet(names.POSTCODE, changes[names.POSTCODE]))
        if lookup is not None and lookup.outcome == identity.CLAIMED and complaints:
            identity.say_check_needed(dispatcher)
        if not complaints:
            dispatcher.utter_message(response="utter_what_went_wrong")
        elif lookup is not None and lookup.outcome == identity.LIMITED:
            dispatcher.utter_message(response="utter_account_lookup_limited")
        elif reference and customer is None:
            dispatcher.utter_message(response="utter_account_not_found")
        elif changes:
            dispatcher.utter_message(response="utter_details_updated")
        else:
            events += replies.ask_anything_else(dispatcher)
        return events


def _corrections(text: str, customer: Customer | None) -> dict[str, Any]:
    """The facts a message outside the form corrects: the account found, a postcode, or
    how long the problem has lasted."""
    changes: dict[str, Any] = {}
    if customer is not None:
        changes[names.ACCOUNT] = customer.account_number
    if match := _POSTCODE.search(text):
        changes[names.POSTCODE] = f"{match[1]} {match[2]}".upper()
    if since := find_since(text, now()):
        changes[names.SINCE] = since.phrase
    return changes


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
    text = replies.latest_text(tracker)
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
