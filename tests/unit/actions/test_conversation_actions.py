"""The actions around a complaint, on their own: a person asked for, abuse, things we do
not provide, misunderstandings, "any update?", a yes or a no, and "what will you do about
it?"."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import context
from actions.answers import ActionAnswerYesNo
from actions.compensation import ActionAskCompensation
from actions.complaints import (
    ActionAcknowledgeComplaint,
    ActionLogComplaint,
    ValidateComplaintForm,
)
from actions.conversation import (
    ActionAnswerOffTopic,
    ActionGiveUpdate,
    ActionGreet,
    ActionHandleAbuse,
    ActionHandleMisunderstanding,
    ActionRequestHuman,
    ActionThanks,
    ActionWorkingAgain,
)
from actions.session import ActionSessionStart
from redress.db.models import (
    CompensationGrant,
    CompensationOffer,
    Complaint,
    ConversationEvent,
    Handoff,
)
from redress.db.session import unit_of_work
from redress.settings import REPO_ROOT
from tests.unit.actions.conftest import NOW, Conversation, signed_in


def handoffs(url: str, chat: Conversation) -> list[str]:
    with unit_of_work(url) as session:
        rows = session.scalars(select(Handoff).where(Handoff.conversation_id == chat.sender_id))
        return [row.reason for row in rows]


def events_of(url: str, chat: Conversation, kind: str) -> list[dict]:
    with unit_of_work(url) as session:
        rows = session.scalars(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == chat.sender_id,
                ConversationEvent.kind == kind,
            )
        )
        return [dict(row.detail) for row in rows]


def grants_in(url: str, chat: Conversation) -> list[CompensationGrant]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(CompensationGrant)
                .join(CompensationOffer, CompensationOffer.id == CompensationGrant.offer_id)
                .where(CompensationOffer.conversation_id == chat.sender_id)
            )
        )


def test_asking_for_a_person_records_one_request_and_says_when(records_url: str) -> None:
    chat = Conversation()
    first = chat.run(ActionRequestHuman(), "can I talk to a real person", "request_human")
    again = chat.run(ActionRequestHuman(), "a human please", "request_human")

    # Nothing told yet, so nothing is said to be kept.
    assert first.said("utter_handoff_requested_first")["when_reply"]
    assert again.responses == ["utter_handoff_already_requested"]
    assert handoffs(records_url, chat) == ["customer_asked"]


def test_asking_for_a_person_after_telling_the_problem_says_it_is_kept(records_url: str) -> None:
    chat = Conversation()
    chat.run(
        ActionAcknowledgeComplaint(), "my phone line has been dead all week", "complain_outage"
    )
    asked = chat.run(ActionRequestHuman(), "let me talk to someone please", "request_human")
    assert asked.responses == ["utter_handoff_requested"]


def test_abuse_is_answered_calmly_and_brings_a_person(records_url: str) -> None:
    chat = Conversation()
    said = chat.run(ActionHandleAbuse(), "you useless lot", "insult")
    assert said.responses == ["utter_abuse"]
    assert handoffs(records_url, chat) == ["abuse"]


def test_something_we_do_not_provide_is_named_and_recorded(records_url: str) -> None:
    chat = Conversation()
    said = chat.run(
        ActionAnswerOffTopic(),
        "the burger was raw",
        "out_of_scope",
        complaint_first={"not_ours": "burger"},
    )
    assert said.said("utter_not_ours")["thing"] == "burger"
    assert events_of(records_url, chat, "not_ours") == [
        {"text": "the burger was raw", "thing": "burger"}
    ]


def test_plain_off_topic_says_what_the_assistant_can_help_with() -> None:
    said = Conversation().run(ActionAnswerOffTopic(), "what's the capital of peru", "out_of_scope")
    assert said.responses == ["utter_out_of_scope"]


def test_two_misunderstandings_in_a_row_bring_a_person(records_url: str) -> None:
    chat = Conversation()
    first = chat.run(ActionHandleMisunderstanding(), "blorp", "nlu_fallback")
    second = chat.run(ActionHandleMisunderstanding(), "fnarg zzzt", "nlu_fallback")

    assert first.responses == ["utter_misunderstood_first"]
    assert second.responses == ["utter_misunderstood_twice"]
    assert handoffs(records_url, chat) == ["misunderstood_twice"]


def test_any_update_without_a_complaint_says_there_is_none() -> None:
    said = Conversation().run(ActionGiveUpdate(), "any update?", "ask_update")
    assert said.responses == ["utter_status_none"]


def test_any_update_names_each_open_complaint() -> None:
    chat = Conversation()
    taken = chat.run(ActionAcknowledgeComplaint(), "you charged me twice", "complain_billing")
    said = chat.run(ActionGiveUpdate(), "any update?", "ask_update")
    assert taken.slot("complaint_reference") in said.said("utter_status_open")["status_lines"]


def test_no_to_anything_else_says_goodbye() -> None:
    chat = Conversation(slots={"pending_question": "anything_else"})
    said = chat.run(ActionAnswerYesNo(), "no thanks", "deny")
    assert said.responses == ["utter_goodbye"]
    assert said.slot("pending_question") is None


def test_a_yes_to_nothing_asks_what_else() -> None:
    said = Conversation().run(ActionAnswerYesNo(), "yes", "affirm")
    assert said.responses == ["utter_what_else"]


def test_yes_to_the_offer_grants_it_once_however_often_it_is_said(records_url: str) -> None:
    chat = _logged_outage()
    offered = [m for m in chat.last.messages if m.get("response") == "utter_compensation_offer"]
    assert offered, chat.last.responses
    assert chat.slots["pending_question"] == "compensation_offer"

    granted = chat.run(ActionAnswerYesNo(), "yes please", "affirm")
    assert granted.said("utter_compensation_granted")["grant_reference"]
    chat.slots["pending_question"] = "compensation_offer"
    twice = chat.run(ActionAnswerYesNo(), "yes", "affirm")
    assert "utter_compensation_granted" not in twice.responses

    assert len(grants_in(records_url, chat)) == 1


def test_no_to_the_offer_grants_nothing_and_asks_about_another_remedy(records_url: str) -> None:
    chat = _logged_outage()
    said = chat.run(ActionAnswerYesNo(), "no", "deny")
    assert said.responses == ["utter_compensation_declined"]
    assert said.slot("pending_question") == "compensation_alternative"
    assert grants_in(records_url, chat) == []


def test_asking_for_compensation_before_any_complaint_asks_what_happened() -> None:
    said = Conversation().run(ActionAskCompensation(), "I want compensation", "ask_compensation")
    assert said.responses == ["utter_compensation_what_happened"]


def test_asking_for_more_after_the_offer_goes_to_a_person(records_url: str) -> None:
    chat = _logged_outage()
    said = chat.run(ActionAskCompensation(), "that's not enough", "ask_compensation")
    assert said.said("utter_compensation_most_i_can")["amount"].startswith("£")
    assert "compensation_review" in handoffs(records_url, chat)


def test_a_new_session_keeps_what_was_known_and_sets_the_brand() -> None:
    chat = Conversation(slots={"account_ref": "BL-100001", "requested_slot": "postcode"})
    said = chat.run(ActionSessionStart(), "/session_start", "session_start")
    assert said.slot("account_ref") == "BL-100001"
    assert said.slot("business_name")
    assert "requested_slot" not in {e.get("name") for e in said.events}


class _Chat(Conversation):
    last: object


def _logged_outage() -> _Chat:
    """A verified customer whose outage complaint has just been filed (and offered a remedy)."""
    chat = _Chat()
    text = "my broadband has been down for 3 days, I work from home"
    chat.run(ActionAcknowledgeComplaint(), text, "complain_outage")
    signed_in(chat, "BL-100004")
    found = ValidateComplaintForm().validate_account_ref(
        "BL-100004", CollectingDispatcher(), chat.tracker("BL-100004", "inform"), {}
    )
    chat.slots.update(found)
    chat.last = chat.run(ActionLogComplaint(), "B29 6EX", "inform")
    return chat


def test_a_question_read_as_yes_grants_nothing_and_puts_the_offer_again(
    records_url: str,
) -> None:
    chat = _logged_outage()
    said = chat.run(ActionAnswerYesNo(), "will somebody ring me about it?", "affirm")

    # The question is answered (no phone call is promised), then the offer is put again.
    assert "not by phone" in said.responses[0], said.responses
    assert said.responses[1:] == ["utter_compensation_confirm"]
    assert "credit" in said.said("utter_compensation_confirm")["offer_words"]
    assert said.slot("pending_question") == "compensation_offer"
    assert grants_in(records_url, chat) == []
    # "I've noted on your complaint that you'd like a call": it is, for the team to see.
    assert "noted on your complaint" in said.responses[0]
    with unit_of_work(records_url) as session:
        complaint = session.scalars(
            select(Complaint).where(Complaint.conversation_id == chat.sender_id)
        ).one()
        assert complaint.facts["wants_call"] == "will somebody ring me about it?"


def test_the_offer_button_is_consent(records_url: str) -> None:
    chat = _logged_outage()
    said = chat.run(ActionAnswerYesNo(), "/affirm", "affirm")
    assert "utter_compensation_granted" in said.responses
    assert len(grants_in(records_url, chat)) == 1


def test_taking_the_offer_after_asking_for_more_grants_it(records_url: str) -> None:
    chat = _logged_outage()
    more = chat.run(ActionAskCompensation(), "that's not enough", "ask_compensation")
    assert "utter_compensation_most_i_can" in more.responses
    said = chat.run(
        ActionAskCompensation(), "fine, I'll take the credit for now", "ask_compensation"
    )
    assert "utter_compensation_granted" in said.responses
    assert len(grants_in(records_url, chat)) == 1


def test_working_again_is_glad_and_kept_with_the_complaint(records_url: str) -> None:
    chat = Conversation()
    taken = chat.run(ActionAcknowledgeComplaint(), "no internet since lunch", "complain_outage")
    said = chat.run(ActionWorkingAgain(), "oh wait it's back on, never mind!", "working_again")

    reference = taken.slot("complaint_reference")
    assert said.said("utter_working_again_noted")["complaint_reference"] == reference
    assert handoffs(records_url, chat) == []
    assert events_of(records_url, chat, "working_again")[0]["complaints"] == [reference]


def test_working_again_with_nothing_logged_is_simply_glad() -> None:
    said = Conversation().run(
        ActionWorkingAgain(), "never mind, it's fixed itself", "working_again"
    )
    assert said.responses == ["utter_working_again"]


def test_any_update_after_filing_says_when_and_a_late_reply_brings_a_person(
    records_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = _logged_outage()
    said = chat.run(ActionGiveUpdate(), "any news?", "ask_update")
    assert "you'll hear from us by" in said.said("utter_status_open")["status_lines"]
    assert "reply_overdue" not in handoffs(records_url, chat)

    monkeypatch.setattr(context, "clock", lambda: NOW + timedelta(days=7))
    late = chat.run(ActionGiveUpdate(), "any news??", "ask_update")
    assert "we haven't" in late.said("utter_status_open")["status_lines"]
    assert "reply_overdue" in handoffs(records_url, chat)


def test_a_yes_that_is_not_plain_after_the_offer_was_decided_still_brings_a_person(
    records_url: str,
) -> None:
    chat = _logged_outage()
    with unit_of_work(records_url) as session:
        offer = session.scalars(
            select(CompensationOffer).where(CompensationOffer.conversation_id == chat.sender_id)
        ).one()
        offer.status = "rejected"  # a person decided it meanwhile
    said = chat.run(ActionAnswerYesNo(), "yes, will it be on my bill?", "affirm")
    assert said.responses == ["utter_compensation_not_possible"]
    assert "compensation_review" in handoffs(records_url, chat)
    assert grants_in(records_url, chat) == []


def test_hello_the_first_time_is_the_greeting() -> None:
    assert Conversation().run(ActionGreet(), "hi", "greet").responses == ["utter_greet"]


def test_hello_while_waiting_for_a_person_says_so_instead_of_greeting_again() -> None:
    chat = Conversation()
    chat.run(ActionRequestHuman(), "get me a person", "request_human")
    said = chat.run(ActionGreet(), "hello?? it's been ten minutes, anyone there?", "greet")
    assert said.responses == ["utter_still_waiting"]
    assert "can't promise" in said.said("utter_still_waiting")["when_reply"]


def test_hello_after_a_complaint_says_where_it_stands() -> None:
    chat = Conversation()
    taken = chat.run(ActionAcknowledgeComplaint(), "you charged me twice", "complain_billing")
    said = chat.run(ActionGreet(), "hello", "greet")
    assert taken.slot("complaint_reference") in said.said("utter_greet_back")["status_lines"]


def test_hello_after_a_late_reply_records_it_as_late_too(
    records_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = _logged_outage()
    monkeypatch.setattr(context, "clock", lambda: NOW + timedelta(days=7))
    said = chat.run(ActionGreet(), "hello", "greet")
    assert "we haven't" in said.said("utter_greet_back")["status_lines"]
    assert "reply_overdue" in handoffs(records_url, chat)


def complaints_in(url: str, chat: Conversation) -> list[str]:
    with unit_of_work(url) as session:
        rows = session.scalars(select(Complaint).where(Complaint.conversation_id == chat.sender_id))
        return [row.category for row in rows]


def test_a_question_about_the_complaint_read_as_the_complaint_again_is_answered(
    records_url: str,
) -> None:
    chat = _logged_outage()
    said = chat.run(
        ActionAcknowledgeComplaint(), "so how long till it's fixed??", "complain_outage"
    )

    text = " ".join(said.responses)
    assert "won't guess" in text and chat.slots["complaint_reference"] in text
    assert "utter_complaint_apology" not in said.responses
    # No details form after an answer: the conversation waits for the customer.
    assert {"event": "followup", "name": "action_listen"} in [
        {k: e.get(k) for k in ("event", "name")} for e in said.events
    ]
    assert complaints_in(records_url, chat) == ["outage"]


def test_more_words_about_the_problem_are_added_not_a_second_complaint(records_url: str) -> None:
    chat = _logged_outage()
    said = chat.run(
        ActionAcknowledgeComplaint(),
        "honestly I have had enough of this",
        "complain_staff_conduct",
        confidence=0.4,
    )
    assert said.responses[0] == "utter_complaint_added"
    assert complaints_in(records_url, chat) == ["outage"]


def test_another_kind_of_problem_later_is_logged_without_a_second_apology(
    records_url: str,
) -> None:
    chat = _logged_outage()
    said = chat.run(
        ActionAcknowledgeComplaint(), "and you've overcharged me on top of that", "complain_billing"
    )
    assert "utter_complaint_another" in said.responses
    assert complaints_in(records_url, chat) == ["outage", "billing"]


def test_thanks_is_not_a_yes_to_an_offer_but_ill_take_it_is(records_url: str) -> None:
    chat = _logged_outage()
    polite = chat.run(ActionThanks(), "thanks", "thanks")
    assert polite.responses == ["utter_you_are_welcome"]
    assert grants_in(records_url, chat) == []
    taken = chat.run(ActionThanks(), "ok fine, I'll take it for now, thanks", "thanks")
    assert "utter_compensation_granted" in taken.responses
    assert len(grants_in(records_url, chat)) == 1


# One remedy per problem ------------------------------------------------------------------

CHARGED_TWICE = "you charged me twice this month"


def _logged(account: str, text: str = CHARGED_TWICE, intent: str = "complain_billing") -> _Chat:
    """A new conversation of a verified customer whose complaint has just been filed."""
    chat = _Chat()
    chat.run(ActionAcknowledgeComplaint(), text, intent)
    signed_in(chat, account)
    found = ValidateComplaintForm().validate_account_ref(
        account, CollectingDispatcher(), chat.tracker(account, "inform"), {}
    )
    chat.slots.update(found)
    chat.last = chat.run(ActionLogComplaint(), "B29 6EX", "inform")
    return chat


def offers_in(url: str, chat: Conversation) -> list[CompensationOffer]:
    with unit_of_work(url) as session:
        return list(
            session.scalars(
                select(CompensationOffer).where(CompensationOffer.conversation_id == chat.sender_id)
            )
        )


def test_a_problem_already_credited_is_not_credited_again(records_url: str) -> None:
    first = _logged("BL-100004")
    granted = first.run(ActionAnswerYesNo(), "yes please", "affirm")
    reference = granted.said("utter_compensation_granted")["grant_reference"]

    again = _logged("BL-100004", "you've charged me twice AGAIN", "complain_billing")
    # Not the first time: a person is brought in (handoff.yml), and the customer hears
    # what already put it right, which the person can look at again.
    assert again.last.responses[-2:] == [
        "utter_handoff_repeat",
        "utter_compensation_already_given_person_asked",
    ]
    said = again.last.said("utter_compensation_already_given_person_asked")
    assert (said["already_words"], said["granted_on"], said["grant_reference"]) == (
        "added £10 credit to your account",
        "today",
        reference,
    )
    assert said["again_words"] == "add it again"
    assert again.slots.get("pending_question") != "compensation_offer"

    # Operators see why nothing was offered.
    (row,) = offers_in(records_url, again)
    assert (row.status, row.remedy, row.amount_pence) == ("already_compensated", "nothing", 0)
    assert f"was already compensated: {reference} (£10 account credit on" in row.explanation
    assert row.decided_by == "one remedy per problem"

    # A yes now grants nothing.
    again.run(ActionAnswerYesNo(), "yes", "affirm")
    again.run(ActionAnswerYesNo(), "/affirm", "affirm")
    assert grants_in(records_url, again) == []
    assert len(grants_in(records_url, first)) == 1


@pytest.fixture
def no_person_for_repeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A business that does not bring a person in when a customer complains again."""
    folder = tmp_path / "business"
    shutil.copytree(REPO_ROOT / "business", folder)
    handoff = folder / "handoff.yml"
    handoff.write_text(
        handoff.read_text("utf-8").replace("repeat_within_days: 30", "repeat_within_days: 0"),
        "utf-8",
    )
    monkeypatch.setenv("REDRESS_BUSINESS_DIR", str(folder))
    context.settings.cache_clear()
    context.business.cache_clear()
    assert context.business().handoff.repeat_within_days == 0


@pytest.mark.usefixtures("no_person_for_repeats")
def test_hearing_it_was_already_credited_the_customer_is_offered_a_person(
    records_url: str,
) -> None:
    first = _logged("BL-100004")
    reference = first.run(ActionAnswerYesNo(), "yes please", "affirm").said(
        "utter_compensation_granted"
    )["grant_reference"]

    again = _logged("BL-100004")
    said = again.last.said("utter_compensation_already_given")
    assert said["grant_reference"] == reference
    assert "utter_compensation_offer" not in again.last.responses
    assert again.slots["pending_question"] == "compensation_alternative"
    assert handoffs(records_url, again) == []

    person = again.run(ActionAnswerYesNo(), "yes please", "affirm")
    assert person.responses == ["utter_handoff_requested"]
    assert handoffs(records_url, again) == ["compensation_alternative"]
    assert grants_in(records_url, again) == []


@pytest.mark.usefixtures("no_person_for_repeats")
def test_no_to_a_person_after_hearing_it_was_credited_asks_what_else(records_url: str) -> None:
    first = _logged("BL-100004")
    first.run(ActionAnswerYesNo(), "yes please", "affirm")
    again = _logged("BL-100004")
    said = again.run(ActionAnswerYesNo(), "no thanks", "deny")
    assert said.responses == ["utter_anything_else"]
    assert handoffs(records_url, again) == []
    assert grants_in(records_url, again) == []


def test_another_kind_of_problem_or_another_customer_is_still_offered_a_remedy(
    records_url: str,
) -> None:
    first = _logged("BL-100004")
    first.run(ActionAnswerYesNo(), "yes please", "affirm")
    outage = _logged("BL-100004", "my broadband has been down for 3 days", "complain_outage")
    assert "utter_compensation_offer" in outage.last.responses
    someone_else = _logged("BL-100005")
    assert "utter_compensation_offer" in someone_else.last.responses


def test_a_declined_offer_compensated_nothing_so_the_next_complaint_is_offered(
    records_url: str,
) -> None:
    first = _logged("BL-100004")
    first.run(ActionAnswerYesNo(), "no", "deny")
    again = _logged("BL-100004")
    assert "utter_compensation_offer" in again.last.responses
    assert "utter_compensation_already_given" not in again.last.responses


def test_two_open_offers_for_one_problem_grant_once_and_the_second_yes_hears_the_reference(
    records_url: str,
) -> None:
    first, second = _logged("BL-100004"), _logged("BL-100004")
    assert "utter_compensation_offer" in first.last.responses
    assert "utter_compensation_offer" in second.last.responses

    reference = first.run(ActionAnswerYesNo(), "yes please", "affirm").said(
        "utter_compensation_granted"
    )["grant_reference"]
    said = second.run(ActionAnswerYesNo(), "yes please", "affirm")
    assert said.responses == ["utter_compensation_already_given"]
    assert said.said("utter_compensation_already_given")["grant_reference"] == reference
    assert said.slot("pending_question") == "compensation_alternative"
    assert grants_in(records_url, second) == []
    (withdrawn,) = offers_in(records_url, second)
    assert withdrawn.status == "withdrawn"
    assert withdrawn.explanation.endswith(
        f"; withdrawn at grant: the same problem was already compensated: {reference} "
        f"(£10 account credit on {NOW.date().isoformat()}, for "
        f"{first.slots['complaint_reference']})"
    )


def test_asking_what_will_be_done_after_hearing_it_was_credited_brings_a_person(
    records_url: str,
) -> None:
    first = _logged("BL-100004")
    reference = first.run(ActionAnswerYesNo(), "yes please", "affirm").said(
        "utter_compensation_granted"
    )["grant_reference"]
    again = _logged("BL-100004")
    said = again.run(
        ActionAskCompensation(), "so what are you going to do about it", "ask_compensation"
    )
    assert said.said("utter_compensation_already_given_review")["grant_reference"] == reference
    # Added to the person already asked for (a repeat complaint), for them to look at.
    asked = events_of(records_url, again, "handoff_requested")
    assert [e["reason"] for e in asked] == ["repeat_complaint", "compensation_review"]
    (row,) = offers_in(records_url, again)
    assert row.review_requested_at is not None
    assert grants_in(records_url, again) == []
