"""Reading the NLU's ranking: the complaint behind a message read as something else."""

from __future__ import annotations

from rasa_sdk import Tracker

from redress.complaints import Category


def complaint_behind(tracker: Tracker, min_confidence: float) -> Category | None:
    """The most likely complaint category among the intents ranked for the latest message,
    if one is at least ``min_confidence``."""
    ranked = [
        (Category.from_intent(r.get("name")), float(r.get("confidence") or 0))
        for r in tracker.latest_message.get("intent_ranking", [])
    ]
    found = [(c, p) for c, p in ranked if c is not None and p >= min_confidence]
    return max(found, key=lambda cp: cp[1])[0] if found else None
