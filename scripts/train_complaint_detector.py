"""Trains the complaint detector that ComplaintFirst uses (rasa_addons/complaint_first.py):
is this message a complaint at all, whatever its category?

A logistic regression on the sentence encoder's vector of each message (the same vector DIET
gets, rasa_addons/sentence_features.py), trained on

- the project's own training data (data/nlu/): complaint intents are complaints, every other
  intent is not;
- the dev part of the real-text corpus (scripts/realtext.py: the ids whose hash puts them in
  ``dev``), with the corpus authors' complaint / not labels. The test part is never read.

The tweets stay in the shared data folder; what is written to the repository is the
regression's 384 weights and bias, the threshold, and where they came from
(``rasa_addons/complaint_detector.json``). The same inputs give the same file (liblinear is
deterministic), so anyone with the shared data can repeat it:

    PYTHONPATH=. .venv-rasa/bin/python scripts/train_complaint_detector.py [--data DIR]

It also prints five-fold cross-validated precision, recall and F1 on the corpus's dev part,
which is how the regularisation and the threshold are chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from rasa_addons.real_text import normalise  # noqa: E402
from scripts.realtext import (  # noqa: E402
    CATEGORIES,
    CORPUS_FILE,
    default_data_dir,
    labelled,
    load_corpus,
    load_labels,
    split_of,
)

OUT = ROOT / "rasa_addons" / "complaint_detector.json"
CORPUS_WEIGHT = 2.0  # a real message counts twice a written training example
C_VALUES = (0.5, 1.0, 2.0, 4.0, 8.0)
CATEGORY_C = 4.0
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(4, 17))


def project_examples() -> list[tuple[str, str]]:
    """(text, intent) of every training example in data/nlu/."""
    examples: list[tuple[str, str]] = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            intent = str(block.get("intent", ""))
            if not intent:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((line[2:], intent))
    return examples


def train_categories(encoder: Any, data: Path, written: list[tuple[str, str]]) -> dict[str, Any]:
    """Which category a complaint is, from its sentence vector: a multinomial logistic
    regression on the project's complaint examples and our labelled dev complaints
    (tests/nlu/realtext/labels.csv, dev part only; the test part is never read)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    dev = labelled(load_corpus(data), load_labels(), "dev")
    own = [(t, i.removeprefix("complain_")) for t, i in written if i.startswith("complain_")]
    own_vectors = encoder.sentence_vectors([normalise(t).text for t, _ in own])
    dev_vectors = encoder.sentence_vectors([normalise(t.text).text for t, _ in dev])
    own_labels = [c for _, c in own]
    dev_labels = [c for _, c in dev]
    folds = KFold(n_splits=5, shuffle=True, random_state=42)
    right = 0
    for train_part, test_part in folds.split(dev_vectors):
        model = LogisticRegression(C=CATEGORY_C, max_iter=3000)
        model.fit(
            np.vstack([own_vectors, dev_vectors[train_part]]),
            own_labels + [dev_labels[i] for i in train_part],
            sample_weight=[1.0] * len(own) + [CORPUS_WEIGHT] * len(train_part),
        )
        predicted = model.predict(dev_vectors[test_part])
        right += sum(p == dev_labels[i] for p, i in zip(predicted, test_part, strict=True))
    accuracy = right / len(dev)
    print(f"categories: cross-validated accuracy {accuracy:.3f} on {len(dev)} dev complaints")
    model = LogisticRegression(C=CATEGORY_C, max_iter=3000)
    model.fit(
        np.vstack([own_vectors, dev_vectors]),
        own_labels + dev_labels,
        sample_weight=[1.0] * len(own) + [CORPUS_WEIGHT] * len(dev),
    )
    classes = [str(c) for c in model.classes_]
    if sorted(classes) != sorted(CATEGORIES):
        raise SystemExit(f"categories: training data lacks some of {CATEGORIES}: {classes}")
    return {
        "classes": classes,
        "bias": [round(float(b), 6) for b in model.intercept_],
        "weights": [[round(float(w), 6) for w in row] for row in model.coef_],
        "trained_on": {
            "written_complaints": len(own),
            "labelled_dev_complaints": len(dev),
            "C": CATEGORY_C,
            "cross_validated_accuracy": round(accuracy, 4),
        },
    }


def f1_at(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, ...]:
    chosen = probabilities >= threshold
    tp = float(np.sum(chosen & (labels == 1)))
    precision = tp / max(float(np.sum(chosen)), 1.0)
    recall = tp / max(float(np.sum(labels == 1)), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from rasa_addons.sentence_features import SentenceEncoderFeaturizer

    encoder = SentenceEncoderFeaturizer(SentenceEncoderFeaturizer.get_default_config(), "train")
    corpus = [t for t in load_corpus(args.data) if split_of(t.id) == "dev"]
    written = project_examples()
    texts = [normalise(t.text).text for t in corpus] + [normalise(t).text for t, _ in written]
    labels = np.asarray(
        [int(t.is_complaint) for t in corpus]
        + [int(intent.startswith("complain_")) for _, intent in written]
    )
    weights = np.asarray([CORPUS_WEIGHT] * len(corpus) + [1.0] * len(written))
    vectors = encoder.sentence_vectors(texts)
    is_corpus = np.arange(len(texts)) < len(corpus)

    # Cross-validation: folds over the corpus's dev messages; the written examples are always
    # in training. Figures are on the held-out corpus messages of each fold.
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    corpus_index = np.flatnonzero(is_corpus)
    written_index = np.flatnonzero(~is_corpus)
    best: tuple[float, float, float, float, float] | None = None
    for c in C_VALUES:
        held_out = np.zeros(len(corpus_index))
        for train_part, test_part in folds.split(corpus_index, labels[corpus_index]):
            fit_on = np.concatenate([corpus_index[train_part], written_index])
            model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
            model.fit(vectors[fit_on], labels[fit_on], sample_weight=weights[fit_on])
            held_out[test_part] = model.predict_proba(vectors[corpus_index[test_part]])[:, 1]
        for threshold in THRESHOLDS:
            f1, precision, recall = f1_at(held_out, labels[corpus_index], threshold)
            print(
                f"C={c:<4} threshold {threshold:.2f}: F1 {f1:.3f} P {precision:.3f} R {recall:.3f}"
            )
            if best is None or f1 > best[0]:
                best = (f1, precision, recall, c, threshold)
    assert best is not None
    f1, precision, recall, c, threshold = best
    print(
        f"chosen: C={c}, threshold {threshold} (cross-validated F1 {f1:.3f}, P {precision:.3f}, "
        f"R {recall:.3f} on {len(corpus)} dev messages)"
    )
    model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    model.fit(vectors, labels, sample_weight=weights)
    categories = train_categories(encoder, args.data, written)
    corpus_file = args.data / CORPUS_FILE
    detector = {
        "what": "P(complaint) = sigmoid(weights . sentence_vector + bias), "
        "on the sentence encoder's vector of the normalised text",
        "encoder_model_sha256": encoder._config["model_sha256"],
        "dimension": int(vectors.shape[1]),
        "threshold": threshold,
        "bias": round(float(model.intercept_[0]), 6),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "trained_on": {
            "corpus": f"{CORPUS_FILE} (dev part only, by scripts/realtext.py split_of)",
            "corpus_sha256": hashlib.sha256(corpus_file.read_bytes()).hexdigest(),
            "corpus_messages": len(corpus),
            "corpus_complaints": int(labels[is_corpus].sum()),
            "written_examples": len(written),
            "corpus_weight": CORPUS_WEIGHT,
            "C": c,
            "cross_validated": {
                "f1": round(f1, 4),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
            },
        },
        "categories": categories,
    }
    args.out.write_text(json.dumps(detector, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
