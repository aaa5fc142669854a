"""Measures the project's NLU pipeline on public intent benchmarks and on our held-out file.

    make evaluate                          # everything, about half an hour on two cores
    make evaluate EVALUATE_ARGS=--quick    # small stratified subsets, about 2 minutes (CI)

or directly, in the Rasa environment:

    .venv-rasa/bin/python scripts/evaluate_nlu.py [--quick] [--out DIR] [--epochs [NAME=]N] ...

The pipeline is the `pipeline:` of config.yml, read from that file and trained as it stands
(NLU only, no dialogue) on each benchmark's training split. Two things are changed, and both
are recorded in the report: the spaCy pipeline's path is made absolute (config.yml's paths are
relative to the repository), and `epochs`, but only when --epochs or --quick asks.

  BANKING77 (Casanueva et al. 2020)   train.csv -> test.csv: accuracy and macro-F1.
  CLINC150 "full" (Larson et al. 2019) trained on `train` plus the 100 `oos_train` queries as
        one more intent, `out_of_scope`: the paper's "oos-train" scheme. Tested on `test`
        (4,500) and `oos_test` (1,000); `val` and `oos_val` are not used. In-scope accuracy is
        the share of in-scope queries given their own intent; out-of-scope recall is the share
        of out-of-scope queries answered `out_of_scope`. At threshold 0 that is oos-train.
  HINT3 (Arora et al. 2020)           the three bots separately, each on its full training
        set (dataset v1, the version the paper's figures come from; --hint3-version v2 for the
        corrected labels). Test queries labelled NO_NODES_DETECTED are out of scope; the
        training sets have none, so only the threshold can find them.
  Held-out (tests/nlu/heldout.yml)    parsed by the project's own trained model,
        models/redress.tar.gz; never trained on here. Per-intent precision, recall and F1 and a
        confusion matrix (PNG). None of its messages is written anywhere.

Out of scope is measured as a sweep over the fallback threshold, 0.00 to 0.90 in steps of
0.05: a query whose top intent (the classifier's, FallbackClassifier aside) has confidence
below the threshold counts as out of scope, which is FallbackClassifier's rule without its
ambiguity check. "As deployed" is the pipeline's own answer with FallbackClassifier's
threshold and ambiguity_threshold from config.yml; there `nlu_fallback` or `out_of_scope` count
as out of scope. The configured threshold's row is reported separately.

Writes evaluation.json (every figure), evaluation.md (summary tables) and heldout_confusion.png
to --out: reports/nlu for a full run of config.yml, reports/tmp/nlu-evaluate otherwise (quick,
subsets, other configs), so a smoke run never replaces the committed report.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gc
import hashlib
import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The pipeline's own components (rasa_addons/) are imported by Rasa from the checkout.
sys.path.insert(0, str(ROOT))
DEFAULT_CONFIG = ROOT / "config.yml"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
PROJECT_MODEL = ROOT / "models" / "redress.tar.gz"
PROJECT_NLU_DATA = ROOT / "data" / "nlu"
# The public benchmarks sit in a `shared/data` folder beside the checkout.
DEFAULT_DATA = Path(os.environ.get("REDRESS_BENCHMARK_DATA", str(ROOT.parent / "shared" / "data")))
FULL_OUT = ROOT / "reports" / "nlu"
SCRATCH_OUT = ROOT / "reports" / "tmp" / "nlu-evaluate"

THRESHOLDS = [round(0.05 * i, 2) for i in range(19)]
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
BENCHMARKS = ("banking77", "clinc150", "hint3")
DATASETS = (*BENCHMARKS, "heldout")
HINT3_BOTS = ("curekart", "powerplay11", "sofmattress")
HINT3_OUT_OF_SCOPE = "NO_NODES_DETECTED"
CLINC_OUT_OF_SCOPE = "oos"
PREDICT_BATCH = 256
SEED = 42

CITATIONS = {
    "banking77": (
        "Casanueva, Temčinas, Gerz, Henderson and Vulić. Efficient Intent Detection with Dual "
        "Sentence Encoders. NLP4ConvAI 2020. https://aclanthology.org/2020.nlp4convai-1.5"
    ),
    "clinc150": (
        "Larson et al. An Evaluation Dataset for Intent Classification and Out-of-Scope "
        "Prediction. EMNLP-IJCNLP 2019. https://aclanthology.org/D19-1131"
    ),
    "hint3": (
        "Arora, Jain, Chaturvedi and Modi. HINT3: Raising the bar for Intent Detection in the "
        "Wild. Insights from Negative Results in NLP, 2020. "
        "https://aclanthology.org/2020.insights-1.16"
    ),
}

# Published figures, as fractions. HINT3's come from the authors' own results files, read at run
# time (hint3/results/rasa_<bot>.csv).
PUBLISHED: dict[str, list[dict[str, Any]]] = {
    "banking77": [
        {
            "system": "BERT-Large, fine-tuned",
            "accuracy": 0.9366,
            "source": "Casanueva et al. 2020, full training data",
        },
        {
            "system": "USE+ConveRT (fixed encoders + MLP)",
            "accuracy": 0.9336,
            "source": "Casanueva et al. 2020, full training data",
        },
    ],
    "clinc150": [
        {
            "system": "Rasa (2019)",
            "in_scope_accuracy": 0.915,
            "out_of_scope_recall": 0.453,
            "source": "Larson et al. 2019, Table 2, oos-train, Full",
        },
    ],
}


@dataclass(frozen=True)
class Example:
    text: str
    intent: str


@dataclass(frozen=True)
class Prediction:
    gold: str
    top: str  # the classifier's top intent, FallbackClassifier aside
    confidence: float
    deployed: str  # what the pipeline answers, FallbackClassifier included


@dataclass(frozen=True)
class Sampling:
    intents: int
    train_per_intent: int
    test_per_intent: int
    oos_train: int
    oos_test: int


@dataclass
class Benchmark:
    key: str
    family: str
    title: str
    train: list[Example]
    test: list[Example]
    files: list[Path]
    notes: list[str]


QUICK_SAMPLING = Sampling(
    intents=10, train_per_intent=20, test_per_intent=10, oos_train=20, oos_test=30
)
QUICK_EPOCHS = 20

_START = time.monotonic()


def log(message: str) -> None:
    elapsed = time.monotonic() - _START
    print(f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}] {message}", flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def clean(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass
class ProjectConfig:
    path: Path
    raw: dict[str, Any]
    pipeline: list[dict[str, Any]]
    fallback_threshold: float
    ambiguity_threshold: float
    epochs: int

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path.relative_to(ROOT))
            if self.path.is_relative_to(ROOT)
            else str(self.path),
            "sha256": sha256_file(self.path),
            "pipeline_sha256": canonical_sha256(self.pipeline),
            "pipeline": self.pipeline,
            "fallback_threshold": self.fallback_threshold,
            "ambiguity_threshold": self.ambiguity_threshold,
            "epochs": self.epochs,
        }


def load_config(path: Path) -> ProjectConfig:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    pipeline = raw.get("pipeline")
    if not isinstance(pipeline, list) or not pipeline:
        raise SystemExit(f"{path} has no pipeline")
    fallback = next((c for c in pipeline if c.get("name") == "FallbackClassifier"), None)
    if fallback is None:
        raise SystemExit(f"{path}: the pipeline has no FallbackClassifier to take a threshold from")
    diet = next((c for c in pipeline if c.get("name") == "DIETClassifier"), {})
    return ProjectConfig(
        path=path,
        raw=raw,
        pipeline=pipeline,
        # Rasa's defaults when the keys are absent.
        fallback_threshold=float(fallback.get("threshold", 0.3)),
        ambiguity_threshold=float(fallback.get("ambiguity_threshold", 0.1)),
        epochs=int(diet.get("epochs", 300)),
    )


def training_config(config: ProjectConfig, epochs: int) -> dict[str, Any]:
    """config.yml's pipeline as it stands, but for an absolute spaCy path and the epochs."""
    pipeline = copy.deepcopy(config.pipeline)
    for component in pipeline:
        model = component.get("model")
        if component.get("name") == "SpacyNLP" and model and not Path(model).is_absolute():
            candidate = config.path.parent / model
            component["model"] = str(candidate if candidate.exists() else ROOT / model)
        if "epochs" in component or component.get("name") in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
    return {
        "recipe": config.raw.get("recipe", "default.v1"),
        "language": config.raw.get("language", "en"),
        "assistant_id": "redress-evaluate-nlu",
        "pipeline": pipeline,
    }


# ---------------------------------------------------------------------------------------------
# Data


def read_csv(path: Path, text_column: str, label_column: str) -> list[Example]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    examples = [Example(clean(row[text_column]), row[label_column].strip()) for row in rows]
    return [e for e in examples if e.text and e.intent]


def load_banking77(data: Path) -> list[Benchmark]:
    folder = data / "banking77"
    return [
        Benchmark(
            key="banking77",
            family="banking77",
            title="BANKING77",
            train=read_csv(folder / "train.csv", "text", "category"),
            test=read_csv(folder / "test.csv", "text", "category"),
            files=[folder / "train.csv", folder / "test.csv"],
            notes=["No out-of-scope queries: the sweep shows only what a threshold costs."],
        )
    ]


def load_clinc150(data: Path) -> list[Benchmark]:
    path = data / "clinc150" / "data_full.json"
    full = json.loads(path.read_text(encoding="utf-8"))

    def examples(*splits: str) -> list[Example]:
        return [
            Example(clean(text), OUT_OF_SCOPE if label == CLINC_OUT_OF_SCOPE else label)
            for split in splits
            for text, label in full[split]
        ]

    return [
        Benchmark(
            key="clinc150",
            family="clinc150",
            title="CLINC150 (full, oos-train)",
            train=examples("train", "oos_train"),
            test=examples("test", "oos_test"),
            files=[path],
            notes=[
                "oos_train (100 queries) is trained as the intent out_of_scope, as in Larson et "
                "al.'s oos-train; val and oos_val are not used.",
            ],
        )
    ]


def load_hint3(data: Path, version: str) -> list[Benchmark]:
    folder = data / "hint3" / "dataset" / version
    benchmarks = []
    for bot in HINT3_BOTS:
        train_path = folder / "train" / f"{bot}_train.csv"
        test_path = folder / "test" / f"{bot}_test.csv"
        test = [
            replace(e, intent=OUT_OF_SCOPE) if e.intent == HINT3_OUT_OF_SCOPE else e
            for e in read_csv(test_path, "sentence", "label")
        ]
        benchmarks.append(
            Benchmark(
                key=f"hint3_{bot}",
                family="hint3",
                title=f"HINT3 {bot} ({version})",
                train=read_csv(train_path, "sentence", "label"),
                test=test,
                files=[train_path, test_path],
                notes=[
                    f"Dataset {version}, full training set; NO_NODES_DETECTED test queries are "
                    "out of scope and have no training examples.",
                ],
            )
        )
    return benchmarks


def hint3_published(data: Path, bot: str) -> list[dict[str, Any]]:
    path = data / "hint3" / "results" / f"rasa_{bot}.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            {
                "threshold": float(row["Threshold"]),
                "accuracy": float(row["Accuracy"]),
                "weighted_f1": float(row["Weighted F1"]),
                "in_scope_accuracy": float(row["Inscope Accuracy"]),
                "out_of_scope_recall": float(row["OOS Recall"]),
                "mcc": float(row["MCC"]),
            }
            for row in csv.DictReader(handle)
        ]
    return [
        {
            "system": "Rasa 1.x: ConveRT + sparse features + DIET, 100 epochs (HINT3 authors)",
            "source": f"HINT3 results/rasa_{bot}.csv (dataset v1)",
            "sweep": rows,
        }
    ]


def verify_files(data: Path, files: Sequence[Path]) -> dict[str, str]:
    """sha256 of every file used, checked against the data folder's MANIFEST.tsv if it has one."""
    manifest: dict[str, str] = {}
    manifest_path = data / "MANIFEST.tsv"
    if manifest_path.exists():
        with manifest_path.open(encoding="utf-8", newline="") as handle:
            manifest = {
                row["local_path"]: row["sha256"] for row in csv.DictReader(handle, delimiter="\t")
            }
    digests = {}
    for path in files:
        relative = str(path.relative_to(data))
        digest = sha256_file(path)
        if relative in manifest and manifest[relative] != digest:
            raise SystemExit(f"{path} does not match {manifest_path} (sha256 {digest})")
        digests[relative] = digest
    return digests


def sample(benchmark: Benchmark, sampling: Sampling, seed: int) -> Benchmark:
    """A stratified subset: a few intents that occur in both splits, a few examples of each."""
    rng = random.Random(f"{seed}:{benchmark.key}")  # noqa: S311 (sampling, not secrets)
    in_train = {e.intent for e in benchmark.train} - {OUT_OF_SCOPE}
    in_test = {e.intent for e in benchmark.test} - {OUT_OF_SCOPE}
    candidates = sorted(in_train & in_test)
    chosen = sorted(rng.sample(candidates, min(sampling.intents, len(candidates))))

    def pick(examples: list[Example], intent: str, count: int) -> list[Example]:
        pool = [e for e in examples if e.intent == intent]
        rng.shuffle(pool)
        return pool[:count]

    train = [e for i in chosen for e in pick(benchmark.train, i, sampling.train_per_intent)]
    test = [e for i in chosen for e in pick(benchmark.test, i, sampling.test_per_intent)]
    train += pick(benchmark.train, OUT_OF_SCOPE, sampling.oos_train)
    test += pick(benchmark.test, OUT_OF_SCOPE, sampling.oos_test)
    return replace(
        benchmark,
        train=train,
        test=test,
        notes=[*benchmark.notes, f"Stratified subset: {len(chosen)} intents (seed {seed})."],
    )


def load_heldout() -> list[Example]:
    data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [
        Example(clean(line.strip()[2:]), block["intent"])
        for block in data["nlu"]
        for line in block["examples"].splitlines()
        if line.strip().startswith("- ")
    ]


def project_training_texts() -> set[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(PROJECT_NLU_DATA))
    return {clean(m.get("text")).casefold() for m in data.intent_examples}


# ---------------------------------------------------------------------------------------------
# Rasa: training and parsing


def quiet_rasa(scratch: Path) -> None:
    """Before rasa is imported: no telemetry, no cache in .rasa/, fewer warnings."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # The training cache would keep gigabytes of benchmark features in the repository's .rasa/.
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    os.environ["RASA_CACHE_DIRECTORY"] = str(scratch / "rasa-cache")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    silence_warnings()
    # Importing Rasa adds its own warning filters (DeprecationWarning "once"); ours go first again.
    import rasa.core.agent
    import rasa.model_training  # noqa: F401

    silence_warnings()
    for name in ("rasa", "tensorflow", "absl", "matplotlib", "spacy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def silence_warnings() -> None:
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)


def train(benchmark: Benchmark, config: ProjectConfig, epochs: int, workdir: Path) -> Path:
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    home = workdir / benchmark.key
    home.mkdir(parents=True)
    config_path = home / "config.yml"
    config_path.write_text(yaml.safe_dump(training_config(config, epochs), sort_keys=False))
    nlu_path = home / "nlu.yml"
    messages = [Message(data={"text": e.text, "intent": e.intent}) for e in benchmark.train]
    RasaYAMLWriter().dump(nlu_path, TrainingData(training_examples=messages))
    # Read it back: text that looked like entity markup or YAML would be changed silently.
    # (Rasa drops exact duplicates, hence sets.)
    written = {(m.get("text"), m.get("intent")) for m in load_data(str(nlu_path)).intent_examples}
    if written != {(e.text, e.intent) for e in benchmark.train}:
        raise RuntimeError(
            f"{benchmark.key}: training data did not survive the NLU YAML round trip"
        )
    model = train_nlu(
        config=str(config_path),
        nlu_data=str(nlu_path),
        output=str(home / "models"),
        fixed_model_name=benchmark.key,
    )
    if not model:
        raise RuntimeError(f"{benchmark.key}: Rasa trained no model")
    return Path(model)


def predict(model: Path, examples: Sequence[Example], label: str) -> list[Prediction]:
    """Parses the examples in batches through the model's NLU graph (what /model/parse runs)."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = Agent.load(str(model))
    processor = agent.processor
    if processor is None or processor.model_metadata.nlu_target is None:
        raise RuntimeError(f"{model} has no NLU pipeline")
    target = processor.model_metadata.nlu_target
    tracker = DialogueStateTracker.from_events("evaluate_nlu", [])
    predictions: list[Prediction] = []
    for start in range(0, len(examples), PREDICT_BATCH):
        chunk = examples[start : start + PREDICT_BATCH]
        results = processor.graph_runner.run(
            inputs={
                PLACEHOLDER_MESSAGE: [UserMessage(e.text) for e in chunk],
                PLACEHOLDER_TRACKER: tracker,
            },
            targets=[target],
        )
        for example, message in zip(chunk, results[target], strict=True):
            intent = message.get("intent") or {}
            ranking = [r for r in message.get("intent_ranking") or [] if r["name"] != FALLBACK]
            top = ranking[0] if ranking else {"name": FALLBACK, "confidence": 0.0}
            predictions.append(
                Prediction(
                    gold=example.intent,
                    top=str(top["name"]),
                    confidence=float(top["confidence"]),
                    deployed=str(intent.get("name") or FALLBACK),
                )
            )
        log(f"{label}: parsed {len(predictions)}/{len(examples)}")
    del agent, processor
    gc.collect()
    return predictions


# ---------------------------------------------------------------------------------------------
# Metrics


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def at_threshold(prediction: Prediction, threshold: float) -> str:
    if prediction.top == OUT_OF_SCOPE or prediction.confidence < threshold:
        return OUT_OF_SCOPE
    return prediction.top


def sweep_row(predictions: Sequence[Prediction], threshold: float) -> dict[str, Any]:
    from sklearn.metrics import f1_score, matthews_corrcoef

    in_scope = [p for p in predictions if p.gold != OUT_OF_SCOPE]
    off_topic = [p for p in predictions if p.gold == OUT_OF_SCOPE]
    labels = [at_threshold(p, threshold) for p in predictions]
    said_oos = [p for p, label in zip(predictions, labels, strict=True) if label == OUT_OF_SCOPE]
    row: dict[str, Any] = {
        "threshold": threshold,
        "in_scope_accuracy": ratio(
            sum(at_threshold(p, threshold) == p.gold for p in in_scope), len(in_scope)
        ),
        "in_scope_fallback_rate": ratio(
            sum(p.confidence < threshold for p in in_scope), len(in_scope)
        ),
        "out_of_scope_recall": ratio(
            sum(at_threshold(p, threshold) == OUT_OF_SCOPE for p in off_topic), len(off_topic)
        ),
        "out_of_scope_precision": ratio(
            sum(p.gold == OUT_OF_SCOPE for p in said_oos), len(said_oos)
        ),
        "accuracy": ratio(
            sum(label == p.gold for p, label in zip(predictions, labels, strict=True)),
            len(predictions),
        ),
    }
    if off_topic:
        gold = [p.gold for p in predictions]
        row["weighted_f1"] = float(f1_score(gold, labels, average="weighted", zero_division=0))
        row["mcc"] = float(matthews_corrcoef(gold, labels))
    return row


def sweep(predictions: Sequence[Prediction], configured: float) -> list[dict[str, Any]]:
    thresholds = sorted({*THRESHOLDS, configured})
    return [sweep_row(predictions, t) for t in thresholds]


def as_deployed(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The pipeline's own answers: FallbackClassifier's threshold and ambiguity check included."""
    in_scope = [p for p in predictions if p.gold != OUT_OF_SCOPE]
    off_topic = [p for p in predictions if p.gold == OUT_OF_SCOPE]
    handled = {OUT_OF_SCOPE, FALLBACK}

    def right(p: Prediction) -> bool:
        return p.deployed in handled if p.gold == OUT_OF_SCOPE else p.deployed == p.gold

    return {
        "in_scope_accuracy": ratio(sum(right(p) for p in in_scope), len(in_scope)),
        "in_scope_fallback_rate": ratio(
            sum(p.deployed == FALLBACK for p in in_scope), len(in_scope)
        ),
        "out_of_scope_recall": ratio(sum(right(p) for p in off_topic), len(off_topic)),
        "accuracy": ratio(sum(right(p) for p in predictions), len(predictions)),
    }


def per_intent(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    return {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def classifier_metrics(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """The classifier alone (threshold 0): top intent against the gold label."""
    from sklearn.metrics import f1_score

    gold = [p.gold for p in predictions]
    top = [p.top for p in predictions]
    labels = sorted(set(gold))
    in_scope = [p for p in predictions if p.gold != OUT_OF_SCOPE]
    return {
        "accuracy": ratio(sum(p.top == p.gold for p in predictions), len(predictions)),
        "in_scope_accuracy": ratio(sum(p.top == p.gold for p in in_scope), len(in_scope)),
        "macro_f1": float(f1_score(gold, top, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(
            f1_score(gold, top, labels=labels, average="weighted", zero_division=0)
        ),
    }


def top_confusions(predictions: Sequence[Prediction], count: int = 10) -> list[dict[str, Any]]:
    pairs = Counter((p.gold, p.top) for p in predictions if p.gold != p.top)
    return [{"gold": g, "predicted": t, "count": n} for (g, t), n in pairs.most_common(count)]


def split_summary(benchmark: Benchmark) -> dict[str, Any]:
    train_texts = {e.text.casefold() for e in benchmark.train}
    return {
        "train": len(benchmark.train),
        "train_unique": len({(e.text, e.intent) for e in benchmark.train}),
        "train_intents": len({e.intent for e in benchmark.train}),
        "train_out_of_scope": sum(e.intent == OUT_OF_SCOPE for e in benchmark.train),
        "test": len(benchmark.test),
        "test_in_scope": sum(e.intent != OUT_OF_SCOPE for e in benchmark.test),
        "test_out_of_scope": sum(e.intent == OUT_OF_SCOPE for e in benchmark.test),
        "test_intents": len({e.intent for e in benchmark.test} - {OUT_OF_SCOPE}),
        "test_texts_also_in_train": sum(e.text.casefold() in train_texts for e in benchmark.test),
        # What answering "out of scope" to everything would score (HINT3's test sets are mostly
        # out of scope).
        "reject_all_accuracy": ratio(
            sum(e.intent == OUT_OF_SCOPE for e in benchmark.test), len(benchmark.test)
        ),
    }


def row_at(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    return next(r for r in rows if abs(r["threshold"] - threshold) < 1e-9)


# ---------------------------------------------------------------------------------------------
# Runs


def evaluate_benchmark(
    benchmark: Benchmark,
    config: ProjectConfig,
    epochs: int,
    workdir: Path,
    data: Path,
) -> dict[str, Any]:
    split = split_summary(benchmark)
    log(
        f"{benchmark.key}: training on {split['train']} examples, {split['train_intents']} "
        f"intents, {epochs} epochs"
    )
    started = time.monotonic()
    model = train(benchmark, config, epochs, workdir)
    trained = time.monotonic()
    log(
        f"{benchmark.key}: trained in {trained - started:.0f} s; "
        f"predicting {split['test']} test queries"
    )
    predictions = predict(model, benchmark.test, benchmark.key)
    done = time.monotonic()
    rows = sweep(predictions, config.fallback_threshold)
    result: dict[str, Any] = {
        "title": benchmark.title,
        "family": benchmark.family,
        "citation": CITATIONS[benchmark.family],
        "notes": benchmark.notes,
        "files": verify_files(data, benchmark.files),
        "split": split,
        "epochs": epochs,
        "seconds": {
            "train": round(trained - started, 1),
            "predict": round(done - trained, 1),
            "total": round(done - started, 1),
        },
        "classifier": classifier_metrics(predictions),
        "as_deployed": as_deployed(predictions),
        "at_configured_threshold": row_at(rows, config.fallback_threshold),
        "sweep": rows,
        "per_intent": per_intent([p.gold for p in predictions], [p.top for p in predictions]),
        "top_confusions": top_confusions(predictions),
        "published": (
            hint3_published(data, benchmark.key.removeprefix("hint3_"))
            if benchmark.family == "hint3"
            else PUBLISHED.get(benchmark.family, [])
        ),
    }
    shutil.rmtree(model.parent.parent, ignore_errors=True)
    c = result["classifier"]
    log(
        f"{benchmark.key}: in-scope accuracy {c['in_scope_accuracy']:.1%}, macro-F1 "
        f"{c['macro_f1']:.1%}, out-of-scope recall at {config.fallback_threshold:.2f}: "
        f"{fmt(result['at_configured_threshold']['out_of_scope_recall'])} ({done - started:.0f} s)"
    )
    return result


def evaluate_heldout(config: ProjectConfig, out: Path) -> dict[str, Any]:
    examples = load_heldout()
    in_training = project_training_texts()
    seen = [e.text.casefold() in in_training for e in examples]
    log(f"heldout: parsing {len(examples)} held-out messages with {PROJECT_MODEL.name}")
    started = time.monotonic()
    predictions = predict(PROJECT_MODEL, examples, "heldout")
    seconds = time.monotonic() - started
    rows = sweep(predictions, config.fallback_threshold)
    gold = [p.gold for p in predictions]
    deployed = [p.deployed for p in predictions]
    intents = per_intent(gold, deployed)
    complaints = {k: v for k, v in intents.items() if k.startswith("complain_")}
    order = list(dict.fromkeys(gold))
    # Predicted intents the held-out file never expects get columns too, after nlu_fallback.
    columns = [*order, FALLBACK, *sorted(set(deployed) - {*order, FALLBACK})]
    matrix = confusion(gold, deployed, order, columns)
    plot_confusion(matrix, order, columns, len(gold), out / "heldout_confusion.png")
    unseen = [p for p, s in zip(predictions, seen, strict=True) if not s]
    model_time = PROJECT_MODEL.stat().st_mtime
    newer = sorted(
        str(p.relative_to(ROOT))
        for p in [config.path, *PROJECT_NLU_DATA.rglob("*.yml")]
        if p.stat().st_mtime > model_time
    )
    result = {
        "title": "Held-out messages (tests/nlu/heldout.yml)",
        "family": "heldout",
        "model": {
            "path": str(PROJECT_MODEL.relative_to(ROOT)),
            "sha256": sha256_file(PROJECT_MODEL),
            "modified": datetime.fromtimestamp(model_time, timezone.utc).isoformat(
                timespec="seconds"
            ),
            "older_than": newer,
        },
        "file_sha256": sha256_file(HELDOUT),
        "split": {
            "test": len(examples),
            "test_in_scope": sum(e.intent != OUT_OF_SCOPE for e in examples),
            "test_out_of_scope": sum(e.intent == OUT_OF_SCOPE for e in examples),
            "test_intents": len(set(gold) - {OUT_OF_SCOPE}),
            "also_in_training_data": sum(seen),
            "also_in_training_data_by_intent": dict(
                sorted(Counter(e.intent for e, s in zip(examples, seen, strict=True) if s).items())
            ),
        },
        "seconds": {"predict": round(seconds, 1), "total": round(seconds, 1)},
        "classifier": classifier_metrics(predictions),
        "as_deployed": as_deployed(predictions),
        "at_configured_threshold": row_at(rows, config.fallback_threshold),
        "sweep": rows,
        "per_intent": intents,
        "complaint_categories": {
            metric: sum(v[metric] for v in complaints.values()) / len(complaints)
            for metric in ("precision", "recall", "f1")
        }
        if complaints
        else {},
        "unseen_only": {
            "note": "the held-out messages that do not occur verbatim in data/nlu",
            "test": len(unseen),
            "as_deployed": as_deployed(unseen),
            "at_configured_threshold": sweep_row(unseen, config.fallback_threshold),
        },
        "confusion": {
            "rows": order,
            "columns": columns,
            "matrix": matrix,
            "png": "heldout_confusion.png",
        },
        "top_confusions": top_confusions(predictions),
        "notes": [
            "Per-intent figures and the confusion matrix use the model's own answers, "
            "FallbackClassifier included: nlu_fallback is a column of its own.",
        ],
    }
    d = result["as_deployed"]
    log(
        f"heldout: as deployed, in-scope accuracy {fmt(d['in_scope_accuracy'])}, "
        f"out of scope handled {fmt(d['out_of_scope_recall'])}"
    )
    if newer:
        log(f"heldout: WARNING the model is older than {', '.join(newer)}; run `make train`")
    return result


def confusion(
    gold: Sequence[str], predicted: Sequence[str], rows: Sequence[str], columns: Sequence[str]
) -> list[list[int]]:
    counts = Counter(zip(gold, predicted, strict=True))
    return [[counts[(r, c)] for c in columns] for r in rows]


def plot_confusion(
    matrix: list[list[int]], rows: Sequence[str], columns: Sequence[str], total: int, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(0.5 * len(columns) + 4, 0.45 * len(rows) + 3))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(columns)), labels=columns, rotation=90)
    axes.set_yticks(range(len(rows)), labels=rows)
    axes.set_xlabel("predicted (as deployed)")
    axes.set_ylabel("expected")
    axes.set_title(f"tests/nlu/heldout.yml with {PROJECT_MODEL.name}: {total} messages")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                colour = "white" if value > peak / 2 else "black"
                axes.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ---------------------------------------------------------------------------------------------
# Report


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def best_accuracy(
    rows: Sequence[dict[str, Any]], grid: dict[float, Any] | None = None
) -> dict[str, Any]:
    """The sweep row with the best accuracy, on another sweep's thresholds if given."""
    if grid is not None:
        rows = [r for r in rows if round(r["threshold"], 2) in grid]
    return max(rows, key=lambda r: (r["accuracy"], -r["threshold"]))


def markdown(report: dict[str, Any]) -> str:
    config = report["config"]
    t = config["fallback_threshold"]
    datasets = report["datasets"]
    lines = [
        "# NLU evaluation",
        "",
        f"`scripts/evaluate_nlu.py` ({report['mode']} run) on {report['generated_at']}, "
        f"{report['seconds'] / 60:.1f} minutes on {report['environment']['cpu_count']} cores. "
        f"Pipeline of `{config['path']}` (sha256 {config['sha256'][:12]}, pipeline "
        f"{config['pipeline_sha256'][:12]}), Rasa {report['environment']['rasa']}. Fallback "
        f"threshold {t:.2f}, ambiguity threshold {config['ambiguity_threshold']:.2f}.",
        "",
        *(
            [
                f"> **{report['mode'].capitalize()} run**: subsets and/or fewer epochs "
                f"(epochs {report['epochs']}). A smoke test, not comparable with published "
                "figures.",
                "",
            ]
            if report["mode"] != "full"
            else []
        ),
        "## Summary",
        "",
        "| dataset | train | test: in scope / out of scope | epochs | ours | published |",
        "|---|---|---|---|---|---|",
    ]
    for d in datasets.values():
        s = d["split"]
        c = d["classifier"]
        at = d["at_configured_threshold"]
        train = f"{s['train']:,}" if "train" in s else "–"
        epochs = d.get("epochs", "trained model")
        if d["family"] == "banking77":
            ours = f"accuracy **{fmt(c['accuracy'])}**, macro-F1 {fmt(c['macro_f1'])}"
            published = (
                "; ".join(f"{p['system']} {fmt(p['accuracy'])}" for p in d["published"])
                + " (Casanueva et al. 2020)"
            )
        elif d["family"] == "clinc150":
            ours = (
                f"in-scope accuracy **{fmt(c['in_scope_accuracy'])}**, out-of-scope recall "
                f"**{fmt(d['sweep'][0]['out_of_scope_recall'])}** (oos-train, no threshold); at "
                f"{t:.2f}: {fmt(at['in_scope_accuracy'])} / {fmt(at['out_of_scope_recall'])}"
            )
            published = (
                "; ".join(
                    f"{p['system']} {fmt(p['in_scope_accuracy'])} / {fmt(p['out_of_scope_recall'])}"
                    + ("" if p.get("verified", True) else " (unverified)")
                    for p in d["published"]
                )
                + " (Larson et al. 2019, oos-train)"
            )
        elif d["family"] == "hint3":
            theirs = {round(r["threshold"], 2): r for p in d["published"] for r in p["sweep"]}
            best_ours = best_accuracy(d["sweep"], theirs or None)
            ours = (
                f"at {t:.2f}: accuracy **{fmt(at['accuracy'])}**, in-scope accuracy "
                f"{fmt(at['in_scope_accuracy'])}, out-of-scope recall "
                f"{fmt(at['out_of_scope_recall'])}; best accuracy {fmt(best_ours['accuracy'])} "
                f"at {best_ours['threshold']:.2f} (everything out of scope: "
                f"{fmt(s.get('reject_all_accuracy'))})"
            )
            same = theirs.get(round(t, 2))
            best_theirs = best_accuracy(list(theirs.values())) if theirs else None
            published = (
                f"authors' Rasa at {t:.2f}: {fmt(same['accuracy'])}, "
                f"{fmt(same['in_scope_accuracy'])}, {fmt(same['out_of_scope_recall'])}; best "
                f"accuracy {fmt(best_theirs['accuracy'])} at {best_theirs['threshold']:.2f}"
                if same and best_theirs
                else "–"
            )
        else:
            dep = d["as_deployed"]
            ours = (
                f"as deployed: in-scope accuracy **{fmt(dep['in_scope_accuracy'])}**, out of "
                f"scope handled {fmt(dep['out_of_scope_recall'])}, complaint categories macro-F1 "
                f"{fmt(d['complaint_categories'].get('f1'))}"
            )
            published = "– (our own file)"
        lines.append(
            f"| {d['title']} | {train} | {s['test_in_scope']:,} / {s['test_out_of_scope']:,} | "
            f"{epochs} | {ours} | {published} |"
        )
    lines += [
        "",
        "Out-of-scope recall counts a query as out of scope when the top intent is `out_of_scope`"
        " (CLINC150 and the held-out file train one) or its confidence is below the threshold. "
        "HINT3's published accuracy counts out-of-scope queries as a class, as ours does. The "
        "same threshold means different things for differently calibrated models, so HINT3 also "
        "gets each side's best accuracy over the authors' thresholds (0.1 to 0.9), next to what "
        "answering everything as out of scope would score.",
        "",
        "## Threshold sweeps",
        "",
        "A query whose top intent's confidence is below the threshold counts as out of scope "
        f"(FallbackClassifier's rule without its ambiguity check). ← marks config.yml's {t:.2f}.",
    ]
    for d in datasets.values():
        has_oos = d["split"]["test_out_of_scope"] > 0
        theirs = {
            round(r["threshold"], 2): r for p in d.get("published", []) for r in p.get("sweep", [])
        }
        header = "| threshold | in-scope accuracy | in-scope fallback |"
        rule = "|---|---|---|"
        if has_oos:
            header += " out-of-scope recall | out-of-scope precision | accuracy |"
            rule += "---|---|---|"
        if theirs:
            header += " authors' Rasa: accuracy / in-scope / out-of-scope recall |"
            rule += "---|"
        lines += ["", f"### {d['title']}", "", header, rule]
        for r in d["sweep"]:
            mark = " ←" if abs(r["threshold"] - t) < 1e-9 else ""
            line = (
                f"| {r['threshold']:.2f}{mark} | {fmt(r['in_scope_accuracy'])} | "
                f"{fmt(r['in_scope_fallback_rate'])} |"
            )
            if has_oos:
                line += (
                    f" {fmt(r['out_of_scope_recall'])} | {fmt(r['out_of_scope_precision'])} | "
                    f"{fmt(r['accuracy'])} |"
                )
            if theirs:
                p = theirs.get(round(r["threshold"], 2))
                line += (
                    f" {fmt(p['accuracy'])} / {fmt(p['in_scope_accuracy'])} / "
                    f"{fmt(p['out_of_scope_recall'])} |"
                    if p
                    else " |"
                )
            lines.append(line)
        dep = d["as_deployed"]
        lines += [
            "",
            f"As deployed (threshold {t:.2f} and ambiguity check): in-scope accuracy "
            f"{fmt(dep['in_scope_accuracy'])}, "
            f"in-scope fallback {fmt(dep['in_scope_fallback_rate'])}"
            + (f", out-of-scope recall {fmt(dep['out_of_scope_recall'])}." if has_oos else "."),
        ]
    heldout = datasets.get("heldout")
    if heldout:
        unseen = heldout["unseen_only"]
        by_intent = ", ".join(
            f"{k} {v}" for k, v in heldout["split"]["also_in_training_data_by_intent"].items()
        )
        shared = heldout["split"]["also_in_training_data"]
        overlap = (
            f"{shared} of its messages also occur verbatim in data/nlu ({by_intent}). On the "
            f"{unseen['test']} that do not: in-scope accuracy "
            f"{fmt(unseen['as_deployed']['in_scope_accuracy'])}, out of scope handled "
            f"{fmt(unseen['as_deployed']['out_of_scope_recall'])} (as deployed)."
            if shared
            else "none of its messages occurs in data/nlu."
        )
        lines += [
            "",
            "## Held-out messages, per intent",
            "",
            f"{heldout['split']['test']} messages parsed by `{heldout['model']['path']}` as "
            f"deployed (FallbackClassifier included); the file is never trained on, and {overlap}",
            "",
            "| intent | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {fmt(v['precision'])} | {fmt(v['recall'])} | {fmt(v['f1'])} | "
                f"{v['support']} |"
                for name, v in heldout["per_intent"].items()
            ),
            "",
            "![Confusion matrix of the held-out messages](heldout_confusion.png)",
        ]
    lines += ["", "## Notes", ""]
    for d in datasets.values():
        for note in d.get("notes", []):
            lines.append(f"- {d['title']}: {note}")
    if report.get("sampling"):
        lines.append(
            f"- Subsets: {json.dumps(report['sampling'])}. Not comparable with published figures."
        )
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    import rasa
    import sklearn
    import spacy
    import tensorflow as tf

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "tensorflow": tf.__version__,
        "spacy": spacy.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": commit,
    }


# ---------------------------------------------------------------------------------------------
# Command line


def parse_epochs(values: Sequence[str], default: int) -> dict[str, int]:
    epochs = dict.fromkeys(BENCHMARKS, default)
    for value in values:
        name, _, count = value.rpartition("=")
        names = [name] if name else list(BENCHMARKS)
        for n in names:
            if n not in BENCHMARKS:
                raise SystemExit(f"--epochs: unknown dataset {n!r}; one of {', '.join(BENCHMARKS)}")
            if not count.isdigit() or int(count) < 1:
                raise SystemExit(f"--epochs: {value!r} is not NAME=N or N with N >= 1")
            epochs[n] = int(count)
    return epochs


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train config.yml's NLU pipeline on BANKING77, CLINC150 and HINT3 and "
        "report on their test splits, plus the project's model on tests/nlu/heldout.yml.",
        epilog=f"Outputs: evaluation.json, evaluation.md, heldout_confusion.png. --quick means "
        f"{QUICK_SAMPLING.intents} intents per benchmark (HINT3: per bot), "
        f"{QUICK_SAMPLING.train_per_intent} training and {QUICK_SAMPLING.test_per_intent} test "
        f"queries per intent, {QUICK_SAMPLING.oos_train} out-of-scope training queries (CLINC150) "
        f"and {QUICK_SAMPLING.oos_test} out-of-scope test queries, {QUICK_EPOCHS} epochs.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small stratified subsets, few epochs (smoke test, CI)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"report folder (default {FULL_OUT.relative_to(ROOT)} for a full run of config.yml, "
        f"{SCRATCH_OUT.relative_to(ROOT)} otherwise)",
    )
    parser.add_argument(
        "--epochs",
        action="append",
        default=[],
        metavar="[NAME=]N",
        help="epochs for the components that have them (DIETClassifier), for one benchmark "
        f"({', '.join(BENCHMARKS)}) or, without NAME, all; repeatable. Default: config.yml's "
        f"(--quick: {QUICK_EPOCHS})",
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated subset of {','.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help=f"benchmark folder (default {DEFAULT_DATA}, or $REDRESS_BENCHMARK_DATA)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="Rasa config whose pipeline is trained (default config.yml)",
    )
    parser.add_argument(
        "--hint3-version",
        choices=("v1", "v2"),
        default="v1",
        help="HINT3 dataset version (default v1, the paper's)",
    )
    parser.add_argument("--intents", type=int, help="subset: intents per benchmark")
    parser.add_argument("--train-per-intent", type=int, help="subset: training queries per intent")
    parser.add_argument("--test-per-intent", type=int, help="subset: test queries per intent")
    parser.add_argument("--oos-test", type=int, help="subset: out-of-scope test queries")
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"subset sampling seed (default {SEED})"
    )
    return parser.parse_args(argv)


def sampling_from(args: argparse.Namespace) -> Sampling | None:
    custom = {
        "intents": args.intents,
        "train_per_intent": args.train_per_intent,
        "test_per_intent": args.test_per_intent,
        "oos_test": args.oos_test,
    }
    if not args.quick and all(v is None for v in custom.values()):
        return None
    base = (
        asdict(QUICK_SAMPLING)
        if args.quick
        else {
            "intents": 10**9,
            "train_per_intent": 10**9,
            "test_per_intent": 10**9,
            "oos_train": 10**9,
            "oos_test": 10**9,
        }
    )
    base.update({k: v for k, v in custom.items() if v is not None})
    return Sampling(**base)


def check_prerequisites(
    wanted: Sequence[str], config: ProjectConfig, data: Path, hint3: str
) -> None:
    problems = []
    for component in training_config(config, config.epochs)["pipeline"]:
        if component.get("name") == "SpacyNLP" and not Path(component["model"]).exists():
            problems.append(f"the spaCy pipeline {component['model']} is missing: run `make spacy`")
    needed = {
        "banking77": [data / "banking77" / "train.csv", data / "banking77" / "test.csv"],
        "clinc150": [data / "clinc150" / "data_full.json"],
        "hint3": [
            data / "hint3" / "dataset" / hint3 / split / f"{bot}_{split}.csv"
            for bot in HINT3_BOTS
            for split in ("train", "test")
        ],
        "heldout": [HELDOUT, PROJECT_MODEL],
    }
    for name in wanted:
        for path in needed[name]:
            if not path.exists():
                hint = "run `make train`" if path == PROJECT_MODEL else "see --data"
                problems.append(f"{name}: {path} is missing ({hint})")
    if problems:
        raise SystemExit("cannot evaluate:\n  " + "\n  ".join(problems))


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    wanted = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(wanted) - set(DATASETS))
    if unknown or not wanted:
        raise SystemExit(f"--datasets: unknown {unknown}; choose from {', '.join(DATASETS)}")
    config = load_config(args.config.resolve())
    data = args.data.resolve()
    sampling = sampling_from(args)
    default_epochs = QUICK_EPOCHS if args.quick else config.epochs
    epochs = parse_epochs(args.epochs, default_epochs)
    full = sampling is None and args.config.resolve() == DEFAULT_CONFIG
    out = (args.out or (FULL_OUT if full else SCRATCH_OUT)).resolve()
    check_prerequisites(wanted, config, data, args.hint3_version)
    mode = "quick" if args.quick else ("full" if sampling is None else "subset")
    log(f"evaluate_nlu: {mode} run of {args.config} on {', '.join(wanted)}; reports to {out}")

    with tempfile.TemporaryDirectory(prefix="evaluate-nlu-") as scratch:
        quiet_rasa(Path(scratch))
        loaders: dict[str, Callable[[], list[Benchmark]]] = {
            "banking77": lambda: load_banking77(data),
            "clinc150": lambda: load_clinc150(data),
            "hint3": lambda: load_hint3(data, args.hint3_version),
        }
        results: dict[str, Any] = {}
        out.mkdir(parents=True, exist_ok=True)
        for name in wanted:
            if name == "heldout":
                results["heldout"] = evaluate_heldout(config, out)
                continue
            for benchmark in loaders[name]():
                if sampling is not None:
                    benchmark = sample(benchmark, sampling, args.seed)
                results[benchmark.key] = evaluate_benchmark(
                    benchmark, config, epochs[name], Path(scratch) / "models", data
                )
        report = {
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "mode": mode,
            "command": " ".join(["scripts/evaluate_nlu.py", *argv]),
            "seconds": round(time.monotonic() - _START, 1),
            "environment": environment(),
            "config": config.summary(),
            "epochs": {name: epochs[name] for name in BENCHMARKS if name in wanted},
            "sampling": {**asdict(sampling), "seed": args.seed} if sampling else None,
            "hint3_version": args.hint3_version,
            "thresholds": sorted({*THRESHOLDS, config.fallback_threshold}),
            "out_of_scope_label": OUT_OF_SCOPE,
            "datasets": results,
        }
    (out / "evaluation.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "evaluation.md").write_text(markdown(report))
    log(
        f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'} "
        f"in {report['seconds'] / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
