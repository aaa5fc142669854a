"""describe_problem: the one apology names the customer's problem in their own words."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import yaml

from redress.complaints.apology import describe_problem
from redress.complaints.categories import Category
from redress.plain_language import BLAME_PHRASES, check_text, sentences
from redress.settings import REPO_ROOT

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)  # a Monday


def _apology(category, text):
    return "I'm sorry " + describe_problem(category, text, NOW) + "."


def _nlu_examples():
    data = yaml.safe_load((REPO_ROOT / "data" / "nlu" / "complaints.yml").read_text("utf-8"))
    examples = []
    for block in data["nlu"]:
        category = Category.from_intent(block["intent"])
        assert category is not None, block["intent"]
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append((category, line[2:].strip()))
    return examples


EXAMPLES = _nlu_examples()


@pytest.mark.parametrize(
    ("category", "text", "phrase"),
    [
        (
            Category.OUTAGE,
            "my wifi has been down since Monday",
            "your wifi has been down since Monday",
        ),
        (Category.OUTAGE, "broadband off for 3 days", "your broadband has been down for 3 days"),
        (Category.OUTAGE, "the TV says no signal", "your TV has stopped working"),
        (
            Category.OUTAGE,
            "landline dead since yesterday",
            "your landline has been down since yesterday",
        ),
        (Category.OUTAGE, "nothing works", "your service has stopped working"),
        (
            Category.SLOW_SERVICE,
            "my broadband keeps dropping out",
            "your broadband keeps dropping out",
        ),
        (Category.SLOW_SERVICE, "the TV keeps buffering", "your TV keeps freezing"),
        (
            Category.SLOW_SERVICE,
            "wifi has been really slow since Monday",
            "your wifi has been so slow since Monday",
        ),
        (Category.BILLING, "you charged me twice this month", "we charged you twice"),
        (
            Category.BILLING,
            "you're still taking money after I cancelled",
            "we kept charging you after you cancelled",
        ),
        (
            Category.BILLING,
            "my bill has gone up again",
            "your bill went up without you expecting it",
        ),
        (Category.BILLING, "what is this admin fee", "we added a charge you didn't expect"),
        (Category.BILLING, "my bill is wrong", "we got your bill wrong"),
        (
            Category.DELAY,
            "the engineer didn't turn up today",
            "our engineer didn't turn up when we promised",
        ),
        (
            Category.DELAY,
            "you said you'd call me back and never did",
            "nobody called you back when we said we would",
        ),
        (Category.DELAY, "where's my installation", "your install is running late"),
        (Category.DELAY, "my new hub hasn't been delivered", "your hub still hasn't arrived"),
        (Category.FAULTY_EQUIPMENT, "the hub arrived broken", "your new hub arrived broken"),
        (Category.FAULTY_EQUIPMENT, "my router is overheating", "your router gets too hot"),
        (
            Category.FAULTY_EQUIPMENT,
            "the remote doesn't work",
            "the remote we gave you isn't working right",
        ),
        (
            Category.STAFF_CONDUCT,
            "your agent hung up on me",
            "one of our team hung up on you",
        ),
        (
            Category.STAFF_CONDUCT,
            "the woman on the phone was so rude",
            "one of our team was rude to you",
        ),
        (Category.STAFF_CONDUCT, "an hour on hold", "we kept you on hold for so long"),
        (
            Category.STAFF_CONDUCT,
            "I got transferred four times",
            "you were passed from one person to another",
        ),
        (
            Category.STAFF_CONDUCT,
            "nobody answered my emails, no reply at all",
            "we didn't reply to you",
        ),
        (Category.REFUND, "my refund hasn't arrived", "your refund still hasn't reached you"),
        (Category.REFUND, "I want a refund", "you've had to ask for your money back"),
        (Category.CANCELLATION, "you won't let me cancel", "cancelling has been so hard"),
        (
            Category.CANCELLATION,
            "I want to leave",
            "we've let you down enough that you want to leave",
        ),
        (
            Category.ACCOUNT_ACCESS,
            "the security codes never arrive",
            "the codes we send you aren't getting through",
        ),
        (
            Category.ACCOUNT_ACCESS,
            "my account has been hacked",
            "someone may have got into your account",
        ),
        (
            Category.ACCOUNT_ACCESS,
            "password reset doesn't work",
            "you can't reset your password",
        ),
        (Category.ACCOUNT_ACCESS, "I'm locked out", "you've been locked out of your account"),
        (Category.ACCOUNT_ACCESS, "can't log in", "you can't get into your account"),
        (
            Category.OTHER,
            "stop sending me marketing",
            "we keep sending you marketing you asked us to stop",
        ),
        (
            Category.OTHER,
            "what have you done with my personal information",
            "you're worried about how we've handled your details",
        ),
        (Category.OTHER, "your letters go to the wrong address", "we got your letters wrong"),
        (Category.OTHER, "just not happy", "we've let you down"),
    ],
)
def test_names_the_problem_in_the_customers_words(category, text, phrase):
    assert describe_problem(category, text, NOW) == phrase


@pytest.mark.parametrize("category", list(Category))
def test_every_category_gives_a_phrase_that_completes_the_apology(category):
    phrase = describe_problem(category, "it's just not good enough", NOW)
    assert phrase
    assert phrase == phrase.strip()
    assert phrase[0].islower()
    assert not phrase.endswith((".", "!", "?"))
    assert "sorry" not in phrase.lower()


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("the wifi is dead", "wifi"),
        ("broadband is dead", "broadband"),
        ("TV is dead", "TV"),
        ("the landline is dead", "landline"),
        ("internet dead", "internet"),
        ("fibre dead", "fibre"),
    ],
)
def test_outage_uses_the_service_the_customer_named(text, service):
    assert describe_problem(Category.OUTAGE, text, NOW) == f"your {service} has stopped working"


def test_first_service_mentioned_is_the_one_named():
    phrase = describe_problem(Category.OUTAGE, "the landline is dead and so is the wifi", NOW)
    assert phrase == "your landline has stopped working"


def test_password_changed_by_someone_else_is_named_as_a_break_in():
    text = "got an email saying my password was changed, it wasnt me"
    assert describe_problem(Category.ACCOUNT_ACCESS, text, NOW) == (
        "someone may have got into your account"
    )


def test_melting_router_is_named_as_unsafe():
    text = "router smells of melting plastic"
    assert describe_problem(Category.FAULTY_EQUIPMENT, text, NOW) == "your router isn't safe to use"


@pytest.mark.parametrize(
    ("category", "text"),
    EXAMPLES,
    ids=[f"{category.value}-{i}" for i, (category, _) in enumerate(EXAMPLES)],
)
def test_apology_for_every_nlu_example_is_one_sincere_sentence(category, text):
    apology = _apology(category, text)
    assert len(sentences(apology)) == 1, apology
    assert apology.lower().count("sorry") == 1, apology
    for phrase in BLAME_PHRASES:
        assert not re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", apology.lower()), apology


# The customer reads the whole first message, so the plain-language check runs on the
# apology response as sent (domain/complaints.yml), filled with each distinct phrase the
# examples produce; check_text depends only on the text, so this covers every example.
APOLOGY_TEMPLATE = yaml.safe_load(
    (REPO_ROOT / "domain" / "complaints.yml").read_text(encoding="utf-8")
)["responses"]["utter_complaint_apology"][0]["text"]
MESSAGES = sorted(
    {
        APOLOGY_TEMPLATE.format(problem=describe_problem(category, text, NOW))
        for category, text in EXAMPLES
    }
)


@pytest.mark.parametrize("message", MESSAGES)
def test_apology_for_every_nlu_example_is_plain_language(message):
    assert check_text(message) == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("router keeps rebooting every few minutes", "your router keeps restarting itself"),
        ("the hub is completely dead, no lights", "the hub we gave you has stopped working"),
        ("tv box is acting weird", "the TV box we gave you isn't working right"),
    ],
)
def test_faulty_equipment_says_what_the_device_does(text, phrase):
    assert describe_problem(Category.FAULTY_EQUIPMENT, text, NOW) == phrase


def test_details_seen_by_someone_else_are_named_as_such_whatever_the_category() -> None:
    from datetime import datetime, timezone

    from redress.complaints.apology import describe_problem
    from redress.complaints.categories import Category

    text = "you posted my statement to a previous address and the new people there opened it"
    said = describe_problem(Category.BILLING, text, datetime(2026, 3, 10, tzinfo=timezone.utc))
    assert said == "your details reached someone who should never have seen them"
