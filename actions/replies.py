"""The reply steps several actions share: taking a complaint with one apology, explaining
the incident behind it, putting the next offer and hearing the answer, and "anything else?".
Each reads the tracker, calls the domain, utters, and returns the events; none is an action
itself, so the actions import these and never each other."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import names
from actions.context import business, now, settings
from redress.compensation import in_conversation as compensation
from redress.compensation import ledger
from redress.compensation.consent import is_plain_yes
from redress.compensation.policy import granted_words, offer_words
from redress.complaints import filing, mentions, status
from redress.complaints import records as complaint_records
from redress.complaints.apology import describe_problem
from redress.complaints.categories import Category
from redress.complaints.severity import BEREAVEMENT, FINANCIAL_HARDSHIP
from redress.complaints.since import find_start
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import Complaint
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff.reply_times import describe_reply
from redress.incidents import model as incidents
from redress.incidents import notices as incident_notices
from redress.incidents import wording
from redress.incidents.in_conversation import incident_for, still_broken_after_fix

# The responses that apologise for a complaint: said once in a conversation.
APOLOGIES = ("utter_complaint_apology", "utter_complaint_condolences")


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def desk_connected() -> bool:
    """Whether an agent desk (Slack) is connected, so a person can reply in the chat."""
    return settings().slack is not None


def when_reply() -> str:
    """When a person will reply: by the opening hours when an agent desk is connected, and
    never a time nobody will keep when it is not."""
    config = business()
    return describe_reply(
        config.hours, now(), desk=desk_connected(), without_desk=config.handoff.without_desk
    )


def where_complaints_stand(session: Session, complaints: list[Complaint]) -> list[str]:
    """A line for each open complaint. When a promised reply is late, that is recorded as
    a handoff (``reply_overdue``), so what the line says about it is true."""
    config, moment, desk = business(), now(), desk_connected()
    standings = [status.standing(c, config, moment, desk=desk) for c in complaints]
    if complaints and any(s.overdue for s in standings):
        handoff_records.request_handoff(session, complaints[0].conversation_id, "reply_overdue")
    return [s.text for s in standings]


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


def acknowledge(
    dispatcher: CollectingDispatcher, tracker: Tracker, category: Category
) -> list[EventType]:
    """Records the complaint and apologises for it once, naming it in the customer's words."""
    text = latest_text(tracker)
    moment = now()
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        fix_failed = still_broken_after_fix(session, conversation.id, category, moment)
    if fix_failed:
        dispatcher.utter_message(response="utter_still_not_fixed", when_reply=when_reply())
        # Nothing more to ask: the complaint is already logged, with its details.
        since = tracker.get_slot(names.SINCE) or names.NOT_SURE
        return [SlotSet(names.PENDING, None), SlotSet(names.SINCE, since)]
    problems = mentions.problems_in(text, category, ranked_categories(tracker))
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        told = complaint_records.open_complaints(session, conversation.id)
        if told and not _another_problem(tracker, text, told):
            # Said after a complaint is told, and nothing in it names another kind of
            # problem: more about the one told (of the kind the NLU read, if it is open),
            # added to it, not a new complaint.
            same = [c for c in told if c.category == category.value]
            problems = [mentions.Problem(Category((same or told)[-1].category), text)]
        # Every problem told is logged, one complaint each; each is rated on the whole
        # message, which is the customer's account of all of them.
        taken_each = [
            (problem, filing.take(session, conversation, problem.category, text, moment))
            for problem in problems
        ]
    new = [(problem, taken) for problem, taken in taken_each if not taken.added]
    if not new:
        return _added(dispatcher, tracker, taken_each[0][1].reference)
    category, taken = new[0][0].category, filing.together([t for _, t in new])
    problem = _and(
        [describe_problem(p.category, p.text if len(new) > 1 else text, moment) for p, _ in new]
    )
    if said_before(tracker, *APOLOGIES):
        # One apology in a conversation: a problem told later is taken as seriously, and
        # logged on its own, without a second "I'm sorry".
        dispatcher.utter_message(response="utter_complaint_another", problem=problem)
    elif BEREAVEMENT in taken.circumstances:
        dispatcher.utter_message(response="utter_complaint_condolences")
    else:
        dispatcher.utter_message(response="utter_complaint_apology", problem=problem)
    if taken.depends_on_it:
        dispatcher.utter_message(response="utter_emergency_advice")
    if taken.safety_risk:
        dispatcher.utter_message(response="utter_safety_advice")
    if FINANCIAL_HARDSHIP in taken.circumstances:
        dispatcher.utter_message(response="utter_hardship_advice")
    if taken.person_now:
        dispatcher.utter_message(response="utter_handoff_serious", when_reply=when_reply())
    given = details_already_given(tracker)
    verified = bool(tracker.get_slot(names.VERIFIED))
    account_known = verified or any(event["name"] == names.ACCOUNT for event in given)
    asks_since = business().category_text(category).ask_since and not (
        verified and explained_by_incident(tracker, category)
    )
    # When it started, if the message says so even loosely ("the box you sent last week
    # doesn't work"), so it is not asked; with a person on the way, it can wait for them.
    start = taken.since or find_start(text, moment)
    since = start.phrase if start else (names.NOT_SURE if taken.person_now else None)
    if (not account_known or (asks_since and since is None)) and not said_before(
        tracker, "utter_details_next"
    ):
        dispatcher.utter_message(response="utter_details_next")
    return [
        SlotSet(names.CATEGORY, category.value),
        SlotSet(names.REFERENCE, taken.reference),
        SlotSet(names.SINCE, since),
        SlotSet(names.PENDING, None),
        *given,
    ]


# How sure the NLU must be that a message said after a complaint is a new kind of problem,
# when no words in it name one.
MIN_NEW_PROBLEM_CONFIDENCE = 0.6


def _added(dispatcher: CollectingDispatcher, tracker: Tracker, reference: str) -> list[EventType]:
    """More about a complaint already told: added to it. Once everything told is logged,
    there is nothing to ask, so the details form does not run; an offer waiting for its
    answer is put again once."""
    with unit_of_work(settings().database_url) as session:
        told = complaint_records.open_complaints(session, tracker.sender_id)
        all_logged = all(c.facts.get("logged") for c in told)
        person = handoff_records.open_handoff(session, tracker.sender_id) is not None
    if person:
        dispatcher.utter_message(
            response="utter_complaint_added_for_person", complaint_reference=reference
        )
    else:
        dispatcher.utter_message(response="utter_complaint_added", complaint_reference=reference)
    events: list[EventType] = [SlotSet(names.REFERENCE, reference)]
    if not all_logged:
        return events
    return [*events, *offer_again_once(dispatcher, tracker), FollowupAction(names.LISTEN)]


def _another_problem(tracker: Tracker, text: str, told: list[Complaint]) -> bool:
    """Whether a complaint message said after others were told is a new kind of problem:
    not one already open, and the NLU is sure of it or the words name it."""
    intent = tracker.latest_message.get("intent") or {}
    category = Category.from_intent(intent.get("name"))
    open_categories = {Category(c.category) for c in told}
    if category in open_categories:
        return False
    confident = float(intent.get("confidence") or 0) >= MIN_NEW_PROBLEM_CONFIDENCE
    return confident or mentions.tells_another_problem(text, open_categories)


def ranked_categories(tracker: Tracker) -> dict[Category, float]:
    """The NLU's weight for each complaint category over the latest message."""
    weights: dict[Category, float] = {}
    for ranked in tracker.latest_message.get("intent_ranking") or []:
        category = Category.from_intent(ranked.get("name"))
        if category is not None:
            weights[category] = max(
                weights.get(category, 0.0), float(ranked.get("confidence") or 0)
            )
    return weights


def _and(parts: list[str]) -> str:
    """ "a", "a, and b", "a, b, and c": several problems named in one apology."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]


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


def start_complaint(
    dispatcher: CollectingDispatcher, tracker: Tracker, category: Category
) -> list[EventType]:
    """A message read as something else that is really the complaint ("no, still waiting
    for my refund"): the complaint's answer, then the details form."""
    return [*acknowledge(dispatcher, tracker, category), FollowupAction(names.COMPLAINT_FORM)]


def details_already_given(tracker: Tracker) -> list[EventType]:
    """Account and postcode the customer put in the complaint itself, so the form does not
    ask for them again (it validates them when it starts)."""
    if tracker.get_slot(names.VERIFIED):
        return []
    found = entities(tracker)
    events: list[EventType] = []
    if reference := found.get("account_number") or found.get("email"):
        events.append(SlotSet(names.ACCOUNT, str(reference)))
    elif customers.has_no_account_details(latest_text(tracker)):
        events.append(SlotSet(names.ACCOUNT, names.UNVERIFIED))
    if postcode := found.get("postcode"):
        events.append(SlotSet(names.POSTCODE, str(postcode)))
    return events


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
    """Puts the next offer not yet shown to the customer. None when there is none.
    ``person_asked``: the customer was just told a person will help (and when)."""
    with unit_of_work(settings().database_url) as session:
        offer = compensation.unshown_offer(
            session, tracker.sender_id, tracker.get_slot(names.SHOWN)
        )
        if offer is None:
            return None
        reference, status = offer.reference, offer.status
        words = offer_words(offer.remedy, offer.amount_pence)
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
