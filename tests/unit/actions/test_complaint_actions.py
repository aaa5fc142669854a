"""The complaint actions on their own: one apology per problem, details asked only when
needed, accounts looked up for real, and a filed complaint told its reference and team."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import context, names
from actions.complaints import (
    ActionAcknowledgeComplaint,
    ActionLogComplaint,
    ActionUpdateDetails,
    ValidateComplaintForm,
)
from actions.identity import ActionIdentityVerified
from redress.complaints import status
from redress.db.models import Complaint, Promise
from redress.db.session import unit_of_work
from redress.identity import records as identity_records
from redress.incidents.wording import describe_time
from tests.unit.actions.conftest import Conversation, Said, entity, signed_in

BILL = "you charged me twice for march, £32 taken two times"


def promises_of(url: str, complaint: Complaint) -> list[Promise]:
    with unit_of_work(url) as session:
        return list(session.scalars(select(Promise).where(Promise.complaint_id == complaint.id)))


def complaints_of(url: str, conversation: Conversation) -> list[Complaint]:
    with unit_of_work(url) as session:
        rows = session.scalars(
            select(Complaint).where(Complaint.conversation_id == conversation.sender_id)
        )
        return [row for row in rows]


def test_a_complaint_gets_one_apology_naming_it_and_a_reference(records_url: str) -> None:
    chat = Conversation()
    said = chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")

    apology = said.said("utter_complaint_apology")
    assert "charg" in apology["problem"].lower()
    assert said.slot("complaint_category") == "billing"
    (complaint,) = complaints_of(records_url, chat)
    assert said.slot("complaint_reference") == complaint.reference
    assert complaint.category == "billing"
    # No account yet: the customer is told details come next.
    assert "utter_details_next" in said.responses


def test_more_about_the_same_problem_is_added_not_apologised_for_again(records_url: str) -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    again = chat.run(ActionAcknowledgeComplaint(), "and it happened in feb too", "complain_billing")

    assert again.responses == ["utter_complaint_added"]
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.facts["more"] == ["and it happened in feb too"]


def test_a_message_told_again_after_a_failed_turn_is_apologised_for_as_the_first_time(
    records_url: str,
) -> None:
    """A turn that failed after the complaint was opened is not kept by the assistant; the
    message comes again to a conversation that has not seen it."""
    failed = Conversation()
    failed.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    again = Conversation(sender_id=failed.sender_id)
    said = again.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")

    assert "utter_complaint_apology" in said.responses
    assert "utter_complaint_added" not in said.responses
    (complaint,) = complaints_of(records_url, again)
    assert said.slot("complaint_reference") == complaint.reference
    assert "more" not in complaint.facts


def test_an_account_given_with_the_complaint_is_not_asked_for_again() -> None:
    chat = Conversation()
    text = "BL-100001 here, my bill is wrong again"
    said = chat.run(
        ActionAcknowledgeComplaint(),
        text,
        "complain_billing",
        entities=[entity(text, "BL-100001", "account_number")],
    )
    assert said.slot("account_ref") == "BL-100001"


def test_a_signed_in_customer_is_found_and_greeted_by_name() -> None:
    chat = Conversation(slots={"complaint_category": "billing"})
    signed_in(chat, "BL-100002")
    form = ValidateComplaintForm()
    said = form.validate_account_ref("bl 100002", *_args(chat, "bl 100002"))
    assert said["customer_verified"] is True
    assert said["account_ref"] == "BL-100002"
    assert said["customer_name"] == "Priya"


def test_typing_an_account_number_is_not_proof(records_url: str) -> None:
    """A stranger who knows BL-100002 learns no name, gets no money on it, and the gateway
    is asked to e-mail a code to the address on the account."""
    chat = Conversation(slots={"complaint_category": "billing"})
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    dispatcher = CollectingDispatcher()
    said = ValidateComplaintForm().validate_account_ref(
        "bl 100002", dispatcher, chat.tracker("bl 100002", "inform"), {}
    )
    assert said["customer_verified"] is False
    assert said["account_ref"] == "BL-100002"
    assert "customer_name" not in said
    shown = [m.get("response") for m in dispatcher.messages]
    assert shown[0] == "utter_account_check_needed"
    assert {"redress": "send_code"} in [m.get("custom") for m in dispatcher.messages]
    assert "Priya" not in str(dispatcher.messages)
    with unit_of_work(records_url) as session:
        claimed = identity_records.claimed_customer(session, chat.sender_id)
        assert claimed is not None and claimed.account_number == "BL-100002"
        assert identity_records.verified_customer(session, chat.sender_id) is None

    # Logged under the account as given, not on it: no offer is made.
    chat.slots.update(said, since="since March", postcode="LS6 2AB")
    logged = chat.run(ActionLogComplaint(), "since march", "inform")
    assert "utter_compensation_offer" not in logged.responses
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.customer_id is None
    assert complaint.facts["account_ref"] == "BL-100002"


def test_the_code_confirmed_puts_the_name_and_the_offer(records_url: str) -> None:
    chat = Conversation()
    text = "my broadband has been down for 3 days, I work from home"
    chat.run(ActionAcknowledgeComplaint(), text, "complain_outage")
    found = ValidateComplaintForm().validate_account_ref(
        "BL-100004", CollectingDispatcher(), chat.tracker("BL-100004", "inform"), {}
    )
    chat.slots.update(found, postcode="B29 6EX", since="3 days")
    chat.run(ActionLogComplaint(), "B29 6EX", "inform")
    signed_in(chat, "BL-100004")  # what the gateway records when the code is right

    said = chat.run(ActionIdentityVerified(), "/identity_verified", "identity_verified")
    assert said.responses[0] == "utter_identity_confirmed"
    assert said.said("utter_identity_confirmed")["customer_name"] == "Tom"
    assert "utter_compensation_offer" in said.responses
    assert said.slot("customer_verified") is True
    assert said.slot("pending_question") == "compensation_offer"


def test_a_verified_identity_is_never_taken_from_the_message_alone() -> None:
    chat = Conversation()
    said = chat.run(ActionIdentityVerified(), "/identity_verified", "identity_verified")
    assert said.responses == ["utter_default"]
    assert said.events == []


def test_account_lookups_are_limited_per_conversation(records_url: str) -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    form = ValidateComplaintForm()
    for number in range(identity_records.LOOKUPS_PER_CONVERSATION):
        form.validate_account_ref(f"BL-90000{number}", *_args(chat, f"BL-90000{number}"))
    dispatcher = CollectingDispatcher()
    said = form.validate_account_ref(
        "BL-100001", dispatcher, chat.tracker("BL-100001", "inform"), {}
    )
    assert said["account_ref"] == "unverified"
    assert [m.get("response") for m in dispatcher.messages] == ["utter_account_lookup_limited"]


def test_an_unknown_account_is_asked_once_more_then_the_complaint_goes_on_without_it() -> None:
    chat = Conversation()
    form = ValidateComplaintForm()
    first = form.validate_account_ref("BL-999999", *_args(chat, "BL-999999"))
    assert first == {"account_ref": None, "account_attempts": 1}
    chat.slots["account_attempts"] = 1
    second = form.validate_account_ref("BL-999998", *_args(chat, "BL-999998"))
    assert second["account_ref"] == "unverified"


def test_no_account_number_is_a_fine_answer() -> None:
    chat = Conversation()
    said = ValidateComplaintForm().validate_account_ref(
        "I don't have one", *_args(chat, "I don't have one")
    )
    assert said["account_ref"] == "unverified"


def test_postcodes_are_read_however_they_are_typed() -> None:
    chat = Conversation()
    form = ValidateComplaintForm()
    assert form.validate_postcode("ls62ab", *_args(chat, "ls62ab"))["postcode"] == "LS6 2AB"
    assert form.validate_postcode("my house", *_args(chat, "my house"))["postcode"] is None


def test_since_keeps_the_customers_words_and_accepts_not_knowing() -> None:
    chat = Conversation()
    form = ValidateComplaintForm()
    assert form.validate_since("monday", *_args(chat, "monday"))["since"] == "since Monday"
    assert form.validate_since("no idea", *_args(chat, "no idea"))["since"] == "not sure"


def test_a_filed_complaint_is_told_its_reference_team_and_reply_time(records_url: str) -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    chat.slots.update(account_ref="BL-100001", customer_verified=True, since="since March")
    said = chat.run(ActionLogComplaint(), "since march", "inform")

    logged = said.said("utter_complaint_logged")
    (complaint,) = complaints_of(records_url, chat)
    assert logged["complaint_reference"] == complaint.reference
    assert logged["next_step"]
    # Medium is 24 hours counted in opening hours: from Tuesday 10:00 that is Thursday
    # 10:00, said as the day and time, not "within 24 hours".
    assert logged["reply_by"] == "10am on Thursday 12 March"
    (promise,) = promises_of(records_url, complaint)
    assert promise.due_at == datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc)
    assert complaint.facts["logged"] is True
    assert complaint.facts["account_ref"] == "BL-100001"


@pytest.mark.parametrize(
    ("filed_at", "said"),
    [
        # Saturday 18:00, after the 17:00 close; closed Sunday: 12 hours on Monday and the
        # other 12 on Tuesday.
        (datetime(2026, 3, 14, 18, 0, tzinfo=timezone.utc), "8pm on Tuesday 17 March"),
        # Monday 19:00: 1 hour today, 12 tomorrow, 11 on Wednesday.
        (datetime(2026, 3, 9, 19, 0, tzinfo=timezone.utc), "7pm on Wednesday 11 March"),
        # Wednesday 08:00 at opening: 12 hours today and 12 tomorrow, closing time.
        (datetime(2026, 3, 11, 8, 0, tzinfo=timezone.utc), "8pm tomorrow"),
    ],
)
def test_the_reply_time_said_is_the_promise_recorded(
    records_url: str, monkeypatch: pytest.MonkeyPatch, filed_at: datetime, said: str
) -> None:
    """The time the customer hears is the due time of the promise the team is held to,
    counted in opening hours, in the business's time zone; "any update?" says the same."""
    monkeypatch.setattr(context, "clock", lambda: filed_at)
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    chat.slots.update(account_ref=names.UNVERIFIED, since="since March", postcode="LS6 2AB")
    logged = chat.run(ActionLogComplaint(), "since march", "inform").said("utter_complaint_logged")

    (complaint,) = complaints_of(records_url, chat)
    (promise,) = promises_of(records_url, complaint)
    assert logged["reply_by"] == said
    assert logged["reply_by"] == describe_time(promise.due_at, filed_at, "Europe/London")
    assert "within" not in str(logged)
    assert status.promised(complaint) == promise.due_at
    with unit_of_work(records_url) as session:
        update = status.standing(session.merge(complaint), context.business(), filed_at)
    assert f"you'll hear from us by {said}." in update.text, update.text


def test_details_before_any_complaint_ask_what_went_wrong() -> None:
    said = Conversation().run(ActionUpdateDetails(), "my postcode is LS6 2AB", "give_details")
    assert said.responses == ["utter_what_went_wrong"]


def test_a_correction_after_the_complaint_updates_it(records_url: str) -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    said = chat.run(ActionUpdateDetails(), "sorry my postcode is M14 5RT", "give_details")

    assert said.responses == ["utter_details_updated"]
    assert said.slot("postcode") == "M14 5RT"
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.facts["postcode"] == "M14 5RT"


def _args(chat: Conversation, text: str) -> tuple:
    from rasa_sdk.executor import CollectingDispatcher

    return CollectingDispatcher(), chat.tracker(text, "inform"), {}


def test_an_account_given_later_is_looked_up_and_filed_with_the_complaint(
    records_url: str,
) -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    text = "oh my account is BL-100002"
    said = chat.run(
        ActionUpdateDetails(),
        text,
        "give_details",
        entities=[entity(text, "BL-100002", "account_number")],
    )

    # Named, not proven: noted with the complaint, a code asked for, nothing shown from it.
    assert said.responses == ["utter_account_check_needed", "", "utter_details_updated"]
    assert said.slot("customer_verified") is False
    assert "customer_name" not in [event["name"] for event in said.events]
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.facts["account_ref"] == "BL-100002"
    assert complaint.customer_id is None


def test_an_account_given_later_by_a_signed_in_customer_is_filed_on_it(
    records_url: str,
) -> None:
    chat = Conversation()
    signed_in(chat, "BL-100002")
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    text = "oh my account is BL-100002"
    said = chat.run(
        ActionUpdateDetails(),
        text,
        "give_details",
        entities=[entity(text, "BL-100002", "account_number")],
    )
    assert said.responses == ["utter_details_updated"]
    assert said.slot("customer_name") == "Priya"
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.customer_id is not None


def test_an_account_that_does_not_exist_is_said_so() -> None:
    chat = Conversation()
    chat.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    text = "account BL-999999"
    said = chat.run(
        ActionUpdateDetails(),
        text,
        "give_details",
        entities=[entity(text, "BL-999999", "account_number")],
    )
    assert said.responses == ["utter_account_not_found"]


def test_someone_who_depends_on_the_line_hears_how_to_get_help_and_gets_a_person_at_once(
    records_url: str,
) -> None:
    from redress.db.models import Handoff

    chat = Conversation()
    said = chat.run(
        ActionAcknowledgeComplaint(),
        "my dad's careline alarm runs through the phone line and the line is dead",
        "complain_outage",
    )
    assert said.responses[:4] == [
        "utter_complaint_apology",
        "utter_emergency_advice",
        "utter_handoff_serious",
        "utter_details_next",
    ]
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.severity == "critical"
    with unit_of_work(records_url) as session:
        reasons = [h.reason for h in session.scalars(select(Handoff))]
    assert reasons == ["critical_severity"]


def _log_bill(chat: Conversation, text: str = BILL) -> Said:
    chat.run(ActionAcknowledgeComplaint(), text, "complain_billing")
    return chat.run(ActionLogComplaint(), "since march", "inform")


def test_a_verified_customer_back_with_the_same_problem_hears_it_once_and_it_is_linked(
    records_url: str,
) -> None:
    first = Conversation()
    signed_in(first, "BL-100002")
    first.slots.update(account_ref="BL-100002", customer_verified=True, since="since March")
    assert "utter_complaint_logged_repeat" not in _log_bill(first).responses
    (earlier,) = complaints_of(records_url, first)
    with unit_of_work(records_url) as session:
        session.get(Complaint, earlier.id).created_at = datetime(
            2026, 3, 3, 15, tzinfo=timezone.utc
        )

    again = Conversation()
    signed_in(again, "BL-100002")
    again.slots.update(account_ref="BL-100002", customer_verified=True, since="since March")
    said = _log_bill(again, "you've charged me twice again")
    logged = said.said("utter_complaint_logged_repeat")
    assert logged["earlier_reference"] == earlier.reference
    assert logged["told_on"] == "on 3 March"
    # The first is still open: the customer had to tell us again, which is what we know.
    assert logged["sorry_again"] == "I'm sorry you've had to tell us about this again."
    assert logged["reply_by"] == "10am on Thursday 12 March"
    (complaint,) = complaints_of(records_url, again)
    assert logged["complaint_reference"] == complaint.reference
    assert complaint.repeat_of_id == earlier.id
    # A person too, without saying the repeat a second time.
    assert said.responses.index("utter_handoff_repeat") > said.responses.index(
        "utter_complaint_logged_repeat"
    )
    assert "utter_complaint_logged" not in said.responses

    # The same problem once more in this conversation: linked, and not said again.
    with unit_of_work(records_url) as session:
        session.get(Complaint, complaint.id).status = "resolved"
    said = _log_bill(again, "and now you've charged me twice on the new bill too")
    assert "utter_complaint_logged" in said.responses
    assert "utter_complaint_logged_repeat" not in said.responses
    latest = complaints_of(records_url, again)[-1]
    assert latest.id != complaint.id and latest.repeat_of_id == complaint.id


def test_an_account_only_named_hears_nothing_about_its_history(records_url: str) -> None:
    first = Conversation()
    signed_in(first, "BL-100003")
    first.slots.update(account_ref="BL-100003", customer_verified=True, since="since March")
    _log_bill(first)

    stranger = Conversation(slots={"complaint_category": "billing"})
    stranger.run(ActionAcknowledgeComplaint(), BILL, "complain_billing")
    named = ValidateComplaintForm().validate_account_ref("BL-100003", *_args(stranger, "BL-100003"))
    assert named["customer_verified"] is False
    stranger.slots.update(named, since="since March", postcode="LS6 3HN")
    said = stranger.run(ActionLogComplaint(), "since march", "inform")
    assert "utter_complaint_logged" in said.responses
    assert "utter_complaint_logged_repeat" not in said.responses
    assert "utter_handoff_repeat" not in said.responses
    (complaint,) = complaints_of(records_url, stranger)
    assert complaint.repeat_of_id is None
