"""Text crossing between customers and the Slack agent desk, in both directions.

Customer text shown in Slack goes through ``escape_for_slack`` so it can never ping the
channel, mention people, link anywhere or look like Slack's own markup. An agent's Slack reply
goes through ``slack_to_plain`` before the customer sees it, so Slack's markup never leaks
into a Telegram chat or the web widget. Replies that start with ``note:`` are for colleagues
only (``is_internal_note``).

Pure functions: no Slack SDK, no database.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Put after the "@" of a bare @word. Invisible, and it does not allow a line break (unlike a
# zero-width space), so "@⁠here" reads as "@here" but is no longer the word Slack turns into
# a mention when a message is sent with ``parse=full`` or ``link_names``.
WORD_JOINER = "\u2060"

# An "@" starting a word: @here, @channel, @everyone, and also @name and @team handles,
# which ``link_names`` would turn into a ping of that person or user group. Not the "@" of
# an email address (me@here.com stays as typed, so it can be copied).
_AT_WORD = re.compile(r"(?<![\w.+-])@(?=\w)")
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_for_slack(text: str) -> str:
    """Customer text made safe for Slack ``mrkdwn``.

    - ``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;`` and ``&gt;``: the three characters
      Slack's own escaping rules name. Every Slack control sequence (``<!channel>``,
      ``<!here>``, ``<@U…>``, ``<#C…>``, ``<http://evil|click>``) needs a literal ``<``, so
      none can survive, and a ``>`` can no longer start a block quote.
    - A bare ``@channel``, ``@here`` or ``@everyone`` gets a word joiner (U+2060) after the
      ``@``: it looks the same to the agent, but Slack no longer turns it into a broadcast
      when a message is sent with ``parse=full`` / ``link_names``. So does any other
      ``@handle`` (which would ping that person or user group); an email address does not.

    Asterisks, underscores, tildes and backticks stay. Slack's mrkdwn has no way to escape
    them, and replacing them would change the customer's words the agent must read. They can
    only make text bold, italic, struck through or monospaced; none of that hides text or
    makes a link, and without ``<`` nothing can. Callers that place customer text next to
    their own markup keep it on one line (see ``one_line``) so it cannot fake a new line
    of the card.
    """
    escaped = "".join(_SLACK_ESCAPES.get(char, char) for char in text)
    return _AT_WORD.sub("@" + WORD_JOINER, escaped)


def one_line(text: str) -> str:
    """Line breaks shown as " ↵ " and other runs of white space as one space, so quoted
    text stays on the line it was put on."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return " ↵ ".join(line for line in lines if line)


# Slack -> plain text -------------------------------------------------------------------------

# A few emoji agents use often, as the characters themselves; any other :name: is left as
# typed, which still reads sensibly ("thanks :sunflower:"). Skin tones are dropped.
EMOJI = {
    "slightly_smiling_face": "🙂",
    "smiley": "😃",
    "smile": "😄",
    "grinning": "😀",
    "blush": "😊",
    "wink": "😉",
    "slightly_frowning_face": "🙁",
    "disappointed": "😞",
    "thinking_face": "🤔",
    "+1": "👍",
    "thumbsup": "👍",
    "ok_hand": "👌",
    "pray": "🙏",
    "wave": "👋",
    "clap": "👏",
    "raised_hands": "🙌",
    "tada": "🎉",
    "heart": "❤️",
    "white_check_mark": "✅",
    "sunny": "☀️",
}
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_SKIN_TONE = re.compile(r":skin-tone-[2-6]:")
_CONTROL = re.compile(r"<([^<>\n]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_GONE = "\ue002"  # where a removed mention was


def _emphasis(marker: str) -> re.Pattern[str]:
    """``marker`` wrapping words: opens after a non-word character, closes before one, with
    no space just inside, on one line. ``snake_case`` and ``2*3*4`` are left alone."""
    m = re.escape(marker)
    return re.compile(rf"(?<![\w{m}]){m}(?=[^\s{m}])([^\n{m}]*?[^\s{m}]){m}(?![\w{m}])")


_CODE_BLOCK = re.compile(r"```\n?(.+?)\n?```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_EMPHASIS = [_emphasis("*"), _emphasis("_"), _emphasis("~")]
_BROADCASTS = {"here", "channel", "everyone"}

Resolver = Callable[[str], str | None]


def _unescape(text: str) -> str:
    """Slack's three escapes undone in one pass (so ``&amp;lt;`` becomes ``&lt;``)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m[1]], text)


def _unformat(text: str) -> str:
    """Code backticks and emphasis markers that wrap words, removed."""
    text = _CODE_BLOCK.sub(lambda m: m[1], text)
    text = _INLINE_CODE.sub(lambda m: m[1], text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m[1], text)
    return text


def _control(inner: str, resolve_user: Resolver | None) -> str:
    """One ``<…>`` sequence as plain words."""
    target, _, label = inner.partition("|")
    label = _unformat(label.strip())
    if target.startswith("@"):
        name = resolve_user(target[1:]) if resolve_user else None
        name = name or label.lstrip("@")
        return f"@{name}" if name else "a colleague"
    if target.startswith("#"):
        return f"#{label.lstrip('#')}" if label else "a channel"
    if target.startswith("!"):
        command = target[1:].split("^")[0]
        if command in _BROADCASTS:
            return ""
        return label  # <!subteam^S1|@team>, <!date^…|fallback>; nothing when unlabelled
    if target.startswith("mailto:"):
        address = target.removeprefix("mailto:")
        if not label or _unescape(label) == _unescape(address):
            return address
        return f"{label} ({address})"
    if not label or _bare(label) == _bare(target):
        return target
    return f"{label} ({target})"


def _bare(link: str) -> str:
    """A link without its scheme and trailing slash, to spot labels that repeat the link."""
    return re.sub(r"^[a-z]+://", "", _unescape(link).strip(), flags=re.IGNORECASE).rstrip("/")


def slack_to_plain(text: str, resolve_user: Resolver | None = None) -> str:
    """An agent's Slack message as plain text for the customer.

    - ``<https://x|label>`` → ``label (https://x)``; ``<https://x>`` → ``https://x``; a
      label that only repeats the link gives the link alone.
    - ``<mailto:a@b|a@b>`` → ``a@b`` (a different label: ``label (a@b)``).
    - ``<@U123>`` → ``@name`` from ``resolve_user("U123")``; without a resolver or a name,
      the label Slack sent if any, else "a colleague".
    - ``<#C123|general>`` → ``#general`` ("a channel" without a name).
    - ``<!here>``, ``<!channel>``, ``<!everyone>`` removed; other ``<!…|label>`` (user
      groups, dates) → their label.
    - ``&lt;``, ``&gt;``, ``&amp;`` unescaped (once).
    - ``*bold*``, ``_italic_``, ``~strike~`` markers removed when they wrap words; code
      backticks (inline and blocks) removed. ``snake_case`` or ``2*3`` are left alone.
    - A few common ``:emoji:`` become the emoji (see ``EMOJI``); others stay as typed.
    - Word joiners that ``escape_for_slack`` put after an ``@`` are taken out.
    - Trailing spaces on each line and the ends are trimmed.

    Returns an empty string only when there is nothing a customer could read (white space,
    or only channel-wide mentions like ``<!here>``); the caller should not send that.
    """
    links: list[str] = []

    def hold(match: re.Match[str]) -> str:
        words = _control(match[1], resolve_user)
        if not words:
            return _GONE
        if not match.string[: match.start()].strip() and words.startswith("a "):
            words = "A" + words[1:]  # "A colleague will call you"
        links.append(words)
        return f"\ue000{len(links) - 1}\ue001"

    # Links become placeholders so formatting removal never touches a URL's underscores.
    # (The private-use characters used as markers cannot come from the agent; word joiners
    # come from customer text the agent copied, where ``escape_for_slack`` put them.)
    plain = _CONTROL.sub(hold, re.sub(f"[\ue000-\ue002{WORD_JOINER}]", "", text))
    plain = _unformat(plain)
    plain = _SKIN_TONE.sub("", plain)
    plain = _EMOJI.sub(lambda m: EMOJI.get(m[1], m[0]), plain)
    plain = _PLACEHOLDER.sub(lambda m: links[int(m[1])], plain)
    plain = _unescape(plain)
    # A removed mention takes the spaces around it with it: "Hi <!here> all" -> "Hi all".
    plain = re.sub(f"(?m)^[ \t]*{_GONE}[ \t]*", "", plain)
    plain = re.sub(f"[ \t]*{_GONE}[ \t]*", " ", plain)
    plain = "\n".join(line.rstrip() for line in plain.splitlines()).strip()
    if not plain:
        # Markup with nothing inside it ("``"): the text as typed, less Slack commands.
        return _unescape(re.sub(r"<![^<>]*>", "", text)).strip()
    return plain


_NOTE = re.compile(r"^\s*[*_~`]*\s*note\s*[*_~`]*\s*:", re.IGNORECASE)


def is_internal_note(text: str) -> bool:
    """A reply for colleagues, never sent to the customer: it starts with ``note:``
    (any case, with spaces before or around the colon, and also when made bold or italic:
    ``*Note:*``)."""
    return bool(_NOTE.match(text))
