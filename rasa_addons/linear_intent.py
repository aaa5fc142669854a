"""A linear intent classifier on the sentence-level features: fast to train, measured better.

``LinearIntentClassifier`` is a Rasa 3.6 intent classifier, used in config.yml after the
featurizers as ``- name: rasa_addons.linear_intent.LinearIntentClassifier``. It is a
multinomial logistic regression over, side by side,

- each sparse featurizer's sentence features (word and word-pair counts, character n-grams),
  made binary (a word is there or not) and scaled to length 1 per featurizer, so a long
  message does not outweigh a short one and no featurizer outweighs another by its size;
- the dense sentence features (the sentence encoder's vector, already of length 1), times
  ``dense_weight``.

Measured against DIET on the same features (docs/real-text.md, "The classifier"): higher on
BANKING77, CLINC150, HINT3, the held-out file and real customers' messages, and it trains in
seconds instead of minutes on two cores.

**No known word.** A message none of whose words occurs in the training data ("blorp fnarg
zzzt", a message in a language the assistant was not trained on) is not understood, whatever
the character n-grams and the sentence vector make of it: its ranking is kept, but every
confidence is scaled down by ``unknown_words_scale`` so the FallbackClassifier after it
answers "I didn't follow" rather than a confident guess.

The weights are saved as plain arrays (``numpy.savez``, read back with ``allow_pickle=False``:
no pickled code in a model file), with the origin and size of each block of features; a
model whose features no longer match its weights refuses to classify, with a message that
says to train again.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
#: A token counts as a word for the known-word check when it has two letters in a row.
_WORD = re.compile(r"[^\W\d_]{2}")


class LinearModelError(InvalidConfigException):
    """The classifier's saved weights are missing, unreadable or do not fit its features."""


@dataclass(frozen=True)
class Block:
    """One featurizer's sentence features, as the weights expect them."""

    origin: str
    size: int
    sparse: bool


def feature_blocks(message: Message) -> list[tuple[Block, Any]]:
    """The message's sentence-level text features, one per featurizer, in a stable order."""
    blocks = []
    for features in message.features:
        if features.attribute != TEXT or features.type != FEATURE_TYPE_SENTENCE:
            continue
        matrix = features.features
        block = Block(str(features.origin), int(matrix.shape[-1]), features.is_sparse())
        blocks.append((block, matrix))
    return sorted(blocks, key=lambda item: (not item[0].sparse, item[0].origin))


def feature_row(blocks: list[tuple[Block, Any]], dense_weight: float) -> scipy.sparse.csr_matrix:
    """One row: each sparse block binary and of length 1, each dense block times the weight."""
    parts = []
    for block, matrix in blocks:
        if block.sparse:
            row = scipy.sparse.csr_matrix(matrix, dtype=np.float32)
            row.data[:] = 1.0
            if row.nnz:
                row.data /= np.float32(np.sqrt(row.nnz))
        else:
            dense = np.asarray(matrix, dtype=np.float32).reshape(1, -1) * dense_weight
            row = scipy.sparse.csr_matrix(dense)
        parts.append(row)
    if not parts:
        return scipy.sparse.csr_matrix((1, 0), dtype=np.float32)
    return scipy.sparse.hstack(parts, format="csr")


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """The saved arrays, refusing pickled objects and unreadable files."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as problem:
        raise LinearModelError(
            f"The intent classifier's weights in the model ({path.name}) cannot be read: "
            f"{problem}. Train the model again with `make train`."
        ) from None


def words_of(message: Message) -> set[str]:
    """The message's tokens that are words (not numbers or punctuation), lower-cased."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return {token.text.lower() for token in tokens if _WORD.search(token.text)}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Multinomial logistic regression on binary n-grams and the sentence vector."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages this component imports."""
        return ["sklearn", "scipy"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Inverse regularisation strength (chosen by cross-validation: docs/real-text.md).
            "C": 10.0,
            # How much the dense sentence vector counts beside the binary n-grams.
            "dense_weight": 1.0,
            "max_iter": 1000,
            # Confidences are multiplied by this when no word of the message was ever seen
            # in training: keep it below the FallbackClassifier's threshold, so the fallback
            # takes such a message.
            "unknown_words_scale": 0.1,
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        *,
        classes: np.ndarray | None = None,
        coef: np.ndarray | None = None,
        intercept: np.ndarray | None = None,
        blocks: tuple[Block, ...] = (),
        known_words: frozenset[str] = frozenset(),
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classes = classes
        self.coef = coef
        self.intercept = intercept
        self.blocks = blocks
        self.known_words = known_words

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Refuses settings that cannot train (see parent class for full docstring)."""
        for key in ("C", "dense_weight"):
            value = config.get(key)
            if not isinstance(value, (int, float)) or value <= 0:
                raise InvalidConfigException(
                    f"LinearIntentClassifier in config.yml: '{key}' must be a number above "
                    f"0, not {value!r}."
                )
        scale = config.get("unknown_words_scale")
        if not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
            raise InvalidConfigException(
                "LinearIntentClassifier in config.yml: 'unknown_words_scale' must lie "
                f"between 0 and 1, not {scale!r}."
            )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        """Creates a new untrained component (see parent class for full docstring)."""
        merged = {**cls.get_default_config(), **config}
        cls.validate_config(merged)
        return cls(merged, model_storage, resource)

    # Training ---------------------------------------------------------------------------

    def _matrix(self, featured: list[list[tuple[Block, Any]]]) -> scipy.sparse.csr_matrix:
        """One row per message, from each message's ``feature_blocks``."""
        rows = []
        weight = float(self.config["dense_weight"])
        for blocks in featured:
            self._check_layout(tuple(block for block, _ in blocks))
            rows.append(feature_row(blocks, weight))
        return scipy.sparse.vstack(rows, format="csr")

    def _check_layout(self, blocks: tuple[Block, ...]) -> None:
        if blocks != self.blocks:
            raise LinearModelError(
                "The features reaching LinearIntentClassifier are not the ones it was "
                f"trained on (trained: {_describe(self.blocks)}; now: {_describe(blocks)}). "
                "The pipeline in config.yml changed since the model was trained: run "
                "`make train` again."
            )

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the regression on every intent example (see parent class for docstring)."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("LinearIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        featured = [feature_blocks(e) for e in examples]
        self.blocks = tuple(block for block, _ in featured[0])
        features = self._matrix(featured)
        labels = [str(e.get(INTENT)) for e in examples]
        model = LogisticRegression(
            C=float(self.config["C"]),
            max_iter=int(self.config["max_iter"]),
            solver="lbfgs",
            multi_class="multinomial",
        )
        model.fit(features, labels)
        self.classes = np.asarray(model.classes_, dtype=str)
        self.coef = model.coef_.astype(np.float32)
        self.intercept = model.intercept_.astype(np.float32)
        self.known_words = frozenset(w for e in examples for w in words_of(e))
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Saves the weights as plain arrays (no pickle)."""
        if self.coef is None or self.intercept is None or self.classes is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(
                directory / WEIGHTS_FILE,
                classes=self.classes,
                coef=self.coef,
                intercept=self.intercept,
                block_origins=np.asarray([b.origin for b in self.blocks], dtype=str),
                block_sizes=np.asarray([b.size for b in self.blocks], dtype=np.int64),
                block_sparse=np.asarray([b.sparse for b in self.blocks], dtype=bool),
                known_words=np.asarray(sorted(self.known_words), dtype=str),
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        """Loads the weights, checking that they fit together (see parent class)."""
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / WEIGHTS_FILE
                # Trained without intent examples: an untrained classifier, as Rasa's own.
                arrays = read_weights(path) if path.is_file() else None
        except LinearModelError:
            raise
        except ValueError:
            # The model has no directory for this component at all (nothing was trained).
            arrays = None
        if arrays is None:
            return cls(merged, model_storage, resource)
        try:
            classes = arrays["classes"].astype(str)
            coef = arrays["coef"].astype(np.float32)
            intercept = arrays["intercept"].astype(np.float32)
            blocks = tuple(
                Block(str(o), int(s), bool(p))
                for o, s, p in zip(
                    arrays["block_origins"],
                    arrays["block_sizes"],
                    arrays["block_sparse"],
                    strict=True,
                )
            )
            known = frozenset(str(w) for w in arrays["known_words"])
        except (KeyError, ValueError) as problem:
            raise LinearModelError(
                f"The intent classifier's weights in the model are incomplete ({problem}). "
                "Train the model again with `make train`."
            ) from None
        width = sum(b.size for b in blocks)
        if coef.shape != (len(classes), width) or intercept.shape != (len(classes),):
            raise LinearModelError(
                f"The intent classifier's weights do not fit together: {len(classes)} "
                f"intents and {width} features, but weights of shape {coef.shape} and "
                f"{intercept.shape}. Train the model again with `make train`."
            )
        return cls(
            merged,
            model_storage,
            resource,
            classes=classes,
            coef=coef,
            intercept=intercept,
            blocks=blocks,
            known_words=known,
        )

    # Serving ----------------------------------------------------------------------------

    def probabilities(self, featured: list[list[tuple[Block, Any]]]) -> np.ndarray:
        """Each message's probability for every intent in ``self.classes``' order, from each
        message's ``feature_blocks``."""
        assert self.coef is not None and self.intercept is not None
        scores = self._matrix(featured) @ self.coef.T + self.intercept
        scores = np.asarray(scores, dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """Sets each message's intent and ranking (see parent class for full docstring)."""
        if self.classes is None:
            return messages
        # A message with no features at all (no text) is left to the rest of the pipeline.
        featured = [(m, blocks) for m in messages if (blocks := feature_blocks(m))]
        if not featured:
            return messages
        probabilities = self.probabilities([blocks for _, blocks in featured])
        scale = float(self.config["unknown_words_scale"])
        length = int(self.config[RANKING_LENGTH])
        for (message, _), row in zip(featured, probabilities, strict=True):
            words = words_of(message)
            if words and not words & self.known_words:
                row = row * scale
            order = np.argsort(-row, kind="stable")
            ranking = [
                {INTENT_NAME_KEY: str(self.classes[i]), "confidence": float(row[i])} for i in order
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[:length] if length > 0 else ranking, True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Classifies the training examples too (see parent class for full docstring)."""
        self.process([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data


def _describe(blocks: tuple[Block, ...]) -> str:
    if not blocks:
        return "none"
    return ", ".join(f"{b.origin} ({b.size}{' sparse' if b.sparse else ''})" for b in blocks)
