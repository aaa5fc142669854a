"""The real-text normalisation as two NLU pipeline components (see rasa_addons/real_text.py).

``RealTextNormaliser`` comes first in ``config.yml``'s pipeline: in training and in serving,
every message's text becomes the normalised text, so the tokenizer, the featurizers and the
classifier see one form of it. ``TypedTextRestorer`` comes last: in serving it puts the
customer's text back as typed and moves each entity's offsets onto it, so the actions (and
the parse data Rasa keeps) read what the customer wrote.
"""

from __future__ import annotations

from typing import Any, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.real_text import Normalised, normalise

TYPED = "redress_typed_text"
ORIGIN = "redress_text_origin"


_S = TypeVar("_S", bound="_Stateless")


class _Stateless(GraphComponent):
    """A component with no settings and nothing trained: created the same way every time."""

    @classmethod
    def create(
        cls: type[_S],
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _S:
        return cls()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class RealTextNormaliser(_Stateless):
    """Mentions, links, hashtags, HTML entities, elongations, emoji and shouting, made plain."""

    def _normalise(self, message: Message) -> None:
        typed = message.get(TEXT)
        if not isinstance(typed, str) or not typed or message.get(TYPED) is not None:
            return
        normalised = normalise(typed)
        if normalised.text == typed:
            return
        message.set(TYPED, typed)
        message.set(ORIGIN, normalised.origin)
        message.set(TEXT, normalised.text)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalise(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalise(message)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TypedTextRestorer(_Stateless, IntentClassifier):
    """The customer's text back as typed, with entity offsets that point into it."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            typed, origin = message.get(TYPED), message.get(ORIGIN)
            if not isinstance(typed, str) or origin is None:
                continue
            mapping = Normalised(str(message.get(TEXT)), tuple(origin))
            for entity in message.get(ENTITIES) or []:
                start, end = entity.get(ENTITY_ATTRIBUTE_START), entity.get(ENTITY_ATTRIBUTE_END)
                if isinstance(start, int) and isinstance(end, int):
                    entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = (
                        mapping.typed_span(start, end)
                    )
            message.set(TEXT, typed)
            message.data.pop(TYPED, None)
            message.data.pop(ORIGIN, None)
        return messages
