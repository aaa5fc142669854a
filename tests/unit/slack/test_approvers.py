"""What the desk says about who may decide an offer: on the card, and to someone who pressed
Approve or Reject without the right (business/teams.yml's approvers, each up to a limit)."""

from __future__ import annotations

from bot.slack.approvers import refusal_text, slack_actor, who_decides
from redress import audit
from redress.business import Team

BILLING = Team(name="Billing team", approvers={"U0LEAD0001": "50.00", "U0JUNIOR01": "20"})


def test_the_card_names_the_approvers_whose_limit_covers_the_offer() -> None:
    assert who_decides(BILLING, 1500) == (
        "_Who can decide:_ <@U0JUNIOR01> (up to £20) or <@U0LEAD0001> (up to £50), "
        "for the Billing team."
    )
    assert who_decides(BILLING, 3000) == (
        "_Who can decide:_ <@U0LEAD0001> (up to £50), for the Billing team."
    )
    too_much = who_decides(BILLING, 9000)
    assert "nobody at the desk" in too_much and "highest approval limit is £50" in too_much
    assert "python -m redress compensation approve" in too_much
    nobody = who_decides(Team(name="Network team"), 100)
    assert nobody.startswith("_Who can decide:_ no approvers are set for the Network team.")


def test_someone_without_the_right_is_told_who_has_it() -> None:
    assert refusal_text(BILLING, "U0AGENT1", 3000) == (
        "Only <@U0LEAD0001> (up to £50) can approve or reject this £30 offer. Nothing has changed."
    )
    assert refusal_text(BILLING, "U0JUNIOR01", 3000) == (
        "You can approve offers up to £20 for the Billing team. Only <@U0LEAD0001> (up to £50) "
        "can approve or reject this £30 offer. Nothing has changed."
    )
    many = Team(name="Billing team", approvers={f"U0APPROVE{i}": "100" for i in range(6)})
    assert refusal_text(many, "U0AGENT1", 3000) == (
        "Only the approvers set for the Billing team can approve or reject this £30 offer. "
        "Nothing has changed."
    )


def test_a_slack_user_is_an_approver_only_with_a_limit() -> None:
    agent = slack_actor("alex", "U0AGENT1", None)
    assert (agent.role, agent.label) == (audit.AGENT, "alex (Slack U0AGENT1)")
    assert not agent.may(audit.APPROVER)
    lead = slack_actor("lee", "U0LEAD0001", 5000)
    assert (lead.role, lead.approve_up_to_pence) == (audit.APPROVER, 5000)
