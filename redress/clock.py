"""The one clock: timezone-aware UTC now, so every record and every due time agree."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
