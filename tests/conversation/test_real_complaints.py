"""Complaints as real customers write them, sent as the first message of a new chat: angry,
sarcastic, with hashtags and @mentions, in other businesses' words, about a price, with no
"hello". Each gets the apology and a recorded complaint; abuse of a person and requests that
have nothing to do with the business do not. The messages are written for these tests and
are in neither the training data nor the real-text corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rasa_env import run_in_rasa, run_python
from tests.stack import MODEL, Stack, texts

pytestmark = pytest.mark.conversation


def first_reply(stack: Stack, message: str) -> tuple[str, list[dict]]:
    conversation_id, replies = stack.say(None, message)
    return texts(replies), stack.record(conversation_id)["complaints"]


@pytest.mark.parametrize(
    "message",
    [
        # Sarcasm and anger about the service: a complaint, never "you're really angry".
        "oh brilliant, wifi's died for the third time this week. top work brightline 👏",
        "your broadband is a f***ing joke, down AGAIN",
        "honestly pathetic, paying for fibre and getting dial-up speeds",
        # Hashtags, @mentions, links and HTML entities around the complaint.
        "@BrightlineHelp no internet since 7am &amp; nobody picks up the phone #fuming",
        "tv box stuck on the logo screen again https://t.co/Zx81kLmq #brightlinefail",
        # Prices and bills, with no greeting and no "complaint" word.
        "how has my bill gone up by £12 when nobody told me??",
        "prices up yet again, how is that fair on people who've been with you 10 years",
        # Things that used to get "is there anything else" or a thank-you.
        "still no connection, what is going on!!",
        "no reason it should keep cutting out like this every night",
    ],
)
def test_a_real_complaint_gets_the_apology_and_is_recorded(stack: Stack, message: str) -> None:
    said, complaints = first_reply(stack, message)
    assert "sorry" in said.lower(), said
    assert "really angry" not in said
    assert "didn't quite follow" not in said
    assert "I can only help" not in said
    assert len(complaints) == 1


def test_the_category_follows_what_went_wrong(stack: Stack) -> None:
    _, complaints = first_reply(stack, "@BrightlineHelp charged me twice this month &amp; again")
    assert complaints[0]["category"] == "billing"
    _, complaints = first_reply(stack, "#NoInternet since friday, the whole street's down")
    assert complaints[0]["category"] == "outage"


def test_a_complaint_inside_abuse_is_acknowledged_first(stack: Stack) -> None:
    said, complaints = first_reply(
        stack, "you useless idiots, my broadband has been off for two days"
    )
    assert said.lower().startswith("i'm sorry"), said
    assert complaints and complaints[0]["category"] == "outage"


def test_abuse_of_a_person_is_still_abuse(stack: Stack) -> None:
    said, complaints = first_reply(stack, "shut up you brainless bot")
    assert "want to help" in said
    assert complaints == []


@pytest.mark.parametrize(
    "message", ["what's the weather like in leeds tomorrow", "tell me a joke about cats"]
)
def test_a_request_that_is_not_about_the_business_stays_off_topic(
    stack: Stack, message: str
) -> None:
    said, complaints = first_reply(stack, message)
    assert "I can only help" in said
    assert complaints == []


def test_the_typed_text_is_what_is_recorded(stack: Stack) -> None:
    message = "@BrightlineHelp SOOOO slow tonight!!! &amp; the tv keeps buffering 😡"
    conversation_id, _ = stack.say(None, message)
    record = stack.record(conversation_id)
    assert record["messages"][0]["text"] == message
    assert record["complaints"][0]["summary"] == message
    tracker = stack.tracker(conversation_id)
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == [message]


def test_details_inside_real_text_are_found_where_the_customer_typed_them(stack: Stack) -> None:
    """The NLU reads the normalised text; the account number it finds there is taken from
    the text as typed, mention, entity and all."""
    message = "@BrightlineHelp wifi's been dead since monday &amp; nobody rings back. BL-100003"
    conversation_id, replies = stack.say(None, message)
    assert "sorry" in texts(replies).lower()
    record = stack.record(conversation_id)
    assert record["conversation"]["customer"]["account_number"] == "BL-100003"


def parse_with_business(folder: Path, message: str) -> dict:
    """The trained model's parse of ``message`` with ``folder`` as the business folder."""
    code = f"""
        import asyncio, json
        from rasa.core.agent import Agent
        agent = Agent.load({str(MODEL)!r})
        print(json.dumps(asyncio.run(agent.parse_message({message!r}))))
    """
    return run_in_rasa(code, {"REDRESS_BUSINESS_DIR": str(folder)})


def test_a_business_teaches_the_assistant_its_words_without_training(tmp_path: Path) -> None:
    """An energy business lists power and lights as what it provides: "no lights" is then
    a complaint, with the same trained model."""
    (tmp_path / "products.yml").write_text(
        "products:\n  electricity:\n    words: [power, electricity, lights, meter, supply]\n"
    )
    parsed = parse_with_business(tmp_path, "lights went off at 6 and still nothing, whats going on")
    assert parsed["intent"]["name"].startswith("complain_"), parsed["intent"]
    assert "lights" in parsed["complaint_first"]["business_terms"]


def test_a_wrong_products_file_stops_the_model_loading(tmp_path: Path) -> None:
    (tmp_path / "products.yml").write_text("products:\n  electricity:\n    words: []\n")
    code = f"from rasa.core.agent import Agent; Agent.load({str(MODEL)!r})"
    done = run_python(code, {"REDRESS_BUSINESS_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "products.yml" in done.stderr and "non-empty 'words' list" in done.stderr


@pytest.mark.parametrize(
    ("message", "thing"),
    [
        ("the burger I got today was raw in the middle, disgusting", "burger"),
        ("flight delayed 5 hours and not a word from anyone #neveragain", "flight"),
    ],
)
def test_a_complaint_about_something_we_do_not_provide_gets_a_kind_specific_answer(
    stack: Stack, message: str, thing: str
) -> None:
    # Brightline sells broadband, TV and phone: it did not cook the burger or fly the plane,
    # so it neither apologises as if it had nor logs a complaint, and it says why.
    conversation_id, replies = stack.say(None, message)
    said = texts(replies)
    assert f"sorry about the {thing}" in said
    assert "isn't something we provide" in said
    assert "I can only help" not in said
    record = stack.record(conversation_id)
    assert record["complaints"] == []
    # The business can see what reaches it by mistake.
    noted = [e["detail"] for e in record["events"] if e["kind"] == "not_ours"]
    assert noted == [{"thing": thing, "text": message}]


def test_a_question_about_another_business_with_no_complaint_stays_off_topic(
    stack: Stack,
) -> None:
    said, complaints = first_reply(stack, "what time does the airport open tomorrow")
    assert "I can only help" in said
    assert complaints == []


@pytest.mark.parametrize(
    "message",
    [
        # Another business's thing, named in passing; the complaint is about us.
        "I missed my train because you kept me on hold for an hour",
        "sat in my car for an hour waiting for your engineer, who never came",
    ],
)
def test_a_complaint_about_us_that_mentions_something_else_is_still_ours(
    stack: Stack, message: str
) -> None:
    said, complaints = first_reply(stack, message)
    assert "isn't something we provide" not in said
    assert said.startswith("I'm sorry"), said
    assert len(complaints) == 1
