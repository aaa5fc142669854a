"""What every action needs: settings, the business configuration, the clock and a database
session. Built on first use, never at import, so tests can point them elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache

from redress.business import Business, load_business
from redress.identity.config import IdentitySettings
from redress.settings import Settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def identity_settings() -> IdentitySettings:
    return IdentitySettings.from_env()


@lru_cache(maxsize=1)
def business() -> Business:
    return load_business(settings().business_dir)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


clock: Callable[[], datetime] = _utc_now


def now() -> datetime:
    return clock()
