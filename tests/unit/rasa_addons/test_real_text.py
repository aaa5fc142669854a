"""The NLU's normalisation of real text (rasa_addons/real_text.py): what the classifier sees
of messages as customers post them, and that every character can be traced back to what
they typed. The messages are written for these tests."""

from __future__ import annotations

import pytest

from rasa_addons.real_text import hashtag_words, normalise


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        # @mentions and links carry no complaint; they go.
        (
            "@BrightlineHelp my router has died again https://t.co/AbC123xyz",
            "my router has died again",
        ),
        (
            "Cheers @Brightline, 3rd day without tv www.example.com/status",
            "Cheers, 3rd day without tv",
        ),
        # Hashtags become the words they hold.
        (
            "no internet since friday #NeverAgainBrightline",
            "no internet since friday never again brightline",
        ),
        ("#no_wifi #fail", "no wifi fail"),
        ("#BTSport keeps freezing", "bt sport keeps freezing"),
        # HTML entities as the platform sends them.
        ("paid for tv &amp; broadband, got neither", "paid for tv & broadband, got neither"),
        ("price went from &#163;30 to &pound;45", "price went from £30 to £45"),
        # Elongations and runs of punctuation.
        ("sooooo slowwwww!!!!", "soo sloww!"),
        ("why is my bill this high???", "why is my bill this high?"),
        ("wait... what?!?!", "wait. what?"),
        # Shouting is folded to lower case; account numbers and postcodes are left alone.
        (
            "STILL NO SIGNAL at LS6 2AB, account BL-100001",
            "still no signal at LS6 2AB, account BL-100001",
        ),
        # Emoji about the service become words; curly quotes straight.
        ("the wifi 🐌 again 😡😡", "the wifi slow again angry angry"),
        ("can’t get “online”", 'can\'t get "online"'),
        # An e-mail address is not a mention.
        ("write to me at jo.bloggs@example.com", "write to me at jo.bloggs@example.com"),
    ],
)
def test_real_messages_become_plain_words(typed: str, seen: str) -> None:
    assert normalise(typed).text == seen


def test_a_message_that_is_only_markup_stays_as_typed() -> None:
    assert normalise("@Brightline https://t.co/xyz").text == "@Brightline https://t.co/xyz"
    assert normalise("").text == ""


def test_plain_text_is_untouched() -> None:
    typed = "My internet has been down since Monday and I work from home."
    assert normalise(typed).text == typed


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("@Help my account BL-204518 is locked &amp; I can't pay", "BL-204518"),
        ("SOOOO ANGRY 😡 at LS6 2AB", "LS6 2AB"),
        ("#fail charged £45 twice!!!", "£45"),
    ],
)
def test_each_normalised_span_points_back_into_the_typed_text(typed: str, word: str) -> None:
    normalised = normalise(typed)
    start = normalised.text.index(word)
    begin, end = normalised.typed_span(start, start + len(word))
    assert typed[begin:end] == word


def test_the_offsets_cover_every_character() -> None:
    normalised = normalise("@x #HelloWorld &amp; sooo!!! 😡")
    assert len(normalised.origin) == len(normalised.text) + 1
    assert list(normalised.origin) == sorted(normalised.origin)


def test_hashtag_words() -> None:
    assert hashtag_words("NeverAgainBrightline") == "never again brightline"
    assert hashtag_words("WiFi4Life") == "wi fi 4 life"
    assert hashtag_words("customerservicefail") == "customerservicefail"
