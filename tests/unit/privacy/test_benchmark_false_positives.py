"""The detector on a few hundred public benchmark texts, the ones most likely to fool it: those
with the longest numbers (order ids that pass the Luhn check among them) and those that talk
about a password, passcode or PIN. None holds a card or an IBAN, and the one PIN among them is
one the speaker states. The full measurement is scripts/privacy_false_positives.py
(docs/privacy.md)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from redress.privacy.detect import Kind
from scripts import privacy_false_positives as measure

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("REDRESS_BENCHMARK_DATA", str(REPO.parent / "shared" / "data")))
LONGEST_NUMBERS = 60
ABOUT_SECRETS = 40
SECRET_WORDS = re.compile(r"\b(?:pass\s?word|passcode|pin)\b", re.IGNORECASE)


def _longest_number(text: str) -> int:
    return max((len(run) for run in re.findall(r"\d+", text)), default=0)


def _hardest(texts: list[str]) -> list[str]:
    with_numbers = sorted((t for t in texts if _longest_number(t) >= 4), key=_longest_number)
    about_secrets = [t for t in texts if SECRET_WORDS.search(t)]
    return list(dict.fromkeys(with_numbers[::-1][:LONGEST_NUMBERS] + about_secrets[:ABOUT_SECRETS]))


@pytest.fixture(scope="module")
def sample() -> list[str]:
    if not DATA.is_dir():
        pytest.skip(f"the public benchmarks are not at {DATA} (set REDRESS_BENCHMARK_DATA)")
    texts: list[str] = []
    for load in measure.DATA_SETS.values():
        texts += _hardest(measure.distinct(load(DATA)))
    return texts


def test_the_sample_is_a_few_hundred_texts_with_long_numbers(sample: list[str]) -> None:
    assert len(sample) >= 300
    assert sum(_longest_number(text) >= 13 for text in sample) >= 10


@pytest.mark.parametrize("kind", [Kind.CARD, Kind.IBAN])
def test_no_card_or_iban_in_benchmark_texts(sample: list[str], kind: Kind) -> None:
    counts = measure.count_findings(sample)
    wrongly = [measure.shown(text, found) for text, found in counts.examples[kind]]
    assert counts.by_kind[kind] == 0, wrongly


STATED_PIN = re.compile(r"\bpin\s*(?:is\s*|:\s*)?$", re.IGNORECASE)


def test_no_password_in_benchmark_texts_but_a_pin_the_speaker_states(sample: list[str]) -> None:
    """CLINC150 holds one utterance that sets a PIN ("make my pin" and four digits): a PIN the
    customer typed, rightly found. Anything else found as a password is wrong."""
    counts = measure.count_findings(sample)
    wrongly = [
        measure.shown(text, found)
        for text, found in counts.examples[Kind.PASSWORD]
        if not (
            re.fullmatch(r"\d{4}", text[found.start : found.end])
            and STATED_PIN.search(text[: found.start])
        )
    ]
    assert wrongly == []
    assert counts.by_kind[Kind.PASSWORD] <= 1
