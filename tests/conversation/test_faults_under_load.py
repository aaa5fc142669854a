"""Faults under load (scripts/faults.py, a short run): ten simulated customers, signed in as
the serving benchmark's are, talk to the whole assistant on PostgreSQL databases of the
test's own (the records, and Rasa's tracker store) while the Rasa server, then the action
server, then the gateway are killed with SIGKILL and started again. The customers send a
message again, with the same client_message_id, when its request got no answer, and wait
for a kept message's answer as the chat widget does.

Afterwards nothing is lost, doubled or put out of order, in the records or in Rasa's
tracker; every message has a real answer; nothing false was said (a 503 says exactly the
brand's apology, Rasa's fallback never reaches anyone); and each outage raised one operator
alert, closed once it was over. The comparisons with the record and the tracker are
scripts/bench.py's, tested on made-up records in test_bench_smoke.py; the run's own checks
are tested on made-up records first, here; and the run fails if the faults did not meet the
load.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scripts import bench, faults
from scripts.stack import MODEL
from tests.conftest import postgres_database

APOLOGY = "I'm sorry, I'm having trouble right now. I've kept your message."
NOTICE = "This is taking a little longer than usual."


def _chat(conversation_id: str, *client_message_ids: str) -> faults.Chat:
    conversation = bench.Conversation("full", "faults", "incident-outage", "BL-100009")
    conversation.id = conversation_id
    chat = faults.Chat(conversation, bench.Customer("BL-100009", "Sam", "s@example.com", "M1"))
    for index, client_message_id in enumerate(client_message_ids):
        turn = bench.Turn("complaint", f"text {index}", f"text {index}", 0, 0.0, 1.0, 200)
        chat.sent.append(faults.Sent(client_message_id, turn))
    return chat


def _findings(chats: list[faults.Chat], rows: list[tuple[int, str, str | None]]) -> Counter[str]:
    findings = faults.Findings()
    faults.check_client_message_ids(chats, rows, findings)
    return Counter({kind: count for kind, count in findings.counts.items() if count})


def test_each_client_message_id_must_be_recorded_once_in_its_conversation_in_order() -> None:
    chats = [_chat("c1", "a", "b", "c")]
    recorded = [(1, "c1", "a"), (3, "c1", "b"), (5, "c1", "c")]
    assert _findings(chats, recorded) == Counter()
    assert _findings(chats, [recorded[0], recorded[2]]) == Counter(lost=1)
    # The first message sent again after its answer was lost starts a second conversation.
    assert _findings(chats, [(0, "c0", "a"), *recorded]) == Counter(
        duplicated=1, unknown_conversations=1
    )
    assert _findings(chats, [recorded[0], recorded[2], recorded[1]]) == Counter(reordered=1)
    assert _findings(chats, [*recorded, (7, "c1", None)]) == Counter(unexpected=1)


def test_a_503_says_only_the_apology_and_nothing_says_the_fallback() -> None:
    def false(status: int, *texts: str) -> list[str]:
        return faults.false_replies(status, list(texts), APOLOGY, NOTICE)

    assert false(503, APOLOGY) == []
    assert false(503, NOTICE, APOLOGY) == []
    assert false(200, NOTICE, "I'm sorry your broadband is down.") == []
    assert false(503, "I lost my place there. Could you tell me again?") == [
        "false_503",
        "fallback",
    ]
    assert false(503, APOLOGY, APOLOGY) == ["false_503"]
    assert false(200, APOLOGY) == ["apology_in_200"]
    assert false(200, "I lost my place there. Could you tell me again?") == ["fallback"]


def _message(message_id: int, role: str, text: str, **details: Any) -> dict[str, Any]:
    return {"id": message_id, "role": role, "text": text, "buttons": [], "details": details}


def test_a_kept_message_counts_as_answered_only_by_a_real_reply() -> None:
    complaint = _message(1, "customer", "my internet is down")
    apology = _message(2, "bot", APOLOGY, unavailable=True)
    answer = _message(3, "bot", "I'm sorry your internet is down.", answers_kept=True)
    update = _message(4, "bot", "Good news: it is fixed.", kind="incident_update")
    later = _message(5, "customer", "thanks")
    notice = _message(6, "bot", NOTICE, taking_longer=True)
    not_answers = {APOLOGY, NOTICE}

    kept = {"messages": [complaint, apology]}
    assert faults.unanswered_messages(kept, not_answers) == [complaint]
    assert faults.answers_after(kept, 1) == []
    answered = {"messages": [complaint, apology, answer, update, later, notice]}
    assert faults.unanswered_messages(answered, not_answers) == [later]
    assert [a["id"] for a in faults.answers_after(answered, 1)] == [3]


@pytest.mark.conversation
@pytest.mark.postgres
def test_killing_each_process_under_load_loses_doubles_reorders_and_misleads_nothing(
    tmp_path: Path,
) -> None:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` (make test does it) first.")
    with (
        postgres_database("redress_faults") as records,
        postgres_database("redress_faults_tracker") as tracker,
    ):
        options = faults.Options(duration=10, concurrency=10, gap=6)
        report = faults.run(options, tmp_path, records, tracker)
    shown = faults.render(report)
    print(shown)
    problems, checker = Counter(report["problems"]), Counter(report["checker"])

    # The faults met the load: each process was killed and came back while customers talked,
    # messages were kept while Rasa or its actions were down, requests were cut off, and the
    # gateway was killed with a turn under way (recorded, not yet answered).
    assert [o["process"] for o in report["outages"]] == list(faults.FAULTS), shown
    assert all(o["back_after"] is not None for o in report["outages"]), shown
    assert report["customer_messages"] >= 20, shown
    assert report["kept_503"] >= 1, shown
    assert report["sent_again"] >= 1, shown
    (gateway,) = (o for o in report["outages"] if o["process"] == "gateway")
    assert gateway["cut_mid_turn"] >= 1, shown
    assert report["checked_conversations"] == report["conversations"], shown

    # Nothing lost: every client_message_id recorded, every message answered over HTTP.
    lost = problems["lost"] + problems["no_http_answer"] + checker["lost"]
    assert lost == 0, shown
    assert checker["tracker_lost"] == 0, shown
    # Nothing doubled, nothing out of order, in the records and in Rasa's tracker.
    assert problems["duplicated"] + problems["unknown_conversations"] == 0, shown
    assert checker["duplicated"] + checker["tracker_duplicated"] == 0, shown
    assert problems["reordered"] + checker["reordered"] + checker["tracker_reordered"] == 0, shown
    # Every customer message has an answer that is not the apology, once recovered.
    assert problems["unanswered"] + problems["not_recovered"] == 0, shown
    # Nothing false: a 503 is exactly the apology (after the notice that the turn was taking
    # longer, when it was), a 200 never carries it, no fallback anywhere.
    false = problems["false_503"] + problems["false_notice"] + problems["apology_in_200"]
    assert false + problems["fallback"] == 0, shown
    # One alert per outage of the Rasa server and of the action server, each closed; none
    # for anything else.
    assert report["alerts"] == {
        name: {"outages": 1, "raised": 1, "closed": 1} for name in faults.ALERTED
    }, shown
    # And nothing else the run counts as a problem (another status, a record not read...).
    assert not faults.failures(report), shown
