"""Builds the spaCy pipeline that Rasa's SpacyNLP loads.

Pretrained English pipelines cannot be downloaded on the machines Redress is built on, and the
copies on PyPI do not load in spaCy 3.4, so the pipeline is assembled here from what installs:
a blank English tokenizer, lookup lemmas from spacy-lookups-data, and an entity ruler with the
patterns in nlp/patterns.yml. The output is rebuilt from source, never committed.

Usage: python nlp/build.py OUTPUT_DIR
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import spacy
import yaml

PATTERNS_FILE = Path(__file__).with_name("patterns.yml")
logger = logging.getLogger("redress.nlp.build")


def load_patterns(path: Path = PATTERNS_FILE) -> list[dict[str, Any]]:
    """Reads the entity patterns as entity-ruler entries (one per token pattern)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        {"label": label, "pattern": pattern, "id": f"{label}-{index}"}
        for label, patterns in raw.items()
        for index, pattern in enumerate(patterns)
    ]


def build(output: Path) -> spacy.language.Language:
    """Assembles the pipeline and writes it to ``output``."""
    nlp = spacy.blank("en")
    # Lookup lemmas need no trained tagger; tables come from spacy-lookups-data.
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    nlp.initialize()
    ruler.add_patterns(load_patterns())
    nlp.meta["name"] = "redress"
    nlp.meta["description"] = "Blank English with lookup lemmas and Redress entity patterns"
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return nlp


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python nlp/build.py OUTPUT_DIR\n")
        return 2
    nlp = build(Path(argv[1]))
    doc = nlp("my account BL-204518, postcode LS6 2AB, down since Monday, 3 days, charged £45")
    found = ", ".join(f"{ent.label_}={ent.text!r}" for ent in doc.ents)
    sys.stdout.write(f"built spaCy pipeline in {argv[1]} ({found})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
