"""The Telegram channel: ``channel`` (python-telegram-bot application and handlers),
``intake`` (each update checked and written down before it is acknowledged, with ``inbound``
and ``inbox``), ``own_answers`` (what the gateway answers itself), ``sender`` (escaping,
splitting, retries) and ``webhook`` (the Starlette endpoint)."""

from bot.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
