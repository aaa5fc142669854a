"""Whether a message is a plain yes to the offer the customer was just asked about.

Money moves only on an explicit yes to the offer question: its button, or a reply that is
nothing but a yes ("yes please", "ok go ahead", "fine, I'll take the credit"). A question
("will somebody ring me?"), a yes with a condition ("yes but can it go on my card?"), or a
yes to something else is not consent, whatever the NLU made of it; the offer is put again.
"""

from __future__ import annotations

import re

# The payload the offer's "Yes, please" button sends.
YES_BUTTON = "/affirm"

_YES = (
    r"y|ya|yes|yeah|yep|yup|aye|ok|okay|k|sure|fine|alright|all right|go on|go ahead|"
    r"please|please do|do it|do that|absolutely|definitely|of course|sounds good|"
    r"that('?s| is| would be) (fine|great|good|ok|okay|lovely|perfect)|perfect|great|lovely|"
    r"i('?ll| will) take (it|that|the \w+|the \w+ \w+)|i('?d| would) like that|i accept|accepted|"
    r"go for it|thanks|thank you|cheers|for now|then|👍"
)
# A reply made only of yes words, joined by spaces and light punctuation.
_PLAIN_YES = re.compile(rf"^\s*(?:(?:{_YES})[\s,.!]*)+$", re.IGNORECASE)
_CONDITION = re.compile(r"\b(but|if|instead|unless|only|rather|card|cash|bank|refund)\b", re.I)


_ACCEPTING = re.compile(
    r"\b(y|ya|yes|yeah|yep|yup|aye|ok|okay|k|sure|fine|alright|go on|go ahead|please|do it|"
    r"take|accept\w*|like that|go for it)\b|👍",
    re.IGNORECASE,
)


def accepts(text: str) -> bool:
    """A plain yes that says yes, not only thanks ("thanks" alone after an offer is
    politeness, not consent): for replies the NLU read as thanks or goodbye."""
    return is_plain_yes(text) and bool(_ACCEPTING.search(text))


def is_plain_yes(text: str) -> bool:
    """True for the offer button's payload, or a typed reply that is a yes and nothing else:
    no question, no condition, no other request."""
    typed = text.strip()
    if typed == YES_BUTTON:
        return True
    if "?" in typed or _CONDITION.search(typed):
        return False
    return bool(_PLAIN_YES.match(typed))
