"""Reading the NLU's ranking: the complaint behind a message read as something else."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from actions.context import business
from rasa_addons.complaint_signals import Thresholds, Vocabulary, complaint_intent, gather
from redress.complaints.categories import Category


def complaint_behind(tracker: Tracker, min_confidence: float) -> Category | None:
    """The most likely complaint category among the intents ranked for the latest message,
    if one is at least ``min_confidence``."""
    ranked = [
        (Category.from_intent(r.get("name")), float(r.get("confidence") or 0))
        for r in tracker.latest_message.get("intent_ranking", [])
    ]
    found = [(c, p) for c, p in ranked if c is not None and p >= min_confidence]
    return max(found, key=lambda cp: cp[1])[0] if found else None


@lru_cache(maxsize=4)
def _vocabulary(products: tuple[tuple[str, tuple[str, ...]], ...]) -> Vocabulary:
    return Vocabulary(dict(products))


def complaint_told(tracker: Tracker) -> Category | None:
    """The complaint in a message the NLU read as a yes or no, a request for an update or
    details, by the NLU's own complaint detector (parse data ``complaint_first``) or, without
    one, by the same complaint-first rules it applies to off-topic and misunderstood messages
    (rasa_addons/complaint_signals.py), with the business's words. Used only when the
    conversation has no open complaint, so "any news?" about a logged one is an update."""
    text = str(tracker.latest_message.get("text") or "")
    ranking = tracker.latest_message.get("intent_ranking") or []
    seen = tracker.latest_message.get("complaint_first") or {}
    p, threshold = seen.get("p_complaint"), seen.get("detector_threshold")
    if isinstance(p, float | int) and isinstance(threshold, float | int):
        likely = Category.from_intent(seen.get("likely_complaint"))
        return (likely or Category.OTHER) if p >= threshold else None
    words = _vocabulary(tuple(sorted(business().products.items())))
    evidence = gather(text, ranking, words)
    return Category.from_intent(complaint_intent("out_of_scope", evidence, Thresholds()))
