"""The held-out NLU file measures how the assistant understands messages it has never seen,
so none of its messages may be in the training data (compared as a customer would write
them, ignoring case, entity annotations and surrounding spaces)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from redress.settings import REPO_ROOT

HELDOUT = REPO_ROOT / "tests" / "nlu" / "heldout.yml"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _examples(path: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
        if "intent" not in item:
            continue
        for line in item["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = ANNOTATION.sub(r"\1", line[2:])
                found.append((item["intent"], " ".join(text.lower().split())))
    return found


def test_no_held_out_message_is_trained_on() -> None:
    trained = {text for path in (REPO_ROOT / "data").rglob("*.yml") for _, text in _examples(path)}
    shared = [(intent, text) for intent, text in _examples(HELDOUT) if text in trained]
    assert not shared, f"held-out messages also in data/: {shared}"


def test_the_held_out_file_covers_every_intent_it_is_reported_on() -> None:
    held = _examples(HELDOUT)
    repeated = [text for text, n in Counter(text for _, text in held).items() if n > 1]
    assert not repeated, f"held-out messages written twice: {repeated}"
    domain_intents: set[str] = set()
    for path in (REPO_ROOT / "domain").glob("*.yml"):
        domain_intents |= set(yaml.safe_load(path.read_text("utf-8")).get("intents") or [])
    per_intent = Counter(intent for intent, _ in held)
    assert set(per_intent) <= domain_intents
    complaints = {i for i in domain_intents if i.startswith("complain_")}
    assert all(per_intent[i] >= 20 for i in complaints), per_intent
    assert per_intent["ask_compensation"] >= 12 and per_intent["out_of_scope"] >= 30
