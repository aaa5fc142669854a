"""Chooses the complaint-first thresholds (rasa_addons/complaint_signals.py) on the dev part
of the real-text corpus only: never on its test part.

Parses every dev message of the corpus (scripts/realtext.py, ``split_of(id) == "dev"``) with
a trained model, keeps the classifier's ranking, then tries each combination of thresholds
as ComplaintFirst would apply them and prints complaint precision, recall and F1, and the
category accuracy on the labelled dev complaints. The model's own ComplaintFirst component
is bypassed: the ranking is read before it (``instead_of`` when it switched). The detector
was trained on these very messages, so its probabilities here come from five-fold
cross-validation (a model that did not see the message), as scripts/train_complaint_detector.py
trains it.

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
    not_a_complaint,
    revised_category,
)
from rasa_addons.real_text import normalise
from scripts.realtext import default_data_dir, load_corpus, load_labels, split_of

REPO_ROOT = Path(__file__).resolve().parent.parent
MIN_RECALLS = (0.8, 0.85)


def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    logging.disable(logging.WARNING)
    agent = Agent.load(str(model))

    async def run() -> list[dict[str, Any]]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(run())


def out_of_fold(texts: list[str], corpus: list[Any], labels: dict[str, str]) -> tuple[Any, ...]:
    """The detector's complaint probability and category probabilities for each dev message,
    each from a model that did not see that message (five folds, as the trainer trains)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from rasa_addons.sentence_features import SentenceEncoderFeaturizer
    from scripts.train_complaint_detector import CATEGORY_C, CORPUS_WEIGHT, project_examples

    encoder = SentenceEncoderFeaturizer(SentenceEncoderFeaturizer.get_default_config(), "tune")
    written = project_examples()
    own = encoder.sentence_vectors([normalise(t).text for t, _ in written])
    own_complaint = np.asarray([int(i.startswith("complain_")) for _, i in written])
    own_category = [i.removeprefix("complain_") for _, i in written]
    dev = encoder.sentence_vectors(texts)
    is_complaint = np.asarray([int(t.is_complaint) for t in corpus])
    p = np.zeros(len(corpus))
    categories: list[dict[str, float]] = [{} for _ in corpus]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    detector_c = json.loads((REPO_ROOT / "rasa_addons" / "complaint_detector.json").read_text())
    c = detector_c["trained_on"]["C"]
    for train_part, test_part in folds.split(dev, is_complaint):
        model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        model.fit(
            np.vstack([dev[train_part], own]),
            np.concatenate([is_complaint[train_part], own_complaint]),
            sample_weight=[CORPUS_WEIGHT] * len(train_part) + [1.0] * len(written),
        )
        p[test_part] = model.predict_proba(dev[test_part])[:, 1]
        mine = [i for i in train_part if corpus[i].id in labels]
        keep = [k for k, (_, i) in enumerate(written) if i.startswith("complain_")]
        category_model = LogisticRegression(C=CATEGORY_C, max_iter=3000)
        category_model.fit(
            np.vstack([own[keep], dev[mine]]),
            [own_category[k] for k in keep] + [labels[corpus[i].id] for i in mine],
            sample_weight=[1.0] * len(keep) + [CORPUS_WEIGHT] * len(mine),
        )
        for i, row in zip(test_part, category_model.predict_proba(dev[test_part]), strict=True):
            categories[i] = dict(zip(category_model.classes_, map(float, row), strict=True))
    return p, categories


def main(argv: list[str]) -> int:
    model = Path(argv[0]) if argv else REPO_ROOT / "models" / "redress.tar.gz"
    corpus = [t for t in load_corpus(default_data_dir()) if split_of(t.id) == "dev"]
    labels = {i: c for i, (c, s) in load_labels().items() if s == "dev"}
    vocabulary = load_vocabulary(REPO_ROOT / "business" / "products.yml")
    texts = [normalise(t.text).text for t in corpus]
    parsed = parse_all(model, [t.text for t in corpus])
    p_complaint, category_probabilities = out_of_fold(texts, corpus, labels)
    rows = []
    for k, (tweet, parse) in enumerate(zip(corpus, parsed, strict=True)):
        decision = parse.get("complaint_first") or {}
        top = decision.get("instead_of") or parse["intent"]["name"]
        ranking = parse.get("intent_ranking") or []
        confidence = next((float(r["confidence"]) for r in ranking if r["name"] == top), 0.0)
        # The evidence does not depend on the thresholds: gathered once per message.
        evidence = gather(texts[k], ranking, vocabulary, float(p_complaint[k]))
        rows.append((tweet, top, confidence, ranking, evidence, category_probabilities[k]))
    grid = {
        "detector": [0.3, 0.35, 0.4, 0.45, 0.5, 0.55],
        "demote_below": [0.1, 0.2, 0.3, 0.4],
        "mass": [0.3, 0.5, None],
        "cues_with_mass": [1.0, 9.0],
        "keep_confident": [0.8, 0.95],
        "category_blend": [0.0, 0.3, 0.5, 0.7, 0.9],
        "detector_needs_backing_above": [0.7, 0.9],
    }
    results = []
    for values in itertools.product(*grid.values()):
        thresholds = replace(Thresholds(), **dict(zip(grid, values, strict=True)))
        tp = fp = fn = right = 0
        for tweet, top, confidence, ranking, evidence, category in rows:
            intent = complaint_intent(top, evidence, thresholds)
            if intent is None and not_a_complaint(top, evidence, thresholds):
                intent = "out_of_scope"
            final = intent or top
            if final.startswith("complain_"):
                sure = confidence if intent is None else 0.0
                final = revised_category(final, sure, ranking, category, thresholds)
            complaint = final.startswith("complain_")
            tp += complaint and tweet.is_complaint
            fp += complaint and not tweet.is_complaint
            fn += (not complaint) and tweet.is_complaint
            right += tweet.id in labels and final == f"complain_{labels[tweet.id]}"
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        results.append((f1, precision, recall, right / max(1, len(labels)), values))
    print(json.dumps({"dev_messages": len(rows), "labelled": len(labels), "grid": grid}))
    print("by F1 of complaint or not:")
    print("f1      precision recall  category  " + " ".join(grid))
    for f1, precision, recall, accuracy, values in sorted(results, reverse=True)[:12]:
        print(f"{f1:.3f}   {precision:.3f}     {recall:.3f}   {accuracy:.3f}     {values}")
    for least in MIN_RECALLS:
        print(f"by F1, recall at least {least} (a missed complaint costs more than a false one):")
        for f1, precision, recall, accuracy, values in sorted(
            (r for r in results if r[2] >= least), reverse=True
        )[:8]:
            print(f"{f1:.3f}   {precision:.3f}     {recall:.3f}   {accuracy:.3f}     {values}")
    print("by category accuracy:")
    for f1, precision, recall, accuracy, values in sorted(results, key=lambda r: -r[3])[:8]:
        print(f"{f1:.3f}   {precision:.3f}     {recall:.3f}   {accuracy:.3f}     {values}")
    default = Thresholds(
        detector=json.loads((REPO_ROOT / "rasa_addons" / "complaint_detector.json").read_text())[
            "threshold"
        ]
    )
    print("as configured:", {k: getattr(default, k) for k in grid})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
