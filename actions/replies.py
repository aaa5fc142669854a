"""The reply steps several actions share: taking a complaint with one apology, explaining
the incident behind it, putting the next offer and hearing the answer, and "anything else?".
Each reads the tracker, calls the domain, utters, and returns the events; none is an action
itself, so the actions import these and never each other."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import names
from actions.context import business, now, settings
from redress.compensation import in_conversation as compensation
from redress.compensation import ledger
from redress.compensation.consent import is_plain_yes
from redress.compensation.policy import (
    EarlierGrant,
    again_words,
    already_words,
    granted_on,
    granted_words,
    offer_words,
)
from redress.complaints import records as complaint_records
from redress.complaints import status
from redress.complaints.categories import Category
from redress.db.models import Complaint
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff.reply_times import describe_reply
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents import wording
from redress.incidents.in_conversation import incident_for
from redress.operators import accounts as operator_accounts


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def desk_connected(session: Session | None = None) -> bool:
    """Whether a person can reply in the chat: the Slack desk is connected, or the web
    console's desk is on (at least one console operator account exists). ``session``: the
    caller's own, when it has one open (SQLite lets one transaction write at a time)."""
    if settings().slack is not None:
        return True
    if session is not None:
        return operator_accounts.any_active(session)
    with unit_of_work(settings().database_url) as own:
        return operator_accounts.any_active(own)


def when_reply(session: Session | None = None) -> str:
    """When a person will reply: by the opening hours when an agent desk can answer, and
    never a time nobody will keep when none can. ``session``: the caller's, if one is open."""
    config = business()
    return describe_reply(
        config.hours,
        now(),
        desk=desk_connected(session),
        without_desk=config.handoff.without_desk,
    )


def where_complaints_stand(session: Session, complaints: list[Complaint]) -> list[str]:
    """A line for each open complaint. When a promised reply is late, that is recorded as
    a handoff (``reply_overdue``), so what the line says about it is true."""
    config, moment, desk = business(), now(), desk_connected(session)
    standings = [status.standing(c, config, moment, desk=desk) for c in complaints]
    if complaints and any(s.overdue for s in standings):
        handoff_records.request_handoff(session, complaints[0].conversation_id, "reply_overdue")
    return [s.text for s in standings]


def has_open_complaint(tracker: Tracker) -> bool:
    with unit_of_work(settings().database_url) as session:
        return bool(complaint_records.open_complaints(session, tracker.sender_id))


def said_before(tracker: Tracker, *responses: str) -> bool:
    """Whether the assistant already said one of these responses in this conversation."""
    return any(
        event.get("event") == "bot"
        and (event.get("metadata") or {}).get("utter_action") in responses
        for event in tracker.events
    )


def farewell(tracker: Tracker) -> str:
    """The goodbye response, or a shorter one when goodbye was already said (no line is
    said twice in one conversation)."""
    return "utter_goodbye_again" if said_before(tracker, "utter_goodbye") else "utter_goodbye"


def entities(tracker: Tracker) -> dict[str, str]:
    return {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities", [])}


def explained_by_incident(
    tracker: Tracker, category: Category, memo: dict[tuple[Any, ...], bool] | None = None
) -> bool:
    """Whether the details so far already tie this complaint to a known incident (then we
    don't ask what we no longer need, like when it started). ``memo`` keeps the answer for
    the same details within one action run, which asks several times."""
    verified = tracker.get_slot(names.VERIFIED)
    account = tracker.get_slot(names.ACCOUNT) if verified else None
    postcode = tracker.get_slot(names.POSTCODE)
    key = (category, postcode, account)
    if memo is not None and key in memo:
        return memo[key]
    with unit_of_work(settings().database_url) as session:
        incident = incident_for(session, business(), category, postcode, account, now())
    if memo is not None:
        memo[key] = incident is not None
    return incident is not None


def explain_incident(
    dispatcher: CollectingDispatcher,
    incident: incidents.Incident,
    reference: str,
    subscription_status: str,
    category: Category | None = None,
) -> list[EventType]:
    """Explains the incident behind a complaint and offers updates unless already answered.
    A complaint of another kind than the incident's main one ("slow" under a cable cut)
    is told that this is the likely cause of what they see, not that their service is down."""
    explanation = wording.explain(incident, now(), business().hours.timezone).text()
    if category is not None and incident.categories and category.value != incident.categories[0]:
        label = business().category_text(category).label.lower()
        explanation += f" It's the most likely reason for what you told me about ({label})."
    dispatcher.utter_message(
        response="utter_incident_explained", explanation=explanation, complaint_reference=reference
    )
    if subscription_status == incident_notices.OFFERED:
        dispatcher.utter_message(response="utter_offer_updates")
        return [SlotSet(names.PENDING, names.UPDATES_OFFER)]
    return []


def ask_anything_else(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(response="utter_anything_else")
    return [SlotSet(names.PENDING, names.ANYTHING_ELSE)]


def present_next_offer(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, person_asked: bool = False
) -> list[EventType] | None:
    """Puts the next offer not yet shown to the customer, or says that the problem was
    already compensated (and with what) when that is why there is none. None when there is
    nothing to say. ``person_asked``: the customer was just told a person will help (and
    when)."""
    was_shown = tracker.get_slot(names.SHOWN)
    with unit_of_work(settings().database_url) as session:
        offer = compensation.unshown_offer(session, tracker.sender_id, was_shown)
        if offer is None:
            already = compensation.unshown_already_put_right(
                session, tracker.sender_id, was_shown, business().compensation
            )
        else:
            reference, status = offer.reference, offer.status
            words = offer_words(offer.remedy, offer.amount_pence)
    if offer is None:
        if already is None:
            return None
        said = say_already_given(dispatcher, already.earlier, person_asked=person_asked)
        return [SlotSet(names.SHOWN, already.reference), *said]
    shown = SlotSet(names.SHOWN, reference)
    if status == ledger.PENDING_APPROVAL and person_asked:
        dispatcher.utter_message(
            response="utter_compensation_needs_approval_by_the_person", offer_words=words
        )
        return [shown]
    if status == ledger.PENDING_APPROVAL:
        dispatcher.utter_message(
            response="utter_compensation_needs_approval", offer_words=words, when_reply=when_reply()
        )
        return [shown]
    dispatcher.utter_message(response="utter_compensation_offer", offer_words=words)
    return [shown, SlotSet(names.PENDING, names.COMPENSATION_OFFER)]


def say_already_given(
    dispatcher: CollectingDispatcher,
    earlier: EarlierGrant,
    *,
    person_asked: bool = False,
    review: bool = False,
) -> list[EventType]:
    """The problem was already compensated: which remedy, when and its reference; then a
    person is offered (or, ``person_asked``, the one already asked for is named; or,
    ``review``, the customer is told a person was asked to look again)."""
    words = {
        "already_words": already_words(earlier.remedy, earlier.amount_pence),
        "again_words": again_words(earlier.remedy),
        "granted_on": granted_on(earlier.granted_at, now(), business().hours.timezone),
        "grant_reference": earlier.reference,
    }
    if review:
        dispatcher.utter_message(
            response="utter_compensation_already_given_review", when_reply=when_reply(), **words
        )
        return [SlotSet(names.PENDING, None)]
    if person_asked:
        dispatcher.utter_message(response="utter_compensation_already_given_person_asked", **words)
        return []
    dispatcher.utter_message(response="utter_compensation_already_given", **words)
    # A yes asks a person, as after a declined offer.
    return [SlotSet(names.PENDING, names.ALTERNATIVE)]


def confirm_offer(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    """Puts the open offer again, asking for a plain yes or no; None when no offer is open."""
    with unit_of_work(settings().database_url) as session:
        offer = ledger.open_offer(session, tracker.sender_id)
        words = offer_words(offer.remedy, offer.amount_pence) if offer is not None else None
    if words is None:
        return None
    again = said_before(tracker, "utter_compensation_confirm")
    response = "utter_compensation_confirm" + ("_again" if again else "")
    dispatcher.utter_message(response=response, offer_words=words)
    return [SlotSet(names.PENDING, names.COMPENSATION_OFFER)]


CONFIRMATIONS = ("utter_compensation_confirm", "utter_compensation_confirm_again")


def offer_again_once(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """After answering something else while an offer waits for its yes or no: the offer is
    put again, once since it was made (then it waits quietly, neither forgotten nor
    assumed)."""
    if tracker.get_slot(names.PENDING) != names.COMPENSATION_OFFER:
        return []
    for event in reversed(tracker.events):
        said = (event.get("metadata") or {}).get("utter_action")
        if event.get("event") == "bot" and said in CONFIRMATIONS:
            return []
        if event.get("event") == "bot" and said == "utter_compensation_offer":
            break
    return confirm_offer(dispatcher, tracker) or []


def next_offer_or_anything_else(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, person_asked: bool = False
) -> list[EventType]:
    """The remedy comes after the apology and the explanation; then "anything else?"."""
    offered = present_next_offer(dispatcher, tracker, person_asked=person_asked)
    return offered if offered is not None else ask_anything_else(dispatcher)


def answer_offer(
    dispatcher: CollectingDispatcher, tracker: Tracker, accepted: bool
) -> list[EventType]:
    """The customer's yes or no to the offer they were shown. Money moves only on a plain
    yes (its button, or a reply that is nothing but a yes): anything else read as a yes
    ("will somebody ring me?") puts the offer again and grants nothing."""
    if accepted and not is_plain_yes(latest_text(tracker)):
        confirmed = confirm_offer(dispatcher, tracker)
        if confirmed is not None:
            return confirmed
        # The offer was decided meanwhile: nothing can be granted here, and a person
        # follows up, as for a plain yes.
    with unit_of_work(settings().database_url) as session:
        granted = compensation.accept_or_decline(
            session,
            tracker.sender_id,
            accepted,
            business().compensation,
            now(),
            fulfil=settings().fulfilment_webhook_url is not None,
        )
    if not accepted:
        dispatcher.utter_message(response="utter_compensation_declined")
        return [SlotSet(names.PENDING, names.ALTERNATIVE)]
    if isinstance(granted, EarlierGrant):
        # The same problem was compensated in another conversation first.
        return say_already_given(dispatcher, granted)
    if granted is None:
        dispatcher.utter_message(
            response="utter_compensation_not_possible", when_reply=when_reply()
        )
        return [SlotSet(names.PENDING, None)]
    dispatcher.utter_message(
        response="utter_compensation_granted",
        granted_words=granted_words(granted.remedy, granted.amount_pence),
        grant_reference=granted.reference,
    )
    return [SlotSet(names.PENDING, None)]
