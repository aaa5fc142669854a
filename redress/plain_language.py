"""Checks that customer-facing text is plain, short and owns the problem (docs/principles.md: 2, 3).

Readability is the Flesch reading ease score, computed here with a standard vowel-group
syllable count so the check has no downloads behind it. The tests run these checks over every
text a customer can see: domain responses, business configuration and gateway messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_READING_EASE = 60.0
MAX_SENTENCE_WORDS = 25
MIN_WORDS_FOR_SCORE = 3

# Phrases that shift blame or hide behind rules. Matched case-insensitively on word bounds.
BLAME_PHRASES = (
    "not our fault", "isn't our fault", "is not our fault", "wasn't our fault", "no fault of ours",
    "our supplier", "our suppliers", "our partner", "our partners", "our contractor",
    "our contractors", "third party", "third-party", "beyond our control", "out of our control",
    "outside our control", "out of our hands", "as per policy", "per our policy",
    "company policy", "our policy states", "other department", "another department",
    "your fault", "you should have", "you failed to", "you must have", "user error",
    "the weather", "nothing we can do", "not our responsibility", "not responsible for",
    "openreach", "the network operator", "we apologise for any inconvenience",
    "sorry for any inconvenience", "sorry if you feel",
)  # fmt: skip
JARGON = (
    "ticket", "escalate", "escalation", "sla", "dns", "latency", "packet loss", "backhaul",
    "olt", "ont", "dslam", "provisioning", "remediation", "root cause", "rca", "bandwidth",
    "throughput", "noc", "p1", "mttr", "aforementioned", "hereby", "pursuant", "utilise",
    "per se", "synchronisation", "intent", "nlu", "fallback", "slot", "payload",
)  # fmt: skip

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.:/]*")


@dataclass(frozen=True)
class TextProblem:
    text: str
    problem: str


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if _WORD.search(s)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def count_syllables(word: str) -> int:
    """Estimates syllables by counting vowel groups, with the usual English corrections."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return 1  # numbers read as one unit in short messages
    if len(letters) <= 3:
        return 1
    letters = re.sub(r"(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$", lambda m: m[0][0], letters)
    letters = re.sub(r"^y", "", letters)
    groups = re.findall(r"[aeiouy]+", letters)
    return max(1, len(groups))


def reading_ease(text: str) -> float:
    """Flesch reading ease: 206.835 - 1.015 (words/sentences) - 84.6 (syllables/words)."""
    all_words = words(text)
    if not all_words:
        return 100.0
    sentence_count = max(1, len(sentences(text)))
    syllables = sum(count_syllables(w) for w in all_words)
    return 206.835 - 1.015 * (len(all_words) / sentence_count) - 84.6 * (syllables / len(all_words))


def check_text(text: str) -> list[TextProblem]:
    """Every way ``text`` falls short of the voice in docs/principles.md."""
    problems: list[TextProblem] = []
    lowered = text.lower()
    for phrase in BLAME_PHRASES:
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", lowered):
            problems.append(TextProblem(text, f"blame-shifting phrase {phrase!r}"))
    for term in JARGON:
        if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", lowered):
            problems.append(TextProblem(text, f"jargon {term!r}"))
    for sentence in sentences(text):
        count = len(words(sentence))
        if count > MAX_SENTENCE_WORDS:
            problems.append(TextProblem(text, f"sentence of {count} words: {sentence!r}"))
    score = reading_ease(text)
    # The formula means nothing for a fragment such as "Typing…" or a button title.
    if len(words(text)) >= MIN_WORDS_FOR_SCORE and score < MIN_READING_EASE:
        problems.append(
            TextProblem(text, f"reading ease {score:.0f} is below {MIN_READING_EASE:.0f}")
        )
    return problems
