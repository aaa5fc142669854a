"""Every text a customer can see is plain, short and owns the problem (docs/principles.md: 2, 3)."""

from __future__ import annotations

import re
import string
from datetime import datetime, timezone

import pytest
import yaml

from bot.api._http import BadInput
from bot.api.webchat import parse_message
from redress.business import load_business
from redress.compensation.policy import (
    REMEDIES,
    again_words,
    already_words,
    granted_words,
    offer_words,
)
from redress.complaints.apology import DESCRIBERS, sorry_again
from redress.complaints.categories import Category, Severity
from redress.handoff.reply_times import describe_reply_time
from redress.incidents.records import read_incidents_file
from redress.incidents.wording import describe_time, explain
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")
OPEN = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
CLOSED = datetime(2026, 11, 28, 20, tzinfo=timezone.utc)
DEMO_INCIDENTS = read_incidents_file(
    REPO_ROOT / "business" / "incidents.yml", OPEN, BUSINESS.regions
)

# Representative values for every placeholder a response can hold.
SAMPLES: dict[str, list[str]] = {
    "business_name": [BUSINESS.brand.business_name],
    "assistant_name": [BUSINESS.brand.assistant_name],
    "team_name": [BUSINESS.brand.team_name],
    "customer_name": ["Sam"],
    "complaint_reference": ["RD-7KQ2MZ"],
    "problem": [describer("", None) for describer in DESCRIBERS.values()]
    + ["your broadband has been down since Monday", "your wifi has been down for a few days"],
    "when_reply": [
        describe_reply_time(BUSINESS.hours, OPEN),
        describe_reply_time(BUSINESS.hours, CLOSED),
    ],
    "next_step": [BUSINESS.category_text(c).next_step for c in Category],
    "reply_by": [
        describe_time(OPEN + BUSINESS.reply_within(s), OPEN, BUSINESS.hours.timezone)
        for s in Severity
    ]
    + ["10:30am on Wednesday 2 December"],
    "sorry_again": [sorry_again(True), sorry_again(False)],
    "told_on": ["earlier today", "yesterday", "on 3 December", "on 31 December 2025"],
    "earlier_reference": ["RD-4HJ7PQ"],
    "status_lines": [
        "Your complaint RD-7KQ2MZ (billing problem) is open. "
        "I need a few details before our team can start.",
        "Your complaint RD-7KQ2MZ (service not working) is part of a wider problem we're fixing.",
    ],
    "explanation": [explain(i, OPEN, BUSINESS.hours.timezone).text() for i in DEMO_INCIDENTS],
    "at_latest": ["", " I'll message you by 3pm today at the latest."],
    "offer_words": [offer_words(remedy, pence) for remedy in REMEDIES for pence in (173, 3000)],
    "granted_words": [granted_words(remedy, 1250) for remedy in REMEDIES],
    "already_words": [already_words(remedy, 1250) for remedy in REMEDIES],
    "again_words": [again_words(remedy) for remedy in REMEDIES],
    "granted_on": ["today", "yesterday", "on 3 March", "on 31 December 2025"],
    "amount": ["£30", "£4.95"],
    "grant_reference": ["CR-7QK2MD"],
    "data_reference": ["DR-7KQ2MZ"],
    "due_date": ["7 January 2027", "28 February 2027"],
    # Every word the business lists as not its own (products.yml, not_ours).
    "thing": [word for words in BUSINESS.not_ours.values() for word in words],
}


def _domain_texts() -> list[tuple[str, str]]:
    found = []
    for path in sorted((REPO_ROOT / "domain").glob("*.yml")):
        responses = yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {}
        for name, variants in responses.items():
            for variant in variants:
                found.append((name, variant["text"]))
                found += [(f"{name} button", b["title"]) for b in variant.get("buttons", [])]
    return found


def _renderings(template: str) -> list[str]:
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    unknown = set(fields) - set(SAMPLES)
    assert not unknown, f"no sample values for {unknown} in {template!r}"
    renderings = [template]
    for field in dict.fromkeys(fields):
        renderings = [
            r.replace("{" + field + "}", value) for r in renderings for value in SAMPLES[field]
        ]
    return renderings


DOMAIN = _domain_texts()


@pytest.mark.parametrize(("name", "template"), DOMAIN, ids=[n for n, _ in DOMAIN])
def test_every_domain_response_reads_plainly(name: str, template: str) -> None:
    for text in _renderings(template):
        assert check_text(text) == [], text


def test_there_are_responses_to_check() -> None:
    assert len(DOMAIN) > 30


def test_business_texts_read_plainly() -> None:
    brand = BUSINESS.brand
    texts = [
        brand.assistant_unavailable,
        brand.welcome,
        brand.help,
        brand.attachments_not_understood,
        brand.slow_down,
    ]
    texts += [BUSINESS.category_text(c).next_step for c in Category]
    for text in texts:
        assert check_text(text) == [], text


@pytest.mark.parametrize(
    "raw",
    # What a customer can cause from the chat page; malformed JSON is a developer's error.
    [b'{"text": " "}', b'{"text": "' + b"a" * 4001 + b'"}', b'{"text": "\\u0000"}'],
)
def test_errors_the_chat_shows_read_plainly(raw: bytes) -> None:
    with pytest.raises(BadInput) as refused:
        parse_message(raw, 4000)
    assert check_text(refused.value.message) == [], refused.value.message


def _widget_texts() -> dict[str, str]:
    """The strings the chat widget shows, from its ``var TEXT = {...};`` table."""
    script = (REPO_ROOT / "bot" / "static" / "widget.js").read_text(encoding="utf-8")
    table = re.search(r"var TEXT = \{\n(.*?)\n  \};", script, re.DOTALL)
    assert table, "widget.js keeps its texts in `var TEXT = {...};`"
    lines = [line for line in table.group(1).splitlines() if line.strip()]
    found = dict(re.findall(r'^\s+(\w+): "([^"\\]*)",?$', table.group(1), re.MULTILINE))
    assert len(found) == len(lines), 'one `name: "text",` per line, in double quotes'
    return found


def test_chat_page_messages_read_plainly() -> None:
    shown = _widget_texts()
    # The ones a customer meets when something goes wrong must be there to check.
    for name in ("greeting", "offline", "failed", "atLimit", "tooLong", "reconnecting"):
        assert name in shown, name
    assert len(shown) >= 15
    samples = {"name": "Jo", "left": "250", "max": "4000"}
    for name, template in shown.items():
        text = re.sub(r"\{(\w+)\}", lambda field: samples[field[1]], template)
        assert check_text(text) == [], (name, text)


def test_the_checks_catch_blame_and_jargon() -> None:
    assert check_text("This is not our fault; our supplier cut the cable.")
    assert check_text("Your ticket has been escalated to the NOC.")
    assert check_text(
        "Notwithstanding the aforementioned infrastructure remediation, comprehensive "
        "investigation necessitates considerable organisational coordination."
    )


def test_gateway_texts_read_plainly() -> None:
    from bot.telegram.channel import PRIVATE_CHATS_ONLY

    assert check_text(PRIVATE_CHATS_ONLY) == [], PRIVATE_CHATS_ONLY


def test_demo_incident_texts_read_plainly() -> None:
    from redress.incidents.model import CUSTOMER_FIELDS
    from redress.incidents.records import read_incidents_file
    from redress.incidents.wording import explain

    loaded = read_incidents_file(REPO_ROOT / "business" / "incidents.yml", OPEN, BUSINESS.regions)
    assert len(loaded) >= 2
    for incident in loaded:
        for name in CUSTOMER_FIELDS:
            text = getattr(incident, name)
            assert check_text(text) == [], (incident.id, name, text)
        for part in explain(incident, OPEN).parts():
            assert check_text(part) == [], (incident.id, part)


def test_without_an_agent_desk_no_reply_time_is_promised() -> None:
    from redress.handoff.reply_times import NO_DESK, describe_reply

    told = describe_reply(BUSINESS.hours, OPEN, desk=False)
    assert told == NO_DESK
    assert "soon" not in told and "reply here" not in told
    assert check_text(told) == [], told
    promise = "A person from our team will email you within one working day."
    assert describe_reply(BUSINESS.hours, OPEN, desk=False, without_desk=promise) == promise
    assert "reply here soon" in describe_reply(BUSINESS.hours, OPEN, desk=True)


# What the gateway says when the assistant could not read a message. The message is kept and
# answered when the assistant is back (bot.relay.Relay.replay_due), so that may be promised;
# nothing else may.
UNKEPT_PROMISES = ("nothing is lost", "someone will", "we'll reply", "a person", "reply soon")


def test_the_unavailable_apology_promises_only_what_is_done() -> None:
    text = load_business(REPO_ROOT / "business").brand.assistant_unavailable.lower()
    assert not [p for p in UNKEPT_PROMISES if p in text], text
    assert "kept your message" in text and "answer it here" in text
    assert "again" not in text  # it is not to be sent again: that would answer it twice
