"""The names the actions and the domain files (domain/*.yml) share: slots, and the questions
the assistant can be waiting on, so a bare "yes" answers the right one."""

from __future__ import annotations

# Slots.
PENDING = "pending_question"  # the yes-or-no question last asked
SHOWN = "offer_shown"  # the compensation offer already put, so it is not put twice
CATEGORY = "complaint_category"
REFERENCE = "complaint_reference"
ACCOUNT = "account_ref"
POSTCODE = "postcode"
SINCE = "since"
VERIFIED = "customer_verified"
CUSTOMER_NAME = "customer_name"
ACCOUNT_ATTEMPTS = "account_attempts"
POSTCODE_ATTEMPTS = "postcode_attempts"
REQUESTED_SLOT = "requested_slot"
ASKED = "asked_for"  # the form's questions asked so far, once per time asked

# What PENDING can hold.
ANYTHING_ELSE = "anything_else"
UPDATES_OFFER = "updates_offer"
COMPENSATION_OFFER = "compensation_offer"
ALTERNATIVE = "compensation_alternative"

# Slot values that stand for an answer the customer could not give.
UNVERIFIED = "unverified"
NOT_SURE = "not sure"

COMPLAINT_FORM = "complaint_form"
LISTEN = "action_listen"
