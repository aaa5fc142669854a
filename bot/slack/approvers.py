"""Who may decide compensation at the desk: the approvers ``business/teams.yml`` names for the
team of the offer's case, each up to their own limit. Everyone else is told plainly who can,
and nothing changes."""

from __future__ import annotations

from redress import audit
from redress.business import Team
from redress.compensation.policy import show_money

NOTHING_CHANGED = "Nothing has changed."
ELSEWHERE = (
    "An administrator can decide it with the compensation API or "
    "`python -m redress compensation approve`."
)
# More than this many approvers are not listed one by one.
MAX_LISTED = 4


def slack_actor(name: str, user_id: str, limit_pence: int | None) -> audit.Actor:
    """A Slack user at the desk: an approver up to ``limit_pence``, or (None) an agent, who
    may decide no offer."""
    if limit_pence is None:
        return audit.Actor(name, audit.SLACK, audit.AGENT, id=user_id)
    return audit.Actor(name, audit.SLACK, audit.APPROVER, limit_pence, user_id)


def _able(team: Team, amount_pence: int) -> tuple[dict[str, int], list[str]]:
    """Every approver's limit, and those whose limit covers the amount (lowest first)."""
    limits = {user: team.approval_limit_pence(user) or 0 for user in team.approvers}
    able = sorted((u for u, p in limits.items() if p >= amount_pence), key=lambda u: limits[u])
    return limits, able


def _named(able: list[str], limits: dict[str, int], team: Team) -> str:
    if len(able) > MAX_LISTED:
        return f"the approvers set for the {team.name}"
    named = [f"<@{user}> (up to {show_money(limits[user])})" for user in able]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


def who_decides(team: Team, amount_pence: int) -> str:
    """The card's line saying who may approve or reject the offer waiting on it."""
    limits, able = _able(team, amount_pence)
    if able:
        return f"_Who can decide:_ {_named(able, limits, team)}, for the {team.name}."
    if not limits:
        return f"_Who can decide:_ no approvers are set for the {team.name}. {ELSEWHERE}"
    return (
        f"_Who can decide:_ nobody at the desk; the {team.name}'s highest approval limit is "
        f"{show_money(max(limits.values()))}. {ELSEWHERE}"
    )


def refusal_text(team: Team, user_id: str, amount_pence: int) -> str:
    """What the agent who pressed Approve or Reject is told when it is not theirs to decide
    (Slack mrkdwn: the approvers are mentions, which Slack shows by name)."""
    amount = show_money(amount_pence)
    limits, able = _able(team, amount_pence)
    mine = team.approval_limit_pence(user_id)
    opening = ""
    if mine is not None:
        opening = f"You can approve offers up to {show_money(mine)} for the {team.name}. "
    if not limits:
        return (
            f"No approvers are set for the {team.name} (business/teams.yml), so this "
            f"{amount} offer can't be decided at the desk. {ELSEWHERE} {NOTHING_CHANGED}"
        )
    if not able:
        highest = show_money(max(limits.values()))
        return (
            f"{opening}Nobody set as an approver for the {team.name} can decide this {amount} "
            f"offer: the highest limit is {highest}. {ELSEWHERE} {NOTHING_CHANGED}"
        )
    who = _named(able, limits, team)
    return f"{opening}Only {who} can approve or reject this {amount} offer. {NOTHING_CHANGED}"
