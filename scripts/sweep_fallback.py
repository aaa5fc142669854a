"""Chooses the NLU fallback threshold by measurement, not by default.

Parses every message of the held-out file (tests/nlu/heldout.yml, never trained on) with the
trained model and, for each candidate threshold, reports:
  - in-scope accuracy: messages of a real intent classified correctly and confidently enough;
  - in-scope fallback rate: such messages the assistant would ask to have rephrased;
  - out-of-scope recall: off-topic messages answered as off-topic or not accepted.
A message is not accepted as the deployed FallbackClassifier decides: its top intent's
confidence is below the threshold, or the top two are closer than the ambiguity threshold.
Both are swept together: each ambiguity threshold in AMBIGUITIES with each threshold, and
config.yml's own pair is marked.
The recommended pair is the highest threshold that asks at most 2% of real messages to be
rephrased (asking an upset customer to say it again is itself a failure, so it is capped
rather than traded freely), and with it the ambiguity threshold with the best mean of
in-scope accuracy and out-of-scope recall. The highest, because the held-out file's 30
off-topic messages are too few to show what a threshold catches, while CLINC150's 1,000
real out-of-scope queries (make evaluate) show out-of-scope recall rising steadily with it.

Run in the Rasa environment:  .venv-rasa/bin/python scripts/sweep_fallback.py [MODEL]
Writes reports/nlu/fallback_sweep.json and .md.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The pipeline's own components (rasa_addons/) are imported by Rasa from the checkout.
sys.path.insert(0, str(ROOT))
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
OUT = ROOT / "reports" / "nlu"
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 19)]
AMBIGUITIES = [0.0, 0.02, 0.05, 0.1]
OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
MAX_IN_SCOPE_FALLBACK = 0.02
CONFIG = ROOT / "config.yml"


def deployed_thresholds() -> tuple[float, float]:
    """config.yml's FallbackClassifier threshold and ambiguity threshold (Rasa's defaults
    0.3 and 0.1 if unset)."""
    pipeline = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["pipeline"]
    fallback = next((c for c in pipeline if c["name"] == "FallbackClassifier"), {})
    return float(fallback.get("threshold", 0.3)), float(fallback.get("ambiguity_threshold", 0.1))


def heldout_examples() -> list[tuple[str, str]]:
    data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    return [
        (block["intent"], line.strip()[2:].strip())
        for block in data["nlu"]
        for line in block["examples"].splitlines()
        if line.strip().startswith("- ")
    ]


Parsed = tuple[str, str, float, float]  # expected, predicted, confidence, runner-up's


async def predictions(model: Path, examples: list[tuple[str, str]]) -> list[Parsed]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    results = []
    for expected, text in examples:
        parsed = await agent.parse_message(text)
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        top = ranking[0] if ranking else {"name": FALLBACK, "confidence": 0.0}
        second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
        results.append((expected, top["name"], float(top["confidence"]), second))
    return results


def sweep(results: list[Parsed]) -> list[dict[str, float]]:
    in_scope = [r for r in results if r[0] != OUT_OF_SCOPE]
    off_topic = [r for r in results if r[0] == OUT_OF_SCOPE]
    rows = []
    for ambiguity, threshold in itertools.product(AMBIGUITIES, THRESHOLDS):

        def accepted(
            confidence: float, second: float, threshold: float = threshold, gap: float = ambiguity
        ) -> bool:
            return confidence >= threshold and confidence - second >= gap

        correct = sum(1 for e, p, c, s in in_scope if p == e and accepted(c, s))
        rejected = sum(1 for _, _, c, s in in_scope if not accepted(c, s))
        handled = sum(1 for _, p, c, s in off_topic if p == OUT_OF_SCOPE or not accepted(c, s))
        rows.append(
            {
                "threshold": threshold,
                "ambiguity_threshold": ambiguity,
                "in_scope_accuracy": correct / len(in_scope),
                "in_scope_fallback_rate": rejected / len(in_scope),
                "out_of_scope_recall": handled / len(off_topic) if off_topic else 1.0,
            }
        )
    for row in rows:
        row["balanced"] = (row["in_scope_accuracy"] + row["out_of_scope_recall"]) / 2
    return rows


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    model = Path(argv[1]) if len(argv) > 1 else ROOT / "models" / "redress.tar.gz"
    examples = heldout_examples()
    print(f"parsing {len(examples)} held-out messages with {model.name}...", flush=True)
    deployed = deployed_thresholds()
    rows = sweep(asyncio.run(predictions(model, examples)))
    allowed = [r for r in rows if r["in_scope_fallback_rate"] <= MAX_IN_SCOPE_FALLBACK] or rows
    best = max(
        allowed,
        key=lambda r: (r["threshold"], round(r["balanced"], 4), -r["ambiguity_threshold"]),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fallback_sweep.json").write_text(
        json.dumps(
            {
                "examples": len(examples),
                "deployed": {"threshold": deployed[0], "ambiguity_threshold": deployed[1]},
                "rows": rows,
                "recommended": best,
            },
            indent=2,
        )
    )
    lines = [
        "| ambiguity | threshold | in-scope accuracy | in-scope fallback | out-of-scope recall "
        "| mean |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['ambiguity_threshold']:.2f} | {r['threshold']:.2f}"
            f"{' ← best' if r is best else ''}"
            f"{' (deployed)' if (r['threshold'], r['ambiguity_threshold']) == deployed else ''} | "
            f"{r['in_scope_accuracy']:.1%} | "
            f"{r['in_scope_fallback_rate']:.1%} | {r['out_of_scope_recall']:.1%} | "
            f"{r['balanced']:.1%} |"
            for r in rows
        ),
    ]
    table = "\n".join(lines)
    (OUT / "fallback_sweep.md").write_text(
        f"# Fallback threshold sweep\n\n{len(examples)} held-out messages "
        f"(tests/nlu/heldout.yml); each ambiguity threshold with each threshold, "
        f"applied as the FallbackClassifier applies them.\n\n{table}\n"
    )
    print(table)
    print(
        f"recommended: threshold {best['threshold']:.2f}, "
        f"ambiguity threshold {best['ambiguity_threshold']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
