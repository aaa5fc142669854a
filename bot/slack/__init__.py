"""Slack, where agents take over handoffs and operators see alerts: ``desk/`` (cards, the
thread relay, customers' waits and the buttons), ``card.py`` and ``card_sections.py`` (the
context card), ``blocks.py`` and ``text.py`` (Block Kit pieces and Slack text), ``alerts.py``
(operator alerts), ``worker.py`` (calls with retries) and ``app.py`` (slack_bolt's AsyncApp in
HTTP or Socket Mode, with each delivery processed once)."""

from bot.slack.app import SlackChannel
from bot.slack.desk import Desk

__all__ = ["Desk", "SlackChannel"]
