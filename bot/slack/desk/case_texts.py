"""What the desk says about cases: to customers (plain words, checked with check_text by the
unit tests) and to agents (Slack mrkdwn; names are escaped before they go in)."""

from __future__ import annotations

# What the customer reads.
CLAIMED = "{agent} from our {team} is now looking after your complaint ({reference})."
REASSIGNED = (
    "I've passed your complaint ({reference}) to our {team}, who look after this kind of "
    "problem. They have everything you told me."
)
PROMISED_CALL = "{agent} from our {team} will call you by {when}."
PROMISED = "{agent} from our {team} has promised you this by {when}: {what}."

# What agents read.
NOT_CLAIMED = "Claim the case to reply to the customer; this stayed internal."
CASE_CLOSED = "This case is resolved. I kept your reply as an internal note."
ALREADY_OWNER = "You already own this case."
STATUS_ALREADY = "The case is already set to that."
NO_PROMISE_OPEN = "There is no open promise on this case to mark done."
CASE_GONE = "I can't find that case any more."
UNKNOWN_TEAM = "There's no team called {team}. Teams: {teams}."
BAD_STATUS = "Say `status: waiting on customer` or `status: waiting on us`."
CLAIMED_HOWTO = (
    "You own this case. Replies in this thread go to the customer as *{agent}*; start one "
    "with `note:` to keep it for colleagues. Commands: `status: waiting on customer`, "
    "`status: waiting on us`, `promise: call back tomorrow 10:00`, `done`, "
    "`reassign: <team>`, `resolve`."
)
PROMISE_REFUSED = "Not recorded: {why}"
PROMISE_NOT_OWNER = (
    "Not recorded: claim the case first. A promise is told to the customer in the name of "
    "the case's owner."
)
TOLD_PROMISE = "Recorded and told the customer: “{text}”"
MOVED = "Reassigned to the {team} by {who}: it continues in <#{channel}>."
WORKED_ELSEWHERE = (
    "New {severity} case {reference} for the {team}: the customer already needs a person in "
    "the conversation, so it is worked in <#{channel}>, in the thread of its card. Claim it "
    "or take the conversation over there."
)
NEEDS_PERSON_NOW = "<!here> The customer needs a person in the conversation now: {reason}."
