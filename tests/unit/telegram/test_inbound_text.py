"""What a Telegram customer sends is held to the web chat's rules once mended: NUL characters
dropped and lone surrogates replaced, since a Telegram customer cannot be told "400"."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.api import webchat
from bot.api._http import BadInput
from bot.message_text import valid_text
from bot.telegram.inbound import (
    counts_towards_limit,
    customer_text,
    mended,
    storable,
    text_to_check,
)


def test_the_web_chat_uses_the_same_rules() -> None:
    assert webchat.valid_text is valid_text


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("my router\x00 is dead", "my router is dead"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("\udfff first, \ud83d last \ud83d", "\ufffd first, \ufffd last \ufffd"),
        ("  spaces around  ", "spaces around"),
        ("emoji stay 😀 as they are", "emoji stay 😀 as they are"),
    ],
)
def test_text_is_mended_then_checked(sent: str, kept: str) -> None:
    assert customer_text(sent, 4000) == kept


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        (42, "invalid_text"),
        (["hi"], "invalid_text"),
        ({"text": "hi"}, "invalid_text"),
        (None, "invalid_text"),
        ("", "empty_text"),
        ("\x00\x00", "empty_text"),
        ("\u200b\u200c\u200d\u2060\ufeff \u00ad", "empty_text"),
        ("a" * 101, "text_too_long"),
    ],
)
def test_what_is_not_readable_text_is_refused(sent: Any, code: str) -> None:
    with pytest.raises(BadInput) as refused:
        customer_text(sent, 100)
    assert refused.value.code == code


def test_the_web_chat_still_refuses_what_telegram_mends() -> None:
    for sent in ("nul \x00 byte", "lone \ud800 surrogate"):
        with pytest.raises(BadInput) as refused:
            valid_text(sent, 4000)
        assert refused.value.code == "invalid_text"


def test_a_stored_update_holds_only_storable_text() -> None:
    update = {
        "update_id": 7,
        "message": {"text": "a\x00b\ud800", "from": {"first_name": "S\x00am"}, "entities": []},
        "list": ["\ud800", 3, None, True],
    }
    assert storable(update) == {
        "update_id": 7,
        "message": {"text": "ab\ufffd", "from": {"first_name": "Sam"}, "entities": []},
        "list": ["\ufffd", 3, None, True],
    }
    assert mended("plain") == "plain"


def _update(**content: Any) -> Update:
    update = Update.de_json({"update_id": 1, **content}, None)
    assert update is not None
    return update


def _message(chat_type: str, **content: Any) -> dict[str, Any]:
    return {"message_id": 5, "date": 0, "chat": {"id": 9, "type": chat_type}, **content}


def test_only_a_private_message_or_a_button_is_checked_and_counted() -> None:
    private = _update(message=_message("private", text="hello"))
    group = _update(message=_message("group", text="hello"))
    photo = _update(message=_message("private", photo=[]))
    press = _update(
        callback_query={
            "id": "1",
            "from": {"id": 9, "is_bot": False, "first_name": "Sam"},
            "chat_instance": "c",
            "data": "btn_0123456789abcdef",
        }
    )
    edited = _update(edited_message=_message("private", text="changed"))
    assert [text_to_check(u) for u in (private, group, photo, press, edited)] == [
        "hello",
        None,
        None,
        "btn_0123456789abcdef",
        None,
    ]
    assert [counts_towards_limit(u) for u in (private, group, photo, press, edited)] == [
        True,
        False,
        True,
        False,
        False,
    ]
