"""Complaint first (rasa_addons/complaint_signals.py): a message that says something has let
the customer down is taken as a complaint even when the classifier ranked it as off-topic,
not understood, abuse or a greeting; abuse and small talk stay what they are. The rankings
here are made up for each case, as the classifier might give them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rasa_addons.complaint_signals import (
    Thresholds,
    Vocabulary,
    VocabularyError,
    complaint_intent,
    gather,
    load_vocabulary,
    not_a_complaint,
    not_ours,
    parse_products,
    revised_category,
)
from redress.business import BusinessConfigError, load_business
from redress.complaints.categories import Category
from redress.settings import REPO_ROOT

MOBILE = Vocabulary({"mobile": ("signal", "coverage", "4g", "data", "bars")})
POWER = Vocabulary({"electricity": ("power", "electricity", "lights", "meter")})


def ranking(*pairs: tuple[str, float]) -> list[dict[str, object]]:
    return [{"name": name, "confidence": p} for name, p in pairs]


def decide(
    text: str, top: str, ranks: list[dict[str, object]], words: Vocabulary | None
) -> str | None:
    return complaint_intent(top, gather(text, ranks, words), Thresholds())


def test_the_business_words_make_a_jargon_complaint_a_complaint() -> None:
    text = "no bars on my phone all day, is something wrong your end?"
    ranks = ranking(("out_of_scope", 0.7), ("complain_outage", 0.04), ("greet", 0.03))
    assert decide(text, "out_of_scope", ranks, MOBILE) == "complain_outage"
    # Without the business's words the same message, ranked the same way, is not enough.
    assert decide(text, "out_of_scope", ranks, None) is None


def test_a_power_cut_is_a_complaint_for_an_energy_business() -> None:
    text = "still no lights on our road, what is going on"
    ranks = ranking(("nlu_fallback", 0.3), ("goodbye", 0.2), ("complain_other", 0.02))
    assert decide(text, "nlu_fallback", ranks, POWER) is not None


def test_anger_at_the_service_is_a_complaint_not_abuse() -> None:
    text = "signal round here is pathetic, 4g slower than dial up"
    ranks = ranking(("insult", 0.8), ("complain_slow_service", 0.1))
    assert decide(text, "insult", ranks, MOBILE) == "complain_slow_service"


def test_abuse_of_a_person_stays_abuse() -> None:
    ranks = ranking(("insult", 0.9), ("complain_other", 0.03))
    assert decide("you are an idiot, shut up", "insult", ranks, MOBILE) is None
    assert decide("useless bot", "insult", ranks, MOBILE) is None


def test_the_classifiers_own_doubt_between_complaints_counts() -> None:
    # No intent above the threshold, but most of the confidence is on complaints.
    ranks = ranking(
        ("nlu_fallback", 0.3),
        ("complain_billing", 0.22),
        ("complain_refund", 0.12),
        ("out_of_scope", 0.1),
    )
    assert decide("how is that fair", "nlu_fallback", ranks, None) == "complain_billing"


def test_an_unclear_category_is_recorded_as_other() -> None:
    ranks = ranking(
        ("out_of_scope", 0.4),
        ("complain_delay", 0.09),
        ("complain_billing", 0.09),
        ("complain_outage", 0.08),
        ("complain_refund", 0.08),
    )
    assert decide("worst experience ever", "out_of_scope", ranks, None) == "complain_other"


@pytest.mark.parametrize(
    "text",
    ["what's the weather like tomorrow", "haha same, see you saturday", "do you ship to ireland"],
)
def test_small_talk_and_questions_stay_off_topic(text: str) -> None:
    ranks = ranking(("out_of_scope", 0.9), ("complain_other", 0.01))
    assert decide(text, "out_of_scope", ranks, MOBILE) is None


@pytest.mark.parametrize("top", ["affirm", "deny", "inform", "ask_update", "request_human"])
def test_answers_and_requests_are_left_to_the_dialogue(top: str) -> None:
    ranks = ranking((top, 0.5), ("complain_outage", 0.45))
    assert decide("no, the signal is still broken", top, ranks, MOBILE) is None


def test_a_complaint_ranked_first_is_never_changed() -> None:
    ranks = ranking(("complain_billing", 0.9))
    assert decide("charged twice", "complain_billing", ranks, MOBILE) is None


def test_the_shipped_products_file_loads_in_both_readers() -> None:
    vocabulary = load_vocabulary(REPO_ROOT / "business" / "products.yml")
    assert "signal" in vocabulary.mentioned("no signal since tuesday")
    assert vocabulary.mentioned("the Set Top Box froze") == ("set top box",)
    business = load_business(REPO_ROOT / "business")
    assert set(business.products) == set(vocabulary.products)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("products: []\n", "expected a 'products:' mapping"),
        ("products:\n  mobile:\n    words: []\n", "needs a non-empty 'words' list"),
        ("products:\n  mobile: signal\n", "needs a non-empty 'words' list"),
    ],
)
def test_a_wrong_products_file_is_refused_with_its_name(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "products.yml"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=problem) as raised:
        load_vocabulary(path)
    assert str(path) in str(raised.value)


def test_check_config_reports_a_wrong_products_file(tmp_path: Path) -> None:
    folder = tmp_path / "business"
    folder.mkdir()
    for source in (REPO_ROOT / "business").glob("*.yml"):
        (folder / source.name).write_text(source.read_text())
    (folder / "products.yml").write_text("products:\n  mobile:\n    words: []\n")
    with pytest.raises(BusinessConfigError, match=r"products\.yml"):
        load_business(folder)


def test_parse_products_folds_case_and_spacing() -> None:
    vocabulary = parse_products({"products": {"TV": {"words": ["Set  Top Box", "TELLY"]}}}, "x")
    assert vocabulary.products == {"TV": ("set top box", "telly")}


BROADBAND_SHOP = parse_products(
    {
        "products": {"broadband": {"words": ["broadband", "wifi", "router", "phone line"]}},
        "not_ours": {"food": ["pizza", "milk shake"], "travel": ["flight", "router"]},
    },
    "products.yml",
)


@pytest.mark.parametrize(
    ("text", "thing"),
    [
        ("my pizza turned up stone cold", "pizza"),
        ("FLIGHTS delayed again, 3 hours on the tarmac", "flights"),
        ("is this really what you call a large milk-shake?", "milk-shake"),
    ],
)
def test_a_complaint_about_something_not_sold_here_is_named(text: str, thing: str) -> None:
    assert not_ours(text, BROADBAND_SHOP) == thing


@pytest.mark.parametrize(
    "text",
    [
        # The business's own words win: this is a complaint for us.
        "pizza night ruined because the wifi dropped again",
        "my router is dead",  # listed in both: what the business sells counts
        # Nothing about another business at all.
        "my bill is wrong",
        # Whole words only.
        "the flightpath app",
    ],
)
def test_anything_that_could_be_ours_is_not_turned_away(text: str) -> None:
    assert not_ours(text, BROADBAND_SHOP) is None


def test_without_a_not_ours_list_nothing_is_turned_away() -> None:
    assert not_ours("my pizza turned up stone cold", MOBILE) is None
    assert not_ours("my pizza turned up stone cold", None) is None


def test_the_shipped_file_turns_away_food_and_flights_but_not_our_own_things() -> None:
    vocabulary = load_vocabulary(REPO_ROOT / "business" / "products.yml")
    assert not_ours("the burger was raw in the middle", vocabulary) == "burger"
    assert not_ours("my flight was cancelled with no warning", vocabulary) == "flight"
    assert not_ours("the engineer never came and the tv box is broken", vocabulary) is None
    business = load_business(REPO_ROOT / "business")
    assert set(business.not_ours) == set(vocabulary.not_ours)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not_ours: [pizza]\n", "expected a 'not_ours:' mapping"),
        ("not_ours:\n  food: []\n", "needs a non-empty list of words"),
        ("not_ours:\n  food: {words: [pizza]}\n", "needs a non-empty list of words"),
    ],
)
def test_a_wrong_not_ours_list_is_refused_with_its_name(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "products.yml"
    path.write_text("products:\n  broadband:\n    words: [wifi]\n" + content)
    with pytest.raises(VocabularyError, match=problem) as raised:
        load_vocabulary(path)
    assert str(path) in str(raised.value)
    business = tmp_path / "business"
    business.mkdir()
    for source in (REPO_ROOT / "business").glob("*.yml"):
        (business / source.name).write_text(source.read_text())
    (business / "products.yml").write_text(path.read_text())
    with pytest.raises(BusinessConfigError, match=r"products\.yml"):
        load_business(business)


# With the complaint detector (rasa_addons/complaint_detector.json): its probability that a
# message is a complaint at all, and its category model.
DETECTING = Thresholds(detector=0.35)


def evidence_with(text: str, ranks: list[dict[str, object]], p: float) -> object:
    return gather(text, ranks, MOBILE, p)


def test_the_detector_hears_a_complaint_the_classifier_missed() -> None:
    ranks = ranking(("out_of_scope", 0.8), ("complain_delay", 0.03))
    found = evidence_with("pre-order took longer than walking into the shop", ranks, 0.82)
    assert complaint_intent("out_of_scope", found, DETECTING) == "complain_delay"
    # The same message with a low probability stays off-topic.
    doubtful = evidence_with("pre-order took longer than walking into the shop", ranks, 0.2)
    assert complaint_intent("out_of_scope", doubtful, DETECTING) is None


def test_the_detector_alone_does_not_turn_abuse_into_a_complaint() -> None:
    ranks = ranking(("insult", 0.9), ("complain_other", 0.05))
    assert complaint_intent("insult", evidence_with("you muppet", ranks, 0.75), DETECTING) is None
    angry = evidence_with("useless lot, still waiting", ranks, 0.75)
    assert complaint_intent("insult", angry, DETECTING) is not None


def test_small_talk_read_as_a_complaint_is_let_go() -> None:
    ranks = ranking(("complain_slow_service", 0.6), ("out_of_scope", 0.3))
    chat = evidence_with("this heatwave is killing me haha", ranks, 0.04)
    assert not_a_complaint("complain_slow_service", chat, DETECTING)
    # Not when it names what the business sells, holds a cue, or the detector is unsure.
    for text, p in [
        ("my signal is killing me", 0.04),
        ("the parcel still hasn't come", 0.04),
        ("this heatwave is killing me", 0.3),
    ]:
        assert not not_a_complaint(
            "complain_slow_service", evidence_with(text, ranks, p), DETECTING
        )


def test_a_sure_category_stands_and_an_unsure_one_is_weighed() -> None:
    ranks = ranking(("complain_billing", 0.9), ("complain_refund", 0.05))
    model = {"faulty_equipment": 0.7, "billing": 0.2, "refund": 0.1}
    assert revised_category("complain_billing", 0.9, ranks, model, DETECTING) == "complain_billing"
    unsure = ranking(("complain_billing", 0.4), ("complain_faulty_equipment", 0.3))
    chosen = revised_category("complain_billing", 0.4, unsure, model, DETECTING)
    assert chosen == "complain_faulty_equipment"


def test_the_shipped_detector_matches_the_encoder_and_the_categories() -> None:
    data = json.loads((REPO_ROOT / "rasa_addons" / "complaint_detector.json").read_text())
    assert data["encoder_model_sha256"].startswith("8199be6f")
    assert len(data["weights"]) == data["dimension"] == 384
    assert 0 < data["threshold"] < 1
    assert sorted(data["categories"]["classes"]) == sorted(c.value for c in Category)
    # Trained on the corpus's dev part only: the test part stays unseen.
    assert "dev part only" in data["trained_on"]["corpus"]


def test_the_detector_alone_never_overrules_a_sure_off_topic_answer() -> None:
    """A recipe question the classifier is sure is off-topic stays off-topic, whatever the
    detector makes of it; the same probability with a complaint word in it is a complaint."""
    ranks = ranking(("out_of_scope", 0.99), ("complain_faulty_equipment", 0.001))
    question = evidence_with("what's the best recipe for banana bread", ranks, 0.42)
    assert complaint_intent("out_of_scope", question, DETECTING) is None
    broken = evidence_with("my bread maker arrived broken", ranks, 0.42)
    assert complaint_intent("out_of_scope", broken, DETECTING) is not None
