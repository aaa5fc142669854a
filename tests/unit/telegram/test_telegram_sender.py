"""Sending to Telegram without a network: escaping, splitting, and what happens when
Telegram pushes back (flood control, a blocked bot, a flaky network)."""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from bot.telegram.channel import PRIVATE_CHATS_ONLY, file_api_url
from bot.telegram.sender import (
    MAX_TEXT_LENGTH,
    TelegramSender,
    escape,
    escaped_length,
    keyboard,
    split_for_telegram,
)
from redress.plain_language import check_text

# PTB's own RetryAfter constructor reads its deprecated int attribute; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def joined(parts: list[str]) -> str:
    return "".join(parts)


def test_short_text_is_one_part_unchanged() -> None:
    assert split_for_telegram("Hello <b>there</b> & welcome") == ["Hello <b>there</b> & welcome"]
    assert split_for_telegram("") == [""]


def test_escaping_makes_markup_literal() -> None:
    assert (
        escape("<b>free</b> & <a href='x'>") == "&lt;b&gt;free&lt;/b&gt; &amp; &lt;a href='x'&gt;"
    )
    assert escaped_length("<&>") == len("&lt;&amp;&gt;")


def test_text_that_grows_when_escaped_is_split_by_its_escaped_length() -> None:
    text = "<" * 3000 + " end"
    parts = split_for_telegram(text)
    assert len(parts) == 3
    assert all(len(escape(part)) <= MAX_TEXT_LENGTH for part in parts)
    assert joined(parts) == text
    assert joined(html.unescape(escape(part)) for part in parts) == text


def test_exactly_the_limit_is_not_split() -> None:
    assert split_for_telegram("a" * MAX_TEXT_LENGTH) == ["a" * MAX_TEXT_LENGTH]
    assert len(split_for_telegram("a" * (MAX_TEXT_LENGTH + 1))) == 2


def test_splits_fall_at_line_ends_when_there_are_some() -> None:
    text = "".join(f"Line {n}: the engineer will call you back today.\n" for n in range(300))
    parts = split_for_telegram(text)
    assert len(parts) > 1
    assert all(part.endswith("\n") for part in parts)
    assert joined(parts) == text


def test_splits_fall_between_words_when_there_are_no_line_ends() -> None:
    text = " ".join(["broadband"] * 1000)
    parts = split_for_telegram(text)
    assert len(parts) > 1
    assert all(part.endswith(" ") for part in parts[:-1])
    assert all(not part.startswith(" ") for part in parts)
    assert joined(parts) == text


def test_one_very_long_word_is_cut_where_it_must_be() -> None:
    text = "x" * 10_000
    parts = split_for_telegram(text)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_an_entity_is_never_cut_in_two() -> None:
    text = "&" * 5000
    parts = split_for_telegram(text)
    for part in parts:
        escaped = escape(part)
        assert len(escaped) <= MAX_TEXT_LENGTH
        assert escaped.count("&amp;") * len("&amp;") == len(escaped)


def test_emoji_count_twice_as_telegram_counts_them() -> None:
    text = "😀" * 3000
    parts = split_for_telegram(text)
    assert [escaped_length(p) for p in parts] == [4096, 1904]
    assert joined(parts) == text


def test_buttons_become_one_inline_button_per_row_with_the_issued_token() -> None:
    markup = keyboard(
        [
            {"title": "Yes, something else", "payload": "btn_AAAAAAAAAAAAAAAA"},
            {"title": "No, that's all", "payload": "btn_BBBBBBBBBBBBBBBB"},
        ]
    )
    assert markup is not None
    rows = markup.to_dict()["inline_keyboard"]
    assert rows == [
        [{"text": "Yes, something else", "callback_data": "btn_AAAAAAAAAAAAAAAA"}],
        [{"text": "No, that's all", "callback_data": "btn_BBBBBBBBBBBBBBBB"}],
    ]
    assert keyboard([]) is None


def test_the_file_url_sits_beside_the_bot_api_url() -> None:
    assert file_api_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_api_url("http://127.0.0.1:9999/bot") == "http://127.0.0.1:9999/file/bot"


def test_the_line_for_group_chats_reads_plainly() -> None:
    assert check_text(PRIVATE_CHATS_ONLY) == []


# What the sender does when Telegram pushes back -------------------------------------------


@dataclass
class Sent:
    message_id: int


@dataclass
class ScriptedBot:
    """Answers sendMessage with the scripted outcomes in turn, then succeeds."""

    script: list[Exception] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def send_message(self, chat_id: int, text: str, **options: Any) -> Sent:
        self.calls.append({"chat_id": chat_id, "text": text, **options})
        if self.script:
            raise self.script.pop(0)
        return Sent(message_id=100 + len(self.calls))


@dataclass
class RecordingRelay:
    delivered: list[tuple[int, str]] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)

    async def note_delivered(self, message_id: int, external_id: str) -> None:
        self.delivered.append((message_id, external_id))

    async def mark_unreachable(self, conversation_id: str, reason: str) -> None:
        self.unreachable.append((conversation_id, reason))


def sender_with(
    script: list[Exception],
) -> tuple[TelegramSender, ScriptedBot, RecordingRelay, list]:
    bot, relay, waits = ScriptedBot(script), RecordingRelay(), []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    sender = TelegramSender(bot, relay, "sqlite://", sleep=sleep)  # type: ignore[arg-type]
    return sender, bot, relay, waits


def messages(*texts: str) -> list[dict[str, Any]]:
    return [{"id": n, "text": text, "buttons": []} for n, text in enumerate(texts, start=1)]


def test_messages_are_sent_as_escaped_html_and_their_telegram_ids_kept() -> None:
    sender, bot, relay, _ = sender_with([])
    asyncio.run(sender.send("conv", 42, messages("a <b>", "second")))
    assert [(c["text"], c["parse_mode"]) for c in bot.calls] == [
        ("a &lt;b&gt;", "HTML"),
        ("second", "HTML"),
    ]
    assert relay.delivered == [(1, "101"), (2, "102")]


def test_buttons_ride_on_the_last_part_of_a_long_message() -> None:
    sender, bot, _, _ = sender_with([])
    long = {"id": 7, "text": "word " * 2000, "buttons": [{"title": "Yes", "payload": "btn_x"}]}
    asyncio.run(sender.send("conv", 42, [long]))
    assert len(bot.calls) == 3
    assert [c["reply_markup"] is not None for c in bot.calls] == [False, False, True]


def test_flood_control_waits_as_asked_then_sends_once() -> None:
    sender, bot, relay, waits = sender_with([RetryAfter(3)])
    asyncio.run(sender.send("conv", 42, messages("hello")))
    assert waits == [3.0]
    assert len(bot.calls) == 2
    assert relay.delivered == [(1, "102")]


def test_endless_flood_control_gives_up_after_a_few_tries() -> None:
    sender, bot, relay, waits = sender_with([RetryAfter(1)] * 10)
    asyncio.run(sender.send("conv", 42, messages("hello")))
    assert waits == [1.0, 1.0, 1.0]
    assert len(bot.calls) == 4
    assert relay.delivered == []


def test_a_flood_wait_longer_than_a_minute_is_not_waited_out() -> None:
    # Telegram may ask for an hour. Waiting it out would hold the chat, and the outbox
    # message past its lease, so another gateway could send it again: the message is left
    # unconfirmed for the outbox to try later instead (why PTB's AIORateLimiter, which
    # sleeps as long as asked, does not do our retries).
    sender, bot, relay, waits = sender_with([RetryAfter(3600)])
    asyncio.run(sender.send("conv", 42, messages("hello", "second")))
    assert waits == []
    assert [c["text"] for c in bot.calls] == ["hello", "second"]
    assert relay.delivered == [(2, "102")]


def test_a_blocked_bot_marks_the_conversation_and_stops_at_once() -> None:
    sender, bot, relay, waits = sender_with([Forbidden("Forbidden: bot was blocked by the user")])
    asyncio.run(sender.send("conv", 42, messages("one", "two", "three")))
    assert len(bot.calls) == 1
    assert waits == []
    assert relay.unreachable == [("conv", "blocked the bot")]
    assert relay.delivered == []


def test_network_trouble_is_retried_with_backoff_then_given_up() -> None:
    sender, bot, relay, waits = sender_with([TimedOut()] * 10)
    asyncio.run(sender.send("conv", 42, messages("hello")))
    assert waits == [0.5, 1.0, 2.0]
    assert len(bot.calls) == 4
    assert relay.delivered == []


def test_a_short_network_blip_still_delivers() -> None:
    sender, _, relay, _ = sender_with([TimedOut()])
    asyncio.run(sender.send("conv", 42, messages("hello")))
    assert relay.delivered == [(1, "102")]


@pytest.mark.parametrize("problem", [BadRequest("Bad Request: chat not found")])
def test_a_rejected_message_is_not_retried(problem: Exception) -> None:
    sender, bot, relay, waits = sender_with([problem])
    asyncio.run(sender.send("conv", 42, messages("one", "two")))
    assert waits == []
    assert len(bot.calls) == 2  # the next message is still tried
    assert relay.delivered == [(2, "102")]
