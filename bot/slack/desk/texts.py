"""What the Slack desk says: to customers (checked by tests/unit with check_text) and to
agents (Slack mrkdwn; names are escaped before they go in)."""

from __future__ import annotations

# What the customer reads.
JOINED = "{agent} from our {team} has joined the chat and will help you from here."
HANDED_BACK = "Thanks for waiting — is there anything else I can help with?"

# What agents read (Slack mrkdwn; names are escaped before they go in).
TAKEN_OVER_HOWTO = (
    "Replies in this thread go to the customer as *{agent}*. "
    "Start a reply with `note:` to keep it for colleagues."
)
NOT_TAKEN_OVER = (
    "Not sent to the customer: press *Take over* on the card first. "
    "I kept your reply as an internal note."
)
SOMEONE_ELSE = (
    "Not sent to the customer: *{agent}* has this conversation. Press *Take over* to take it "
    "from them. I kept your reply as an internal note."
)
CLOSED = "This conversation is no longer with the desk. I kept your reply as an internal note."
ALREADY_YOURS = "You already have this conversation."
ALREADY_CLOSED = "This conversation was already handed back or resolved."
NOT_REACHABLE = (
    "The customer can't be reached on their channel right now. Your reply is in the record."
)
FILES_NOT_SENT = "Files don't reach the customer yet; only the words of your reply do."
EDITS_NOT_SENT = "Edits and deletions don't reach the customer. Send a new reply instead."
OFFER_NOT_CHANGED = "That offer can't be changed now: {reason}."
OFFER_UNKNOWN = "I can't find that offer any more."
REJECTED_HOWTO = (
    "The customer has been told a person will be in touch about it. Take the conversation "
    "over to tell them why, or they will hear from whoever picks it up."
)
WAIT_REALERT = (
    "<!here> The customer has been {wait} (in opening hours) and nobody has taken this "
    "conversation over. They've been told they're still in the queue."
)
FOLLOW_UP_REALERT = (
    "<!here> The customer has been {wait} (in opening hours) and nobody has taken this "
    "conversation over. They've been offered a follow-up on {channel}; it stays in the "
    "queue until someone takes it over."
)
FOLLOW_UP_WANTED = (
    "The customer would like a follow-up on {channel} and may have left the chat. "
    "Take it over and reply in this thread when you can: it reaches them there."
)
FOLLOW_UP_DECLINED = "The customer is waiting in the chat for a reply."
CHANNEL_NAMES = {"web": "web chat", "telegram": "Telegram"}
