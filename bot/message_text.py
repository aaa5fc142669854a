"""The text a customer's message must be before it is recorded, whatever the channel: a
string that can be stored and shown safely, with something to read, and not too long."""

from __future__ import annotations

from typing import Any

from bot.api._http import BadInput

# Characters that show nothing: zero-width spaces and joiners, direction marks, the word
# joiner, the byte-order mark, the soft hyphen and variation selectors.
INVISIBLE = dict.fromkeys(
    [0x00AD, 0x034F, 0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
     *range(0x2060, 0x2070), 0xFEFF, *range(0xFE00, 0xFE10)]
)  # fmt: skip


def valid_text(text: Any, max_chars: int) -> str:
    """Message text that can be stored and shown safely, stripped; or a BadInput."""
    if not isinstance(text, str):
        raise BadInput(400, "invalid_text", "text is required and must be a string.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(
            400, "invalid_text", "text holds characters that are not valid Unicode."
        ) from None
    if "\x00" in text:
        raise BadInput(400, "invalid_text", "text must not contain NUL characters.")
    text = text.strip()
    if not text.translate(INVISIBLE).strip():
        # Only spaces and invisible characters (zero-width, joiners, marks): nothing to read.
        raise BadInput(400, "empty_text", "text is empty. Type a message first.")
    if len(text) > max_chars:
        raise BadInput(
            400,
            "text_too_long",
            f"Messages can be up to {max_chars} characters; this one has {len(text)}. "
            "Please shorten it or send it in parts.",
        )
    return text
