"""Complaint first: is this message a complaint, whatever else the classifier thought it was?

A customer who writes "signal round here is pathetic" or "how is my bill this high??" has
been let down, and must get the apology and a category, not "I didn't follow", "I can only
help with..." or "I can tell you're really angry". The classifier alone misses such messages
when their words are not in its training data (another business's jargon, a product it has
never seen) or when their tone looks like something else (anger read as abuse, a question
read as off-topic). So after it has ranked the intents, this weighs two more kinds of
evidence:

- how much of the classifier's confidence went to complaint intents at all (``mass``),
  even when no single one of them came first;
- what the message says: the words customers use when something has gone wrong
  (``cues``: "still", "broken", "never arrived", "charged twice", "worst", "#fail", ...),
  and the business's own words for what it sells (business/products.yml: "signal",
  "the app", "no lights"), so a business can teach it its vocabulary without training data.

Abuse stays abuse only when no complaint is in it: an insult together with a problem about a
product or service is taken as the complaint (severity reads the anger).

Standard library and PyYAML only, so it runs in the Rasa pipeline (rasa_addons/
complaint_first.py) and is tested from either Python environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COMPLAINT_PREFIX = "complain_"
OTHER = "complain_other"
FALLBACK = "nlu_fallback"


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(patterns) + r")(?![\w])", re.IGNORECASE)


# Something has gone wrong: each of these counts one.
STRONG_CUES = _words(
    r"(not|n'?t|never|no longer|stopped|refuses? to|unable to) (work|working|worked|load|loading|"
    r"open|opening|turn(ing)? on|charg(e|ing)|connect(ing)?|arrive[ds]?|come|came|show(ed|n)? up|"
    r"deliver(ed)?|fix(ed)?|respond(ing|ed)?|repl(y|ied)|answer(ing|ed)?|sync(ing)?|track(ing)?)",
    r"(does|did|do|is|was|are|were|has|have|had|wo|ca|could|would)n'?t (work|load|open|start|"
    r"arrive|come|charge|connect|turn on|get|receive|let me|help|fix|reply|respond|answer)",
    r"broke(n)?", r"break(s|ing)?", r"faulty", r"fault", r"defect(ive)?", r"damaged", r"smashed",
    r"cracked", r"crash(es|ed|ing)?", r"froze", r"freez(e|es|ing)", r"glitch(es|y)?", r"bug(s|gy)?",
    r"error( code)?", r"outage", r"(is|are|been|still|went|gone|keeps? going) down", r"dead",
    r"died", r"cut(s|ting)? (off|out)", r"keeps? (dropping|crashing|freezing|buffering|"
    r"disconnecting|logging|cutting|failing|breaking|saying)", r"no (signal|service|internet|"
    r"wifi|power|electricity|water|heating|gas|connection|coverage|bars|reply|response|answer|"
    r"one|body|help|refund|update|information|info)", r"nobody", r"no[- ]one",
    r"(still|yet to|never) (waiting|not|no|hasn'?t|haven'?t|have not|has not|nothing|broken|"
    r"down|received|arrived|got|heard)",
    r"late", r"delay(s|ed)?", r"cancel+(ed|ing|ation|s)?", r"missing", r"lost", r"wrong",
    r"overcharg(e|ed|ing)", r"charged (me )?(twice|double|again|extra|for)", r"double charged",
    r"rip(ped)? ?off", r"scam(med)?", r"refund", r"money back", r"compensation",
    r"complain(t|ts|ed|ing)?", r"disappoint(ed|ing|ment)", r"terrible", r"awful", r"horrible",
    r"horrendous", r"worst", r"poor", r"rubbish", r"garbage", r"trash", r"useless", r"pathetic",
    r"shambles", r"joke", r"ridiculous", r"unacceptable", r"shocking", r"disgrace(ful)?",
    r"disgust(ed|ing)", r"appalling", r"outrageous", r"fed up", r"sick of", r"frustrat(ed|ing)",
    r"annoy(ed|ing)", r"angry", r"furious", r"fuming", r"livid", r"rude", r"ignor(ed|ing)",
    r"on hold", r"waste of", r"wasted", r"never again", r"neveragain", r"fail(ed|s|ing|ure)?",
    r"sort (it|this) out", r"sort it", r"fix (it|this)", r"again\?+", r"\w+fail",
    r"(f+u+c+k|sh[i\*]t|crap|bloody|ffs|wtf|f\*+)\w*",
)  # fmt: skip
# Weaker: often in complaints, often elsewhere too. Each counts a half.
WEAK_CUES = _words(
    r"still", r"again", r"issue(s)?", r"problem(s)?", r"why (is|are|does|do|did|has|have|can'?t|"
    r"won'?t|isn'?t|aren'?t|would|was)", r"what('?s| is) (going on|happening|wrong)",
    r"how (is|come)",
    r"where is my", r"where'?s my", r"(hours|days|weeks|months)", r"waiting", r"waited", r"wait",
    r"help", r"please", r"pls", r"can'?t", r"won'?t", r"doesn'?t", r"isn'?t", r"didn'?t",
    r"not", r"never", r"hate", r"bad", r"slow", r"expensive", r"too much",
)  # fmt: skip


def _terms_pattern(terms: set[str]) -> re.Pattern[str] | None:
    """Whole words or phrases, longest first, a plural "s" allowed, any spacing or hyphen."""
    if not terms:
        return None
    ordered = sorted(terms, key=len, reverse=True)
    return _words(*(re.escape(t).replace(r"\ ", r"[\s-]+") + "(?:e?s)?" for t in ordered))


def _found(pattern: re.Pattern[str] | None, text: str) -> tuple[str, ...]:
    if pattern is None:
        return ()
    return tuple(dict.fromkeys(m.group(0).lower() for m in pattern.finditer(text)))


@dataclass(frozen=True)
class Vocabulary:
    """The business's words for what it sells, and for things it plainly does not provide
    (business/products.yml: ``products`` and ``not_ours``)."""

    products: Mapping[str, tuple[str, ...]]
    not_ours: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ours = {t for words in self.products.values() for t in words}
        elsewhere = {t for words in self.not_ours.values() for t in words} - ours
        object.__setattr__(self, "_pattern", _terms_pattern(ours))
        object.__setattr__(self, "_elsewhere", _terms_pattern(elsewhere))

    def mentioned(self, text: str) -> tuple[str, ...]:
        """The business's words in ``text``, as written there (lower case), first first."""
        return _found(getattr(self, "_pattern", None), text)

    def elsewhere(self, text: str) -> tuple[str, ...]:
        """Words in ``text`` for things the business does not provide ("pizza", "flight")."""
        return _found(getattr(self, "_elsewhere", None), text)


def not_ours(text: str, vocabulary: Vocabulary | None) -> str | None:
    """What a message is about when that is plainly something the business does not provide:
    the first such word, provided none of the business's own words is in the message too
    ("my pizza was cold" -> "pizza"; "pizza night ruined, wifi down again" -> None)."""
    if vocabulary is None or vocabulary.mentioned(text):
        return None
    found = vocabulary.elsewhere(text)
    return found[0] if found else None


class VocabularyError(ValueError):
    """business/products.yml is missing or not what it should be."""


def _word_lists(section: Any, key: str, source: str, entry_key: str | None) -> dict:
    """A products.yml section: names mapped to lists of words (``{name: {words: [...]}}``
    when ``entry_key`` is 'words', ``{name: [...]}`` when it is None)."""
    if not isinstance(section, dict):
        raise VocabularyError(f"{source}: expected a '{key}:' mapping of names to words")
    lists: dict[str, tuple[str, ...]] = {}
    for name, entry in section.items():
        if entry_key is None:
            words = entry
        else:
            words = entry.get(entry_key) if isinstance(entry, dict) else None
        if not isinstance(words, list) or not words:
            what = f"a non-empty '{entry_key}' list" if entry_key else "a non-empty list of words"
            raise VocabularyError(f"{source}: {key} '{name}' needs {what}")
        cleaned = []
        for word in words:
            if not isinstance(word, str | int | float) or not str(word).strip():
                raise VocabularyError(f"{source}: {key} '{name}' has an empty or odd word")
            cleaned.append(" ".join(str(word).lower().split()))
        lists[str(name)] = tuple(cleaned)
    return lists


def parse_products(data: Any, source: str) -> Vocabulary:
    """The vocabulary from products.yml's parsed YAML, or a VocabularyError naming the
    problem (shared by the NLU component and the business configuration check)."""
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict):
        raise VocabularyError(f"{source}: expected a 'products:' mapping of names to words")
    products = _word_lists(data["products"], "product", source, "words")
    elsewhere = _word_lists(data.get("not_ours") or {}, "not_ours", source, None)
    return Vocabulary(products, elsewhere)


def load_vocabulary(path: Path) -> Vocabulary:
    if not path.is_file():
        raise VocabularyError(f"{path} is missing: it lists the business's products and words")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise VocabularyError(f"{path} is not valid YAML: {problem}") from problem
    return parse_products(data, str(path))


@dataclass(frozen=True)
class Evidence:
    mass: float  # the classifier's confidence in complaint intents, all together
    best: str | None  # the most likely complaint intent
    best_share: float  # its share of ``mass``
    cues: float  # STRONG_CUES count one, WEAK_CUES a half
    business_terms: tuple[str, ...]
    # The complaint detector's probability that this is a complaint at all (None without one).
    p_complaint: float | None = None
    # The classifier's confidence in what it put first.
    top_confidence: float = 0.0


@dataclass(frozen=True)
class Thresholds:
    """When a message is taken as a complaint although the classifier ranked something else
    first. Chosen by measurement on the real-text corpus's dev part (docs/real-text.md)."""

    # Intents that a complaint may hide behind. Yes, no, details, updates, a person and
    # compensation are left to the dialogue, which knows what was asked.
    switch_from: frozenset[str] = frozenset(
        {FALLBACK, "out_of_scope", "insult", "greet", "thanks", "goodbye"}
    )
    mass: float | None = 0.30  # complaint intents together at least this (None: not used)
    cues_with_mass: float = 1.0  # or cues this strong and ...
    some_mass: float = 0.05  # ... at least this much complaint mass
    cues_with_business: float = 1.0  # or cues this strong about something the business sells
    insult_cues: float = 1.0  # an insult is a complaint only with cues and a business term
    category_share: float = 0.35  # below this share the category is "other"
    # The complaint detector (rasa_addons/complaint_detector.json), when there is one: at or
    # above ``detector`` a complaint (None: the threshold in the detector's file); an insult
    # needs ``insult_detector`` and a cue; a complaint intent below ``demote_below`` with no
    # cue and none of the business's words is not a complaint after all.
    detector: float | None = None
    # When the classifier put another intent first with at least this confidence, the
    # detector alone is not enough: a cue or a business word must back it (None: always is).
    detector_needs_backing_above: float | None = 0.9
    insult_detector: float = 0.7
    demote_below: float = 0.1
    # The category, when the detector's file has a category model too: the classifier's
    # choice stands when it was at least ``keep_confident`` sure; otherwise the category is
    # the best of the two models' probabilities, ``category_blend`` of it the category model's.
    keep_confident: float = 0.8
    category_blend: float = 0.5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Thresholds:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in config.items() if k in known}
        if "switch_from" in values:
            values["switch_from"] = frozenset(values["switch_from"])
        return cls(**values)


def cue_score(text: str) -> float:
    strong = len(STRONG_CUES.findall(text))
    weak = len(WEAK_CUES.findall(text))
    return strong + 0.5 * weak


def gather(
    text: str,
    ranking: Sequence[Mapping[str, Any]],
    vocabulary: Vocabulary | None,
    p_complaint: float | None = None,
) -> Evidence:
    complaints = [
        (str(r.get("name")), float(r.get("confidence") or 0))
        for r in ranking
        if str(r.get("name", "")).startswith(COMPLAINT_PREFIX)
    ]
    mass = sum(p for _, p in complaints)
    best, best_p = max(complaints, key=lambda c: c[1]) if complaints else (None, 0.0)
    return Evidence(
        mass=round(mass, 4),
        best=best,
        best_share=round(best_p / mass, 4) if mass else 0.0,
        cues=cue_score(text),
        business_terms=vocabulary.mentioned(text) if vocabulary else (),
        p_complaint=p_complaint,
        top_confidence=max((float(r.get("confidence") or 0) for r in ranking), default=0.0),
    )


def complaint_intent(top: str | None, evidence: Evidence, thresholds: Thresholds) -> str | None:
    """The complaint intent to take instead of ``top``, or None to keep ``top``."""
    if top is None or top.startswith(COMPLAINT_PREFIX) or top not in thresholds.switch_from:
        return None
    if evidence.best is None:  # a model without complaint intents, or none ranked at all
        return None
    about_business = bool(evidence.business_terms)
    detected = evidence.p_complaint is not None and thresholds.detector is not None
    p = evidence.p_complaint or 0.0
    if top == "insult":
        is_complaint = (about_business and evidence.cues >= thresholds.insult_cues) or (
            detected and p >= thresholds.insult_detector and evidence.cues >= 1
        )
    else:
        is_complaint = (
            (thresholds.mass is not None and evidence.mass >= thresholds.mass)
            or (
                evidence.cues >= thresholds.cues_with_mass and evidence.mass >= thresholds.some_mass
            )
            or (about_business and evidence.cues >= thresholds.cues_with_business)
            or (detected and p >= (thresholds.detector or 1.0) and _backed(evidence, thresholds))
        )
    if not is_complaint:
        return None
    if evidence.best and evidence.best_share >= thresholds.category_share:
        return evidence.best
    return OTHER


def _backed(evidence: Evidence, thresholds: Thresholds) -> bool:
    """Whether the detector may overrule the classifier's first intent on its own."""
    limit = thresholds.detector_needs_backing_above
    return (
        limit is None
        or evidence.top_confidence < limit
        or evidence.cues >= 1
        or bool(evidence.business_terms)
    )


def not_a_complaint(top: str | None, evidence: Evidence, thresholds: Thresholds) -> bool:
    """A complaint intent ranked first for a message that the detector is nearly sure is no
    complaint, with no cue of one and none of the business's words: small talk that happened
    to look like a complaint to the classifier ("this traffic is killing me")."""
    return bool(
        top
        and top.startswith(COMPLAINT_PREFIX)
        and evidence.p_complaint is not None
        and thresholds.detector is not None
        and evidence.p_complaint < thresholds.demote_below
        and evidence.cues < 1
        and not evidence.business_terms
    )


def revised_category(
    intent: str,
    confidence: float,
    ranking: Sequence[Mapping[str, Any]],
    category_probabilities: Mapping[str, float],
    thresholds: Thresholds,
) -> str:
    """The complaint intent to record for a message taken as a complaint (``intent``, ranked
    with ``confidence``): the classifier's when it was sure, else the one that the category
    model and the classifier's complaint ranking together find likeliest."""
    if intent.startswith(COMPLAINT_PREFIX) and confidence >= thresholds.keep_confident:
        return intent
    ranked = {
        str(r.get("name")): float(r.get("confidence") or 0)
        for r in ranking
        if str(r.get("name", "")).startswith(COMPLAINT_PREFIX)
    }
    mass = sum(ranked.values())
    blend = thresholds.category_blend
    scores = {
        COMPLAINT_PREFIX + category: blend * p
        + (1 - blend) * (ranked.get(COMPLAINT_PREFIX + category, 0.0) / mass if mass else 0.0)
        for category, p in category_probabilities.items()
    }
    return max(scores, key=lambda name: scores[name]) if scores else intent
