"""After an agent resolves a conversation (docs/principles.md: 10): "is it fixed for you?", then a
1-5 rating, answered by the gateway itself, without the assistant.

The questions are bot messages whose details say what they ask (``{"asks": "fixed"}`` or
``{"asks": "rating"}``) and whose buttons carry the payloads below, behind tokens the server
issues like every other button. An answer is recognised when it is one of those buttons, or,
while the conversation is resolved and the last bot message asked, a typed "yes"/"no" or a
bare 1-5. Anything else is a new message for the assistant, and reopens the conversation.

Pure functions: the relay records what they decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIXED_YES = "/redress_fixed_yes"
FIXED_NO = "/redress_fixed_no"
RATE_PREFIX = "/redress_rate_"
ASKS_FIXED = "fixed"
ASKS_RATING = "rating"

# What the customer reads. Checked by tests/unit/slack/test_desk_texts.py with check_text.
ASK_FIXED = "{agent} has marked your problem as sorted. Is everything working for you now?"
ASK_FIXED_NO_NAME = "We've marked your problem as sorted. Is everything working for you now?"
YES_BUTTON = "Yes, it's fixed"
NO_BUTTON = "No, not yet"
ASK_RATING_FIXED = (
    "That's great to hear. How would you rate the help you got, from 1 (poor) to 5 (great)?"
)
ASK_RATING_NOT_FIXED = (
    "I'm sorry it still isn't right, and I've reopened it. Before we carry on, how would you "
    "rate the help you got, from 1 (poor) to 5 (great)?"
)
THANKS_FIXED = "Thank you for rating us. If anything else goes wrong, just send me a message here."
THANKS_NOT_FIXED = "Thank you. Now tell me what's still wrong, and I'll pick it up straight away."

_YES = re.compile(
    r"^\s*(yes|yeah|yep|yup|y|it is|it's fixed|its fixed|fixed|all good|sorted|working)\b",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(no|nope|nah|n|not yet|not really|still not|still broken)\b", re.IGNORECASE)
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|out of 5|stars?|★+)?\s*[.!]?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    kind: str  # ASKS_FIXED or ASKS_RATING
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


def ask_rating(fixed: bool) -> Question:
    buttons = [{"title": str(n), "payload": f"{RATE_PREFIX}{n}"} for n in range(1, 6)]
    return Question(ASK_RATING_FIXED if fixed else ASK_RATING_NOT_FIXED, buttons, ASKS_RATING)


def thanks(fixed: bool | None) -> Question:
    return Question(THANKS_NOT_FIXED if fixed is False else THANKS_FIXED)


def recognise(sent: str, typed: str, *, asking: str | None, resolved: bool) -> Answer | None:
    """The customer's answer, if this message is one. ``sent`` is a pressed button's payload
    (or the text); ``asking`` is what the last bot message asked; ``resolved`` is whether
    the conversation is still resolved (typed answers count only then)."""
    if sent == FIXED_YES:
        return Answer(ASKS_FIXED, True)
    if sent == FIXED_NO:
        return Answer(ASKS_FIXED, False)
    if sent.startswith(RATE_PREFIX) and sent[len(RATE_PREFIX) :] in {"1", "2", "3", "4", "5"}:
        return Answer(ASKS_RATING, int(sent[len(RATE_PREFIX) :]))
    if not resolved:
        return None
    if asking == ASKS_FIXED:
        if _YES.match(typed):
            return Answer(ASKS_FIXED, True)
        if _NO.match(typed):
            return Answer(ASKS_FIXED, False)
    if asking in (ASKS_RATING, ASKS_FIXED) and (match := _RATING.match(typed)):
        return Answer(ASKS_RATING, int(match[1]))
    return None


def next_question(answer: Answer, fixed: bool | None) -> Question:
    """What the gateway says after an answer: the rating after "is it fixed?", then thanks."""
    if answer.kind == ASKS_FIXED:
        return ask_rating(bool(answer.value))
    return thanks(fixed)
