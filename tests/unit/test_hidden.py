"""What the customer is told names exactly what was hidden from their message."""

from __future__ import annotations

from bot.hidden import hide, telling
from redress.privacy.detect import Kind

TEMPLATE = "I've hidden {what} you sent."


def test_card_details_and_passwords_are_named_for_what_they_are() -> None:
    assert telling(frozenset({Kind.CARD, Kind.EXPIRY}), TEMPLATE) == (
        "I've hidden the card details you sent."
    )
    assert telling(frozenset({Kind.PASSWORD}), TEMPLATE) == "I've hidden the password you sent."
    assert telling(frozenset({Kind.CVV, Kind.PASSWORD}), TEMPLATE) == (
        "I've hidden the card details and password you sent."
    )


def test_only_what_is_never_kept_is_hidden_in_a_message() -> None:
    hidden = hide("card 4111 1111 1111 1111, call me on 07700 900123 or mail sam@example.com")
    assert hidden.kinds == {Kind.CARD}
    assert hidden.text == (
        "card •••• •••• •••• 1111, call me on 07700 900123 or mail sam@example.com"
    )
    assert hide("nothing secret here, BL-100001").kinds == frozenset()
