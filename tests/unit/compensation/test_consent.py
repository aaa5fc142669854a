"""Money moves only on a plain yes to the offer question."""

from __future__ import annotations

import pytest

from redress.compensation.consent import is_plain_yes


@pytest.mark.parametrize(
    "reply",
    [
        "/affirm",
        "yes",
        "Yes please",
        "yeah go ahead",
        "ok",
        "OK thanks!",
        "sure, thank you",
        "fine, I'll take the credit for now",
        "I'll take it",
        "that would be great",
        "go for it 👍",
        "yep, please do",
    ],
)
def test_a_plain_yes_is_consent(reply: str) -> None:
    assert is_plain_yes(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "will somebody ring me?",
        "yes but can I have it on my card instead",
        "ok but when is the engineer coming",
        "is that all?",
        "only if it's a refund",
        "what about the speed itself",
        "I want a refund to my bank",
        "no",
        "not really",
        "hmm",
        "",
        "/deny",
        "yes I want to talk to someone",
    ],
)
def test_anything_else_is_not(reply: str) -> None:
    assert not is_plain_yes(reply)
