"""The linear intent classifier (rasa_addons/linear_intent.py), trained and served in the
Rasa environment with the real featurizers: it learns intents from a handful of examples,
gives the same answer after being saved and loaded, leaves a message of words it never saw
to the fallback, and refuses weights it cannot trust with a message that says what to do."""

from __future__ import annotations

import textwrap

import pytest

from tests.rasa_env import run_in_rasa as in_rasa

pytestmark = pytest.mark.conversation

# Trains word, word-pair and character n-gram featurizers and the sentence encoder, as
# config.yml does, then the classifier on a small set of intents written for this test.
PRELUDE = """
import json, tempfile, zipfile
from pathlib import Path
import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa_addons.linear_intent import LinearIntentClassifier, WEIGHTS_FILE
from rasa_addons.sentence_features import SentenceEncoderFeaturizer

EXAMPLES = {
    "complain_billing": [
        "you charged me twice this month", "my bill is far too high",
        "why did my direct debit go up", "there is a fee on my bill I never agreed to",
        "I was overcharged again", "the price went up without warning",
    ],
    "complain_outage": [
        "the internet is down", "no connection at all since this morning",
        "my broadband has stopped working completely", "the whole street has no service",
        "nothing works, the line is dead", "totally offline all day",
    ],
    "greet": ["hello", "hi there", "good morning", "hey", "hiya", "hello, anyone there?"],
    "out_of_scope": [
        "what is the capital of peru", "tell me a joke", "recommend a good film",
        "how tall is the eiffel tower", "what should I cook tonight", "who won the match",
    ],
}
storage = LocalModelStorage(Path(tempfile.mkdtemp()))

def context(name):
    return ExecutionContext(None, node_name=name)

tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
encoder = SentenceEncoderFeaturizer.create(
    SentenceEncoderFeaturizer.get_default_config(), storage, Resource("enc"), context("enc")
)
words = CountVectorsFeaturizer.create(
    {**CountVectorsFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 2},
    storage, Resource("words"), context("words"),
)
chars = CountVectorsFeaturizer.create(
    {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 1,
     "max_ngram": 4},
    storage, Resource("chars"), context("chars"),
)

def featurize(messages, training=False):
    tokenizer.process(messages)
    encoder.process(messages)
    for featurizer in (words, chars):
        featurizer.process(messages)
    return messages

training = TrainingData([
    Message(data={TEXT: text, INTENT: intent})
    for intent, texts in EXAMPLES.items() for text in texts
])
tokenizer.process_training_data(training)
encoder.process_training_data(training)
for featurizer in (words, chars):
    featurizer.train(training)
    featurizer.process_training_data(training)

def trained(resource_name="linear", **config):
    classifier = LinearIntentClassifier.create(
        {**LinearIntentClassifier.get_default_config(), **config},
        storage, Resource(resource_name), context(resource_name),
    )
    classifier.train(training)
    return classifier

def loaded(resource_name="linear"):
    return LinearIntentClassifier.load(
        LinearIntentClassifier.get_default_config(), storage, Resource(resource_name),
        context(resource_name),
    )

def classify(classifier, *texts):
    messages = featurize([Message(data={TEXT: t}) for t in texts])
    classifier.process(messages)
    return [
        {"intent": m.get("intent")["name"], "confidence": m.get("intent")["confidence"],
         "ranking": [r["name"] for r in m.get("intent_ranking")]}
        for m in messages
    ]

def refusal(action):
    try:
        action()
    except RasaException as error:
        return {"type": type(error).__name__, "message": str(error)}
    return None
"""


def run_in_rasa(code: str) -> dict:
    """Runs ``code`` after PRELUDE in the Rasa environment; it prints one JSON object last."""
    return in_rasa(PRELUDE + textwrap.dedent(code))


def test_new_wordings_reach_the_intent_they_mean() -> None:
    found = run_in_rasa(
        """
        classifier = trained()
        texts = ["they have charged me two times", "my internet connection is down again",
                 "hi", "what's the weather like in rome"]
        print(json.dumps([r["intent"] for r in classify(classifier, *texts)]))
        """
    )
    assert found == ["complain_billing", "complain_outage", "greet", "out_of_scope"]


def test_saved_and_loaded_it_answers_exactly_the_same() -> None:
    found = run_in_rasa(
        """
        texts = ["you overcharged me", "no signal and no internet", "good evening"]
        before = classify(trained("round_trip"), *texts)
        after = classify(loaded("round_trip"), *texts)
        print(json.dumps({"before": before, "after": after}))
        """
    )
    assert found["after"] == found["before"]


def test_a_message_of_unknown_words_is_left_to_the_fallback() -> None:
    # The fallback threshold in config.yml is 0.20: a message none of whose words was ever
    # seen must stay below it, and a real message with one known word among strange ones
    # must not be pushed there.
    found = run_in_rasa(
        """
        classifier = trained()
        gibberish, mixed = classify(classifier, "blorp fnarg zzzt", "my zorblat bill is wrong")
        print(json.dumps({"gibberish": gibberish, "mixed": mixed}))
        """
    )
    assert found["gibberish"]["confidence"] < 0.2
    assert found["mixed"]["intent"] == "complain_billing"
    assert found["mixed"]["confidence"] >= 0.2


def test_the_ranking_is_every_intent_best_first_up_to_its_length() -> None:
    found = run_in_rasa(
        """
        short = trained("short", ranking_length=2)
        print(json.dumps({
            "full": classify(trained(), "charged twice")[0]["ranking"],
            "short": classify(short, "charged twice")[0]["ranking"],
        }))
        """
    )
    assert found["full"][0] == "complain_billing"
    assert sorted(found["full"]) == ["complain_billing", "complain_outage", "greet", "out_of_scope"]
    assert found["short"] == found["full"][:2]


def test_damaged_or_pickled_weights_are_refused_with_what_to_do() -> None:
    found = run_in_rasa(
        """
        trained("damaged")
        with storage.write_to(Resource("damaged")) as folder:
            (folder / WEIGHTS_FILE).write_bytes(b"not a weights file")
        damaged = refusal(lambda: loaded("damaged"))

        trained("pickled")
        with storage.write_to(Resource("pickled")) as folder:
            saved = dict(np.load(folder / WEIGHTS_FILE))
            saved["classes"] = np.asarray([object()] * len(saved["classes"]), dtype=object)
            np.savez(folder / WEIGHTS_FILE, **saved)
        pickled = refusal(lambda: loaded("pickled"))

        trained("mismatched")
        with storage.write_to(Resource("mismatched")) as folder:
            saved = dict(np.load(folder / WEIGHTS_FILE))
            saved["coef"] = saved["coef"][:, :-3]
            np.savez(folder / WEIGHTS_FILE, **saved)
        mismatched = refusal(lambda: loaded("mismatched"))
        print(json.dumps({"damaged": damaged, "pickled": pickled, "mismatched": mismatched}))
        """
    )
    for name in ("damaged", "pickled", "mismatched"):
        refused = found[name]
        assert refused is not None, f"{name} weights were accepted"
        assert refused["type"] == "LinearModelError"
        assert "make train" in refused["message"]
    assert "weights.npz" in found["damaged"]["message"]
    assert "do not fit together" in found["mismatched"]["message"]


def test_features_that_changed_since_training_are_refused_not_guessed() -> None:
    # Served without the character n-grams it was trained with (a pipeline edited but not
    # retrained): it says so instead of classifying with misaligned weights.
    found = run_in_rasa(
        """
        classifier = trained()
        message = Message(data={TEXT: "my bill is wrong"})
        tokenizer.process([message])
        encoder.process([message])
        words.process([message])
        print(json.dumps(refusal(lambda: classifier.process([message]))))
        """
    )
    assert found is not None
    assert found["type"] == "LinearModelError"
    assert "not the ones it was trained on" in found["message"]
    assert "make train" in found["message"]


def test_settings_that_cannot_train_stop_it_at_once() -> None:
    found = run_in_rasa(
        """
        print(json.dumps({
            "C": refusal(lambda: trained("bad_c", C=0)),
            "scale": refusal(lambda: trained("bad_scale", unknown_words_scale=2)),
        }))
        """
    )
    assert "'C' must be a number above 0" in found["C"]["message"]
    assert "'unknown_words_scale' must lie between 0 and 1" in found["scale"]["message"]
