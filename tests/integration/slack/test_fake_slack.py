"""The Slack fakes behave like Slack for the real libraries: slack_sdk's clients against
``FakeSlack``, slack_sdk's ``SignatureVerifier`` against ``slack_requests``' signatures, and a
slack_bolt ``AsyncApp`` behind Starlette receiving signed requests and calling the fake."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.fakes.slack_api import (
    AGENT_ID,
    DEFAULT_TOKEN,
    DESK_CHANNEL,
    FakeSlack,
)
from tests.fakes.slack_requests import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    block_action,
    event_callback,
    signature,
    signed_headers,
    url_verification,
)

TOKEN = DEFAULT_TOKEN
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
EVENTS = "/slack/events"
CLAIM_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Refund request* from Sam"}},
    {
        "type": "actions",
        "block_id": "desk_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "claim",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": "conv-1",
            }
        ],
    },
]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as fake:
        yield fake


def client(slack: FakeSlack, token: str = TOKEN, **options: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.base_url, **options)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# slack_sdk's Web API client against the fake ----------------------------------------------------


def test_auth_test_names_the_bot_and_sends_the_bearer_token(slack: FakeSlack) -> None:
    answer = run(client(slack).auth_test())

    assert answer["ok"] is True
    assert (answer["team_id"], answer["user_id"], answer["bot_id"]) == (
        TEAM_ID,
        BOT_USER_ID,
        BOT_ID,
    )
    (call,) = slack.calls("auth.test")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.http_verb == "POST"


def test_a_message_with_blocks_posted_in_a_thread_reads_back(slack: FakeSlack) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        web = client(slack)
        parent = await web.chat_postMessage(
            channel=DESK_CHANNEL, text="Refund request from Sam", blocks=CLAIM_BLOCKS
        )
        reply = await web.chat_postMessage(
            channel=DESK_CHANNEL, thread_ts=parent["ts"], text="Sam: where is my refund?"
        )
        replies = await web.conversations_replies(channel=DESK_CHANNEL, ts=parent["ts"])
        return parent, reply, replies

    parent, reply, replies = run(scenario())

    assert parent["channel"] == DESK_CHANNEL
    assert parent["message"]["bot_id"] == BOT_ID
    assert parent["message"]["text"] == "Refund request from Sam"
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["ts"] > parent["ts"]
    thread = slack.thread(DESK_CHANNEL, parent["ts"])
    assert [m["ts"] for m in thread] == [parent["ts"], reply["ts"]]
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"], reply["ts"]]
    assert thread[0]["reply_count"] == 1
    assert thread[0]["blocks"][1]["elements"][0]["action_id"] == "claim"
    assert all(b["block_id"] for b in thread[0]["blocks"])  # Slack fills block ids in
    assert thread[1]["parent_user_id"] == BOT_USER_ID
    assert slack.calls("chat.postMessage")[0].encoding == "json"
    assert slack.calls("chat.postMessage")[1].params["thread_ts"] == parent["ts"]


def test_chat_update_edits_the_stored_message(slack: FakeSlack) -> None:
    async def scenario() -> tuple[Any, Any]:
        web = client(slack)
        posted = await web.chat_postMessage(channel=DESK_CHANNEL, text="x", blocks=CLAIM_BLOCKS)
        updated = await web.chat_update(
            channel=DESK_CHANNEL, ts=posted["ts"], text="Claimed by alex", blocks=[]
        )
        return posted, updated

    posted, updated = run(scenario())

    assert (updated["channel"], updated["ts"], updated["text"]) == (
        DESK_CHANNEL,
        posted["ts"],
        "Claimed by alex",
    )
    message = slack.message(DESK_CHANNEL, posted["ts"])
    assert message is not None
    assert message["text"] == "Claimed by alex"
    assert "blocks" not in message
    assert message["edited"]["user"] == BOT_USER_ID


def test_ephemeral_messages_are_kept_apart_from_the_channel(slack: FakeSlack) -> None:
    answer = run(
        client(slack).chat_postEphemeral(channel=DESK_CHANNEL, user=AGENT_ID, text="Only you")
    )

    assert answer["message_ts"]
    assert slack.messages_in(DESK_CHANNEL) == []
    (seen,) = slack.ephemerals(DESK_CHANNEL, user=AGENT_ID)
    assert seen["text"] == "Only you"


def test_users_info_answers_from_the_directory(slack: FakeSlack) -> None:
    slack.add_user("U0AGENT2", "Priya Shah", "priya", email="priya@redress.example")

    async def scenario() -> tuple[Any, SlackApiError]:
        web = client(slack)
        found = await web.users_info(user="U0AGENT2")
        with pytest.raises(SlackApiError) as missing:
            await web.users_info(user="U0NOBODY")
        return found, missing.value

    found, missing = run(scenario())

    user = found["user"]
    assert (user["id"], user["real_name"], user["profile"]["display_name"]) == (
        "U0AGENT2",
        "Priya Shah",
        "priya",
    )
    assert user["profile"]["email"] == "priya@redress.example"
    assert missing.response["error"] == "user_not_found"
    assert slack.calls("users.info")[0].http_verb == "GET"
    assert slack.calls("users.info")[0].encoding == "query"


def test_conversations_info_and_unknown_channels(slack: FakeSlack) -> None:
    async def scenario() -> tuple[Any, SlackApiError]:
        web = client(slack)
        found = await web.conversations_info(channel=DESK_CHANNEL)
        with pytest.raises(SlackApiError) as missing:
            await web.chat_postMessage(channel="C0NOWHERE", text="hello")
        return found, missing.value

    found, missing = run(scenario())

    assert found["channel"]["name"] == "redress-desk"
    assert found["channel"]["is_member"] is True
    assert missing.response["error"] == "channel_not_found"
    assert missing.response.status_code == 200


def test_form_encoded_bodies_are_read_like_json(slack: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=slack.base_url)  # the sync client, form-encoded

    answer = web.api_call(
        "chat.postMessage",
        data={"channel": DESK_CHANNEL, "text": "form", "blocks": json.dumps(CLAIM_BLOCKS)},
    )

    assert answer["ok"] is True
    (call,) = slack.calls("chat.postMessage")
    assert call.encoding == "form"
    assert call.params["blocks"][0]["type"] == "section"
    assert slack.messages_in(DESK_CHANNEL)[0]["blocks"][1]["block_id"] == "desk_actions"


def test_a_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    async def scenario() -> SlackApiError:
        with pytest.raises(SlackApiError) as failure:
            await client(slack, token="xoxb-not-the-right-one").auth_test()
        return failure.value

    failure = run(scenario())

    assert failure.response["error"] == "invalid_auth"
    assert failure.response.status_code == 200
    assert slack.calls("auth.test")[0].error == "invalid_auth"


def test_ratelimited_is_a_429_with_retry_after(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", "ratelimited", retry_after=7)

    async def scenario() -> SlackApiError:
        with pytest.raises(SlackApiError) as failure:
            await client(slack).chat_postMessage(channel=DESK_CHANNEL, text="hi")
        return failure.value

    failure = run(scenario())

    assert failure.response.status_code == 429
    assert failure.response["error"] == "ratelimited"
    assert failure.response.headers["Retry-After"] == "7"
    assert slack.messages_in(DESK_CHANNEL) == []


def test_the_rate_limit_retry_handler_tries_again(slack: FakeSlack) -> None:
    # Retry-After: 0 keeps the handler's sleep (Retry-After + random() seconds) under one.
    slack.fail_next("chat.postMessage", "ratelimited", retry_after=0)
    handler = AsyncRateLimitErrorRetryHandler(max_retry_count=1)

    answer = run(
        client(slack, retry_handlers=[handler]).chat_postMessage(channel=DESK_CHANNEL, text="hi")
    )

    assert answer["ok"] is True
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]
    assert len(slack.messages_in(DESK_CHANNEL)) == 1


@pytest.mark.parametrize(
    ("error", "status"),
    [("channel_not_found", 200), ("invalid_auth", 200), ("internal_error", 500)],
)
def test_injected_failures(slack: FakeSlack, error: str, status: int) -> None:
    slack.fail_next("chat.update", error, status=status)

    async def scenario() -> tuple[SlackApiError, Any]:
        web = client(slack)
        posted = await web.chat_postMessage(channel=DESK_CHANNEL, text="first")
        with pytest.raises(SlackApiError) as failure:
            await web.chat_update(channel=DESK_CHANNEL, ts=posted["ts"], text="second")
        again = await web.chat_update(channel=DESK_CHANNEL, ts=posted["ts"], text="third")
        return failure.value, again

    failure, again = run(scenario())

    assert failure.response.status_code == status
    assert failure.response["error"] == error
    assert again["text"] == "third"  # only the next call failed


# Signatures ---------------------------------------------------------------------------------


def test_signatures_match_slacks_documented_example() -> None:
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        "&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        "&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
        "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert signature(SECRET, body, 1531420618) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


@pytest.mark.parametrize(
    "request_",
    [
        url_verification("challenge-1"),
        event_callback(channel=DESK_CHANNEL, user=AGENT_ID, text="hi", thread_ts="1.000001"),
        block_action("claim", "conv-1", channel=DESK_CHANNEL, message_ts="1.000001"),
    ],
    ids=["url_verification", "event_callback", "block_actions"],
)
def test_slack_sdk_accepts_the_signed_builders(request_: Any) -> None:
    verifier = SignatureVerifier(SECRET)
    now = int(time.time())

    assert verifier.is_valid_request(request_.body, request_.headers(SECRET))
    assert verifier.is_valid_request(request_.body, signed_headers(SECRET, request_.body, now))
    assert not verifier.is_valid_request(request_.body, request_.headers("not-the-secret"))
    tampered = request_.body.replace(b"1", b"2")
    assert tampered != request_.body
    assert not verifier.is_valid_request(tampered, request_.headers(SECRET))
    stale = request_.headers(SECRET, timestamp=now - 6 * 60)
    assert not verifier.is_valid_request(request_.body, stale)


def test_block_actions_are_form_encoded_payloads() -> None:
    request = block_action(
        "claim",
        "conv-1",
        user_id="U0AGENT2",
        user_name="priya",
        channel=DESK_CHANNEL,
        message_ts="1700000000.000100",
        thread_ts="1700000000.000100",
    )

    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.body.startswith(b"payload=")
    payload = request.payload
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == "claim"
    assert payload["actions"][0]["value"] == "conv-1"
    assert payload["container"]["message_ts"] == "1700000000.000100"
    assert payload["user"]["id"] == "U0AGENT2"
    assert payload["response_url"].startswith("https://hooks.slack.com/actions/")
    assert payload["trigger_id"]


def test_retry_headers() -> None:
    headers = url_verification().headers(SECRET, retry_num=2, retry_reason="http_error")
    assert headers["X-Slack-Retry-Num"] == "2"
    assert headers["X-Slack-Retry-Reason"] == "http_error"


# slack_bolt's AsyncApp behind Starlette -------------------------------------------------------


def bolt_app(slack: FakeSlack, token: str = TOKEN, **options: Any) -> tuple[AsyncApp, Starlette]:
    """The app as the gateway will mount it. Only ``client`` carries the token: passing
    ``token=`` as well makes bolt log that it ignores it."""
    app = AsyncApp(
        signing_secret=SECRET,
        client=client(slack, token),
        request_verification_enabled=True,
        **options,
    )
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return app, Starlette(routes=[Route(EVENTS, events, methods=["POST"])])


def gateway(web: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://gateway")


def test_bolt_answers_a_signed_url_verification(slack: FakeSlack) -> None:
    _, web = bolt_app(slack)
    request = url_verification("the-challenge")

    with TestClient(web) as http:
        answer = http.post(EVENTS, content=request.body, headers=request.headers(SECRET))

    assert answer.status_code == 200
    assert answer.json() == {"challenge": "the-challenge"}
    assert slack.calls() == []  # no auth.test for url_verification


@pytest.mark.parametrize("forgery", ["wrong secret", "stale", "tampered", "unsigned"])
def test_bolt_refuses_forged_and_stale_requests(slack: FakeSlack, forgery: str) -> None:
    app, web = bolt_app(slack)
    handled: list[str] = []

    @app.action("claim")
    async def claim(ack: Any) -> None:
        handled.append("claim")
        await ack()

    request = block_action("claim", "conv-1", channel=DESK_CHANNEL, message_ts="1.000001")
    body, headers = request.body, request.headers(SECRET)
    if forgery == "wrong secret":
        headers = request.headers("not-the-secret")
    elif forgery == "stale":
        headers = request.headers(SECRET, timestamp=int(time.time()) - 6 * 60)
    elif forgery == "tampered":
        body = request.tampered(actions=[{**request.payload["actions"][0], "value": "x"}]).body
    else:
        headers = {"Content-Type": request.content_type}

    with TestClient(web) as http:
        answer = http.post(EVENTS, content=body, headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid request"}
    assert handled == []
    assert slack.calls() == []


def test_bolt_routes_a_button_press_acks_then_the_listener_carries_on(slack: FakeSlack) -> None:
    app, web = bolt_app(slack)
    release = asyncio.Event()
    seen: list[dict[str, Any]] = []

    @app.action("claim")
    async def claim(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await release.wait()  # the HTTP answer must not wait for this
        seen.append(body)
        await client.chat_postMessage(
            channel=body["container"]["channel_id"],
            thread_ts=body["container"]["message_ts"],
            text=f"<@{body['user']['id']}> claimed {body['actions'][0]['value']}",
        )

    async def scenario() -> httpx.Response:
        posted = await client(slack).chat_postMessage(channel=DESK_CHANNEL, text="Refund?")
        assert slack.calls("auth.test") == []  # bolt calls auth.test lazily, not at start
        request = block_action("claim", "conv-7", channel=DESK_CHANNEL, message_ts=posted["ts"])
        async with gateway(web) as http:
            answer = await http.post(EVENTS, content=request.body, headers=request.headers(SECRET))
        assert slack.calls("chat.postMessage")[1:] == []  # answered before the listener ended
        release.set()
        await slack.wait_for_async(lambda: len(slack.calls("chat.postMessage")) == 2, what="reply")
        return answer

    answer = run(scenario())

    assert answer.status_code == 200
    assert answer.text == ""
    assert seen[0]["actions"][0]["action_id"] == "claim"
    parent, reply = slack.messages_in(DESK_CHANNEL)
    assert reply["thread_ts"] == parent["ts"]
    assert reply["text"] == f"<@{AGENT_ID}> claimed conv-7"
    assert len(slack.calls("auth.test")) == 1


def test_bolt_calls_auth_test_once_and_respond_edits_through_response_url(
    slack: FakeSlack,
) -> None:
    app, web = bolt_app(slack, process_before_response=True)

    @app.action("claim")
    async def claim(ack: Any, respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text="Claimed by alex")

    posted = run(client(slack).chat_postMessage(channel=DESK_CHANNEL, text="Refund?"))
    with TestClient(web) as http:
        for _ in range(2):
            request = block_action(
                "claim",
                "conv-1",
                channel=DESK_CHANNEL,
                message_ts=posted["ts"],
                response_url=slack.response_url(DESK_CHANNEL, posted["ts"]),
            )
            answer = http.post(EVENTS, content=request.body, headers=request.headers(SECRET))
            assert answer.status_code == 200

    # process_before_response=True: the listener finished before the HTTP answer.
    assert len(slack.calls("response_url")) == 2
    message = slack.message(DESK_CHANNEL, posted["ts"])
    assert message is not None
    assert message["text"] == "Claimed by alex"
    assert len(slack.calls("auth.test")) == 1  # cached by the app after the first request


def test_bolt_listeners_outlive_the_answer_under_a_testclient_context(slack: FakeSlack) -> None:
    # Default process_before_response=False: the listener runs on after ack() on the
    # TestClient's event loop thread, which lives as long as the ``with`` block.
    app, web = bolt_app(slack)

    @app.action("claim")
    async def claim(ack: Any, respond: Any) -> None:
        await ack()
        await respond("Someone already has this one")

    request = block_action(
        "claim",
        "conv-1",
        channel=DESK_CHANNEL,
        message_ts="1.000001",
        response_url=slack.response_url(DESK_CHANNEL, "1.000001", user=AGENT_ID),
    )
    with TestClient(web) as http:
        answer = http.post(EVENTS, content=request.body, headers=request.headers(SECRET))
        (seen,) = slack.wait_for(lambda: slack.ephemerals(DESK_CHANNEL), what="the respond()")

    assert answer.status_code == 200
    assert (seen["user"], seen["text"]) == (AGENT_ID, "Someone already has this one")
    assert slack.messages_in(DESK_CHANNEL) == []


def test_bolt_with_a_bad_token_answers_200_and_runs_no_listener(slack: FakeSlack) -> None:
    app, web = bolt_app(slack, token="xoxb-revoked", process_before_response=True)
    handled: list[str] = []

    @app.action("claim")
    async def claim(ack: Any) -> None:
        handled.append("claim")
        await ack()

    request = block_action("claim", "conv-1", channel=DESK_CHANNEL, message_ts="1.000001")
    with TestClient(web) as http:
        answer = http.post(EVENTS, content=request.body, headers=request.headers(SECRET))

    assert answer.status_code == 200
    assert "reinstall this app" in answer.text  # bolt's user-facing authorize error
    assert handled == []
    assert slack.calls("auth.test")[0].error == "invalid_auth"


def test_bolt_delivers_thread_messages_and_slack_retries_alike(slack: FakeSlack) -> None:
    app, web = bolt_app(slack, process_before_response=True)
    seen: list[tuple[str, str | None, list[str] | None]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], request: Any) -> None:
        seen.append(
            (event["text"], event.get("thread_ts"), request.headers.get("x-slack-retry-num"))
        )

    parent = run(client(slack).chat_postMessage(channel=DESK_CHANNEL, text="Refund?"))
    said = slack.post_as_user(DESK_CHANNEL, AGENT_ID, "On it", thread_ts=parent["ts"])
    human = event_callback(event=said)
    own = event_callback(
        channel=DESK_CHANNEL, user=BOT_USER_ID, bot_id=BOT_ID, text="echo", thread_ts=parent["ts"]
    )
    with TestClient(web) as http:
        answers = [
            http.post(EVENTS, content=human.body, headers=human.headers(SECRET)),
            http.post(EVENTS, content=own.body, headers=own.headers(SECRET)),
            http.post(
                EVENTS,
                content=human.body,
                headers=human.headers(SECRET, retry_num=1, retry_reason="http_timeout"),
            ),
        ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    # The bot's own message is dropped; a retry is delivered again (bolt does not dedupe).
    assert seen == [("On it", parent["ts"], None), ("On it", parent["ts"], ["1"])]
    assert [m["text"] for m in slack.thread(DESK_CHANNEL, parent["ts"])] == ["Refund?", "On it"]
