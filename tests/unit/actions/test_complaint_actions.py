"""The complaint actions on their own: one apology per problem, details asked only when
needed, accounts looked up for real, and a filed complaint told its reference and team."""

from __future__ import annotations

from sqlalchemy import select

from actions.complaints import (
    ActionAcknowledgeComplaint,
    ActionLogComplaint,
    ActionUpdateDetails,
    ValidateComplaintForm,
)
from redress.db.models import Complaint
from redress.db.session import unit_of_work
from tests.unit.actions.conftest import Conversation, entity

BILL = "you charged me twice for march, £32 taken two times"


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


def test_the_form_finds_a_real_account_and_greets_the_customer_by_name() -> None:
    chat = Conversation(slots={"complaint_category": "billing"})
    form = ValidateComplaintForm()
    said = form.validate_account_ref("bl 100002", *_args(chat, "bl 100002"))
    assert said["customer_verified"] is True
    assert said["account_ref"] == "BL-100002"
    assert said["customer_name"] == "Priya"


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
    assert logged["next_step"] and logged["reply_within"]
    assert complaint.facts["logged"] is True
    assert complaint.facts["account_ref"] == "BL-100001"


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

    assert said.responses == ["utter_details_updated"]
    assert said.slot("customer_verified") is True
    assert said.slot("customer_name") == "Priya"
    (complaint,) = complaints_of(records_url, chat)
    assert complaint.facts["account_ref"] == "BL-100002"
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
