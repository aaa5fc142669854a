"""Checks the action server's answers against Rasa's schema without rebuilding the checker
for every answer.

Rasa validates every custom action's response with ``jsonschema.validate``, which checks the
schema itself against JSON Schema's meta-schema and builds a new validator each time: about
29 ms of CPU per action call here, a fifth of Rasa's CPU per turn in the serving benchmark
(py-spy; docs/performance.md). The schema never changes, so it is checked once and one
validator is kept; a valid answer then costs under a millisecond. An invalid answer goes
through Rasa's own method, so the error and its message are exactly Rasa's.

It also makes a failed action visible to the gateway. When the action server is down, slow
or answers with an error, Rasa logs it, carries on without the action's events, and often
ends the turn with its fallback ("I lost my place there…"), which the gateway would show as
an answer. Here a failed call adds ``{"custom": {"redress": "action_failed"}}`` to the
turn's collected replies, so the gateway treats the turn as unanswered and says so honestly.
"""

from __future__ import annotations

import os
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.exceptions import RasaException

DEFAULT_ACTION_TIMEOUT_SECONDS = 8.0

# What the gateway looks for in a turn's replies (bot/rasa_client.py).
ACTION_FAILED = {"redress": "action_failed"}

_installed = False


def install() -> None:
    """Replaces ``RemoteAction._validate_action_result`` in this process (once)."""
    global _installed
    if _installed:
        return
    schema = RemoteAction.action_response_format_spec()
    checker = validators.validator_for(schema)
    checker.check_schema(schema)
    validator = checker(schema)
    rasas_own = RemoteAction._validate_action_result

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        same_schema = (
            type(self).action_response_format_spec is RemoteAction.action_response_format_spec
        )
        if same_schema and exceptions.best_match(validator.iter_errors(result)) is None:
            return True
        return rasas_own(self, result)  # raises Rasa's ValidationError, or another schema

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _mark_failures()
    _limit_action_time()
    _installed = True


def _mark_failures() -> None:
    """Wraps ``RemoteAction.run`` so that a failed call is noted in the turn's replies."""
    rasas_run = RemoteAction.run

    async def run(self: RemoteAction, output_channel: Any, *args: Any, **kwargs: Any) -> Any:
        if failed_already(output_channel):
            # The turn is already lost: no more waiting on the action server, so a turn lasts
            # at most one action timeout and ends well inside the conversation's lock.
            raise RasaException(f"not running '{self.name()}': an action failed this turn")
        try:
            return await rasas_run(self, output_channel, *args, **kwargs)
        except ActionExecutionRejection:
            raise  # a form declining a message: part of the conversation, not a failure
        except Exception as failure:
            if isinstance(output_channel, CollectingOutputChannel):
                marked = {**ACTION_FAILED, "action": self.name(), "error": type(failure).__name__}
                output_channel.messages.append({"custom": marked})
            raise

    RemoteAction.run = run  # type: ignore[method-assign]


def failed_already(output_channel: Any) -> bool:
    messages = getattr(output_channel, "messages", None) or []
    return any(
        (m.get("custom") or {}).get("redress") == ACTION_FAILED["redress"]
        for m in messages
        if isinstance(m, dict)
    )


def _limit_action_time() -> None:
    """Each call to the action server waits ACTION_TIMEOUT_SECONDS (8 s by default), not
    Rasa's 5 minutes: a stuck action fails the turn (the gateway keeps the message) long
    before the gateway gives up (RASA_TIMEOUT_SECONDS, 30 s) or the conversation's lock in
    Rasa expires (60 s), so two turns of one conversation never run at once."""
    import rasa.core.actions.action as rasa_actions

    raw = os.environ.get("ACTION_TIMEOUT_SECONDS", "").strip()
    seconds = float(raw) if raw else DEFAULT_ACTION_TIMEOUT_SECONDS
    if not 1 <= seconds <= 60:
        raise SystemExit(f"ACTION_TIMEOUT_SECONDS must be between 1 and 60, not {raw}.")
    rasa_actions.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]
