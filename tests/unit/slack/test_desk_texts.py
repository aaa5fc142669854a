"""What customers read around the agent desk is plain and warm (docs/principles.md: 2, 3), and the
gateway understands the answers to "is it fixed?" and the rating without the assistant."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.app import delivery_key
from bot.slack.desk.texts import HANDED_BACK, JOINED
from bot.slack.worker import failure_of
from redress.business import load_business
from redress.handoff import feedback
from redress.handoff import waits as handoff_waits
from redress.plain_language import check_text
from redress.settings import REPO_ROOT

BUSINESS = load_business(REPO_ROOT / "business")


def desk_texts() -> list[str]:
    team = BUSINESS.brand.team_name
    texts = [JOINED.format(agent=name, team=team) for name in ("alex", "Priya Shah")]
    texts += [HANDED_BACK, feedback.ASK_FIXED_NO_NAME, feedback.THANKS_FIXED]
    texts += [feedback.ASK_FIXED.format(agent="alex"), feedback.THANKS_NOT_FIXED]
    texts += [feedback.ASK_RATING_FIXED, feedback.NOT_FIXED]
    texts += [feedback.YES_BUTTON, feedback.NO_BUTTON]
    texts += [handoff_waits.STILL_WAITING.format(team=team)]
    texts += [handoff_waits.OFFER_FOLLOW_UP.format(where=w) for w in handoff_waits.WHERE.values()]
    texts += [*handoff_waits.FOLLOW_UP_YES_TEXT.values(), handoff_waits.FOLLOW_UP_YES_OTHER]
    texts += [handoff_waits.FOLLOW_UP_NO_TEXT, handoff_waits.YES_BUTTON, handoff_waits.NO_BUTTON]
    return texts


@pytest.mark.parametrize("text", desk_texts())
def test_desk_texts_read_plainly(text: str) -> None:
    assert check_text(text) == [], text


def test_the_questions_carry_buttons_and_say_what_they_ask() -> None:
    fixed = feedback.ask_fixed("alex")
    assert fixed.text.startswith("alex has marked")
    assert [b["payload"] for b in fixed.buttons] == [feedback.FIXED_YES, feedback.FIXED_NO]
    assert fixed.asks == feedback.ASKS_FIXED
    assert feedback.ask_fixed(None).text == feedback.ASK_FIXED_NO_NAME
    rating = feedback.ask_rating()
    assert [b["title"] for b in rating.buttons] == ["1", "2", "3", "4", "5"]
    assert rating.asks == feedback.ASKS_RATING


@pytest.mark.parametrize(
    ("sent", "typed", "asking", "resolved", "expected"),
    [
        (feedback.FIXED_YES, "Yes, it's sorted", None, False, ("fixed", True)),
        (feedback.FIXED_NO, "No, not yet", None, True, ("fixed", False)),
        ("/redress_rate_5", "5", None, False, ("rating", 5)),
        ("/redress_rate_9", "9", "rating", True, None),
        ("yes", "yes", "fixed", True, ("fixed", True)),
        ("Yep all good now", "Yep all good now", "fixed", True, ("fixed", True)),
        ("nope", "nope", "fixed", True, ("fixed", False)),
        ("still broken", "still broken", "fixed", True, ("fixed", False)),
        ("4", "4", "rating", True, ("rating", 4)),
        ("5/5", "5/5", "rating", True, ("rating", 5)),
        ("3 stars", "3 stars", "rating", True, ("rating", 3)),
        ("4", "4", "fixed", True, ("rating", 4)),
        # Not answers: no question open, the conversation reopened, or not a rating.
        ("4", "4", None, True, None),
        ("yes", "yes", "fixed", False, None),
        ("4", "4", "rating", False, None),
        ("6", "6", "rating", True, None),
        ("4 days without internet", "4 days without internet", "rating", True, None),
        ("yes", "yes", "rating", True, None),
        ("my bill is wrong", "my bill is wrong", "fixed", True, None),
    ],
)
def test_answers_are_recognised(
    sent: str, typed: str, asking: str | None, resolved: bool, expected: tuple | None
) -> None:
    answer = feedback.recognise(sent, typed, asking=asking, resolved=resolved)
    assert (None if answer is None else (answer.kind, answer.value)) == expected


def test_is_it_sorted_fits_any_kind_of_problem() -> None:
    # A refund or a bill is sorted, not "working": the question fits every category.
    for question in (feedback.ask_fixed("alex"), feedback.ask_fixed(None)):
        assert question.text.endswith("Is it sorted for you now?"), question.text
        assert "working" not in question.text
    assert [b["title"] for b in feedback.ask_fixed("alex").buttons] == [
        "Yes, it's sorted",
        "No, not yet",
    ]
    for typed in ("yes", "sorted", "yes it's sorted thanks"):
        answer = feedback.recognise(typed, typed, asking="fixed", resolved=True)
        assert answer == feedback.Answer("fixed", True), typed


def test_what_comes_after_each_answer() -> None:
    assert feedback.next_question(feedback.Answer("fixed", True), True).asks == "rating"
    # After "no": no rating in the same breath as "it's still broken".
    not_fixed = feedback.next_question(feedback.Answer("fixed", False), False)
    assert not_fixed.asks is None and not_fixed.buttons == []
    assert not_fixed.text == feedback.NOT_FIXED
    assert feedback.next_question(feedback.Answer("rating", 4), True).text == feedback.THANKS_FIXED
    assert (
        feedback.next_question(feedback.Answer("rating", 2), False).text
        == feedback.THANKS_NOT_FIXED
    )


def test_each_delivery_has_one_key() -> None:
    assert delivery_key({"type": "event_callback", "event_id": "Ev1"}) == "event:Ev1"
    assert delivery_key({"type": "block_actions", "trigger_id": "1.2.abc"}) == "action:1.2.abc"
    press = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_ts": "9.1"}]}
    assert delivery_key(press) == "action:U1:9.1"
    assert delivery_key({"type": "url_verification", "challenge": "x"}) is None


def _api_error(status: int, body: dict, headers: dict) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.example/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers,
        status_code=status,
    )
    return SlackApiError("failed", response)


def test_slack_failures_are_read_with_their_wait() -> None:
    limited = failure_of(
        _api_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    )
    assert (limited.error, limited.retry_after, limited.needs_operator) == ("ratelimited", 7, False)
    missing = failure_of(_api_error(200, {"ok": False, "error": "channel_not_found"}, {}))
    assert (missing.error, missing.retry_after, missing.needs_operator) == (
        "channel_not_found",
        None,
        True,
    )
    assert failure_of(_api_error(200, {"ok": False, "error": "invalid_auth"}, {})).needs_operator
    assert failure_of(TimeoutError()).error == "TimeoutError"


@pytest.mark.parametrize(
    ("sent", "typed", "asking", "expected"),
    [
        (handoff_waits.FOLLOW_UP_YES, "Yes, get back to me", None, True),
        (handoff_waits.FOLLOW_UP_NO, "I'll keep waiting", None, False),
        ("yes please", "yes please", handoff_waits.ASKS_FOLLOW_UP, True),
        ("ok", "ok", handoff_waits.ASKS_FOLLOW_UP, True),
        ("no I'll wait", "no I'll wait", handoff_waits.ASKS_FOLLOW_UP, False),
        ("I'll wait thanks", "I'll wait thanks", handoff_waits.ASKS_FOLLOW_UP, False),
        # Only right after the offer; anything else is for the assistant.
        ("yes", "yes", None, None),
        ("yes", "yes", "fixed", None),
        ("my router is still broken", "my router is still broken", "follow_up", None),
    ],
)
def test_answers_to_the_follow_up_offer(
    sent: str, typed: str, asking: str | None, expected: bool | None
) -> None:
    assert handoff_waits.recognise(sent, typed, asking=asking) is expected


def test_the_follow_up_answer_says_where_the_reply_will_come() -> None:
    assert "Telegram" in handoff_waits.answer_text(True, "telegram")
    assert "this page" in handoff_waits.answer_text(True, "web")
    assert "queue" in handoff_waits.answer_text(False, "telegram")
