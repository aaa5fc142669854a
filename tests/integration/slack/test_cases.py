"""Cases at the Slack desk, end to end on SQLite and PostgreSQL: the real gateway and
slack_bolt against the fake Slack Web API, with a business whose teams.yml gives the Network
and Billing teams channels of their own. Every logged complaint is posted to its team's
channel, whether or not the customer asked for a person, and worked there: claimed, set
waiting, replied to, promised, reassigned and resolved, each with an audit entry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.slack.desk.case_texts import CLAIMED, NOT_CLAIMED, REASSIGNED
from bot.slack.desk.texts import JOINED
from redress import audit
from redress.business import Business, load_business
from redress.cases import desk as case_desk
from redress.complaints import filing
from redress.complaints import records as complaint_records
from redress.conversations import records as conversations
from redress.db.models import (
    AuditEntry,
    CompensationOffer,
    Complaint,
    Conversation,
    OperatorAlert,
    Promise,
)
from redress.db.session import unit_of_work
from redress.handoff import feedback
from redress.handoff import records as handoff_records
from redress.settings import REPO_ROOT
from tests.fakes.slack_api import AGENT_ID, DESK_CHANNEL
from tests.fakes.slack_requests import block_action, event_callback
from tests.integration.compensation.test_fulfilment import make_offer
from tests.integration.slack.test_slack_desk import START, Desk_, customer_texts, open_gateway

NETWORK = "C0NETWORK1"
BILLING = "C0BILLING1"
OTHER_AGENT = "U0OTHER1"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def two_teams(tmp_path_factory: pytest.TempPathFactory) -> Business:
    """The shipped business, with the Network and Billing teams in channels of their own."""
    folder = tmp_path_factory.mktemp("business") / "business"
    shutil.copytree(REPO_ROOT / "business", folder)
    teams = yaml.safe_load((folder / "teams.yml").read_text())
    teams["teams"]["network"]["slack_channel"] = NETWORK
    teams["teams"]["billing"]["slack_channel"] = BILLING
    Path(folder / "teams.yml").write_text(yaml.safe_dump(teams))
    return load_business(folder)


@pytest.fixture
def desk(database_url: str, two_teams: Business) -> Iterator[Desk_]:
    with open_gateway(database_url, two_teams) as g:
        _channels(g)
        yield g


@pytest.fixture
def sqlite_desk(sqlite_url: str, two_teams: Business) -> Iterator[Desk_]:
    with open_gateway(sqlite_url, two_teams) as g:
        _channels(g)
        yield g


def _channels(g: Desk_) -> None:
    g.slack.add_channel(NETWORK, "network-team")
    g.slack.add_channel(BILLING, "billing-team")
    g.slack.add_user(OTHER_AGENT, "Sam Other", "sam")


def file_complaint(g: Desk_, conversation_id: str, category: str = "outage") -> str:
    """Logs a complaint as the assistant does once its details are collected (medium
    severity, nobody verified: no handoff). Returns its reference."""
    business = g.desk.business
    with unit_of_work(g.database_url) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category=category,
            severity="medium",
            severity_reasons=["no service at home"],
            summary="my internet has been down since this morning",
            facts={},
        )
        reference = complaint.reference
        filed = filing.file_all(
            session, conversation, {"postcode": "ZZ9 9ZZ"}, None, business, START
        )
        assert filed.person_for == []  # a case that needs no person in the conversation
    return reference


def post_cases(g: Desk_) -> int:
    return g.client.portal.call(g.desk.post_due_cases)  # type: ignore[union-attr]


def case(g: Desk_, reference: str) -> Complaint:
    with unit_of_work(g.database_url) as session:
        found = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        session.expunge(found)
        return found


def card_text(g: Desk_, channel: str, thread: str) -> str:
    return json.dumps(g.slack.message(channel, thread), ensure_ascii=False)


def buttons(g: Desk_, channel: str, thread: str) -> list[str]:
    card = g.slack.message(channel, thread) or {}
    return [
        element["action_id"]
        for block in card.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def press(g: Desk_, action_id: str, channel: str, thread: str, user: str = AGENT_ID) -> None:
    value = next(
        element.get("value", "")
        for block in (g.slack.message(channel, thread) or {}).get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )
    name = "sam" if user == OTHER_AGENT else "alex"
    request = block_action(
        action_id, value, channel=channel, message_ts=thread, user_id=user, user_name=name
    )
    assert g.send(request).status_code == 200


def reassign(g: Desk_, channel: str, thread: str, team: str) -> None:
    card = g.slack.message(channel, thread) or {}
    menu = next(
        element
        for block in card.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"] == "case_reassign"
    )
    option = next(o for o in menu["options"] if o["value"].endswith(f":{team}"))
    base = block_action("case_reassign", "", channel=channel, message_ts=thread)
    action = {
        "type": "static_select",
        "action_id": "case_reassign",
        "block_id": "case_actions",
        "selected_option": option,
        "placeholder": menu["placeholder"],
        "action_ts": "1.0",
    }
    assert g.send(base.tampered(actions=[action])).status_code == 200


def says(g: Desk_, channel: str, thread: str, text: str, user: str = AGENT_ID) -> None:
    event = g.slack.post_as_user(channel, user, text, thread_ts=thread)
    assert g.send(event_callback(event=event)).status_code == 200


def audit_rows(g: Desk_, reference: str) -> list[tuple[str, str, datetime]]:
    with unit_of_work(g.database_url) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.subject == reference).order_by(AuditEntry.id)
        ).all()
        return [(r.action, r.actor, r.created_at) for r in rows]


# Posting ---------------------------------------------------------------------------------------


def test_a_case_is_posted_to_its_teams_channel_with_its_due_time(desk: Desk_) -> None:
    g = desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    billing_conversation = g.say(None, "wrong bill")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    billing_reference = file_complaint(g, billing_conversation, "billing")

    post_cases(g)  # (the scheduler's own run may have posted them already)
    posts = sorted(c.params["channel"] for c in g.slack.calls("chat.postMessage"))
    assert posts == [BILLING, NETWORK]  # each to its own team, none to the escalation channel
    assert g.slack.messages_in(DESK_CHANNEL) == []
    network = case(g, reference)
    assert network.desk_channel == NETWORK and network.desk_thread and network.posted_at
    assert case(g, billing_reference).desk_channel == BILLING
    assert post_cases(g) == 0  # posted once

    card = card_text(g, NETWORK, network.desk_thread)
    assert f"Case {reference} · Network team" in card
    # 24 hours of opening time from Monday noon: Wednesday noon, London time.
    assert "Reply due by Wed 25 Nov 12:00" in card
    assert "Owner:* nobody yet" in card and "Needs a person" not in card
    assert "my internet has been down since this morning" in card
    assert buttons(g, NETWORK, network.desk_thread) == [
        "case_claim",
        "case_waiting_on_customer",
        "case_waiting_on_us",
        "case_resolve",
        "case_reassign",
    ]
    menu = json.dumps(g.slack.message(NETWORK, network.desk_thread))
    assert "Billing team" in menu and "Network team" not in menu.split("case_reassign")[1]
    with unit_of_work(g.database_url) as session:
        due = session.scalars(select(Promise).where(Promise.complaint_id == network.id)).one()
        assert due.kind == "reply_by" and due.due_at.replace(tzinfo=timezone.utc) == datetime(
            2026, 11, 25, 12, tzinfo=timezone.utc
        )


def test_a_post_that_fails_is_tried_again_and_alerts_operators(sqlite_desk: Desk_) -> None:
    g = sqlite_desk
    reference = file_complaint(g, g.say(None, "no internet")["conversation_id"])
    g.slack.fail_next("chat.postMessage", "not_in_channel")

    assert post_cases(g) == 0
    failed = case(g, reference)
    assert failed.desk_thread is None and failed.last_post_error == "not_in_channel"
    with unit_of_work(g.database_url) as session:
        alerts = session.scalars(select(OperatorAlert)).all()
        assert [(a.kind, a.detail["complaint"], a.detail["error"]) for a in alerts] == [
            ("agent_desk", reference, "not_in_channel")
        ]
        assert reference in alerts[0].summary
    assert post_cases(g) == 0  # not due again yet
    g.clock.now = failed.next_post_at.replace(tzinfo=timezone.utc)
    post_cases(g)
    posted = case(g, reference)
    assert posted.desk_channel == NETWORK and posted.post_attempts == 2
    assert posted.last_post_error is None


# Working a case --------------------------------------------------------------------------------


def test_claiming_waiting_replying_and_notes(desk: Desk_) -> None:
    g = desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    thread = case(g, reference).desk_thread
    assert thread

    # Nobody owns it yet: the conversation stays with the assistant, not in the thread.
    g.say(conversation_id, "is anyone looking at this?")
    assert len(g.slack.thread(NETWORK, thread)) == 1

    # Before anyone claims it, a reply stays internal and the agent is told how to send one.
    says(g, NETWORK, thread, "Looking into the line now")
    assert customer_texts(g.record(conversation_id), "agent") == []
    assert g.slack.ephemerals(NETWORK, AGENT_ID)[-1]["text"] == NOT_CLAIMED

    press(g, "case_claim", NETWORK, thread)
    claimed = case(g, reference)
    assert (claimed.owner_id, claimed.owner_name) == (AGENT_ID, "alex")
    told = CLAIMED.format(agent="alex", team="Network team", reference=reference)
    assert customer_texts(g.record(conversation_id), "bot")[-1] == told
    assert "Owner:* alex" in card_text(g, NETWORK, thread)
    # Someone is on it: no longer "new".
    assert claimed.desk_status == "waiting_on_us"
    assert "Status:* waiting on us" in card_text(g, NETWORK, thread)
    assert any("Claimed by alex" in m.get("text", "") for m in g.slack.thread(NETWORK, thread))

    # A second agent takes it over; the card says from whom.
    g.clock.now = START + timedelta(minutes=5)
    press(g, "case_claim", NETWORK, thread, user=OTHER_AGENT)
    assert case(g, reference).owner_name == "sam"
    assert "Claimed by sam, taking it from alex" in card_text(g, NETWORK, thread)

    press(g, "case_waiting_on_customer", NETWORK, thread, user=OTHER_AGENT)
    assert case(g, reference).desk_status == "waiting_on_customer"
    assert "Status:* waiting on the customer" in card_text(g, NETWORK, thread)
    says(g, NETWORK, thread, "Status: Waiting on us", user=OTHER_AGENT)
    assert case(g, reference).desk_status == "waiting_on_us"

    # alex no longer owns it: internal. sam's reply reaches the web chat under sam's name,
    # and keeps the promised reply.
    says(g, NETWORK, thread, "I think it's the exchange")
    says(g, NETWORK, thread, "Hi, I'm checking your line *now*", user=OTHER_AGENT)
    record = g.record(conversation_id)
    agent = [m for m in record["messages"] if m["role"] == "agent"]
    assert [(m["text"], m["details"]["author"]) for m in agent] == [
        ("Hi, I'm checking your line now", "sam")
    ]
    says(g, NETWORK, thread, "note: exchange fault suspected", user=OTHER_AGENT)
    record = g.record(conversation_id)
    assert customer_texts(record, "agent") == ["Hi, I'm checking your line now"]
    notes = [(n["author"], n["text"]) for n in record["agent_notes"]]
    assert ("sam", "note: exchange fault suspected") in notes
    assert ("alex", "I think it's the exchange") in notes
    with unit_of_work(g.database_url) as session:
        reply = session.scalars(select(Promise).where(Promise.kind == "reply_by")).one()
        assert reply.status == "kept" and reply.kept_by == "sam"

    # The owner follows the conversation: each turn (masked as on the card) in the thread.
    g.say(conversation_id, "thanks! the light is red, ring me on 07700 900123")
    turn = g.slack.thread(NETWORK, thread)[-1]["text"]
    assert turn.startswith("*Customer (web chat):* thanks! the light is red, ring me on")
    assert "900123" not in turn and "*Assistant:* I hear you: thanks!" in turn

    actions = audit_rows(g, reference)
    assert [a for a, _, _ in actions] == [
        "note",
        "claim",
        "claim",
        "set_status",
        "set_status",
        "note",
        "reply",
        "note",
    ]
    assert actions[1][1] == "alex (Slack U0AGENT1)" and actions[2][1] == "sam (Slack U0OTHER1)"
    assert actions[1][2].replace(tzinfo=timezone.utc) == START
    assert actions[2][2].replace(tzinfo=timezone.utc) == START + timedelta(minutes=5)


def test_a_case_waiting_on_the_customer_waits_on_us_once_they_answer(sqlite_desk: Desk_) -> None:
    g = sqlite_desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    thread = case(g, reference).desk_thread
    assert thread
    press(g, "case_claim", NETWORK, thread)
    press(g, "case_waiting_on_customer", NETWORK, thread)
    assert case(g, reference).desk_status == "waiting_on_customer"

    g.say(conversation_id, "the router light is red")
    assert case(g, reference).desk_status == "waiting_on_us"
    card = card_text(g, NETWORK, thread)
    assert "Status:* waiting on us" in card and "The customer answered" in card


def test_promises_from_the_thread(desk: Desk_) -> None:
    g = desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    thread = case(g, reference).desk_thread
    assert thread
    # Only the owner makes promises: they are told to the customer in the owner's name.
    says(g, NETWORK, thread, "promise: call you back tomorrow 10:00")
    assert g.slack.ephemerals(NETWORK, AGENT_ID)[-1]["text"].startswith("Not recorded: claim")
    says(g, NETWORK, thread, "claim")
    assert case(g, reference).owner_name == "alex"

    # Monday 12:00 in London: "tomorrow 10:00" is Tuesday 10:00 UTC (GMT in November).
    says(g, NETWORK, thread, "promise: Call you back tomorrow 10:00")
    with unit_of_work(g.database_url) as session:
        made = session.scalars(select(Promise).where(Promise.made_by == "alex")).one()
        assert (made.kind, made.what, made.status) == ("callback", "Call you back", "open")
        assert made.due_at.replace(tzinfo=timezone.utc) == datetime(
            2026, 11, 24, 10, tzinfo=timezone.utc
        )
    told = "alex from our Network team will call you by 10am tomorrow."
    assert customer_texts(g.record(conversation_id), "bot")[-1] == told
    card = card_text(g, NETWORK, thread)
    assert "Call back:* “Call you back” by Tue 24 Nov 10:00" in card
    assert "case_promise_done" in buttons(g, NETWORK, thread)

    # Refused clearly, nothing recorded, the customer told nothing.
    for bad in ("promise: call you at 10", "promise: call you today 9am", "promise: soon"):
        says(g, NETWORK, thread, bad)
        refusal = g.slack.ephemerals(NETWORK, AGENT_ID)[-1]["text"]
        assert refusal.startswith("Not recorded:"), refusal
        assert "tomorrow 10:00" in refusal or "passed" in refusal
    with unit_of_work(g.database_url) as session:
        assert len(session.scalars(select(Promise).where(Promise.made_by == "alex")).all()) == 1
    assert customer_texts(g.record(conversation_id), "bot")[-1] == told

    says(g, NETWORK, thread, "Done")
    with unit_of_work(g.database_url) as session:
        kept = session.scalars(select(Promise).where(Promise.made_by == "alex")).one()
        assert kept.status == "kept" and kept.kept_by == "alex"
    assert "case_promise_done" not in buttons(g, NETWORK, thread)
    assert [a for a, _, _ in audit_rows(g, reference)] == ["claim", "promise", "promise_done"]


def test_reassigning_and_resolving(desk: Desk_) -> None:
    g = desk
    conversation_id = g.say(None, "charged twice for my internet")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    old_thread = case(g, reference).desk_thread
    assert old_thread
    press(g, "case_claim", NETWORK, old_thread)

    reassign(g, NETWORK, old_thread, "billing")
    moved = case(g, reference)
    assert moved.team == "billing" and moved.owner_id is None and moved.owner_name is None
    assert moved.desk_channel == BILLING and moved.desk_thread not in (None, old_thread)
    told = REASSIGNED.format(team="Billing team", reference=reference)
    assert customer_texts(g.record(conversation_id), "bot")[-1] == told
    old_lines = [m.get("text", "") for m in g.slack.thread(NETWORK, old_thread)[1:]]
    assert any(f"continues in <#{BILLING}>" in line for line in old_lines)
    assert buttons(g, NETWORK, old_thread) == []  # the old card is done with
    new_card = card_text(g, BILLING, moved.desk_thread)
    assert "Billing team" in new_card and "Owner:* nobody yet" in new_card
    # Replies in the old thread no longer reach anyone.
    says(g, NETWORK, old_thread, "still here?")
    assert customer_texts(g.record(conversation_id), "agent") == []

    # Reassigning by command to an unknown team is refused and lists the teams.
    says(g, BILLING, moved.desk_thread, "reassign: plumbing")
    refusal = g.slack.ephemerals(BILLING, AGENT_ID)[-1]["text"]
    assert "plumbing" in refusal and "`network` (Network team)" in refusal

    g.clock.now = START + timedelta(hours=1)
    press(g, "case_resolve", BILLING, moved.desk_thread, user=OTHER_AGENT)
    resolved = case(g, reference)
    assert resolved.status == "resolved" and resolved.resolved_by == "sam"
    assert resolved.resolved_via == "agent"
    question = g.record(conversation_id)["messages"][-1]
    assert question["text"] == feedback.ask_fixed("sam").text
    assert [b["title"] for b in question["buttons"]] == [feedback.YES_BUTTON, feedback.NO_BUTTON]
    assert "resolved by sam" in card_text(g, BILLING, moved.desk_thread)
    assert buttons(g, BILLING, moved.desk_thread) == []

    # "No, not yet": the case is open again, and its card gets its buttons back.
    no = next(b for b in question["buttons"] if b["title"] == feedback.NO_BUTTON)
    g.say(conversation_id, no["payload"])
    assert case(g, reference).status == "open"
    post_cases(g)
    assert "case_claim" in buttons(g, BILLING, moved.desk_thread)
    assert "Status:* waiting on us" in card_text(g, BILLING, moved.desk_thread)

    rows = audit_rows(g, reference)
    assert [(a, who) for a, who, _ in rows] == [
        ("claim", "alex (Slack U0AGENT1)"),
        ("reassign", "alex (Slack U0AGENT1)"),
        ("resolve", "sam (Slack U0OTHER1)"),
    ]
    assert rows[-1][2].replace(tzinfo=timezone.utc) == START + timedelta(hours=1)


# A case that needs a person ---------------------------------------------------------------------


def test_a_handoff_shares_its_cases_card_and_thread(desk: Desk_) -> None:
    g = desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    thread = case(g, reference).desk_thread
    assert thread

    g.request_person(conversation_id)
    g.post_due()
    assert len(g.slack.calls("chat.postMessage")) == 2  # the card, and the line below it
    top_level = [m for m in g.slack.messages_in(NETWORK) if m.get("thread_ts") in (None, m["ts"])]
    assert len(top_level) == 1 and g.slack.messages_in(DESK_CHANNEL) == []
    with unit_of_work(g.database_url) as session:
        handoff = handoff_records.open_handoff(session, conversation_id)
        assert handoff is not None
        assert (handoff.desk_channel, handoff.desk_thread) == (NETWORK, thread)
    card = card_text(g, NETWORK, thread)
    assert "Needs a person in the conversation now" in card and f"Case {reference}" in card
    assert buttons(g, NETWORK, thread)[0] == "handoff_take_over"
    broadcast = g.slack.calls("chat.postMessage")[-1].params
    assert broadcast["thread_ts"] == thread and broadcast.get("reply_broadcast") in (True, "true")

    # Take over works as on a handoff's own card, and the agent who took over may reply.
    press(g, "handoff_take_over", NETWORK, thread)
    assert "with alex" in card_text(g, NETWORK, thread)
    says(g, NETWORK, thread, "Hello, I'm here to help")
    assert customer_texts(g.record(conversation_id), "agent") == ["Hello, I'm here to help"]

    # Resolving the case closes the handoff too, with one "is it fixed?".
    press(g, "case_resolve", NETWORK, thread)
    with unit_of_work(g.database_url) as session:
        handoff = handoff_records.open_handoff(session, conversation_id)
        assert handoff is None
    asked = [t for t in customer_texts(g.record(conversation_id), "bot") if "sorted" in t]
    assert asked == [feedback.ask_fixed("alex").text]


def test_a_handoff_first_is_joined_by_its_case(sqlite_desk: Desk_) -> None:
    g = sqlite_desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    g.request_person(conversation_id)
    g.post_due()  # the handoff first: to the case's team channel
    with unit_of_work(g.database_url) as session:
        handoff = handoff_records.open_handoff(session, conversation_id)
        assert handoff is not None and handoff.desk_channel == NETWORK
        thread = handoff.desk_thread
    post_cases(g)
    joined = case(g, reference)
    assert (joined.desk_channel, joined.desk_thread) == (NETWORK, thread)
    assert (
        len([m for m in g.slack.messages_in(NETWORK) if m.get("thread_ts") in (None, m["ts"])]) == 1
    )
    card = card_text(g, NETWORK, thread)
    assert f"Case {reference}" in card and "Needs a person in the conversation now" in card


def test_a_case_whose_handoff_came_first_elsewhere_is_worked_in_the_handoffs_thread(
    desk: Desk_,
) -> None:
    """The customer needed a person before any case existed: the handoff's card went to the
    escalation channel. The case joins that card and thread (one place for the live
    conversation), and its team's channel gets a short line pointing there."""
    g = desk
    conversation_id = g.say(None, "our internet has been dead for over a week")["conversation_id"]
    g.request_person(conversation_id, "critical_severity")
    thread = g.card(conversation_id)
    assert g.slack.messages_in(NETWORK) == []

    reference = file_complaint(g, conversation_id)
    post_cases(g)
    joined = case(g, reference)
    assert (joined.desk_channel, joined.desk_thread) == (DESK_CHANNEL, thread)
    # One card: the handoff's, now the case card, with the logged complaint on it.
    card = card_text(g, DESK_CHANNEL, thread)
    assert f"Case {reference} · Network team" in card
    assert "Needs a person in the conversation now" in card
    assert "my internet has been down since this morning" in card
    assert buttons(g, DESK_CHANNEL, thread)[:2] == ["handoff_take_over", "case_claim"]
    [pointer] = g.slack.messages_in(NETWORK)
    assert reference in pointer["text"] and "Network team" in pointer["text"]
    assert f"<#{DESK_CHANNEL}>" in pointer["text"] and "blocks" not in pointer
    assert post_cases(g) == 0  # nothing posted twice

    # The same agent claims the case and takes the conversation over: announced once,
    # under the case's team.
    press(g, "case_claim", DESK_CHANNEL, thread)
    press(g, "handoff_take_over", DESK_CHANNEL, thread)
    told = [t for t in customer_texts(g.record(conversation_id), "bot") if "alex" in t]
    assert told == [CLAIMED.format(agent="alex", team="Network team", reference=reference)]

    # Handed back, then a person is needed again: the same thread, not a new card.
    press(g, "handoff_hand_back", DESK_CHANNEL, thread)
    g.request_person(conversation_id)
    g.post_due()
    with unit_of_work(g.database_url) as session:
        again = handoff_records.open_handoff(session, conversation_id)
        assert again is not None
        assert (again.desk_channel, again.desk_thread) == (DESK_CHANNEL, thread)
    assert len(g.slack.messages_in(NETWORK)) == 1


def test_taking_over_first_then_claiming_is_announced_once_under_the_cases_team(
    sqlite_desk: Desk_,
) -> None:
    g = sqlite_desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    g.request_person(conversation_id)
    g.post_due()
    thread = case(g, reference).desk_thread
    assert thread
    press(g, "handoff_take_over", NETWORK, thread)
    press(g, "case_claim", NETWORK, thread)
    assert case(g, reference).owner_name == "alex"
    told = [t for t in customer_texts(g.record(conversation_id), "bot") if "alex" in t]
    assert told == [JOINED.format(agent="alex", team="Network team")]


def test_a_card_posted_mid_turn_is_redrawn_once_the_turn_is_recorded(
    sqlite_desk: Desk_,
) -> None:
    """The scheduler may post the card as the complaint is logged, before the assistant's
    answer (the logged message, the offer) is recorded: the card is redrawn at the turn's
    end."""
    g = sqlite_desk
    conversation_id = g.say(None, "my internet is down")["conversation_id"]
    reference = file_complaint(g, conversation_id)
    post_cases(g)
    thread = case(g, reference).desk_thread
    assert thread
    logged = f"I've logged your complaint as {reference}."
    assert logged not in card_text(g, NETWORK, thread)
    with unit_of_work(g.database_url) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        conversations.record_message(session, conversation, "bot", logged)
    g.client.portal.call(g.desk.turn_finished, conversation_id)  # type: ignore[union-attr]
    g.settle()
    assert logged in card_text(g, NETWORK, thread)
    assert len(g.slack.thread(NETWORK, thread)) == 1  # redrawn, nothing said in the thread


# The records underneath --------------------------------------------------------------------------


def test_what_cannot_be_done_to_a_case_changes_nothing(
    database_url: str, two_teams: Business
) -> None:
    jo = audit.Actor("Jo", audit.CONSOLE, audit.AGENT, id="op-1")
    with unit_of_work(database_url) as session:
        conversation = conversations.start_conversation(session, "web")
        complaint = complaint_records.open_complaint(
            session,
            conversation,
            category="billing",
            severity="low",
            severity_reasons=[],
            summary="charged twice",
            facts={},
        )
        filing.file_all(session, conversation, {}, None, two_teams, START)
        case_id = complaint.id
    # Two gateways after the same card: only one gets it.
    with unit_of_work(database_url) as session:
        assert case_desk.due_for_posting(session, START) == [case_id]
        assert case_desk.claim_for_posting(session, case_id, START)
        assert not case_desk.claim_for_posting(session, case_id, START)
    refused = [
        lambda s: case_desk.set_status(s, case_id, "sleeping", jo, START),
        lambda s: case_desk.reassign(s, case_id, "plumbing", jo, START, business=two_teams),
        lambda s: case_desk.reassign(s, case_id, "billing", jo, START, business=two_teams),
        lambda s: case_desk.promise(s, case_id, "callback", "call", START, jo, START),
    ]
    for attempt in refused:
        with pytest.raises(case_desk.CaseRefused), unit_of_work(database_url) as session:
            attempt(session)
    with unit_of_work(database_url) as session:
        assert case_desk.claim(session, case_id, jo, START).outcome == "claimed"
        assert case_desk.claim(session, case_id, jo, START).outcome == "already_yours"
        assert case_desk.resolve_case(session, case_id, jo, START).outcome == "resolved"
    with pytest.raises(case_desk.CaseRefused), unit_of_work(database_url) as session:
        case_desk.claim(session, case_id, jo, START)
    with unit_of_work(database_url) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(r.action, r.actor, r.via) for r in rows] == [
            ("claim", "Jo (console)", "console"),
            ("resolve", "Jo (console)", "console"),
        ]
        resolved = session.get(Complaint, case_id)
        assert resolved is not None and resolved.resolved_by == "Jo"


def test_an_offer_waiting_for_approval_is_decided_on_the_shared_card(sqlite_desk: Desk_) -> None:
    """Approve and Reject on a case card are the handoff card's buttons (same action ids),
    so the approvers' checks apply there too."""
    g = sqlite_desk
    made = make_offer(g.database_url, category="delay")  # £30: above the line, so pending
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(
            select(Complaint).where(Complaint.reference == made.complaint)
        ).one()
        complaint.team = "billing"
    g.request_person(made.conversation_id, "compensation_needs_approval")
    post_cases(g)  # (the scheduler's own run may have posted it already)
    g.post_due()
    thread = case(g, made.complaint).desk_thread
    assert thread
    assert buttons(g, BILLING, thread)[:3] == ["handoff_take_over", "offer_approve", "offer_reject"]
    card = card_text(g, BILLING, thread)
    assert "Waiting for an approver's decision" in card and made.reference in card

    # Nobody is an approver for the Billing team here: pressing Approve changes nothing.
    press(g, "offer_approve", BILLING, thread)
    with unit_of_work(g.database_url) as session:
        offer = session.scalars(
            select(CompensationOffer).where(CompensationOffer.reference == made.reference)
        ).one()
        assert offer.status == "pending_approval"
    told = g.slack.ephemerals(BILLING, AGENT_ID)[-1]["text"]
    assert "No approvers are set for the Billing team" in told
