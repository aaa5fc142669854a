"""Taking a complaint in the conversation: every problem the message tells opened (or added
to one already told), one apology that names them, what fits who the customer is said
first (urgent help, safety, hardship, a person), and the details already given kept so the
form does not ask for them."""

from __future__ import annotations

from datetime import datetime

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import identity, names
from actions.context import business, now, settings
from actions.replies import (
    entities,
    explained_by_incident,
    latest_text,
    offer_again_once,
    said_before,
    when_reply,
)
from redress.complaints import filing, mentions
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
from redress.incidents.in_conversation import still_broken_after_fix

# The responses that apologise for a complaint: said once in a conversation.
APOLOGIES = ("utter_complaint_apology", "utter_complaint_condolences")


def acknowledge(
    dispatcher: CollectingDispatcher, tracker: Tracker, category: Category
) -> list[EventType]:
    """Records the complaint and apologises for it once, naming it in the customer's words."""
    text = latest_text(tracker)
    moment = now()
    with unit_of_work(settings().database_url) as session:
        conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
        fix_failed = still_broken_after_fix(session, conversation.id, category, moment, business())
    if fix_failed:
        dispatcher.utter_message(response="utter_still_not_fixed", when_reply=when_reply())
        # Nothing more to ask: the complaint is already logged, with its details.
        since = tracker.get_slot(names.SINCE) or names.NOT_SURE
        return [SlotSet(names.PENDING, None), SlotSet(names.SINCE, since)]
    taken_each = _take_each_problem(tracker, text, category, moment)
    new = [(problem, taken) for problem, taken in taken_each if not taken.added]
    if not new:
        return _added(dispatcher, tracker, taken_each[0][1].reference)
    category, taken = new[0][0].category, filing.together([t for _, t in new])
    _say_first(dispatcher, tracker, new, taken, text, moment)
    given = details_already_given(tracker)
    verified = bool(tracker.get_slot(names.VERIFIED)) or any(
        event["name"] == names.VERIFIED and event["value"] for event in given
    )
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


def _take_each_problem(
    tracker: Tracker, text: str, category: Category, moment: datetime
) -> list[tuple[mentions.Problem, filing.Taken]]:
    """Opens a complaint for every problem the message tells (or adds it to one told), each
    rated on the whole message, which is the customer's account of all of them."""
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
        return [
            (problem, filing.take(session, conversation, problem.category, text, moment))
            for problem in problems
        ]


def _say_first(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    new: list[tuple[mentions.Problem, filing.Taken]],
    taken: filing.Taken,
    text: str,
    moment: datetime,
) -> None:
    """The one apology, naming every new problem (or, later in a conversation, that it is
    noted too), then what fits who the customer is: urgent help, safety, hardship, a
    person. ``taken``: the new complaints together (filing.together)."""
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
    typed = found.get("account_number") or found.get("email")
    if not typed and (customer := identity.verified_customer_of(tracker)) is not None:
        # Signed in on the business's site: the account is known and proven, not asked for.
        return [SlotSet(k, v) for k, v in identity.verified_slots(customer).items()]
    events: list[EventType] = []
    if typed:
        events.append(SlotSet(names.ACCOUNT, str(typed)))
    elif customers.has_no_account_details(latest_text(tracker)):
        events.append(SlotSet(names.ACCOUNT, names.UNVERIFIED))
    if postcode := found.get("postcode"):
        events.append(SlotSet(names.POSTCODE, str(postcode)))
    return events
