"""Smoke test of `make evaluate`: scripts/evaluate_nlu.py --quick, run as CI runs it.

The script needs Rasa, so it runs in .venv-rasa as a subprocess and writes to a temporary
folder. It trains config.yml's pipeline on small subsets of BANKING77, CLINC150 and the three
HINT3 bots and parses tests/nlu/heldout.yml with models/redress.tar.gz (about two minutes on
two cores). The checks are on the report it writes.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
SCRIPT = REPO / "scripts" / "evaluate_nlu.py"
MODEL = REPO / "models" / "redress.tar.gz"
SPACY = REPO / "build" / "spacy" / "en_redress" / "meta.json"
DATA = Path(os.environ.get("REDRESS_BENCHMARK_DATA", str(REPO.parent / "shared" / "data")))
BENCHMARK_KEYS = {
    "banking77",
    "clinc150",
    "hint3_curekart",
    "hint3_powerplay11",
    "hint3_sofmattress",
}
FRACTION_KEYS = re.compile(r"accuracy|recall|precision|f1|rate|^mcc$")

pytestmark = pytest.mark.nlu_evaluation


def _configured_threshold() -> float:
    config = (REPO / "config.yml").read_text(encoding="utf-8")
    block = config.split("- name: FallbackClassifier", 1)[1]
    return float(re.search(r"^\s+threshold:\s*([0-9.]+)", block, re.MULTILINE).group(1))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    missing = [
        str(path)
        for path in (
            RASA_PYTHON,
            SPACY,
            MODEL,
            DATA / "banking77",
            DATA / "clinc150",
            DATA / "hint3",
        )
        if not path.exists()
    ]
    if missing:
        message = f"evaluate_nlu needs {', '.join(missing)} (make install spacy train; benchmarks)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("nlu-quick")
    done = subprocess.run(
        [str(RASA_PYTHON), str(SCRIPT), "--quick", "--out", str(out), "--data", str(DATA)],
        cwd=REPO,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out, json.loads((out / "evaluation.json").read_text(encoding="utf-8")), done.stdout


def _numbers(value: Any, path: str = "") -> list[tuple[str, float]]:
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _numbers(v, f"{path}[{i}]")]
    if isinstance(value, float | int) and not isinstance(value, bool):
        return [(path, float(value))]
    return []


def test_every_dataset_is_reported_with_its_splits(run) -> None:
    _, report, _ = run
    datasets = report["datasets"]
    assert set(datasets) == BENCHMARK_KEYS | {"heldout"}
    assert report["mode"] == "quick"
    for key in BENCHMARK_KEYS:
        split = datasets[key]["split"]
        assert 2 <= split["train_intents"] <= 11, key  # 10 intents, plus out_of_scope for CLINC
        assert split["test_in_scope"] > 0, key
        assert datasets[key]["epochs"] == report["epochs"][datasets[key]["family"]]
        assert datasets[key]["seconds"]["train"] > 0
        assert datasets[key]["files"], key
    assert datasets["banking77"]["split"]["test_out_of_scope"] == 0
    assert datasets["clinc150"]["split"]["train_out_of_scope"] > 0  # oos-train
    for key in BENCHMARK_KEYS - {"banking77"}:
        assert datasets[key]["split"]["test_out_of_scope"] > 0, key
    for key in BENCHMARK_KEYS - {"clinc150"}:
        assert datasets[key]["split"]["train_out_of_scope"] == 0, key


def test_the_configuration_is_identified(run) -> None:
    _, report, _ = run
    config = report["config"]
    assert re.fullmatch(r"[0-9a-f]{64}", config["sha256"])
    assert re.fullmatch(r"[0-9a-f]{64}", config["pipeline_sha256"])
    assert config["fallback_threshold"] == pytest.approx(_configured_threshold())
    # The report holds the pipeline as config.yml has it, FallbackClassifier included.
    names = [c["name"] for c in config["pipeline"]]
    assert "FallbackClassifier" in names
    assert names[-1] == "rasa_addons.text_components.TypedTextRestorer"


def test_every_rate_is_a_fraction(run) -> None:
    _, report, _ = run
    rates = [
        (path, value)
        for path, value in _numbers(report["datasets"])
        if FRACTION_KEYS.search(path.rsplit(".", 1)[-1])
    ]
    assert len(rates) > 500
    for path, value in rates:
        low = -1.0 if path.endswith("mcc") else 0.0
        assert low <= value <= 1.0, path


def test_sweeps_trade_in_scope_accuracy_for_out_of_scope_recall(run) -> None:
    _, report, _ = run
    threshold = report["config"]["fallback_threshold"]
    for key, dataset in report["datasets"].items():
        rows = dataset["sweep"]
        thresholds = [r["threshold"] for r in rows]
        assert thresholds == sorted(thresholds) and thresholds[0] == 0.0, key
        assert thresholds[-1] == pytest.approx(0.9), key
        assert len(rows) >= 19, key
        for before, after in itertools.pairwise(rows):
            assert after["in_scope_accuracy"] <= before["in_scope_accuracy"], key
            assert after["in_scope_fallback_rate"] >= before["in_scope_fallback_rate"], key
            if dataset["split"]["test_out_of_scope"]:
                assert after["out_of_scope_recall"] >= before["out_of_scope_recall"], key
            else:
                assert after["out_of_scope_recall"] is None, key
        assert rows[0]["in_scope_fallback_rate"] == 0.0, key
        configured = dataset["at_configured_threshold"]
        assert configured["threshold"] == pytest.approx(threshold), key
        assert configured in rows, key
        # At threshold 0 nothing falls back: the sweep starts from the classifier alone.
        assert rows[0]["in_scope_accuracy"] == pytest.approx(
            dataset["classifier"]["in_scope_accuracy"]
        ), key


def test_out_of_scope_needs_a_threshold_without_out_of_scope_training(run) -> None:
    _, report, _ = run
    for key in ("hint3_curekart", "hint3_powerplay11", "hint3_sofmattress"):
        dataset = report["datasets"][key]
        assert dataset["sweep"][0]["out_of_scope_recall"] == 0.0, key
        assert dataset["sweep"][-1]["out_of_scope_recall"] > 0.0, key


def test_the_classifiers_learned_something(run) -> None:
    _, report, _ = run
    for key in BENCHMARK_KEYS:
        dataset = report["datasets"][key]
        chance = 1 / dataset["split"]["test_intents"]
        assert dataset["classifier"]["in_scope_accuracy"] > 3 * chance, key
    heldout = report["datasets"]["heldout"]
    assert heldout["as_deployed"]["in_scope_accuracy"] > 0.75
    assert heldout["as_deployed"]["out_of_scope_recall"] > 0.5


def test_heldout_is_parsed_by_the_project_model_only(run) -> None:
    _, report, stdout = run
    heldout = report["datasets"]["heldout"]
    assert heldout["model"]["path"] == "models/redress.tar.gz"
    assert "epochs" not in heldout and "train" not in heldout["split"]
    assert (
        heldout["split"]["test"]
        == heldout["split"]["test_in_scope"] + (heldout["split"]["test_out_of_scope"])
    )
    assert heldout["split"]["test_out_of_scope"] > 0
    per_intent = heldout["per_intent"]
    assert sum(v["support"] for v in per_intent.values()) == heldout["split"]["test"]
    assert any(name.startswith("complain_") for name in per_intent)
    confusion = heldout["confusion"]
    assert len(confusion["matrix"]) == len(confusion["rows"]) == len(per_intent)
    assert sum(map(sum, confusion["matrix"])) == heldout["split"]["test"]
    assert "nlu_fallback" in confusion["columns"]
    assert "heldout: parsing" in stdout


def test_markdown_and_confusion_png_are_written(run) -> None:
    out, report, _ = run
    summary = (out / "evaluation.md").read_text(encoding="utf-8")
    for dataset in report["datasets"].values():
        assert dataset["title"] in summary
    assert "not comparable with published" in summary
    png = (out / report["datasets"]["heldout"]["confusion"]["png"]).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
