"""Card details and passwords never enter the records, Rasa, the desk or a log: they are
masked in a customer's text before anything else happens to it (redress/privacy/detect.py),
and the customer is told, once for that message, what was hidden and why."""

from __future__ import annotations

from dataclasses import dataclass

from redress.privacy.detect import Kind, mask_never_kept

CARD_KINDS = frozenset({Kind.CARD, Kind.CVV, Kind.EXPIRY})


@dataclass(frozen=True)
class Hidden:
    text: str  # the text as it may be kept
    kinds: frozenset[Kind]  # what was masked in it (empty: nothing)


def hide(text: str) -> Hidden:
    masked = mask_never_kept(text)
    return Hidden(masked.text, frozenset(found.kind for found in masked.found))


def telling(kinds: frozenset[Kind], template: str) -> str:
    """The brand's sentence (``secrets_hidden``) naming what was hidden."""
    card, password = bool(kinds & CARD_KINDS), Kind.PASSWORD in kinds
    if card and password:
        what = "the card details and password"
    elif card:
        what = "the card details"
    else:
        what = "the password"
    return template.replace("{what}", what)
