"""The Telegram channel: ``channel`` (python-telegram-bot application and handlers),
``sender`` (escaping, splitting, retries) and ``webhook`` (the Starlette endpoint)."""

from bot.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
