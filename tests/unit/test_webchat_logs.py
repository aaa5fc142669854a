"""The live WebSocket's address carries the conversation token; the web server's log lines
about connections do not."""

from __future__ import annotations

import logging

from bot.api.webchat import HideConversationTokens


def _logged(message: str, *args: object) -> str:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, args, None)
    assert HideConversationTokens().filter(record)
    return record.getMessage()


def test_the_token_in_a_websocket_address_is_hidden() -> None:
    line = _logged(
        '%s - "WebSocket %s" [accepted]',
        "127.0.0.1:5000",
        "/api/conversations/abc/live?after=12&token=s3cr3t-_Value",
    )
    assert "s3cr3t" not in line
    assert "/api/conversations/abc/live?after=12&token=hidden" in line


def test_the_token_first_or_alone_is_hidden_too() -> None:
    assert "t0ken" not in _logged("%s", "/live?token=t0ken&after=1")
    assert _logged("%s", "/live?token=t0ken&after=1") == "/live?token=hidden&after=1"


def test_other_lines_are_left_alone() -> None:
    assert _logged("Started server process [%d]", 42) == "Started server process [42]"
    assert _logged("no arguments") == "no arguments"
