"""Questions customers ask about their complaint once it is told: when will it be fixed,
will somebody ring me, when is the engineer coming, when does my refund arrive, how long
will the approval take, can I have it on my card, will I pay to leave, can you do anything
about the speed, what's my reference.

Reading is deterministic (words and the shape of a question), so the conversation can tell
a question about a complaint already open from a new complaint or a yes. Answering uses only
what the records and the business configuration say: the complaint's reference and the reply
it was promised, the incident behind it, the offer and its status. What the records cannot
answer is said plainly, with a person offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from redress.business import Business
from redress.compensation import ledger
from redress.complaints import status
from redress.complaints.categories import Category
from redress.complaints.severity import DEPENDS, OLD_AND_ALONE, SAFETY_RISK
from redress.db.models import Complaint
from redress.incidents.wording import describe_time


class Topic(str, Enum):
    FIX_TIME = "fix_time"
    CALLBACK = "callback"
    REPLY_TIME = "reply_time"
    VISIT = "visit"
    DELIVERY = "delivery"
    REFUND_TIME = "refund_time"
    APPROVAL = "approval"
    REMEDY_FORM = "remedy_form"
    EXIT_FEE = "exit_fee"
    SPEED = "speed"
    REFERENCE = "reference"
    GENERAL = "general"


_REFERENCE = re.compile(r"\bRD-?[A-Z0-9]{4,10}\b", re.IGNORECASE)
# The first matching topic wins, so the more specific come first.
_TOPICS: tuple[tuple[Topic, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(pattern, re.IGNORECASE))
    for topic, pattern in (
        (Topic.APPROVAL, r"\bapprov(e|ed|al|ing)\b|\bsign(ed)? off\b"),
        (
            Topic.REMEDY_FORM,
            r"\b(card|bank|cash|cheque|paypal|my account)\b.{0,40}\b(instead|rather)\b|"
            r"\binstead of (a |the )?(credit|voucher)\b|\b(rather|prefer) (have |get )?"
            r"(the )?(money|cash|refund)\b|\bback (on|onto|to|into) my (card|bank|account)\b",
        ),
        (
            Topic.EXIT_FEE,
            r"\b(exit|early termination|termination|cancellation|leaving|early leaving) "
            r"(fee|fees|charge|charges|penalty)\b|"
            r"\bpay (a fee |anything |extra )?to (leave|cancel)\b"
            r"|\bcharge me (to|for) (leave|leaving|cancel)|\bpenalty\b|\bbreak (my|the) contract\b",
        ),
        (
            Topic.CALLBACK,
            r"\b(ring|call|phone|rang|called)\b.{0,20}\b(me|back|us)\b|\bcall ?back\b|"
            r"\bphone call\b|\bspeak to me on the phone\b",
        ),
        (
            # "when will I hear back?": when our team replies, whatever the problem.
            Topic.REPLY_TIME,
            r"\b(hear|heard) (back|from (you|anyone|someone|somebody|them|the team))\b|"
            r"\bget back to me\b|\b(reply|respond|answer) (to )?me\b|"
            r"\bwhen (will|does|do|is) (someone|somebody|anyone|they|you|the team) "
            r"(going to )?(reply|respond|answer|get back)\b",
        ),
        (
            Topic.DELIVERY,
            r"\b(replacement|delivery|deliver(ed)?|parcel|courier|(get|gets|arrive|be) here|"
            r"in the post|posted|sent out|dispatch\w*)\b",
        ),
        (
            Topic.VISIT,
            r"\b(engineer|technician|tech|installer|visit|appointment|someone out|come out)\b",
        ),
        (
            Topic.REFUND_TIME,
            # When, not whether: "what compensation do I get?" asks for it (answered elsewhere).
            r"^(?=.*\b(when|how long|how soon|what day|date|arrive|come through|show up|hit|"
            r"yet|come off|take|see it|get it|be in)\b)"
            r".*\b(refund|money back|my money|the money|credit|compensation|voucher|reimburse\w*|"
            r"in my (bank|account)|hit my (bank|account)|paid back|pay me back|"
            r"come off (my |the |this |next )?(\w+ )?bill)\b",
        ),
        (
            Topic.SPEED,
            r"\b(the speed|speeds|faster|mbps|megs|slow(ness)?)\b.{0,40}\b(do|fix|improve|"
            r"upgrade|better|about)\b|\b(do|fix|improve) (anything )?(about )?(the |my )?speed\b",
        ),
        (
            Topic.FIX_TIME,
            r"\b(how long|when|what time|eta|how many (days|hours)|any idea)\b.{0,60}"
            r"\b(fix|fixed|sorted|back|working|resolved|restored|up and running|repaired|"
            r"take|come on|be on|normal)\b|\beta\b|\btime ?frame\b",
        ),
        (
            Topic.REFERENCE,
            r"\b(reference|ref|case number|complaint number|ticket)\b",
        ),
    )
)
_ASKING = re.compile(
    r"\?|^\s*(so |and |but |ok |okay |right |well |hi |also )?(when|how|will|would|what|"
    r"what's|whats|is|are|can|could|do|does|did|any|who|where|why|has|have|shall|should|"
    r"am i|eta)\b|\b(i want to know|i need to know|i'd like to know|wondering|let me know|"
    r"tell me (when|how|if|what|who)|no idea when)\b|"
    r"\b(do|will|would|shall|can|could|am) i (get|have|need|be|pay|hear|see)\b",
    re.IGNORECASE,
)
# "Will/is someone going to ring me?" asks what happens; "can someone call me" asks for it.
_ASKS_WHAT_HAPPENS = re.compile(
    r"\b(will|is|are|has|have|did|does|do)\b.{0,15}\b(someone|somebody|anyone|anybody|you|they|"
    r"a person|an agent|someone from|the team)\b|\bwhen\b|\bgoing to\b|\bhow long\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    topic: Topic
    reference: str | None = None  # a complaint reference the customer typed


def read_question(text: str) -> Question | None:
    """The question about a complaint in ``text``, or None when it is not one (a statement,
    a plain yes or no, or a question about nothing we keep)."""
    if not _ASKING.search(text):
        return None
    reference = _REFERENCE.search(text)
    found = reference[0].upper() if reference else None
    for topic, pattern in _TOPICS:
        if pattern.search(text):
            return Question(topic, found)
    return Question(Topic.REFERENCE if found else Topic.GENERAL, found)


def asks_what_will_happen(text: str) -> bool:
    """Whether a question about a person asks what will happen ("will somebody ring me?")
    rather than asking for one ("can someone call me")."""
    return bool(_ASKS_WHAT_HAPPENS.search(text))


@dataclass(frozen=True)
class Case:
    """What the records say about the customer's complaints in this conversation."""

    complaints: list[Complaint]
    # The offer in this conversation and its status (ledger statuses), in words to follow
    # "I'd like to"; None when there is none.
    offer_words: str | None = None
    offer_status: str | None = None
    # What was granted, to follow "I've", and its reference.
    granted: str | None = None
    grant_reference: str | None = None
    # What an incident explanation says when one is behind the complaint.
    incident_text: str | None = None
    # When a person will reply, as the customer is told it elsewhere.
    when_reply: str = ""
    # The remedies the policy can give, in words ("a credit on your bill").
    remedies: tuple[str, ...] = ()


# The reasons (severity.py) for which someone relies on the service for help.
_RELIES_ON_IT = (DEPENDS, OLD_AND_ALONE)
URGENT_REMINDER = (
    "Until it's working again, if you need urgent help, call 999 from a mobile, or ask a "
    "neighbour to call for you."
)


SAFETY_REMINDER = (
    "For your safety, please keep everyone away from it, and switch the power off at the "
    "wall if you can do that safely, until it's made safe."
)


def urgent_reminder(complaints: list[Complaint]) -> str | None:
    """For someone who relies on the service for help, how to get urgent help meanwhile;
    for a safety risk, how to stay safe (said once, with the first answer about it)."""
    reasons = [r for c in complaints for r in (c.severity_reasons or [])]
    if any(r in reasons for r in _RELIES_ON_IT):
        return URGENT_REMINDER
    return SAFETY_REMINDER if SAFETY_RISK in reasons else None


PERSON = 'If you\'d like a person to look at it, just say "speak to a person".'


def answer(question: Question, case: Case, business: Business, now: datetime) -> list[str] | None:
    """One to three plain sentences answering ``question`` from the records; None when the
    answer is where each complaint stands (what "any update?" says)."""
    if question.reference and not any(c.reference == question.reference for c in case.complaints):
        return [
            f"I can't find {question.reference} among the complaints in this chat, so I "
            "can't tell you about it here. " + PERSON
        ]
    complaint = about(question, case.complaints)
    if complaint is None:
        return [
            "I don't have a complaint from you in this chat yet. Tell me what's gone wrong "
            "and I'll log it and tell you what happens next."
        ]
    due = status.promised(complaint)
    when = describe_time(due, now, business.hours.timezone) if due and due > now else None
    named = complaint.reference
    handler = _ANSWERS.get(question.topic)
    return (handler(case, named, when, business) or None) if handler is not None else None


_FITS: dict[Topic, tuple[Category, ...]] = {
    Topic.REFUND_TIME: (Category.REFUND, Category.BILLING),
    Topic.VISIT: (Category.DELAY, Category.FAULTY_EQUIPMENT, Category.OUTAGE),
    Topic.DELIVERY: (Category.DELAY, Category.FAULTY_EQUIPMENT),
    Topic.SPEED: (Category.SLOW_SERVICE,),
    Topic.FIX_TIME: (Category.OUTAGE, Category.SLOW_SERVICE, Category.FAULTY_EQUIPMENT),
    Topic.EXIT_FEE: (Category.CANCELLATION,),
}


def concerns(
    question: Question,
    complaints: list[Complaint],
    told: Category | None = None,
    *,
    offered: bool = False,
) -> bool:
    """Whether ``question`` is about the open ``complaints`` rather than a new problem: a
    topic tied to categories ("when's my refund coming?") needs one of them open, or the
    category the message itself reads as; the rest (a call, an approval, the reference) are
    about whatever is open, and so is money once an offer was made (``offered``)."""
    if not complaints:
        return False
    fits = _FITS.get(question.topic)
    if not fits or question.topic is Topic.EXIT_FEE:
        return True
    if offered and question.topic is Topic.REFUND_TIME:
        return True
    open_categories = {Category(c.category) for c in complaints}
    return bool(open_categories & set(fits)) or (told is not None and told in open_categories)


def about(question: Question, complaints: list[Complaint]) -> Complaint | None:
    """The complaint a question is about: the one named, else the first that fits the
    topic, else the first open."""
    if question.reference:
        return next((c for c in complaints if c.reference == question.reference), None)
    wanted = _FITS.get(question.topic, ())
    matching = [c for c in complaints if Category(c.category) in wanted]
    return (matching or complaints or [None])[0]


def _reply_by(named: str, when: str | None, promise: str = "you'll hear from us") -> str:
    """Who has the complaint and, when a reply was promised, what comes by then."""
    if when is None:
        return f"Your complaint {named} is logged, and our team has it."
    return f"Our team has {named}, and {promise} by {when}."


def _fix_time(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    if case.incident_text:
        return [case.incident_text]
    if when is None:
        return []
    return [
        "I can't say how long it will take to put right until our team has checked, and I "
        f"won't guess. Our team will reply to you here about {named} by {when}."
    ]


def _reply_time(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    """Answers "when will I hear back?": when the reply was promised, for any problem."""
    if when is None:
        return [
            f"Our team has {named}, and they'll reply to you here in this chat as soon as they can."
        ]
    return [f"Our team has {named}, and they'll reply to you here in this chat by {when}."]


def _callback(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    by = f" by {when}" if when else ""
    return [
        f"Our team will reply here in this chat about {named}{by}, not by phone. I've noted "
        "on your complaint that you'd like a call, so the team can see it. If they want to "
        "call you, they'll ask you here for the best number first."
    ]


def _visit(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    return [
        "I can't see engineer bookings from here, so I won't guess a time. "
        + _reply_by(named, when, "they'll give you a firm time")
    ]


def _delivery(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    return [
        "I can't see delivery dates from here, so I won't guess. "
        + _reply_by(named, when, "they'll give you a firm date")
    ]


def _refund_time(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    if case.granted and case.grant_reference:
        return [f"It's already done: I've {case.granted} (reference {case.grant_reference})."]
    if case.offer_status == ledger.PENDING_APPROVAL and case.offer_words:
        return _approval(case, named, when, business)
    if case.offer_status == ledger.OFFERED and case.offer_words:
        return [
            f"I can {case.offer_words} as soon as you say yes. Nothing has been paid yet.",
        ]
    by = f" by {when}" if when else ""
    return [f"Our billing team will check {named} and tell you{by} when any money will arrive."]


def _approval(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    if case.offer_status != ledger.PENDING_APPROVAL or not case.offer_words:
        return [f"Nothing is waiting for approval on {named}. " + _reply_by(named, when)]
    return [f"A person needs to approve my offer to {case.offer_words}. {case.when_reply}"]


def _remedy_form(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    configured = business.answers.remedy_form
    if configured:
        return [configured, PERSON]
    kinds = " or ".join(case.remedies) if case.remedies else "what our policy sets"
    return [f"I can only give {kinds} myself. A person can look at other ways. " + PERSON]


def _exit_fee(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    configured = business.answers.exit_fee or (
        "Whether leaving costs anything depends on your contract, which I can't see from here."
    )
    return [configured, PERSON]


def _speed(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    configured = business.answers.speed
    reply = _reply_by(named, when)
    return [configured, reply] if configured else [reply]


def _reference(case: Case, named: str, when: str | None, business: Business) -> list[str]:
    if len(case.complaints) > 1:
        return []  # the standing of each complaint, from the caller
    by = f", and you'll hear from us by {when}" if when else ""
    return [f"Your reference is {named}{by}."]


_ANSWERS = {
    Topic.FIX_TIME: _fix_time,
    Topic.CALLBACK: _callback,
    Topic.REPLY_TIME: _reply_time,
    Topic.VISIT: _visit,
    Topic.DELIVERY: _delivery,
    Topic.REFUND_TIME: _refund_time,
    Topic.APPROVAL: _approval,
    Topic.REMEDY_FORM: _remedy_form,
    Topic.EXIT_FEE: _exit_fee,
    Topic.SPEED: _speed,
    Topic.REFERENCE: _reference,
}
