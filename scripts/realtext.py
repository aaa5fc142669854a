"""The real-text corpus: customers' tweets to support accounts, labelled complaint or not by
the corpus's authors, and our own category labels for a sample of the complaints.

The tweets are read from the shared data folder and never copied into the repository; our
labels (``tests/nlu/realtext/labels.csv``) hold only ids, categories and the split. The split
is made once, by a hash of the id (``split_of``), so nobody chooses which message is tested.

Standard library only: used by scripts/evaluate_realtext.py, the tests and anyone reading the
corpus from either Python environment.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = Path("complaints_social_media") / "complaints.csv"
LABELS_FILE = REPO_ROOT / "tests" / "nlu" / "realtext" / "labels.csv"
CATEGORIES = (
    "outage",
    "slow_service",
    "billing",
    "delay",
    "faulty_equipment",
    "staff_conduct",
    "refund",
    "cancellation",
    "account_access",
    "other",
)
SPLITS = ("dev", "test")
_SALT = "redress-realtext:"
TEST_SHARE_OUT_OF_FIVE = 3  # three in five labelled complaints are test, the rest dev


@dataclass(frozen=True)
class Tweet:
    id: str
    text: str
    is_complaint: bool
    domain: str


class CorpusError(Exception):
    """The corpus or the labels file is missing or not what it should be."""


def default_data_dir() -> Path:
    """Where the shared data sets are: ``REDRESS_BENCHMARK_DATA``, else ``../shared/data``."""
    configured = os.environ.get("REDRESS_BENCHMARK_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


def sample_key(tweet_id: str) -> str:
    """The fixed order in which complaints were taken for labelling."""
    return hashlib.sha256(f"{_SALT}{tweet_id}".encode()).hexdigest()


def split_of(tweet_id: str) -> str:
    """``test`` or ``dev``, fixed by the id alone."""
    return "test" if int(sample_key(tweet_id)[:8], 16) % 5 < TEST_SHARE_OUT_OF_FIVE else "dev"


def load_corpus(data_dir: Path) -> list[Tweet]:
    path = data_dir / CORPUS_FILE
    if not path.is_file():
        raise CorpusError(
            f"The real-text corpus is missing: {path}. Set REDRESS_BENCHMARK_DATA or --data "
            "to the folder that holds complaints_social_media/."
        )
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "text", "is_complaint", "domain"} - set(reader.fieldnames or [])
        if missing:
            raise CorpusError(f"{path} has no column(s) {', '.join(sorted(missing))}")
        return [
            Tweet(row["id"], row["text"], row["is_complaint"] == "1", row["domain"])
            for row in reader
        ]


def load_labels(path: Path = LABELS_FILE) -> dict[str, tuple[str, str]]:
    """Our labels: tweet id → (category, split). Checks every row."""
    if not path.is_file():
        raise CorpusError(f"The category labels are missing: {path}")
    labels: dict[str, tuple[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            tweet_id, category, split = row.get("id"), row.get("category"), row.get("split")
            if not tweet_id or not tweet_id.isdigit():
                raise CorpusError(f"{path}, line {number}: the id must be the tweet's number")
            if category not in CATEGORIES:
                raise CorpusError(f"{path}, line {number}: unknown category {category!r}")
            if split != split_of(tweet_id):
                raise CorpusError(
                    f"{path}, line {number}: id {tweet_id} belongs to {split_of(tweet_id)!r}, "
                    f"not {split!r} (the split is fixed by the id)"
                )
            if tweet_id in labels:
                raise CorpusError(f"{path}, line {number}: id {tweet_id} is labelled twice")
            labels[tweet_id] = (category, split)
    return labels


def write_labels(rows: Iterable[tuple[str, str]], path: Path = LABELS_FILE) -> int:
    """Writes (id, category) pairs with their fixed split, in sample order."""
    ordered = sorted(rows, key=lambda row: sample_key(row[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "category", "split"])
        for tweet_id, category in ordered:
            writer.writerow([tweet_id, category, split_of(tweet_id)])
    return len(ordered)


def labelled(
    corpus: Iterable[Tweet], labels: dict[str, tuple[str, str]], split: str
) -> list[tuple[Tweet, str]]:
    """The labelled complaints of one split, with their category, in sample order."""
    by_id = {tweet.id: tweet for tweet in corpus}
    unknown = sorted(set(labels) - set(by_id))
    if unknown:
        raise CorpusError(f"{len(unknown)} labelled ids are not in the corpus, e.g. {unknown[0]}")
    chosen = [(by_id[i], c) for i, (c, s) in labels.items() if s == split]
    return sorted(chosen, key=lambda pair: sample_key(pair[0].id))
