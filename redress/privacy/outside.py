"""The two stores outside the databases that hold something of a customer's, behind small
interfaces: the Slack agent desk (cards and thread messages about them) and Redis (keys named
after their conversations). Erasure and export take them as arguments; ``stores_for`` builds
the real ones from the settings for the gateway and the command line, with slack_sdk's
``WebClient`` and redis-py. Either is None when it is not configured."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redress.settings import Settings

# What a message becomes when Slack will not delete it but lets us edit it.
NEUTRAL_TEXT = "This message was removed because the customer's personal data was erased."
# Every key Redress and its Rasa lock store keep in Redis starts with this.
KEY_PREFIX = "redress:"
SLACK_TIMEOUT_SECONDS = 10
# How far back the escalation channel is searched for alerts that name a customer.
HISTORY_LIMIT = 5000
# Slack answers meaning the message is already gone.
_GONE = {"message_not_found", "thread_not_found"}
# Slack answers meaning this token may not delete (or edit) that message.
_REFUSED = {"cant_delete_message", "cant_update_message", "not_allowed", "restricted_action"}


class OutsideUnavailable(RuntimeError):
    """Slack or Redis could not be reached, or refused the credentials: nothing was done
    there, and erasing again later finishes it."""


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: where it is, and whether the desk's bot posted it (only those can
    be deleted with the bot's token; a person's message needs a workspace admin)."""

    channel: str
    ts: str
    thread_ts: str | None
    by_desk: bool
    text: str


class SlackMessages(Protocol):
    def thread(self, channel: str, ts: str) -> list[SlackMessage]:
        """The message ``ts`` and its replies; empty when it is gone."""
        ...

    def remove(self, message: SlackMessage) -> str:
        """Deletes it: "deleted", "gone" (already), "neutralised" (delete refused, text
        replaced) or "left" (Slack refused both)."""
        ...

    def mentioning(self, needles: Sequence[str]) -> list[SlackMessage]:
        """The desk's own messages in the escalation channel (operator alerts) that name any
        of ``needles``, among the most recent ``HISTORY_LIMIT``."""
        ...


class ConversationKeys(Protocol):
    def find(self, conversation_ids: Sequence[str], telegram_chats: Sequence[str]) -> list[str]:
        """The keys named after these conversations or Telegram chats."""
        ...

    def delete(self, keys: Sequence[str]) -> int: ...


@dataclass(frozen=True)
class OutsideStores:
    slack: SlackMessages | None
    keys: ConversationKeys | None

    def close(self) -> None:
        close = getattr(self.keys, "close", None)
        if close is not None:
            close()


class SlackWebMessages:
    """``SlackMessages`` through slack_sdk's ``WebClient`` with the desk's bot token."""

    def __init__(self, token: str, api_url: str, channel: str) -> None:
        from slack_sdk import WebClient

        self._client = WebClient(token=token, base_url=api_url, timeout=SLACK_TIMEOUT_SECONDS)
        self._channel = channel
        self._bot_id: str | None = None

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            answer = getattr(self._client, method)(**params)
            return dict(answer.data) if isinstance(answer.data, dict) else {}
        except SlackApiError as problem:
            error = str(problem.response.get("error") or problem.response.status_code)
            if error in _GONE or error in _REFUSED:
                return {"ok": False, "error": error}
            raise OutsideUnavailable(f"Slack refused {method}: {error}") from None
        except (SlackClientError, OSError) as problem:
            raise OutsideUnavailable(f"Slack unreachable: {type(problem).__name__}") from None

    def _bot(self) -> str:
        if self._bot_id is None:
            self._bot_id = str(self._call("auth_test").get("bot_id") or "")
        return self._bot_id

    def thread(self, channel: str, ts: str) -> list[SlackMessage]:
        found: list[SlackMessage] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"channel": channel, "ts": ts, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            answer = self._call("conversations_replies", **params)
            if not answer.get("ok", True):
                return found
            for item in answer.get("messages") or []:
                found.append(
                    SlackMessage(
                        channel=channel,
                        ts=str(item.get("ts")),
                        thread_ts=item.get("thread_ts"),
                        by_desk=bool(item.get("bot_id")) and item.get("bot_id") == self._bot(),
                        text=str(item.get("text") or ""),
                    )
                )
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return found

    def mentioning(self, needles: Sequence[str]) -> list[SlackMessage]:
        patterns = [whole_word(n) for n in needles if n]
        if not patterns:
            return []
        found: list[SlackMessage] = []
        cursor: str | None = None
        seen = 0
        while seen < HISTORY_LIMIT:
            params: dict[str, Any] = {"channel": self._channel, "limit": 200}
            if cursor:
                params["cursor"] = cursor
            answer = self._call("conversations_history", **params)
            items = answer.get("messages") or []
            seen += len(items)
            for item in items:
                if item.get("bot_id") != self._bot():
                    continue
                shown = html.unescape(
                    str(item.get("text") or "") + json.dumps(item.get("blocks") or [])
                )
                if any(p.search(shown) for p in patterns):
                    found.append(
                        SlackMessage(
                            self._channel,
                            str(item.get("ts")),
                            item.get("thread_ts"),
                            by_desk=True,
                            text=str(item.get("text") or ""),
                        )
                    )
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor or not items:
                break
        return found

    def remove(self, message: SlackMessage) -> str:
        deleted = self._call("chat_delete", channel=message.channel, ts=message.ts)
        if deleted.get("ok", True):
            return "deleted"
        if deleted.get("error") in _GONE:
            return "gone"
        edited = self._call(
            "chat_update", channel=message.channel, ts=message.ts, text=NEUTRAL_TEXT, blocks=[]
        )
        if edited.get("ok", True):
            return "neutralised"
        return "gone" if edited.get("error") in _GONE else "left"


class RedisConversationKeys:
    """``ConversationKeys`` in Redis: the gateways' turn locks and rate-limit windows and
    Rasa's lock store name keys after the conversation (or the Telegram chat)."""

    def __init__(self, url: str) -> None:
        from redis import Redis

        self._redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def find(self, conversation_ids: Sequence[str], telegram_chats: Sequence[str]) -> list[str]:
        from redis.exceptions import RedisError

        wanted = set(conversation_ids)
        chats = {f"telegram:{chat}" for chat in telegram_chats}
        found: list[str] = []
        try:
            for raw in self._redis.scan_iter(match=f"{KEY_PREFIX}*", count=1000):
                key = raw.decode() if isinstance(raw, bytes) else str(raw)
                parts = key.split(":")
                tail = ":".join(parts[-2:])
                if parts[-1] in wanted or tail in chats:
                    found.append(key)
        except (RedisError, OSError) as problem:
            raise OutsideUnavailable(f"Redis unreachable: {type(problem).__name__}") from None
        return sorted(found)

    def delete(self, keys: Sequence[str]) -> int:
        from redis.exceptions import RedisError

        if not keys:
            return 0
        try:
            return int(self._redis.delete(*keys))
        except (RedisError, OSError) as problem:
            raise OutsideUnavailable(f"Redis unreachable: {type(problem).__name__}") from None

    def close(self) -> None:
        self._redis.close()


def whole_word(needle: str) -> re.Pattern[str]:
    """``needle`` standing on its own (a chat id inside a longer number is not it)."""
    return re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])", re.IGNORECASE)


def stores_for(settings: Settings) -> OutsideStores:
    """The real Slack desk and Redis of these settings (None where not configured)."""
    slack = None
    if settings.slack is not None:
        slack = SlackWebMessages(
            settings.slack.bot_token, settings.slack.api_url, settings.slack.escalation_channel
        )
    keys = RedisConversationKeys(settings.redis_url) if settings.redis_url else None
    return OutsideStores(slack, keys)
