"""Chooses the complaint-first thresholds (rasa_addons/complaint_signals.py) on the dev part
of the real-text corpus only: never on its test part.

Parses every dev message of the corpus (scripts/realtext.py, ``split_of(id) == "dev"``) with
a trained model, keeps the classifier's ranking, then tries each combination of thresholds
as ComplaintFirst would apply them and prints complaint precision, recall and F1, and the
category accuracy on the labelled dev complaints. The model's own ComplaintFirst component
is bypassed: the ranking is read before it (``instead_of`` when it switched).

    PYTHONPATH=. .venv-rasa/bin/python scripts/tune_complaint_first.py [MODEL]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from rasa_addons.complaint_signals import (
    Thresholds,
    complaint_intent,
    gather,
    load_vocabulary,
)
from rasa_addons.real_text import normalise
from scripts.realtext import default_data_dir, load_corpus, load_labels, split_of

REPO_ROOT = Path(__file__).resolve().parent.parent


def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    logging.disable(logging.WARNING)
    agent = Agent.load(str(model))

    async def run() -> list[dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    model = Path(argv[0]) if argv else REPO_ROOT / "models" / "redress.tar.gz"
    corpus = [t for t in load_corpus(default_data_dir()) if split_of(t.id) == "dev"]
    labels = {i: c for i, (c, s) in load_labels().items() if s == "dev"}
    vocabulary = load_vocabulary(REPO_ROOT / "business" / "products.yml")
    parsed = parse_all(model, [t.text for t in corpus])
    rows = []
    for tweet, parse in zip(corpus, parsed, strict=True):
        decision = parse.get("complaint_first") or {}
        top = decision.get("instead_of") or parse["intent"]["name"]
        # ComplaintFirst reads the normalised text, as the pipeline gives it.
        rows.append((tweet, top, parse.get("intent_ranking") or [], normalise(tweet.text).text))
    grid = {
        "mass": [0.2, 0.3, 0.4, 0.5],
        "cues_with_mass": [1.0, 1.5, 2.0],
        "some_mass": [0.02, 0.05, 0.1],
        "cues_with_business": [1.0, 1.5, 2.0, 99.0],
    }
    results = []
    for values in itertools.product(*grid.values()):
        thresholds = replace(Thresholds(), **dict(zip(grid, values, strict=True)))
        tp = fp = fn = right = 0
        for tweet, top, ranking, text in rows:
            switched = complaint_intent(top, gather(text, ranking, vocabulary), thresholds)
            intent = switched or top
            complaint = intent.startswith("complain_")
            tp += complaint and tweet.is_complaint
            fp += complaint and not tweet.is_complaint
            fn += (not complaint) and tweet.is_complaint
            right += tweet.id in labels and intent == f"complain_{labels[tweet.id]}"
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        results.append((f1, precision, recall, right / max(1, len(labels)), values))
    results.sort(reverse=True)
    print(json.dumps({"dev_messages": len(rows), "labelled": len(labels), "grid": grid}))
    print("f1      precision recall  category  " + " ".join(grid))
    for f1, precision, recall, accuracy, values in results[:15]:
        print(f"{f1:.3f}   {precision:.3f}     {recall:.3f}   {accuracy:.3f}     {values}")
    default = Thresholds()
    print("as configured:", {k: getattr(default, k) for k in grid})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
