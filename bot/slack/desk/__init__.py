"""The agent desk in Slack: what the gateway does there and what agents do there.

- **Cases.** Every case (a logged complaint) is posted to its team's channel
  (``business/teams.yml``) with the case card, and worked there (``cases.py``): claim it,
  say who it waits on, reassign, resolve, promise, reply from its thread.
- **Cards.** Each handoff the assistant (or an operator) requests opens one thread in the
  channel of its conversation's case (else the escalation channel), or joins the case's
  thread there, starting with the context card (``bot/slack/card.py``). A scheduler
  job posts the cards that are due (``post_due``); a failed post is tried again, after
  Slack's ``Retry-After`` when it is rate limited, otherwise with the usual backoff. Errors an
  operator must fix (``channel_not_found``, ``invalid_auth``, ...) also raise an alert. The
  customer is told only what the assistant already said (someone will reply); nobody tells
  them an agent joined until one presses Take over.
- **Buttons.** Take over assigns the agent and silences the assistant; Hand back returns the
  conversation to the assistant, which says so; Resolve closes it and asks the customer
  whether it is fixed, then for a rating (``redress.handoff.feedback``). The card shows who did
  what.
- **While taken over**, each customer message is posted in the thread, and each reply in the
  thread by the agent who took over reaches the customer on their channel under the agent's
  display name, as plain text. Replies starting with ``note:`` stay internal, as do replies
  by anyone else (they are told so).

Slack calls go through ``AsyncWebClient`` (``base_url`` from the settings, so tests use a fake
Web API). Work triggered by Slack runs in background tasks after the acknowledgement; one
lock per thread keeps each thread's work in order. Time comes from an injectable clock.
"""

from __future__ import annotations

from bot.slack.desk.buttons import Buttons
from bot.slack.desk.cases import Cases
from bot.slack.desk.threads import ThreadRelay
from bot.slack.desk.waiting import Waiting


class Desk(Cases, ThreadRelay, Waiting, Buttons):
    """The Slack agent desk: cases, cards, the thread relay, customers' waits and the
    buttons."""


__all__ = ["Desk"]
