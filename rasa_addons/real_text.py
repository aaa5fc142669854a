"""One normalisation of real customers' text, for the NLU only.

Real messages to a support account carry @mentions, links, hashtags, HTML entities
(``&amp;``), elongated words ("sooooo"), runs of "!!!", emoji and shouting. The classifier
should see the words, not the markup, and see them the same way in training and in serving,
so this runs as the first component of the NLU pipeline (``rasa_addons.text_components``).

What is kept as typed: the message the records store, the text of Rasa's tracker event, and
the text the actions read (the pipeline's last component puts the typed text back, and maps
every entity's offsets onto it), because severity reads the shouting and the "!!!" that this
takes away.

Standard library only, so it is tested from either Python environment.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# Emoji customers use about a service, as a word the classifier can learn from; others stay.
EMOJI_WORDS = {
    "😡": "angry", "🤬": "angry", "😠": "angry", "👿": "angry", "😤": "fed up",
    "🙄": "annoyed", "😒": "annoyed", "😑": "annoyed", "🤦": "facepalm",
    "😢": "upset", "😭": "upset", "😞": "upset", "😔": "upset", "☹": "upset", "🙁": "upset",
    "😩": "fed up", "😫": "fed up", "😖": "upset", "😣": "upset", "💔": "upset",
    "👎": "bad", "💩": "rubbish", "🤮": "disgusting", "🤢": "disgusting",
    "😂": "laughing", "🤣": "laughing", "😆": "laughing",
    "👍": "good", "🙂": "", "😊": "", "🙏": "please", "❤": "love", "😍": "love",
    "🐌": "slow", "⏳": "waiting", "⌛": "waiting", "💸": "money", "💰": "money",
    "📉": "down", "🔌": "power", "📶": "signal", "📵": "no signal",
}  # fmt: skip

_URL = r"(?:https?://|www\.)\S+"
_MENTION = r"(?<![\w.])@\w+"
_HASHTAG = r"(?<![\w&])#(\w+)"
_ENTITY = r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});"
_ELONGATED = r"(?P<letter>[A-Za-z])(?P=letter){2,}"
_PUNCTUATION_RUN = r"[!?.,][!?.,]+"
_SHOUTED = r"(?<![\w-])[A-Z]{2,}(?![\w-])"
_EMOJI = "|".join(re.escape(e) for e in sorted(EMOJI_WORDS, key=len, reverse=True))
_QUOTES = r"[\u2018\u2019\u201b\u2032`]|[\u201c\u201d\u201f\u2033]"
_INVISIBLE = r"[\ufe0f\u200d\u200b\u2060]"
_PATTERN = re.compile(
    "|".join(
        f"(?P<{name}>{pattern})"
        for name, pattern in (
            ("url", _URL),
            ("mention", _MENTION),
            ("hashtag", _HASHTAG),
            ("entity", _ENTITY),
            ("elongated", _ELONGATED),
            ("punct", _PUNCTUATION_RUN),
            ("shouted", _SHOUTED),
            ("emoji", _EMOJI),
            ("quote", _QUOTES),
            ("invisible", _INVISIBLE),
        )
    )
)
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class Normalised:
    """The text the NLU sees, and for each of its characters the offset in the typed text it
    came from (``origin[i]``); ``origin[len(text)]`` is the typed text's length."""

    text: str
    origin: tuple[int, ...]

    def typed_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the typed text that ``text[start:end]`` came from."""
        start = max(0, min(start, len(self.text)))
        end = max(start, min(end, len(self.text)))
        if end == start:
            return self.origin[start], self.origin[start]
        last = self.origin[end - 1]
        return self.origin[start], max(last + 1, self.origin[start])


def hashtag_words(tag: str) -> str:
    """``NeverAgainBrightline`` → "never again brightline"; ``no_wifi`` → "no wifi"."""
    parts = [p for chunk in tag.split("_") for p in (_CAMEL.findall(chunk) or [chunk])]
    return " ".join(parts).lower()


def _replacement(match: re.Match[str]) -> str:
    kind, found = match.lastgroup, match.group(0)
    if kind in ("url", "mention", "invisible"):
        return " "
    if kind == "hashtag":
        return " " + hashtag_words(found[1:]) + " "
    if kind == "entity":
        decoded = html.unescape(found)
        return " " if decoded in ("\xa0", "\u200b") else decoded
    if kind == "elongated":
        return found[:2]
    if kind == "punct":
        return found[0]
    if kind == "shouted":
        return found.lower()
    if kind == "emoji":
        word = EMOJI_WORDS.get(found, "")
        return f" {word} " if word else " "
    if kind == "quote":
        return "'" if found in "\u2018\u2019\u201b\u2032`" else '"'
    return found


def normalise(typed: str) -> Normalised:
    """The normalised text and where each character came from. Never empty when the typed
    text has something in it: a message that is only a link or a mention stays as typed."""
    chars: list[tuple[str, int]] = []
    position = 0
    for match in _PATTERN.finditer(typed):
        chars += [(c, position + i) for i, c in enumerate(typed[position : match.start()])]
        chars += [(c, match.start()) for c in _replacement(match)]
        position = match.end()
    chars += [(c, position + i) for i, c in enumerate(typed[position:])]
    # One space between words, none at either end or before a full stop or comma.
    collapsed: list[tuple[str, int]] = []
    for char, origin in chars:
        if char in ".,!?" and collapsed and collapsed[-1][0] == " ":
            collapsed.pop()
        if char.isspace():
            if collapsed and collapsed[-1][0] != " ":
                collapsed.append((" ", origin))
            continue
        collapsed.append((char, origin))
    while collapsed and collapsed[-1][0] == " ":
        collapsed.pop()
    if not collapsed:
        return Normalised(typed, tuple(range(len(typed) + 1)))
    text = "".join(c for c, _ in collapsed)
    return Normalised(text, (*(o for _, o in collapsed), len(typed)))
