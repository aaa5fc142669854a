"""How the running assistant treats real customers' messages (part of ``make evaluate``).

Starts the whole assistant (scripts/stack.py: Rasa with the trained model, the action server,
the gateway) on a throwaway database and sends every message of the real-text corpus
(scripts/realtext.py) as the first message of a new web chat, exactly as a customer would.
What the assistant *did* is read back from the records API: whether a complaint was recorded,
with which category. So the figures are the deployed decision, fallback threshold and
actions included, not the NLU's ranking.

- On the whole corpus: is a complaint recorded for the messages the corpus's authors call
  complaints (recall), and only for them (precision), overall and per domain; F1 beside the
  corpus paper's own figures.
- On our labelled complaints (``tests/nlu/realtext/labels.csv``), the test part and the dev
  part apart: category accuracy (no complaint recorded counts as wrong), macro-F1 over the ten
  categories, the confusion matrix, and the share whose first reply apologises.
- What a missed complaint got instead (the kind of reply), counted.

Writes ``<out>/realtext.json`` and ``<out>/realtext.md``; with ``--dev-failures`` also the dev
part's misses, with their text, under reports/tmp/ (never committed). The test part's texts
are never printed.

    .venv/bin/python scripts/evaluate_realtext.py [--quick] [--data DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.realtext import (
    CATEGORIES,
    CorpusError,
    Tweet,
    default_data_dir,
    labelled,
    load_corpus,
    load_labels,
    split_of,
)
from scripts.stack import MODEL, Stack

REPO_ROOT = Path(__file__).resolve().parent.parent
NONE = "(none)"
APOLOGY = re.compile(r"\b(I'm|I am|we're|we are)( so| really| very)? sorry\b", re.IGNORECASE)
# What the assistant said instead of taking a complaint, by the start of the reply.
REPLY_KINDS = (
    ("misunderstood", re.compile(r"^I didn't quite follow")),
    ("off_topic", re.compile(r"^I can only help with")),
    ("abuse", re.compile(r"^I can tell you're really angry")),
    ("goodbye", re.compile(r"^Thank you for telling us")),
    ("thanks", re.compile(r"^You're welcome")),
    ("greeting", re.compile(r"^(Hi|Hello)\b")),
    ("asked_for_a_person", re.compile(r"person|team", re.IGNORECASE)),
    ("anything_else", re.compile(r"anything else", re.IGNORECASE)),
    ("tell_me_what_went_wrong", re.compile(r"what went wrong|what's gone wrong", re.IGNORECASE)),
)
# Preoțiuc-Pietro, Gaman and Aletras, "Automatically Identifying Complaints in Social Media",
# ACL 2019, Table 6 (10-fold cross-validation on their 3,449 tweets).
PAPER = {
    "best, logistic regression on all features + distant supervision": {"f1": 0.789},
    "best single feature set (bag of words)": {"f1": 0.772},
    "most frequent class": {"f1": 0.0},
}
QUICK_CORPUS = 60
QUICK_LABELLED = 20


@dataclass(frozen=True)
class Outcome:
    tweet: Tweet
    category: str  # recorded complaint category, or NONE
    first_reply: str
    apologised: bool
    seconds: float


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def send_first_message(stack: Stack, tweet: Tweet) -> Outcome:
    started = time.perf_counter()
    conversation_id, replies = stack.say(None, tweet.text)
    seconds = time.perf_counter() - started
    complaints = stack.record(conversation_id).get("complaints") or []
    first = str(replies[0].get("text") or "") if replies else ""
    return Outcome(
        tweet=tweet,
        category=str(complaints[0]["category"]) if complaints else NONE,
        first_reply=first,
        apologised=bool(APOLOGY.search(first)),
        seconds=seconds,
    )


def run_all(stack: Stack, tweets: Sequence[Tweet], workers: int) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, outcome in enumerate(pool.map(lambda t: send_first_message(stack, t), tweets)):
            outcomes[outcome.tweet.id] = outcome
            if (done + 1) % 250 == 0:
                log(f"  {done + 1} of {len(tweets)} sent")
    return outcomes


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def f1(precision: float | None, recall: float | None) -> float | None:
    if not precision or not recall:
        return 0.0 if precision is not None and recall is not None else None
    return round(2 * precision * recall / (precision + recall), 4)


def recognition(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    tp = sum(1 for o in outcomes if o.tweet.is_complaint and o.category != NONE)
    fp = sum(1 for o in outcomes if not o.tweet.is_complaint and o.category != NONE)
    fn = sum(1 for o in outcomes if o.tweet.is_complaint and o.category == NONE)
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "messages": len(outcomes),
        "complaints": tp + fn,
        "recorded_as_complaint": tp + fp,
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
        "apology_on_complaints": ratio(
            sum(1 for o in outcomes if o.tweet.is_complaint and o.apologised), tp + fn
        ),
    }


def per_domain(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.tweet.domain].append(outcome)
    result = {}
    for domain, group in sorted(groups.items()):
        row = recognition(group)
        negatives = [o for o in group if not o.tweet.is_complaint]
        row["false_positive_rate"] = ratio(
            sum(1 for o in negatives if o.category != NONE), len(negatives)
        )
        result[domain] = row
    return result


def instead(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """For complaints with no complaint recorded: which kind of reply they got."""
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        if not outcome.tweet.is_complaint or outcome.category != NONE:
            continue
        kind = next((k for k, p in REPLY_KINDS if p.search(outcome.first_reply)), "something else")
        counts[kind] += 1
    return dict(counts.most_common())


def categories(pairs: Sequence[tuple[Outcome, str]]) -> dict[str, Any]:
    gold = [label for _, label in pairs]
    predicted = [outcome.category for outcome, _ in pairs]
    per_category = {}
    for category in CATEGORIES:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == category)
        support = gold.count(category)
        chosen = predicted.count(category)
        precision, recall = ratio(tp, chosen), ratio(tp, support)
        per_category[category] = {
            "support": support,
            "precision": precision,
            "recall": recall,
            "f1": f1(precision, recall) if support else None,
        }
    scored = [row["f1"] for row in per_category.values() if row["f1"] is not None]
    matrix = {
        g: {p: n for (gg, p), n in Counter(zip(gold, predicted, strict=True)).items() if gg == g}
        for g in CATEGORIES
        if g in gold
    }
    return {
        "messages": len(pairs),
        "accuracy": ratio(
            sum(1 for g, p in zip(gold, predicted, strict=True) if g == p), len(gold)
        ),
        "macro_f1": round(sum(scored) / len(scored), 4) if scored else None,
        "recorded_as_complaint": ratio(sum(1 for p in predicted if p != NONE), len(predicted)),
        "apology_in_first_reply": ratio(sum(1 for o, _ in pairs if o.apologised), len(pairs)),
        "per_category": per_category,
        "confusion": matrix,
    }


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def markdown(report: dict[str, Any]) -> str:
    whole = report["corpus"]
    lines = [
        "# Real customers' messages through the running assistant",
        "",
        f"Generated {report['generated']} by `scripts/evaluate_realtext.py`"
        + (" (quick subset: not comparable)" if report["quick"] else "")
        + f"; model `{report['model']}`; {report['seconds']:.0f} s.",
        "",
        "Each message was the first message of a new web chat; the figures read what the",
        "assistant recorded, so they are the deployed decision.",
        "",
        "## Is it recognised as a complaint? (whole corpus)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| messages (complaints) | {whole['messages']} ({whole['complaints']}) |",
        f"| precision | {pct(whole['precision'])} |",
        f"| recall | {pct(whole['recall'])} |",
        f"| F1 | {pct(whole['f1'])} |",
        f"| first reply apologises, of complaints | {pct(whole['apology_on_complaints'])} |",
        "",
        "Of the messages addressed to a company (what a support chat receives; without the",
        "ordinary tweets to nobody):",
        "",
        "| messages (complaints) | precision | recall | F1 |",
        "|---|---|---|---|",
        "| {messages} ({complaints}) | {p} | {r} | {f} |".format(
            messages=report["addressed_to_a_company"]["messages"],
            complaints=report["addressed_to_a_company"]["complaints"],
            p=pct(report["addressed_to_a_company"]["precision"]),
            r=pct(report["addressed_to_a_company"]["recall"]),
            f=pct(report["addressed_to_a_company"]["f1"]),
        ),
        "",
        "The same, for the corpus's dev and test parts (by the hash of each id; only dev is",
        "studied when changing the assistant):",
        "",
        "| part | messages | complaints | precision | recall | F1 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {split} | {row['messages']} | {row['complaints']} | {pct(row['precision'])} | "
            f"{pct(row['recall'])} | {pct(row['f1'])} |"
            for split, row in report["corpus_by_split"].items()
        ),
        "",
        "The corpus paper's own figures (10-fold cross-validation, trained on the corpus):",
        "",
        "| model | F1 |",
        "|---|---|",
        *(f"| {name} | {pct(row['f1'])} |" for name, row in report["paper"].items()),
        "",
        "### Per domain",
        "",
        "| domain | messages | complaints | precision | recall | F1 | false positives |",
        "|---|---|---|---|---|---|---|",
    ]
    for domain, row in report["per_domain"].items():
        lines.append(
            f"| {domain} | {row['messages']} | {row['complaints']} | {pct(row['precision'])} | "
            f"{pct(row['recall'])} | {pct(row['f1'])} | {pct(row['false_positive_rate'])} |"
        )
    lines += [
        "",
        "### What a missed complaint got instead",
        "",
        "| reply | complaints |",
        "|---|---|",
        *(f"| {kind} | {count} |" for kind, count in report["missed_got_instead"].items()),
    ]
    for split in ("test", "dev"):
        part = report["labelled"].get(split)
        if not part:
            continue
        lines += [
            "",
            f"## Category on our labelled complaints: {split} part",
            "",
            "| measure | value |",
            "|---|---|",
            f"| messages | {part['messages']} |",
            f"| category accuracy | {pct(part['accuracy'])} |",
            f"| macro-F1 | {pct(part['macro_f1'])} |",
            f"| a complaint recorded | {pct(part['recorded_as_complaint'])} |",
            f"| first reply apologises | {pct(part['apology_in_first_reply'])} |",
            "",
            "| category | support | precision | recall | F1 |",
            "|---|---|---|---|---|",
            *(
                f"| {c} | {r['support']} | {pct(r['precision'])} | {pct(r['recall'])} | "
                f"{pct(r['f1'])} |"
                for c, r in part["per_category"].items()
            ),
            "",
            "Confusion (rows: our label; columns: recorded):",
            "",
            "| label | " + " | ".join([*CATEGORIES, NONE]) + " |",
            "|---|" + "---|" * (len(CATEGORIES) + 1),
            *(
                f"| {g} | " + " | ".join(str(row.get(p, "")) for p in [*CATEGORIES, NONE]) + " |"
                for g, row in part["confusion"].items()
            ),
        ]
    return "\n".join(lines) + "\n"


def quick_subset(tweets: Sequence[Tweet], count: int, seed: int) -> list[Tweet]:
    """A small sample with complaints and non-complaints from every domain."""
    rng = random.Random(seed)  # noqa: S311 (a fixed sample, not a secret)
    by_domain: dict[str, list[Tweet]] = defaultdict(list)
    for tweet in tweets:
        by_domain[tweet.domain].append(tweet)
    chosen: list[Tweet] = []
    per_domain_count = max(2, count // len(by_domain))
    for _, group in sorted(by_domain.items()):
        chosen += rng.sample(group, min(per_domain_count, len(group)))
    return chosen[:count] if len(chosen) > count else chosen


def corpus_business(workdir: Path) -> Path:
    """The business folder as configured, but with nothing listed as not ours: each tweet is
    read as sent to the company that provides what it is about (docs/labelling-guide.md),
    so a complaint about a burger is measured as a complaint, not as a message to the wrong
    company."""
    folder = workdir / "business"
    shutil.copytree(REPO_ROOT / "business", folder)
    products = folder / "products.yml"
    data = yaml.safe_load(products.read_text(encoding="utf-8"))
    data.pop("not_ours", None)
    products.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


def arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="shared data folder")
    parser.add_argument("--out", type=Path, help="report folder (default reports/nlu)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_CORPUS} corpus messages and {QUICK_LABELLED} labelled ones (CI)",
    )
    parser.add_argument("--workers", type=int, default=4, help="messages in flight at once")
    parser.add_argument(
        "--dev-failures",
        action="store_true",
        help="also write the dev part's misses, with text, to reports/tmp/realtext-dev.md",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = arguments(argv)
    out = args.out or REPO_ROOT / ("reports/tmp/nlu-evaluate" if args.quick else "reports/nlu")
    if not MODEL.is_file():
        print(f"No trained model at {MODEL}: run `make train` first.", file=sys.stderr)
        return 2
    try:
        corpus = load_corpus(args.data)
        labels = load_labels()
        parts = {split: labelled(corpus, labels, split) for split in ("test", "dev")}
    except CorpusError as problem:
        print(str(problem), file=sys.stderr)
        return 2
    tweets = list(corpus)
    if args.quick:
        tweets = quick_subset(corpus, QUICK_CORPUS, seed=1)
        parts = {s: p[:QUICK_LABELLED] for s, p in parts.items() if s == "test"}
    wanted = {t.id: t for t in tweets}
    for part in parts.values():
        wanted.update({tweet.id: tweet for tweet, _ in part})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="redress-realtext-") as workdir:
        business = corpus_business(Path(workdir))
        stack = Stack(Path(workdir), extra_env={"REDRESS_BUSINESS_DIR": str(business)})
        try:
            for name in ("rasa", "actions", "gateway"):
                stack.start(name)
            stack.wait_until_ready()
            log(f"sending {len(wanted)} real messages, each as a new conversation")
            outcomes = run_all(stack, list(wanted.values()), args.workers)
        finally:
            stack.close()
    seconds = time.monotonic() - started
    on_corpus = [outcomes[t.id] for t in tweets]
    report = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "model": str(MODEL.relative_to(REPO_ROOT)),
        "seconds": round(seconds, 1),
        "corpus": recognition(on_corpus),
        # What a support chat receives: messages addressed to a company, without the ordinary
        # tweets to nobody (domains random_tweet and random_reply).
        "addressed_to_a_company": recognition(
            [o for o in on_corpus if not o.tweet.domain.startswith("random")]
        ),
        # Every corpus id has a split too: changes are studied on dev, never on test.
        "corpus_by_split": {
            split: recognition([o for o in on_corpus if split_of(o.tweet.id) == split])
            for split in ("dev", "test")
        },
        "per_domain": per_domain(on_corpus),
        "missed_got_instead": instead(on_corpus),
        "paper": PAPER,
        "labelled": {
            split: categories([(outcomes[t.id], label) for t, label in part])
            for split, part in parts.items()
        },
        "median_first_reply_seconds": sorted(o.seconds for o in outcomes.values())[
            len(outcomes) // 2
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "realtext.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "realtext.md").write_text(markdown(report), encoding="utf-8")
    if args.dev_failures and "dev" in parts:
        write_dev_failures(parts["dev"], outcomes, on_corpus)
    whole, test = report["corpus"], report["labelled"].get("test", {})
    log(
        f"corpus: precision {pct(whole['precision'])}, recall {pct(whole['recall'])}, "
        f"F1 {pct(whole['f1'])}; test part: accuracy {pct(test.get('accuracy'))}, "
        f"macro-F1 {pct(test.get('macro_f1'))}, apology {pct(test.get('apology_in_first_reply'))}"
    )
    log(f"wrote {out / 'realtext.md'}")
    return 0


def write_dev_failures(
    part: Sequence[tuple[Tweet, str]], outcomes: dict[str, Outcome], corpus: Sequence[Outcome]
) -> None:
    """The dev part's misses, text included, for study (reports/tmp/ is never committed):
    wrong categories of labelled complaints, then the corpus's dev messages taken the wrong
    way (complaint or not)."""
    path = REPO_ROOT / "reports" / "tmp" / "realtext-dev.md"
    path.parent.mkdir(parents=True, exist_ok=True)

    def row(outcome: Outcome, label: str) -> str:
        text = outcome.tweet.text.replace("|", "/").replace("\n", " ")
        reply = outcome.first_reply[:60].replace("|", "/")
        return f"| {outcome.tweet.id} | {label} | {outcome.category} | {reply} | {text} |"

    rows = ["| id | label | recorded | first reply | text |", "|---|---|---|---|---|"]
    rows += [row(outcomes[t.id], c) for t, c in part if outcomes[t.id].category != c]
    rows += ["", "| id | complaint? | recorded | first reply | text |", "|---|---|---|---|---|"]
    rows += [
        row(o, "complaint" if o.tweet.is_complaint else "not")
        for o in corpus
        if split_of(o.tweet.id) == "dev" and o.tweet.is_complaint != (o.category != NONE)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    log(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
