"""`scripts/bench.py --smoke`: a few seconds of simulated customers through the web chat API
and straight to Rasa, on a stack of its own (the trained model, the action server, the
gateway; the demo incidents loaded), and two messages of one conversation at once.

Not about speed: every message is answered, and every conversation's record (records API)
and Rasa tracker hold exactly what the client sent and got back, in that order. The checks
the bench makes are tested first on records made up here, so a checker that never finds
anything cannot pass the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import bench


def _reply(message_id: int, text: str) -> dict[str, Any]:
    return {"id": message_id, "text": text, "buttons": []}


def _conversation() -> bench.Conversation:
    """A client's log of two turns: a complaint, then a button pressed (its token sent)."""
    conversation = bench.Conversation("full", "full-2", "incident-outage", "BL-100009", id="c1")
    complaint, token, title = "my internet is down", "btn_0123456789abcdef", "Yes, keep me posted"
    conversation.turns = [
        bench.Turn("complaint", complaint, complaint, 0, 0.0, 100.0, 200, message_id=1,
                   replies=[_reply(2, "I'm sorry"), _reply(3, "What's your account number?")]),
        bench.Turn("updates", token, title, 0, 0.1, 90.0, 200, message_id=4,
                   replies=[_reply(5, "I'll message you here")]),
    ]  # fmt: skip
    return conversation


def _record(*messages: tuple[int, str, str], **details: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [
            {"id": i, "role": role, "text": text, "details": details.get(str(i), {})}
            for i, role, text in messages
        ]
    }


RECORDED = (
    (1, "customer", "my internet is down"),
    (2, "bot", "I'm sorry"),
    (3, "bot", "What's your account number?"),
    (4, "customer", "Yes, keep me posted"),
    (5, "bot", "I'll message you here"),
)


def test_the_record_check_passes_only_the_exact_conversation() -> None:
    conversation = _conversation()
    assert bench.compare_record(conversation, _record(*RECORDED)) == []
    # A message pushed later (an incident update) is not part of the turns.
    pushed = (6, "bot", "Good news", {"kind": "incident_update"})
    record = _record(*RECORDED, pushed[:3], **{"6": pushed[3]})
    assert bench.compare_record(conversation, record) == []

    lost = bench.compare_record(conversation, _record(*RECORDED[:4]))
    assert any(p.startswith("lost") for p in lost), lost
    doubled = bench.compare_record(
        conversation, _record(*RECORDED, (6, "customer", RECORDED[3][2]))
    )
    assert any(p.startswith("duplicated") for p in doubled), doubled
    changed = bench.compare_record(conversation, _record(*RECORDED[:4], (5, "bot", "Other")))
    assert any(p.startswith("changed") for p in changed), changed
    # The second turn's customer message recorded after its reply: out of order.
    swapped = _conversation()
    swapped.turns[1].message_id = 5
    swapped.turns[1].replies = [{"id": 4, "text": "I'll message you here", "buttons": []}]
    reordered = _record(*RECORDED[:3], (4, "bot", "I'll message you here"),
                        (5, "customer", "Yes, keep me posted"))  # fmt: skip
    assert any(p.startswith("order") for p in bench.compare_record(swapped, reordered))


def test_the_tracker_check_wants_what_was_sent_once_in_order() -> None:
    record = _record(*RECORDED, **{"4": {"sent_to_assistant": "/affirm"}})
    user = [{"event": "user", "text": "my internet is down"}, {"event": "user", "text": "/affirm"}]
    assert bench.compare_tracker(record, {"events": user}) == []
    assert bench.compare_tracker(record, {"events": user[::-1]})  # other order
    assert bench.compare_tracker(record, {"events": user + user[1:]})  # twice
    assert bench.compare_tracker(record, {"events": user[:1]})  # lost


def test_the_burst_check_wants_each_answer_after_its_message_in_order() -> None:
    burst = bench.Burst(_conversation(), texts=("BL-100009", "hurry"), instances=(0, 1))
    burst.outcomes = [
        (200, 10, [{"id": 12}, {"id": 13}], None),
        (200, 11, [{"id": 14}], None),
    ]
    both_first = _record(
        *RECORDED, (10, "customer", "BL-100009"), (11, "customer", "hurry"),
        (12, "bot", "a"), (13, "bot", "b"), (14, "bot", "c"),
    )  # fmt: skip
    assert bench.check_burst(burst, both_first, None) == []
    interleaved = _record(
        *RECORDED, (10, "customer", "BL-100009"), (11, "customer", "hurry"),
        (12, "bot", "a"), (14, "bot", "c"), (13, "bot", "b"),
    )  # fmt: skip
    assert any(p.startswith("order") for p in bench.check_burst(burst, interleaved, None))
    twice = _record(
        *RECORDED, (10, "customer", "BL-100009"), (11, "customer", "hurry"),
        (12, "bot", "a"), (13, "bot", "b"), (14, "bot", "c"), (15, "customer", "hurry"),
    )  # fmt: skip
    assert any(p.startswith("duplicated") for p in bench.check_burst(burst, twice, None))


@pytest.mark.conversation
def test_a_smoke_run_answers_every_message_and_keeps_every_conversation_in_order(
    tmp_path: Path,
) -> None:
    if not bench.MODEL.exists():
        pytest.fail("No trained model: run `make train` (make test does it) first.")
    run = tmp_path / "run"  # logs and databases, kept when something failed
    code = bench.main(["--smoke", "--out", str(tmp_path), "--name", "smoke", "--workdir", str(run)])
    report = json.loads((tmp_path / "smoke.json").read_text(encoding="utf-8"))
    assert (tmp_path / "smoke.md").exists()
    full, bare = report["modes"]["full"], report["modes"]["bare"]
    if full["errors"] or bare["errors"]:
        logs = "\n".join(
            f"{name}: {line[:300]}"
            for name in ("gateway", "actions")
            for line in (run / f"{name}.log").read_text(errors="replace").splitlines()
            if "WARNING" in line or "ERROR" in line or line.startswith("sqlalchemy.exc")
        )
        kinds = {mode: report["modes"][mode]["error_kinds"] for mode in ("full", "bare")}
        pytest.fail(f"messages not answered: {kinds}\n{logs}")
    # Customers went the whole way: account, incident, offer accepted, thanks.
    assert full["conversations_done"] >= 1 and bare["conversations_done"] >= 1, report["modes"]
    for step in ("apology", "account_found", "incident", "offer", "granted", "thanked"):
        assert full["reached"].get(step, 0) >= 1, (step, full["reached"])

    checks = report["checks"]
    assert checks["checked"] == checks["conversations"] == full["conversations"]
    assert checks["messages_compared"] >= 2 * full["turns"]  # each turn: a message, replies
    assert checks["with_problems"] == 0, checks["examples"]
    assert checks["bursts"]["sent"] >= 1
    assert checks["bursts"]["with_problems"] == 0, checks["bursts"]["examples"]
    assert code == 0
