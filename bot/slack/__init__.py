"""The Slack agent desk: ``desk`` (cards, threads, agents' replies and buttons, through the
Slack Web API and the relay) and ``app`` (slack_bolt's AsyncApp in HTTP or Socket Mode, with
each delivery processed once)."""

from bot.slack.app import SlackChannel
from bot.slack.desk import Desk

__all__ = ["Desk", "SlackChannel"]
