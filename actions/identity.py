"""Looking an account up without taking the customer's word for it (docs/identity.md).

A typed account number or e-mail address names an account; it does not prove it is the
customer's. Named but not proven, the account is *claimed*: the complaint is logged and the
gateway e-mails a code to the address on file. Proven (the code, or the business's signed
login), it is *verified*: only then are the name, the account's details and compensation
used. Lookups are limited per conversation and per network address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import names, replies
from actions.context import business, identity_settings, now, settings
from redress.compensation import in_conversation as compensation
from redress.complaints import filing
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import Customer
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.handoff import reply_times
from redress.identity import records as identity

# The custom payload that asks the gateway to e-mail a code (bot/identity.py).
SEND_CODE = {"redress": "send_code"}

FOUND, CLAIMED, NOT_FOUND, LIMITED = "found", "claimed", "not_found", "limited"


@dataclass(frozen=True)
class Lookup:
    outcome: str  # found (verified) | claimed | not_found | limited
    customer: Customer | None = None

    def slots(self) -> dict[str, Any]:
        """The slots this lookup fills."""
        if self.customer is None:
            return {}
        if self.outcome == FOUND:
            return verified_slots(self.customer)
        return {names.ACCOUNT: self.customer.account_number, names.VERIFIED: False}


def verified_slots(customer: Customer) -> dict[str, Any]:
    """What the conversation knows once the account is proven: used by the form, by
    corrections outside it and after a code, so all fill exactly the same slots."""
    return {
        names.ACCOUNT: customer.account_number,
        names.CUSTOMER_NAME: customer.first_name,
        names.VERIFIED: True,
        names.POSTCODE: customer.postcode,
    }


def sender_address(tracker: Tracker) -> str | None:
    """The pseudonymous address key the gateway put on the latest message, if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            address = (event.get("metadata") or {}).get("address")
            return address if isinstance(address, str) else None
    return None


def look_up(session: Session, tracker: Tracker, reference: str) -> Lookup:
    """Finds the account ``reference`` names (within the lookup limits) and attaches it to
    the conversation only when this conversation has proven it is the customer's."""
    conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
    address, moment = sender_address(tracker), now()
    limits = identity_settings()
    if not identity.lookup_allowed(
        session,
        conversation.id,
        address,
        moment,
        per_conversation=limits.lookups_per_conversation,
        per_address=limits.lookups_per_address,
    ):
        return Lookup(LIMITED)
    identity.note_lookup(session, conversation.id, address, moment)
    customer = customers.find_customer(session, reference)
    if customer is None:
        return Lookup(NOT_FOUND)
    verified = identity.verified_customer(session, conversation.id)
    if verified is not None and verified.id == customer.id:
        customers.attach_customer(session, conversation, customer)
        return Lookup(FOUND, customer)
    identity.claim(session, conversation.id, customer)
    return Lookup(CLAIMED, customer)


def verified_customer_of(tracker: Tracker) -> Customer | None:
    """The customer this conversation has proven to be (a signed login, or a code)."""
    with unit_of_work(settings().database_url) as session:
        customer = identity.verified_customer(session, tracker.sender_id)
        if customer is not None:
            session.expunge(customer)
        return customer


def say_check_needed(dispatcher: CollectingDispatcher) -> None:
    """Tells the customer why the account's details and money wait, and has a code sent."""
    dispatcher.utter_message(response="utter_account_check_needed")
    dispatcher.utter_message(json_message=SEND_CODE)


def _tell_repeat(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    earlier: filing.Earlier,
    *,
    person_now: bool,
) -> None:
    """A complaint logged before the customer proved who they are repeats an earlier one:
    said once in the conversation, with the person it brings in when none was asked yet."""
    # Imported here: actions.complaints imports this module.
    from actions.complaints import REPEATS, repeat_words

    if replies.said_before(tracker, *REPEATS):
        return
    dispatcher.utter_message(
        response="utter_complaint_repeat",
        **repeat_words(earlier, now(), business().hours.timezone),
    )
    if person_now and business().handoff.repeat_within_days:
        dispatcher.utter_message(response="utter_handoff_repeat", when_reply=replies.when_reply())


class ActionIdentityVerified(Action):
    """The customer typed the right code (the gateway checked it): thank them by name, and
    put any compensation their complaints now qualify for."""

    def name(self) -> str:
        return "action_identity_verified"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with unit_of_work(settings().database_url) as session:
            customer = identity.verified_customer(session, tracker.sender_id)
            if customer is None:  # not from the gateway's check: nothing is confirmed
                dispatcher.utter_message(response="utter_default")
                return []
            slots = verified_slots(customer)
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            had_person = handoff_records.open_handoff(session, tracker.sender_id) is not None
            # Complaints logged before the code came are linked to the earlier ones they
            # repeat, as if the code had come first...
            repeated = filing.link_repeats_on_verifying(session, conversation, business(), now())
            # ...and now qualify for compensation, like any verified one.
            compensation.make_offers(session, tracker.sender_id, business().compensation, now())
            person_asked = business().handoff.compensation_needs_approval and (
                compensation.awaits_approval(session, tracker.sender_id)
            )
            if person_asked:
                handoff_records.request_handoff(
                    session, tracker.sender_id, reply_times.NEEDS_APPROVAL
                )
        dispatcher.utter_message(
            response="utter_identity_confirmed", customer_name=slots[names.CUSTOMER_NAME]
        )
        if repeated is not None:
            _tell_repeat(dispatcher, tracker, repeated, person_now=not had_person)
        # A request about personal data made before the code is acted on now. (Imported
        # here: that module asks for codes with SEND_CODE, from this one.)
        from actions.data_requests import confirm_after_code

        with unit_of_work(settings().database_url) as session:
            confirm_after_code(dispatcher, session, tracker)
        events: list[EventType] = [SlotSet(name, value) for name, value in slots.items()]
        if (tracker.active_loop or {}).get("name") == names.COMPLAINT_FORM:
            return events  # the form carries on with what it still needs
        offered = replies.present_next_offer(dispatcher, tracker, person_asked=person_asked)
        return events + (offered or [])
