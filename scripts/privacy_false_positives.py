"""How often the personal-data detector (redress/privacy/detect.py) fires on public benchmark
texts that hold almost no personal data: a measure of its false positives.

Reads every utterance of BANKING77, CLINC150, HWU64, HINT3, Bitext's customer-service sample and
the complaints-on-social-media tweets from the shared data folder (never copied into the
repository), runs ``find`` on each distinct text, and prints, per data set and per kind, how
many texts had a finding, with a sample of what was found so a person can judge each one.

    .venv/bin/python scripts/privacy_false_positives.py --data ../shared/data [--samples 5]

Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from redress.privacy.detect import Found, Kind, find  # noqa: E402

DEFAULT_DATA = Path(
    os.environ.get("REDRESS_BENCHMARK_DATA", str(REPO_ROOT.parent / "shared" / "data"))
)
HINT3_BOTS = ("curekart", "powerplay11", "sofmattress")
HWU64_FILES = (
    "RasaNlu_Merged_KFold_1_2018_03_22-13_01_25_169.json",
    "RasaNluTestset_Merged_2018_03_22-13_01_25_169.json",
)
BITEXT_FILES = ("Training", "Validation", "Testing")
SEED = 16


def _csv_column(path: Path, column: str, delimiter: str = ",") -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle, delimiter=delimiter)]


def banking77(data: Path) -> list[str]:
    folder = data / "banking77"
    return [t for name in ("train.csv", "test.csv") for t in _csv_column(folder / name, "text")]


def clinc150(data: Path) -> list[str]:
    full = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [text for split in full.values() for text, _intent in split]


def hwu64(data: Path) -> list[str]:
    texts = []
    for name in HWU64_FILES:
        path = data / "hwu64" / "out4RasaReal_KFold_1" / name
        examples = json.loads(path.read_text(encoding="utf-8"))["rasa_nlu_data"]
        texts += [example["text"] for example in examples["common_examples"]]
    return texts


def hint3(data: Path) -> list[str]:
    texts = []
    for version in ("v1", "v2"):
        for split in ("train", "test"):
            for path in sorted((data / "hint3" / "dataset" / version / split).glob("*.csv")):
                texts += _csv_column(path, "sentence")
    return texts


def bitext(data: Path) -> list[str]:
    folder = data / "bitext_customer_service"
    return [
        text
        for split in BITEXT_FILES
        for text in _csv_column(
            folder / f"Bitext_Sample_Customer_Service_{split}_Dataset.csv", "utterance"
        )
    ]


def complaints_social_media(data: Path) -> list[str]:
    return _csv_column(data / "complaints_social_media" / "complaints.csv", "text")


DATA_SETS: dict[str, Callable[[Path], list[str]]] = {
    "banking77": banking77,
    "clinc150": clinc150,
    "hwu64": hwu64,
    "hint3": hint3,
    "bitext": bitext,
    "complaints_social_media": complaints_social_media,
}


def distinct(texts: Iterable[str]) -> list[str]:
    """Each text once, in first-seen order (the benchmarks repeat texts across splits)."""
    return list(dict.fromkeys(text.strip() for text in texts if text.strip()))


@dataclass
class Counts:
    """Texts read, and per kind the texts with at least one finding of that kind."""

    texts: int = 0
    with_finding: int = 0
    by_kind: Counter[Kind] = field(default_factory=Counter)
    examples: dict[Kind, list[tuple[str, Found]]] = field(default_factory=lambda: defaultdict(list))


def count_findings(texts: Iterable[str]) -> Counts:
    counts = Counts()
    for text in texts:
        counts.texts += 1
        found = find(text)
        if found:
            counts.with_finding += 1
        for kind in {f.kind for f in found}:
            counts.by_kind[kind] += 1
        for f in found:
            counts.examples[f.kind].append((text, f))
    return counts


def shown(text: str, found: Found, width: int = 60) -> str:
    """The text around a finding, the finding itself between ⟦ and ⟧."""
    start, end = max(0, found.start - width), min(len(text), found.end + width)
    snippet = (
        text[start : found.start]
        + "⟦"
        + text[found.start : found.end]
        + "⟧"
        + text[found.end : end]
    )
    return ("…" if start else "") + " ".join(snippet.split()) + ("…" if end < len(text) else "")


def report(name: str, counts: Counts, samples: int, rng: random.Random) -> list[str]:
    share = counts.with_finding / counts.texts if counts.texts else 0.0
    lines = [f"{name}: {counts.texts} texts, {counts.with_finding} with a finding ({share:.3%})"]
    for kind in Kind:
        found = counts.by_kind[kind]
        if not found:
            continue
        lines.append(f"  {kind.value:<14} {found:>5} texts ({found / counts.texts:.3%})")
        examples = counts.examples[kind]
        for text, f in rng.sample(examples, min(samples, len(examples))):
            lines.append(f"      {shown(text, f)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--samples", type=int, default=5, help="findings shown per kind")
    parser.add_argument("--only", choices=sorted(DATA_SETS), action="append", help="data set(s)")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"No data folder at {args.data}: pass --data or set REDRESS_BENCHMARK_DATA.")
        return 2
    rng = random.Random(SEED)  # noqa: S311 (which samples are shown, nothing secret)
    total = Counts()
    for name in args.only or DATA_SETS:
        counts = count_findings(distinct(DATA_SETS[name](args.data)))
        print("\n".join(report(name, counts, args.samples, rng)))
        total.texts += counts.texts
        total.with_finding += counts.with_finding
        total.by_kind += counts.by_kind
    print(
        f"all: {total.texts} texts, {total.with_finding} with a finding "
        f"({total.with_finding / max(total.texts, 1):.3%}); "
        + ", ".join(f"{kind.value} {total.by_kind[kind]}" for kind in Kind)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
