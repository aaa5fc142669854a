"""How long the NLU takes to parse one message, and how much memory the loaded model holds.

Loads a trained model the way the Rasa server does and parses real customers' messages (the
real-text corpus, scripts/realtext.py) one at a time, as messages arrive in serving. Prints
p50 / p95 / p99 milliseconds per parse, the process's resident memory after loading and after
parsing, and the time to load. Timings depend on the machine and what else runs on it: this
prints them, no test asserts them.

    PYTHONPATH=. .venv-rasa/bin/python scripts/nlu_speed.py [MODEL] [--messages 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.realtext import default_data_dir, load_corpus  # noqa: E402


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(ROOT / "models" / "redress.tar.gz"))
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args(argv)
    from rasa.core.agent import Agent

    logging.disable(logging.WARNING)
    before = rss_mb()
    started = time.perf_counter()
    agent = Agent.load(args.model)
    load_seconds = time.perf_counter() - started
    loaded = rss_mb()
    texts = [t.text for t in load_corpus(default_data_dir())][: args.messages]

    async def run() -> list[float]:
        await agent.parse_message("warm up")
        times = []
        for text in texts:
            start = time.perf_counter()
            await agent.parse_message(text)
            times.append((time.perf_counter() - start) * 1000)
        return times

    times = asyncio.run(run())
    figures = {
        "model": args.model,
        "messages": len(times),
        "parse_ms": {
            "p50": round(percentile(times, 0.5), 1),
            "p95": round(percentile(times, 0.95), 1),
            "p99": round(percentile(times, 0.99), 1),
        },
        "load_seconds": round(load_seconds, 1),
        "rss_mb": {
            "before_load": round(before),
            "loaded": round(loaded),
            "after_parsing": round(rss_mb()),
        },
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
