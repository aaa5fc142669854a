"""A customer's request about their personal data: erase it, say what is held, or stop
messaging them. Never a complaint (redress/privacy/requests.py, docs/privacy.md).

Who is asking is checked the way everything else is (docs/identity.md): a verified
conversation's request is recorded as verified; an account named but not proven gets the
e-mailed code first, and the request waits, recorded, until it comes; with no account we can
check in the chat, the request is recorded unverified and a person confirms who they are."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import replies, taking
from actions.context import business, now, settings
from actions.identity import CLAIMED, SEND_CODE, look_up
from actions.intents import complaint_told
from redress.complaints import records as complaint_records
from redress.conversations import customers
from redress.conversations import records as conversations
from redress.db.models import DataRequest
from redress.db.session import unit_of_work
from redress.handoff import records as handoff_records
from redress.identity import records as identity
from redress.privacy import requests

RECORDED = {
    requests.ERASURE: "utter_data_erasure_recorded",
    requests.ACCESS: "utter_data_access_recorded",
    requests.STOP_MESSAGES: "utter_data_stop_recorded",
}


def kind_asked(tracker: Tracker) -> str | None:
    """The kind of request the latest message makes, by its intent."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return requests.KIND_OF_INTENT.get(intent) if isinstance(intent, str) else None


def say_recorded(dispatcher: CollectingDispatcher, request: DataRequest) -> None:
    """What a recorded, verified request means for the customer, and by when."""
    dispatcher.utter_message(
        response=RECORDED[request.kind],
        data_reference=request.reference,
        due_date=requests.describe_due(request.due_at, business().hours.timezone),
    )


def _names_an_account(text: str) -> bool:
    """Whether the message gives an account number or an e-mail address (whether or not
    one exists: that is for the limited lookup to find out)."""
    return bool(customers.normalise_account_number(text) or customers.find_email(text))


def _ask_person(session: Session, conversation_id: str) -> None:
    handoff_records.request_handoff(session, conversation_id, requests.CONFIRM_IDENTITY)


class ActionDataRequest(Action):
    """Records the request once, after checking who is asking, and says what happens."""

    def name(self) -> str:
        return "action_data_request"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        kind = kind_asked(tracker)
        if kind is None:  # not from one of the request intents
            dispatcher.utter_message(response="utter_default")
            return []
        zone, moment = business().hours.timezone, now()
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            # Stopping what the assistant sends on its own harms no one, so it is done at
            # once, whoever is asking: it only concerns this chat.
            stopped = (
                requests.stop_proactive_messages(session, conversation.id, moment)
                if kind == requests.STOP_MESSAGES
                else None
            )
            earlier = requests.open_request(session, conversation.id, kind)
            verified = identity.verified_customer(session, conversation.id)
            claimed = identity.claimed_customer(session, conversation.id)
            text = replies.latest_text(tracker)
            # "delete my data, I'm BL-100004": the account named here is looked up (within the
            # lookup limits, like any other) and claimed, so a code can go to its e-mail.
            if (
                verified is None
                and claimed is None
                and _names_an_account(text)
                and look_up(session, tracker, text).outcome == CLAIMED
            ):
                claimed = identity.claimed_customer(session, conversation.id)
            request = earlier or requests.record_request(
                session,
                kind=kind,
                conversation_id=conversation.id,
                customer_id=verified.id if verified else None,
                verified=verified is not None,
                now=moment,
                zone=zone,
            )
            can_send_code = verified is None and claimed is not None and bool(claimed.email)
            if earlier is None and verified is None and not can_send_code:
                _ask_person(session, conversation.id)
            reference, due = request.reference, requests.describe_due(request.due_at, zone)
        if earlier is not None:
            dispatcher.utter_message(
                response="utter_data_request_already", data_reference=reference, due_date=due
            )
        elif verified is not None:
            dispatcher.utter_message(
                response=RECORDED[kind], data_reference=reference, due_date=due
            )
        elif can_send_code:
            dispatcher.utter_message(
                response="utter_data_request_check_needed", data_reference=reference
            )
            dispatcher.utter_message(json_message=SEND_CODE)
            dispatcher.utter_message(response="utter_data_request_code_way_out")
        else:
            dispatcher.utter_message(
                response="utter_data_request_person_checks",
                data_reference=reference,
                due_date=due,
                when_reply=replies.when_reply(),
            )
        if stopped is not None:
            response = (
                "utter_data_stop_updates_stopped"
                if stopped.incidents
                else "utter_data_stop_no_updates"
            )
            dispatcher.utter_message(response=response)
        return []


class ActionCannotVerify(Action):
    """ "I can't get into that e-mail any more": a request about personal data waiting for
    the code is left to a person, who confirms who the customer is."""

    def name(self) -> str:
        return "action_cannot_verify"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        zone = business().hours.timezone
        with unit_of_work(settings().database_url) as session:
            conversation = conversations.ensure_conversation(session, tracker.sender_id, "rasa")
            waiting = requests.unverified_requests(session, conversation.id)
            if waiting:
                _ask_person(session, conversation.id)
                said = [(r.reference, requests.describe_due(r.due_at, zone)) for r in waiting]
        if not waiting:
            with unit_of_work(settings().database_url) as session:
                complaints = complaint_records.open_complaints(session, tracker.sender_id)
            if not complaints and (told := complaint_told(tracker)) is not None:
                # "the reset e-mails go to an address I can't get into": a complaint about
                # getting into the account, not an answer to a code.
                return taking.start_complaint(dispatcher, tracker, told)
            dispatcher.utter_message(response="utter_cannot_verify_noted")
            return []
        for reference, due in said:
            dispatcher.utter_message(
                response="utter_data_request_person_checks",
                data_reference=reference,
                due_date=due,
                when_reply=replies.when_reply(),
            )
        return []


def confirm_after_code(
    dispatcher: CollectingDispatcher, session: Session, tracker: Tracker
) -> None:
    """After the right code: requests this conversation made while it was unproven are
    verified now, and the customer hears what happens to each."""
    customer = identity.verified_customer(session, tracker.sender_id)
    if customer is None:
        return
    for request in requests.mark_verified(session, tracker.sender_id, customer.id):
        say_recorded(dispatcher, request)
