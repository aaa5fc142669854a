"""After a case is resolved (docs/principles.md: 10): "is it fixed for you?", then a 1-5
rating, and a while later "is everything still working?", answered by the gateway itself,
without the assistant. Each answer is kept on the resolution it asks about
(redress/cases/resolutions.py).

The questions are bot messages whose details say what they ask (``{"asks": "fixed"}``,
``{"asks": "rating"}`` or ``{"asks": "still_working"}``) and whose buttons carry the payloads
below, behind tokens the server issues like every other button. An answer is recognised when
it is one of those buttons, or, while the question is still open (``resolved``) and the last
bot message asked it, a typed "yes"/"no" or a bare 1-5. Anything else is a new message for
the assistant, and reopens the conversation.

A "no" is not followed by the rating: someone who has just said it is still broken is told
what happens now, and the rating is asked after the case is resolved again.

Pure functions: the relay records what they decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIXED_YES = "/redress_fixed_yes"
FIXED_NO = "/redress_fixed_no"
RATE_PREFIX = "/redress_rate_"
STILL_WORKING_YES = "/redress_still_working_yes"
STILL_WORKING_NO = "/redress_still_working_no"
ASKS_FIXED = "fixed"
ASKS_RATING = "rating"
ASKS_STILL_WORKING = "still_working"

# What the customer reads. Checked by tests/unit/slack/test_desk_texts.py with check_text.
# Any kind of problem: a refund or a bill is "sorted", not "working".
ASK_FIXED = "{agent} has marked your problem as dealt with. Is it sorted for you now?"
ASK_FIXED_NO_NAME = "We've marked your problem as dealt with. Is it sorted for you now?"
YES_BUTTON = "Yes, it's sorted"
NO_BUTTON = "No, not yet"
ASK_RATING_FIXED = (
    "That's great to hear. How would you rate the help you got, from 1 (poor) to 5 (great)?"
)
# After "no" when nothing could be put back with a team. No rating right after "it's
# still broken": it is asked once the case is resolved again.
NOT_FIXED = "I'm sorry it still isn't right. Tell me what's still wrong, and I'll pick it up."
THANKS_FIXED = "Thank you for rating us. If anything else goes wrong, just send me a message here."
THANKS_NOT_FIXED = "Thank you. Now tell me what's still wrong, and I'll pick it up straight away."
# After the assistant heard the answer to "is it working now?" (an incident fix).
ASK_RATING = "How would you rate the help you got with this, from 1 (poor) to 5 (great)?"
# When "no" put the case back with its team.
REOPENED_ONE = (
    "I'm sorry it still isn't right. I've reopened {reference} and passed it back to {who}."
)
REOPENED_MANY = (
    "I'm sorry it still isn't right. I've reopened {references} and passed them back to {who}."
)
# The one who replies: the case's owner by name, else "Someone from our Billing team".
REPLY_BY = "{replier} will reply here by {when}."
REPLY_SOON = "{replier} will reply here as soon as they can."
THANKS_REOPENED = "Thank you. The team has your case now, and they'll reply to you here."
# The follow-up a while after a resolution.
FOLLOW_UP = (
    "Hello again. {when} we sorted out the problem you told us about ({reference}: {what}). "
    "Is everything still working?"
)
STILL_YES_BUTTON = "Yes, all good"
STILL_NO_BUTTON = "No, it's not"
THANKS_STILL_WORKING = (
    "Thank you, that's good to hear. If anything goes wrong again, just send me a message here."
)

_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|y|it is|it's fixed|its fixed|fixed|all good|sorted|working)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(no|nope|nah|n|not yet|not really|still not|still broken)\b", re.IGNORECASE)
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|out of 5|stars?|★+)?\s*[.!]?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    kind: str  # ASKS_FIXED, ASKS_RATING or ASKS_STILL_WORKING
    value: int | bool


@dataclass(frozen=True)
class Question:
    """A bot message to record and send: text, buttons (title and payload), what it asks."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    asks: str | None = None


def ask_fixed(agent_name: str | None) -> Question:
    text = ASK_FIXED.format(agent=agent_name) if agent_name else ASK_FIXED_NO_NAME
    return Question(
        text,
        [{"title": YES_BUTTON, "payload": FIXED_YES}, {"title": NO_BUTTON, "payload": FIXED_NO}],
        ASKS_FIXED,
    )


def ask_rating() -> Question:
    """The rating, after the customer said it is fixed."""
    buttons = [{"title": str(n), "payload": f"{RATE_PREFIX}{n}"} for n in range(1, 6)]
    return Question(ASK_RATING_FIXED, buttons, ASKS_RATING)


def thanks(fixed: bool | None) -> Question:
    return Question(THANKS_NOT_FIXED if fixed is False else THANKS_FIXED)


def ask_rating_after_assistant() -> Question:
    """The rating, after the assistant heard whether an incident's fix worked."""
    buttons = [{"title": str(n), "payload": f"{RATE_PREFIX}{n}"} for n in range(1, 6)]
    return Question(ASK_RATING, buttons, ASKS_RATING)


def ask_still_working(when: str, what: str, reference: str) -> Question:
    """The follow-up: ``when`` the case was sorted ("On Monday"), ``what`` it was about."""
    return Question(
        FOLLOW_UP.format(when=when, what=what, reference=reference),
        [
            {"title": STILL_YES_BUTTON, "payload": STILL_WORKING_YES},
            {"title": STILL_NO_BUTTON, "payload": STILL_WORKING_NO},
        ],
        ASKS_STILL_WORKING,
    )


def reopened_text(
    references: list[str], team: str, person: str | None, reply_by: str | None
) -> Question:
    """What the customer is told when their "no" put cases back with a team: which, with
    whom, and who replies when (only a time we promised). ``team``: "our Network team" (or
    "our teams"); ``person``: the case's owner, who is then the one named as replying. No
    rating here: it is not the moment, and it is asked after the case is resolved again."""
    who = f"{person} in {team}" if person else team
    if len(references) == 1:
        said = REOPENED_ONE.format(reference=references[0], who=who)
    else:
        listed = f"{', '.join(references[:-1])} and {references[-1]}"
        said = REOPENED_MANY.format(references=listed, who=who)
    replier = person[:1].upper() + person[1:] if person else f"Someone from {team}"
    if reply_by:
        return Question(f"{said} {REPLY_BY.format(replier=replier, when=reply_by)}")
    return Question(f"{said} {REPLY_SOON.format(replier=replier)}")


def recognise(sent: str, typed: str, *, asking: str | None, resolved: bool) -> Answer | None:
    """The customer's answer, if this message is one. ``sent`` is a pressed button's payload
    (or the text); ``asking`` is what the last bot message asked; ``resolved`` is whether
    the question is still open (the conversation still resolved, or the resolution it asks
    about still unanswered): typed answers count only then."""
    if sent == FIXED_YES:
        return Answer(ASKS_FIXED, True)
    if sent == FIXED_NO:
        return Answer(ASKS_FIXED, False)
    if sent == STILL_WORKING_YES:
        return Answer(ASKS_STILL_WORKING, True)
    if sent == STILL_WORKING_NO:
        return Answer(ASKS_STILL_WORKING, False)
    if sent.startswith(RATE_PREFIX) and sent[len(RATE_PREFIX) :] in {"1", "2", "3", "4", "5"}:
        return Answer(ASKS_RATING, int(sent[len(RATE_PREFIX) :]))
    if not resolved:
        return None
    if asking in (ASKS_FIXED, ASKS_STILL_WORKING):
        if _YES.match(typed):
            return Answer(asking, True)
        if _NO.match(typed):
            return Answer(asking, False)
    if asking in (ASKS_RATING, ASKS_FIXED) and (match := _RATING.match(typed)):
        return Answer(ASKS_RATING, int(match[1]))
    return None


def next_question(answer: Answer, fixed: bool | None, *, reopened: bool = False) -> Question:
    """What the gateway says after an answer: the rating after a yes to "is it fixed?",
    then thanks. ``reopened``: the rating was about a case since put back with its team."""
    if answer.kind == ASKS_FIXED:
        return ask_rating() if answer.value else Question(NOT_FIXED)
    if answer.kind == ASKS_STILL_WORKING:
        return Question(THANKS_STILL_WORKING)
    if reopened:
        return Question(THANKS_REOPENED)
    return thanks(fixed)
