"""Smoke test of the real-text part of `make evaluate`: scripts/evaluate_realtext.py --quick,
as CI runs it. It starts the whole assistant with models/redress.tar.gz and sends a small
sample of real customers' tweets (one from each domain, complaints and not) and 20 labelled
complaints from the test part, each as the first message of a new chat.

Beyond the shape of the report, it asserts a floor far below what `make evaluate` measures
on the whole corpus (docs/real-text.md), so only a real regression (the assistant missing most
real complaints again, or apologising to none) fails it; the full figures are printed by
`make evaluate`, never asserted here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
SCRIPT = REPO / "scripts" / "evaluate_realtext.py"
MODEL = REPO / "models" / "redress.tar.gz"
DATA = Path(os.environ.get("REDRESS_BENCHMARK_DATA", str(REPO.parent / "shared" / "data")))
FRACTION_KEYS = re.compile(r"accuracy|recall|precision|f1|rate|apolog")

pytestmark = pytest.mark.nlu_evaluation


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = [str(p) for p in (MODEL, DATA / "complaints_social_media") if not p.exists()]
    if missing:
        pytest.fail(f"evaluate_realtext needs {', '.join(missing)} (make train; shared data)")
    out = tmp_path_factory.mktemp("realtext")
    done = subprocess.run(
        [str(PYTHON), str(SCRIPT), "--quick", "--out", str(out), "--data", str(DATA)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert (out / "realtext.md").read_text().startswith("# Real customers' messages")
    return json.loads((out / "realtext.json").read_text())


def fractions(value: Any, key: str = "") -> list[tuple[str, float]]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in fractions(v, f"{key}.{k}")]
    if isinstance(value, float | int) and FRACTION_KEYS.search(key.rsplit(".", 1)[-1]):
        return [(key, float(value))]
    return []


def test_every_part_is_reported(report: dict[str, Any]) -> None:
    assert report["quick"] is True
    assert report["corpus"]["messages"] >= 40
    assert set(report["corpus_by_split"]) == {"dev", "test"}
    assert {"random_tweet", "services", "software"} <= set(report["per_domain"])
    assert report["labelled"]["test"]["messages"] == 20
    assert "dev" not in report["labelled"]  # the quick run never touches the dev part


def test_every_rate_is_a_fraction(report: dict[str, Any]) -> None:
    found = fractions(report)
    assert found
    assert all(0.0 <= value <= 1.0 for _, value in found), found


def test_real_complaints_are_mostly_heard(report: dict[str, Any]) -> None:
    test = report["labelled"]["test"]
    assert test["recorded_as_complaint"] >= 0.6, test
    assert test["apology_in_first_reply"] >= 0.6, test
    assert report["corpus"]["recall"] >= 0.5, report["corpus"]
