"""Text between customers and the Slack agent desk: escaping, Slack markup to plain text,
internal notes."""

from __future__ import annotations

import re

import pytest

from bot.slack.text import WORD_JOINER, escape_for_slack, is_internal_note, one_line, slack_to_plain

# escape_for_slack -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", "hello"),
        ("a & b", "a &amp; b"),
        ("1 < 2 > 0", "1 &lt; 2 &gt; 0"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<@U123ABC>", f"&lt;@{WORD_JOINER}U123ABC&gt;"),
        ("<#C123|general>", "&lt;#C123|general&gt;"),
        ("<http://evil.example|click>", "&lt;http://evil.example|click&gt;"),
        ("<!subteam^S123>", "&lt;!subteam^S123&gt;"),
        ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),  # already-escaped stays literal
        ("> quoted", "&gt; quoted"),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
    ],
)
def test_escape_for_slack_escapes_slacks_three_characters(text: str, expected: str) -> None:
    assert escape_for_slack(text) == expected


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Here", "@CHANNEL"])
def test_bare_broadcast_words_are_broken_by_an_invisible_joiner(word: str) -> None:
    escaped = escape_for_slack(f"hey {word} look")
    assert word not in escaped
    assert f"@{WORD_JOINER}{word[1:]}" in escaped
    # It still reads the same once the invisible character is taken out.
    assert escaped.replace(WORD_JOINER, "") == f"hey {word} look"


@pytest.mark.parametrize(
    "text", ["write to me@here.com", "jo.bloggs@everyone.org", "a @ b", "@", "@ here", "x@"]
)
def test_email_addresses_and_lone_at_signs_are_left_alone(text: str) -> None:
    assert escape_for_slack(text) == text


@pytest.mark.parametrize("handle", ["@jo", "@brightline_support", "@support-team", "@hereford"])
def test_other_handles_cannot_ping_a_person_or_group(handle: str) -> None:
    escaped = escape_for_slack(f"thanks {handle}")
    assert escaped == f"thanks @{WORD_JOINER}{handle[1:]}"


@pytest.mark.parametrize("text", ["(@here)", "hi,@channel", "@here!", "\n@everyone"])
def test_broadcast_words_next_to_punctuation_are_broken(text: str) -> None:
    assert WORD_JOINER in escape_for_slack(text)


def test_formatting_characters_stay() -> None:
    text = "it's *really* _slow_ ~fine~ `code` ```block```"
    assert escape_for_slack(text) == text


def test_escaped_text_never_holds_an_angle_bracket() -> None:
    nasty = "<<!channel>> <@U1|x> <<http://a|b>> >>< &<>&"
    escaped = escape_for_slack(nasty)
    assert "<" not in escaped
    assert ">" not in escaped
    assert re.search(r"&(?!amp;|lt;|gt;)", escaped) is None


def test_one_line_keeps_line_breaks_visible() -> None:
    assert one_line("first\n\n  second\r\nthird  ") == "first ↵ second ↵ third"
    assert one_line("a\t  b") == "a b"
    assert one_line("") == ""


# slack_to_plain -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slack", "plain"),
    [
        ("Hello there", "Hello there"),
        (
            "See <https://example.com/help|our help page>",
            "See our help page (https://example.com/help)",
        ),
        ("See <https://example.com/help>", "See https://example.com/help"),
        ("Go to <https://example.com|example.com>", "Go to https://example.com"),
        ("<https://example.com/a_b_c|docs>", "docs (https://example.com/a_b_c)"),
        ("<https://x.io/_x_/|here>", "here (https://x.io/_x_/)"),
        ("Mail <mailto:help@bl.co.uk|help@bl.co.uk>", "Mail help@bl.co.uk"),
        ("Mail <mailto:help@bl.co.uk|our team>", "Mail our team (help@bl.co.uk)"),
        ("<@U123> will call you", "A colleague will call you"),
        ("I've asked <@U123> to check", "I've asked a colleague to check"),
        ("I've asked <@U123|jo> to check", "I've asked @jo to check"),
        ("Posted in <#C123|general>", "Posted in #general"),
        ("Posted in <#C123>", "Posted in a channel"),
        ("<!here> can someone check", "can someone check"),
        ("Hi <!channel> all", "Hi all"),
        ("<!everyone>\nThanks for waiting", "Thanks for waiting"),
        ("Ask <!subteam^S1|@billing>", "Ask @billing"),
        ("Due <!date^1392734382^{date}|Feb 18, 2014>", "Due Feb 18, 2014"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
        ("literally &amp;lt;", "literally &lt;"),
        ("This is *really* important", "This is really important"),
        ("This is _quite_ important", "This is quite important"),
        ("It was ~wrong~ right", "It was wrong right"),
        ("*Sorry* about _all_ ~this~", "Sorry about all this"),
        ("Type `reset` then", "Type reset then"),
        ("```\nline one\nline two\n```", "line one\nline two"),
        ("your account_ref and snake_case_words", "your account_ref and snake_case_words"),
        ("2*3*4 = 24", "2*3*4 = 24"),
        ("a * b * c", "a * b * c"),
        ("*<https://x.io|bold link>*", "bold link (https://x.io)"),
        ("Thanks :slightly_smiling_face:", "Thanks 🙂"),
        ("Done :+1::skin-tone-3:", "Done 👍"),
        ("Nice :sunflower:", "Nice :sunflower:"),
        ("at 14:05:30", "at 14:05:30"),
        ("  padded  \n", "padded"),
        ("line one   \nline two", "line one\nline two"),
    ],
)
def test_slack_to_plain(slack: str, plain: str) -> None:
    assert slack_to_plain(slack) == plain


def test_user_mentions_use_the_resolver() -> None:
    names = {"U1": "Jo"}
    assert slack_to_plain("Ask <@U1> or <@U2>", names.get) == "Ask @Jo or a colleague"
    assert slack_to_plain("<@U2|sam> knows", names.get) == "@sam knows"


@pytest.mark.parametrize("text", ["", "   ", "<!here>", "<!channel> \n <!here>"])
def test_nothing_readable_gives_empty(text: str) -> None:
    assert slack_to_plain(text) == ""


@pytest.mark.parametrize("text", ["``", "**", "__", "~~", "``` ```", "*", ".", ":x:"])
def test_meaningful_input_never_becomes_empty(text: str) -> None:
    assert slack_to_plain(text) != ""


def test_private_use_markers_in_agent_text_are_harmless() -> None:
    assert (
        slack_to_plain("odd \ue0007\ue001 text <https://x.io|x>") == "odd 7 text x (https://x.io)"
    )


def test_round_trip_of_customer_text_through_the_desk() -> None:
    """What a customer typed, shown in Slack and quoted back by an agent, reads the same."""
    typed = "I pay £30 & get <nothing> at 5 > 3, @here @jo <@U1> <!channel>"
    assert slack_to_plain(escape_for_slack(typed)) == typed


# is_internal_note -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "note: check the line",
        "Note: check the line",
        "NOTE: x",
        "   note: leading spaces",
        "Note : space before the colon",
        "note:no space",
        "*Note:* bold",
        "_note_: italic",
        "\nnote: after a newline",
    ],
)
def test_internal_notes(text: str) -> None:
    assert is_internal_note(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hello, I'm Jo",
        "Please note: we'll call you",
        "notes are fine",
        "note that we are on it",
        "keynote: no",
        "",
        "nota: no",
    ],
)
def test_replies_for_the_customer(text: str) -> None:
    assert not is_internal_note(text)
