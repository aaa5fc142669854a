"""The conversation suite's runner (scripts/conversation_suite.py): it must refuse a wrong
suite file and catch every kind of bad turn, or a passing suite would mean nothing. The
assistant here is a small fake web chat API, so what the runner sees is fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts import conversation_suite as suite


def write(folder: Path, text: str) -> Path:
    (folder / "suite.yml").write_text(text)
    return folder


def test_the_suite_in_the_repository_loads() -> None:
    conversations = suite.load()
    assert len({c.id for c in conversations}) == len(conversations) >= 40


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("conversations:\n  - id: a\n", "needs an id and turns"),
        ("conversations:\n  - id: a\n    turns: [{say: hi, press: Yes}]\n", "say or press"),
        ("conversations:\n  - id: a\n    turns: [{say: hi, expect: {some: [x]}}]\n", "expect"),
        ("conversations:\n  - id: a\n    turns: [{say: hi}]\n    end: {grant: 1}\n", "end takes"),
        (
            "conversations:\n  - {id: a, turns: [{say: hi}]}\n  - {id: a, turns: [{say: yo}]}\n",
            "used twice",
        ),
    ],
)
def test_a_wrong_suite_file_is_refused_with_what_is_wrong(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(suite.SuiteError, match=problem):
        suite.load(write(tmp_path, text))


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(suite.SuiteError, match="no suite files"):
        suite.load(tmp_path)


class FakeAssistant:
    """Answers each message with the next scripted replies; the records say ``record``."""

    def __init__(self, replies: list[list[dict[str, Any]]], record: dict[str, Any]) -> None:
        self.replies = replies
        self.record = record
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            started = body["conversation_id"] is None
            # As the gateway does: the first reply gives a token, later messages need it.
            if not started and body.get("conversation_token") != "secret-c1":
                return httpx.Response(403, json={"error": {"code": "invalid_conversation_token"}})
            self.sent.append(body["text"])
            answer = {"conversation_id": "c1", "replies": self.replies.pop(0)}
            if started:
                answer["conversation_token"] = "secret-c1"
            return httpx.Response(200, json=answer)
        return httpx.Response(200, json=self.record)


def fake_http(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def run(turns: list[dict[str, Any]], fake: FakeAssistant, end: dict[str, Any] | None = None):
    conversation = suite.Conversation("c", "", turns, end or {}, {}, "test")
    client = suite.Client(
        "http://assistant", "t", httpx.Client(transport=httpx.MockTransport(fake))
    )
    customer = {"account": "BL-912345", "first_name": "Rosa"}
    return suite.run_one(client, conversation, customer)


def say(text: str) -> dict[str, Any]:
    return {"text": text, "buttons": []}


RECORD = {
    "complaints": [{"reference": "RD-ABC234", "category": "outage", "severity": "medium"}],
    "handoffs": [],
    "grants": [],
}


def test_a_conversation_that_goes_well_passes_and_placeholders_are_filled() -> None:
    fake = FakeAssistant(
        [[say("I'm sorry. That's on us.")], [say("Your reference is RD-ABC234.")]], RECORD
    )
    outcome = run(
        [
            {"say": "{account} my internet is down", "expect": {"any": ["that's on us"]}},
            {"say": "what's my ref?", "expect": {"all": ["{reference}"], "none": ["sorry"]}},
        ],
        fake,
        {"categories": ["outage"], "person": False, "grants": 0, "severity": "medium"},
    )
    assert outcome.passed, outcome.failures
    assert fake.sent[0] == "BL-912345 my internet is down"


def test_every_kind_of_bad_turn_is_caught() -> None:
    fake = FakeAssistant(
        [
            [say("I'm sorry. That's on us.")],
            [say("I'm sorry again. That's on us."), say("Anything else?")],
            [say("Anything else?")],
        ],
        RECORD,
    )
    outcome = run(
        [
            {"say": "down", "expect": {"any": ["nope"]}},
            {"say": "hello?", "expect": {"none": ["sorry"]}},
            {"say": "bye", "expect": {"all": ["take care"]}},
        ],
        fake,
        {"categories": ["billing"], "person": True, "grants": 1, "severity": "critical"},
    )
    text = "\n".join(outcome.failures)
    assert "turn 1: expected one of" in text
    assert "turn 2: did not expect 'sorry'" in text
    assert "turn 3: expected 'take care'" in text
    assert "2 apologies" in text
    assert "said 2 times: 'Anything else?'" in text
    assert "complaints ['outage'], expected ['billing']" in text
    assert "severity medium, expected critical" in text
    assert "person asked for: False" in text
    assert "0 grants, expected 1" in text


def test_a_button_is_pressed_by_its_title_and_a_missing_one_fails() -> None:
    offer = {
        "text": "Would you like that?",
        "buttons": [{"title": "Yes, please", "payload": "/affirm"}],
    }
    fake = FakeAssistant([[offer], [say("Done.")]], RECORD)
    assert run([{"say": "x"}, {"press": "Yes, please"}], fake).passed
    assert fake.sent[-1] == "/affirm"
    missing = run([{"say": "x"}, {"press": "No, thanks"}], FakeAssistant([[offer]], RECORD))
    assert "no 'No, thanks' button" in missing.failures[0]


def test_a_refused_message_is_a_failed_turn() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "busy"})

    conversation = suite.Conversation("c", "", [{"say": "hi"}], {}, {}, "test")
    client = suite.Client(
        "http://assistant", "t", httpx.Client(transport=httpx.MockTransport(refuse))
    )
    outcome = suite.run_one(client, conversation, {})
    assert outcome.failures == ['turn 1: HTTP 503: {"error":"busy"}']


def test_the_report_gives_the_pass_rate() -> None:
    good = suite.Outcome(suite.Conversation("a", "", [], {}, {}, "t"))
    bad = suite.Outcome(suite.Conversation("b", "", [], {}, {}, "t"), failures=["x"])
    assert "1 of 2 conversations passed (50.0%)" in suite.report([good, bad])
