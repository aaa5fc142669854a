"""Money at the desk needs the right person: Approve and Reject on an offer work only for the
approvers business/teams.yml names for the team of the offer's case, each up to their own
limit. Anyone else is told plainly who can, and nothing changes; every attempt is in the
audit log. The real gateway with the real slack_bolt against the fake Slack Web API, on SQLite
and PostgreSQL, with a business folder of the test's own."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import yaml
from sqlalchemy import func, select

from redress import audit
from redress.business import Business, load_business
from redress.compensation import ledger
from redress.compensation.operators import approved_text, find_offer
from redress.db.models import AuditEntry, CompensationGrant, Complaint
from redress.db.session import unit_of_work
from redress.settings import REPO_ROOT
from tests.fakes.slack_api import AGENT_ID, DESK_CHANNEL
from tests.fakes.slack_requests import block_action
from tests.integration.compensation.test_fulfilment import POLICY, Made, make_offer
from tests.integration.slack.test_slack_desk import Desk_, action_ids, customer_texts, open_gateway

LEAD = "U0LEAD0001"  # may approve up to £50 for the Billing team
JUNIOR = "U0JUNIOR01"  # may approve up to £20 for the Billing team


def with_approvers(tmp_path: Path, approvers: dict[str, dict[str, str]]) -> Business:
    """The business folder copied, with ``approvers`` (team -> {Slack user id: pounds}) in
    teams.yml, and the tests' small compensation policy."""
    folder = tmp_path / "business"
    shutil.copytree(REPO_ROOT / "business", folder)
    teams = yaml.safe_load((folder / "teams.yml").read_text(encoding="utf-8"))
    for key, people in approvers.items():
        teams["teams"][key]["approvers"] = people
    (folder / "teams.yml").write_text(yaml.safe_dump(teams), encoding="utf-8")
    return replace(load_business(folder), compensation=POLICY)


def billing_case(g: Desk_) -> tuple[Made, str]:
    """A £30 offer waiting for a person on a Billing team case, and its card's thread."""
    made = make_offer(g.database_url, category="delay")
    with unit_of_work(g.database_url) as session:
        complaint = session.scalars(
            select(Complaint).where(Complaint.reference == made.complaint)
        ).one()
        complaint.team = "billing"
    g.request_person(made.conversation_id, "compensation_needs_approval")
    return made, g.card(made.conversation_id)


def press_as(g: Desk_, user: str, name: str, action: str, made: Made, thread: str) -> None:
    g.slack.add_user(user, name.title(), name)
    g.send(
        block_action(
            action, made.reference, user_id=user, user_name=name, channel=DESK_CHANNEL,
            message_ts=thread,
        )
    )  # fmt: skip


def state(database_url: str, made: Made) -> tuple[str, int]:
    with unit_of_work(database_url) as session:
        offer = find_offer(session, made.reference)
        return offer.status, session.scalar(select(func.count(CompensationGrant.id))) or 0


def audited(database_url: str, made: Made) -> list[tuple[str, str]]:
    with unit_of_work(database_url) as session:
        return [
            (entry.action, entry.actor)
            for entry in audit.entries(session, subject=made.reference)[::-1]
        ]


def test_only_the_teams_approvers_decide_and_only_up_to_their_limits(
    database_url: str, business: Business, tmp_path: Path
) -> None:
    configured = with_approvers(
        tmp_path,
        {"billing": {LEAD: "50.00", JUNIOR: "20.00"}, "customer_care": {AGENT_ID: "500.00"}},
    )
    with open_gateway(database_url, configured) as g:
        made, thread = billing_case(g)

        # An agent of another team (an approver there, not here) changes nothing.
        press_as(g, AGENT_ID, "alex", "offer_approve", made, thread)
        told = g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]
        assert told == (
            f"Only <@{LEAD}> (up to £50) can approve or reject this £30 offer. Nothing has changed."
        )
        # An approver of this team below the amount, approving or rejecting, neither.
        press_as(g, JUNIOR, "jo", "offer_approve", made, thread)
        press_as(g, JUNIOR, "jo", "offer_reject", made, thread)
        told = g.slack.ephemerals(DESK_CHANNEL, JUNIOR)[-1]["text"]
        assert told == (
            "You can approve offers up to £20 for the Billing team. "
            f"Only <@{LEAD}> (up to £50) can approve or reject this £30 offer. Nothing has changed."
        )
        assert state(database_url, made) == (ledger.PENDING_APPROVAL, 0)
        card = g.slack.message(DESK_CHANNEL, thread)
        assert card is not None and "offer_approve" in action_ids(card["blocks"])
        assert not any(
            "approved" in t for t in customer_texts(g.record(made.conversation_id), "bot")
        )

        # The team's lead approves: granted once, in their name.
        press_as(g, LEAD, "lee", "offer_approve", made, thread)
        g.client.portal.call(g.client.app.state.delivery.deliver_due)  # type: ignore[attr-defined]
        with unit_of_work(database_url) as session:
            (granted,) = session.scalars(select(CompensationGrant)).all()
            assert granted.approved_by == f"lee (Slack {LEAD})"
            expected = approved_text(granted.remedy, granted.amount_pence, granted.reference)
        assert state(database_url, made) == (ledger.GRANTED, 1)
        g.slack.wait_for(
            lambda: expected in customer_texts(g.record(made.conversation_id), "bot"),
            what="the customer to be told",
        )

    assert audited(database_url, made) == [
        ("approve_refused", f"alex (Slack {AGENT_ID})"),
        ("approve_refused", f"jo (Slack {JUNIOR})"),
        ("reject_refused", f"jo (Slack {JUNIOR})"),
        ("approve", f"lee (Slack {LEAD})"),
    ]
    with unit_of_work(database_url) as session:
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reject_refused")
        ).one()
        assert refused.detail["limit_pence"] == 2000 and refused.detail["amount"] == "£30"


def test_a_team_with_no_approver_for_the_amount_says_where_it_can_be_decided(
    database_url: str, business: Business, tmp_path: Path
) -> None:
    configured = with_approvers(tmp_path, {"billing": {JUNIOR: "20.00"}})
    with open_gateway(database_url, configured) as g:
        made, thread = billing_case(g)
        press_as(g, JUNIOR, "jo", "offer_approve", made, thread)
        told = g.slack.ephemerals(DESK_CHANNEL, JUNIOR)[-1]["text"]
        assert "Nobody set as an approver for the Billing team can decide this £30 offer" in told
        assert "the highest limit is £20" in told and "Nothing has changed." in told

        # A case with no team yet belongs to the default team, which has no approvers.
        other = make_offer(database_url, "BL-100002", category="delay")
        g.request_person(other.conversation_id, "compensation_needs_approval")
        press_as(g, AGENT_ID, "alex", "offer_reject", other, g.card(other.conversation_id))
        told = g.slack.ephemerals(DESK_CHANNEL, AGENT_ID)[-1]["text"]
        assert told.startswith("No approvers are set for the Customer care team")
        assert state(database_url, made) == (ledger.PENDING_APPROVAL, 0)
        assert state(database_url, other) == (ledger.PENDING_APPROVAL, 0)
