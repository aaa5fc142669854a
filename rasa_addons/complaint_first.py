"""Complaint first, as an NLU pipeline component after the classifier and its fallback
(the rules themselves: rasa_addons/complaint_signals.py).

When the classifier ranked something else first but the message is a complaint, the intent
becomes the complaint's, so the dialogue apologises and records it. The decision and its
evidence are kept in the parse data as ``complaint_first`` for the tracker and reports.

The business's words come from ``products.yml`` in the business folder
(``REDRESS_BUSINESS_DIR``, else ``business_dir`` in config.yml, else ``business``), read when
Rasa loads the model: edit the file and restart, no retraining. A file that is there but
wrong stops Rasa with a message naming the file and the problem.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.complaint_signals import (
    Evidence,
    Thresholds,
    Vocabulary,
    VocabularyError,
    complaint_intent,
    gather,
    load_vocabulary,
    not_a_complaint,
    not_ours,
    revised_category,
)

logger = logging.getLogger(__name__)
DECISION = "complaint_first"
DETECTOR_FILE = Path(__file__).with_name("complaint_detector.json")
DEMOTED_TO = "out_of_scope"
FALLBACK = "nlu_fallback"
TREATMENT = "complain_staff_conduct"


@dataclass(frozen=True)
class Detector:
    """P(complaint) from the sentence encoder's vector (scripts/train_complaint_detector.py)."""

    weights: np.ndarray
    bias: float
    threshold: float
    # Which category: one row of weights per category (None when the file has no model).
    category_names: tuple[str, ...] = ()
    category_weights: np.ndarray | None = None
    category_bias: np.ndarray | None = None

    def probability(self, vector: np.ndarray) -> float:
        score = float(np.dot(self.weights, vector.reshape(-1))) + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(score, 50.0), -50.0)))

    def categories(self, vector: np.ndarray) -> dict[str, float]:
        if self.category_weights is None or self.category_bias is None:
            return {}
        scores = self.category_weights @ vector.reshape(-1) + self.category_bias
        exp = np.exp(scores - scores.max())
        probabilities = exp / exp.sum()
        return {n: float(p) for n, p in zip(self.category_names, probabilities, strict=True)}


def load_detector(path: Path) -> Detector:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        weights = np.asarray(data["weights"], dtype=np.float32)
        categories = data.get("categories") or {}
        names = tuple(str(c) for c in categories.get("classes", []))
        category_weights = np.asarray(categories["weights"], np.float32) if names else None
        category_bias = np.asarray(categories["bias"], np.float32) if names else None
        detector = Detector(
            weights,
            float(data["bias"]),
            float(data["threshold"]),
            names,
            category_weights,
            category_bias,
        )
        if weights.ndim != 1 or len(weights) != int(data["dimension"]) or len(weights) == 0:
            raise ValueError("the weights do not match its dimension")
        if category_weights is not None and category_weights.shape != (len(names), len(weights)):
            raise ValueError("the category weights do not match its dimension and classes")
        if not 0.0 < detector.threshold < 1.0:
            raise ValueError("its threshold must lie between 0 and 1")
    except (OSError, ValueError, KeyError, TypeError) as problem:
        raise InvalidConfigException(
            f"The complaint detector {path} cannot be used: {problem}. Train it again with "
            "scripts/train_complaint_detector.py, or set detector_file to none."
        ) from problem
    return detector


def sentence_vector(message: Message, dimension: int) -> np.ndarray | None:
    """The message's dense sentence feature of the detector's dimension, if it has one."""
    _, sentence = message.get_dense_features(TEXT)
    if sentence is None:
        return None
    vector = np.asarray(sentence.features).reshape(-1)
    return vector if vector.shape[0] == dimension else None


def products_file(config: dict[str, Any]) -> Path:
    folder = os.environ.get("REDRESS_BUSINESS_DIR") or config.get("business_dir") or "business"
    return Path(folder) / "products.yml"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ComplaintFirst(GraphComponent, IntentClassifier):
    """Takes a message as the complaint it is when the classifier ranked something else."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # detector_file: the complaint detector; "default" is the one beside this module,
        # none turns it off.
        return {"business_dir": None, "detector_file": "default"}

    def __init__(
        self, thresholds: Thresholds, vocabulary: Vocabulary | None, detector: Detector | None
    ) -> None:
        self.detector = detector
        if detector is not None and thresholds.detector is None:
            thresholds = replace(thresholds, detector=detector.threshold)
        self.thresholds = thresholds
        self.vocabulary = vocabulary

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ComplaintFirst:
        try:
            thresholds = Thresholds.from_config(config)
        except (TypeError, ValueError) as problem:
            raise InvalidConfigException(f"ComplaintFirst in config.yml: {problem}") from problem
        path = products_file(config)
        vocabulary: Vocabulary | None = None
        if path.is_file():
            try:
                vocabulary = load_vocabulary(path)
            except VocabularyError as problem:
                raise InvalidConfigException(str(problem)) from problem
        else:
            logger.warning("No %s: complaints are recognised without the business's words", path)
        configured = config.get("detector_file", "default")
        detector = None
        if configured not in (None, "none", ""):
            detector_path = DETECTOR_FILE if configured == "default" else Path(str(configured))
            detector = load_detector(detector_path)
        return cls(thresholds, vocabulary, detector)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._route(message)
        return messages

    def _route(self, message: Message) -> None:
        """Reads one message's evidence, chooses its intent, and records why."""
        intent = message.get(INTENT) or {}
        top = intent.get(INTENT_NAME_KEY)
        ranking = message.get(INTENT_RANKING_KEY) or []
        text = str(message.get(TEXT) or "")
        vector = None
        p_complaint = None
        if self.detector is not None:
            vector = sentence_vector(message, len(self.detector.weights))
            if vector is not None:
                p_complaint = round(self.detector.probability(vector), 4)
        evidence = gather(text, ranking, self.vocabulary, p_complaint)
        categories = (
            self.detector.categories(vector)
            if self.detector is not None and vector is not None
            else None
        )
        chosen = complaint_intent(top, evidence, self.thresholds)
        if chosen is None and not_a_complaint(top, evidence, self.thresholds):
            chosen = DEMOTED_TO
        final = chosen or top
        if isinstance(final, str) and final.startswith("complain_") and categories is not None:
            confidence = float(intent.get("confidence") or 0) if chosen is None else 0.0
            category = revised_category(final, confidence, ranking, categories, self.thresholds)
            if category != final:
                chosen = category
        elsewhere = self._elsewhere(text, final, chosen or top, evidence)
        if elsewhere is not None:
            chosen = DEMOTED_TO
        decision = self._decision(evidence, ranking, categories)
        if elsewhere is not None:
            decision["not_ours"] = elsewhere
        if chosen is not None and chosen != top:
            confidence = next(
                (float(r["confidence"]) for r in ranking if r.get(INTENT_NAME_KEY) == chosen),
                evidence.mass,
            )
            message.set(INTENT, {INTENT_NAME_KEY: chosen, "confidence": confidence}, True)
            decision.update(instead_of=top, complaint_mass=evidence.mass)
        message.set(DECISION, decision, add_to_output=True)

    def _elsewhere(self, text: str, final: Any, about: Any, evidence: Evidence) -> str | None:
        """What the complaint is about when the business plainly does not provide it ("my
        pizza came cold" to a broadband company): answered kindly as such, not apologised
        for as if the business had done it, and no complaint is logged for it. A complaint
        about how the customer was treated ("you kept me on hold so long I missed my
        train") is about whoever they are talking to, whatever else it names."""
        if not (isinstance(about, str) and about.startswith("complain_")):
            about = evidence.best
        complaint_like = isinstance(final, str) and (
            final.startswith("complain_")
            or (
                final in (DEMOTED_TO, FALLBACK)
                and (
                    evidence.cues >= 1
                    or (evidence.p_complaint or 0.0) >= (self.thresholds.detector or 1.0)
                )
            )
        )
        if complaint_like and about != TREATMENT and not evidence.business_terms:
            return not_ours(text, self.vocabulary)
        return None

    def _decision(
        self, evidence: Evidence, ranking: list[dict[str, Any]], categories: Any
    ) -> dict[str, Any]:
        """What the dialogue may need when the conversation, not the NLU, can tell it is a
        complaint (a "yes" or an update request when nothing was asked): the detector's view
        of this message and the category it would be."""
        likely = evidence.best
        if likely is not None and categories is not None:
            likely = revised_category(likely, 0.0, ranking, categories, self.thresholds)
        return {
            "p_complaint": evidence.p_complaint,
            "detector_threshold": self.thresholds.detector,
            "likely_complaint": likely,
            "business_terms": list(evidence.business_terms),
            "cues": evidence.cues,
        }
