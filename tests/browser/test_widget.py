"""The chat widget in a real browser: Debian's Chromium, headless, against the real stack
(Rasa, the action server and the gateway as processes), through the demo page at ``/``."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from redress.business import Business
from redress.settings import REPO_ROOT
from tests.stack import ADMIN_TOKEN, Stack, signed_identity

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 780}
COMPLAINT = "my broadband has been down since monday"
GIBBERISH = "qzxv wplk trrrb"
XSS = '<img src=x onerror="window.__xss=1">'
# Chromium reports every failed request, and every refused socket, as a console error.
# Only the tests that cause them on purpose allow them.
FAILED_REQUEST = re.compile(r"^Failed to load resource")
FAILED_SOCKET = re.compile(r"^WebSocket connection to .* failed")

expect.set_options(timeout=20_000)

# Installed before any page script runs; page scripts cannot remove it.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# WCAG contrast of the colours Chromium actually painted (canvas reads any CSS colour).
CONTRAST = """
(pairs) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const rgb = (css) => {
    context.clearRect(0, 0, 1, 1);
    context.fillStyle = "#000";
    context.fillStyle = css;
    context.fillRect(0, 0, 1, 1);
    return Array.from(context.getImageData(0, 0, 1, 1).data).slice(0, 3);
  };
  const luminance = (css) => {
    const [r, g, b] = rgb(css).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return pairs.map(([name, selector, foregroundFrom, backgroundFrom]) => {
    const style = (s) => getComputedStyle(document.querySelector(s));
    const foreground = style(selector).color;
    const background = style(backgroundFrom || selector).backgroundColor;
    const [light, dark] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
    return [name, Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100];
  });
}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SIGN_IN_SCRIPT = """
new MutationObserver((changes, observer) => {
  const tag = document.querySelector("script[src='/static/widget.js']");
  if (!tag) { return; }
  tag.setAttribute("data-redress-account", ACCOUNT);
  tag.setAttribute("data-redress-signature", SIGNATURE);
  observer.disconnect();
}).observe(document, { childList: true, subtree: true });
"""


class Chat:
    """The demo page in one browser tab, and what it logged."""

    def __init__(self, page: Page, stack: Stack) -> None:
        self.page = page
        self.stack = stack
        self.gateway = stack.gateway
        self.problems: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed):
            self.problems.append(f"console error: {message.text}")

    @property
    def launcher(self) -> Locator:
        return self.page.get_by_role("button", name="Chat with us")

    @property
    def panel(self) -> Locator:
        return self.page.locator("#redress-panel")

    @property
    def input(self) -> Locator:
        return self.page.get_by_role("textbox", name="Your message")

    @property
    def log(self) -> Locator:
        return self.page.get_by_role("log", name="Conversation")

    @property
    def messages(self) -> Locator:
        return self.page.locator(".redress-msg")

    @property
    def typing(self) -> Locator:
        return self.page.locator(".redress-typing")

    @property
    def notice(self) -> Locator:
        return self.page.locator(".redress-notice")

    def bubbles(self, role: str) -> Locator:
        return self.page.locator(f".redress-msg--{role} .redress-bubble")

    def sign_in(self, account: str) -> None:
        """The business's page for a customer logged in as ``account``: the widget's script
        tag carries the account and its signature, as docs/identity.md tells a business to.
        (Set on the demo page's tag as it is parsed; the widget runs deferred, after that.)"""
        identity = signed_identity(account)
        self.page.add_init_script(
            SIGN_IN_SCRIPT.replace("ACCOUNT", json.dumps(identity["account_number"])).replace(
                "SIGNATURE", json.dumps(identity["signature"])
            )
        )

    def goto(self, gateway: str | None = None) -> None:
        self.page.goto((gateway or self.gateway) + "/")
        expect(self.launcher).to_be_visible()

    def open(self, gateway: str | None = None) -> None:
        self.goto(gateway)
        self.launcher.click()
        expect(self.input).to_be_focused()

    def say(self, text: str) -> None:
        """Types a message, sends it with Enter and waits for the replies."""
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.bubbles("customer").last).to_have_text(text)
        expect(self.typing).to_be_hidden()

    def texts(self) -> list[str]:
        return self.page.locator(".redress-msg .redress-bubble").all_text_contents()

    def ids(self) -> list[str]:
        return self.messages.evaluate_all("items => items.map(item => item.dataset.id)")

    def conversation_id(self, gateway: str | None = None) -> str:
        key = f"redress:{gateway or self.gateway}/:conversation"
        found = self.page.evaluate("key => localStorage.getItem(key)", key)
        assert found, "the widget keeps no conversation id"
        return found

    def token(self, gateway: str | None = None) -> str | None:
        key = f"redress:{gateway or self.gateway}/:token"
        return self.page.evaluate("key => localStorage.getItem(key)", key)

    def keep(self, conversation_id: str, token: str | None) -> None:
        """Puts a conversation in the widget's storage (on the page's origin), as the widget
        keeps it; no token is how a widget from before tokens kept it."""
        stored = f"redress:{self.gateway}/:"
        self.page.evaluate(
            """([prefix, id, token]) => {
              localStorage.setItem(prefix + "conversation", id);
              if (token === null) { localStorage.removeItem(prefix + "token"); }
              else { localStorage.setItem(prefix + "token", token); }
            }""",
            [stored, conversation_id, token],
        )

    def push(
        self, conversation_id: str, text: str, author: str, gateway: str | None = None
    ) -> None:
        """An agent's message, as the agent desk sends it."""
        response = httpx.post(
            f"{gateway or self.gateway}/api/conversations/{conversation_id}/messages",
            json={"text": text, "author": author},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text

    def assert_clean(self) -> None:
        assert self.problems == []
        if self.page.url.startswith("http"):
            assert self.page.evaluate("window.__csp || []") == []


@pytest.fixture
def chat(browser: Browser, stack: Stack) -> Iterator[Chat]:
    """A fresh browser profile (so a new conversation) on a desktop-sized window."""
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="Europe/London")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watched = Chat(page, stack)
    try:
        yield watched
        watched.assert_clean()
    finally:
        context.close()


class LoneGateway:
    """A second gateway process on the same database whose Rasa server is a closed port:
    the assistant is really unavailable, and the gateway itself can be stopped and started
    again on the same port."""

    NAME = "lone-gateway"

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.extra_env = {"RASA_URL": f"http://127.0.0.1:{_free_port()}"}
        self.url = ""

    def start(self) -> None:
        self.url = self.stack.start_gateway(self.NAME, self.extra_env)

    def stop(self) -> None:
        self.stack.stop(self.NAME)


@pytest.fixture
def lone_gateway(stack: Stack) -> Iterator[LoneGateway]:
    gateway = LoneGateway(stack)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def wait_for(page: Page, condition: Callable[[], Any], what: str) -> None:
    """Lets the browser's events run until ``condition`` holds."""
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


def test_the_demo_page_embeds_the_widget_with_one_tag(chat: Chat) -> None:
    response = chat.page.goto(chat.gateway + "/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    scripts = chat.page.locator("script").evaluate_all(
        "scripts => scripts.map(s => [s.getAttribute('src'), s.hasAttribute('defer'),"
        " s.hasAttribute('data-redress-url'), s.textContent.trim()])"
    )
    assert scripts == [["/static/widget.js", True, True, ""]]
    expect(chat.launcher).to_be_visible()
    sheets = chat.page.locator("link[rel=stylesheet]").evaluate_all("ls => ls.map(l => l.href)")
    assert f"{chat.gateway}/static/widget.css" in sheets  # the widget loaded its own CSS
    assert chat.page.locator("[style]").count() == 0  # nothing the CSP would refuse
    # Nothing from the old page is left behind.
    for old in ("chat.js", "chat.css"):
        assert httpx.get(f"{chat.gateway}/static/{old}").status_code == 404


def test_a_complaint_gets_an_apology_with_times(chat: Chat) -> None:
    chat.goto()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    expect(chat.launcher).to_have_attribute("aria-controls", "redress-panel")
    expect(chat.panel).to_be_hidden()

    chat.launcher.click()
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    expect(chat.panel).to_be_visible()
    expect(chat.page.get_by_role("dialog", name="Brightline Broadband")).to_be_visible()
    expect(chat.log).to_have_attribute("aria-live", "polite")
    expect(chat.input).to_be_focused()

    chat.say(COMPLAINT)
    expect(chat.bubbles("customer")).to_have_text([COMPLAINT])
    expect(chat.bubbles("bot").first).to_contain_text("I'm sorry your broadband has been down")

    now = datetime.now(timezone.utc)
    times = chat.page.locator(".redress-msg time")
    expect(times).to_have_count(chat.messages.count())
    for shown in times.all():
        moment = datetime.fromisoformat(shown.get_attribute("datetime").replace("Z", "+00:00"))
        assert abs(moment - now) < timedelta(minutes=5)
        assert re.fullmatch(r"\d{1,2}:\d\d( ?[ap]m)?", shown.text_content() or "", re.I)

    # What the page shows is what was recorded, in order.
    record = chat.stack.record(chat.conversation_id())
    assert [m["text"] for m in record["messages"]] == chat.texts()
    assert chat.ids() == [str(m["id"]) for m in record["messages"]]


def test_a_typing_indicator_shows_while_the_assistant_answers(chat: Chat) -> None:
    held: list[Any] = []
    chat.page.route("**/api/messages", lambda route: held.append(route))
    chat.open()
    chat.input.fill(COMPLAINT)
    chat.input.press("Enter")
    expect(chat.typing).to_be_visible()
    expect(chat.bubbles("customer")).to_have_text([COMPLAINT])
    expect(chat.input).to_have_value("")
    wait_for(chat.page, lambda: held, "the message to be sent")

    held[0].continue_()
    expect(chat.bubbles("bot").first).to_contain_text("I'm sorry")
    expect(chat.typing).to_be_hidden()


def test_a_button_sends_its_payload_and_shows_its_title(chat: Chat) -> None:
    chat.open()
    chat.say(GIBBERISH)
    choices = chat.page.get_by_role("group", name="Suggested replies")
    expect(choices.get_by_role("button")).to_have_count(4)

    with chat.page.expect_request(
        lambda r: r.url.endswith("/api/messages") and r.method == "POST"
    ) as sent:
        choices.get_by_role("button", name="A problem with my bill").click()
    assert re.fullmatch(r"btn_[A-Za-z0-9_-]{16}", sent.value.post_data_json["text"])

    expect(chat.bubbles("customer")).to_have_text([GIBBERISH, "A problem with my bill"])
    expect(chat.page.get_by_text("I'm sorry we got your bill wrong")).to_be_visible()
    expect(chat.typing).to_be_hidden()
    # Answered: the choices go, and the customer can carry on typing.
    expect(chat.page.get_by_role("button", name="A problem with my bill")).to_have_count(0)
    expect(chat.input).to_be_focused()

    record = chat.stack.record(chat.conversation_id())
    said = [m["text"] for m in record["messages"] if m["role"] == "customer"]
    assert said == [GIBBERISH, "A problem with my bill"]


def test_quick_messages_stay_in_one_conversation_in_order(chat: Chat) -> None:
    chat.open()
    first, second = "hello", "my broadband has been down since monday"
    chat.input.fill(first)
    chat.input.press("Enter")
    chat.input.fill(second)  # before the first has been answered
    chat.input.press("Enter")
    expect(chat.bubbles("customer")).to_have_text([first, second])
    expect(chat.page.get_by_text("I'm sorry your broadband has been down")).to_be_visible()
    expect(chat.typing).to_be_hidden()
    chat.page.wait_for_timeout(1000)

    record = chat.stack.record(chat.conversation_id())
    said = [m["text"] for m in record["messages"] if m["role"] == "customer"]
    assert said == [first, second]
    assert chat.ids() == [str(m["id"]) for m in record["messages"]]


def test_a_reload_shows_the_same_history_once_and_nothing_is_lost(chat: Chat) -> None:
    chat.sign_in("BL-100002")  # logged in: no account asked, and the remedy can be offered
    chat.open()
    chat.say(COMPLAINT)
    # The last reply: the remedy the policy allows, with its two buttons.
    expect(chat.page.get_by_role("button", name="No, thanks")).to_be_visible()
    before_texts, before_ids = chat.texts(), chat.ids()
    assert len(before_texts) >= 5

    chat.page.reload()
    expect(chat.panel).to_be_visible()  # still open in this tab
    expect(chat.messages).to_have_count(len(before_texts))
    chat.page.wait_for_timeout(1500)  # a duplicate would have arrived by now
    expect(chat.messages).to_have_count(len(before_texts))
    assert chat.texts() == before_texts
    assert chat.ids() == before_ids
    assert len(set(before_ids)) == len(before_ids)
    expect(chat.page.get_by_role("button", name="No, thanks")).to_be_visible()

    # Away from the page while an agent writes: it is there on return, once.
    conversation_id = chat.conversation_id()
    chat.page.goto("about:blank")
    chat.push(conversation_id, "I've checked your line and found the fault.", "Sam")
    chat.goto()
    expect(chat.messages).to_have_count(len(before_texts) + 1)
    expect(chat.bubbles("agent")).to_have_text(["I've checked your line and found the fault."])
    record = chat.stack.record(conversation_id)
    assert chat.ids() == [str(m["id"]) for m in record["messages"]]


def test_the_widget_keeps_the_token_with_the_conversation_and_sends_it(chat: Chat) -> None:
    chat.open()
    with chat.page.expect_response("**/api/messages") as started:
        chat.say("hello")
    token = started.value.json()["conversation_token"]
    assert chat.token() == token
    assert started.value.request.post_data_json["conversation_token"] is None

    with chat.page.expect_request("**/api/messages") as sent:
        chat.say(COMPLAINT)
    assert sent.value.post_data_json["conversation_id"] == chat.conversation_id()
    assert sent.value.post_data_json["conversation_token"] == token
    expect(chat.page.get_by_text("I'm sorry your broadband has been down")).to_be_visible()


@pytest.mark.parametrize("kept_token", [None, "not-the-token"])
def test_a_kept_conversation_it_cannot_open_gives_way_to_a_new_one(
    chat: Chat, kept_token: str | None
) -> None:
    """A conversation id kept without its token (by a widget from before tokens), or with a
    token that does not open it: nothing of it is shown, and the next message starts a new
    conversation with no error."""
    someone_else, _ = chat.stack.say(None, "my bill is wrong, account BL-100003")
    recorded = len(chat.stack.record(someone_else)["messages"])
    chat.goto()
    chat.keep(someone_else, kept_token)
    chat.open()
    chat.page.wait_for_timeout(1000)  # time for the socket to be refused
    expect(chat.messages).to_have_count(0)

    chat.say(COMPLAINT)
    expect(chat.page.get_by_text("I'm sorry your broadband has been down")).to_be_visible()
    expect(chat.notice).to_be_hidden()
    assert chat.conversation_id() != someone_else
    assert chat.token()
    said = [m["text"] for m in chat.stack.record(chat.conversation_id())["messages"]]
    assert said[0] == COMPLAINT
    assert len(chat.stack.record(someone_else)["messages"]) == recorded  # untouched


def test_an_agent_message_arrives_live_once_with_its_author(chat: Chat) -> None:
    chat.open()
    chat.say(COMPLAINT)
    conversation_id = chat.conversation_id()
    count = chat.messages.count()

    text = "Hi, I'm Jo from the network team. I've booked an engineer for tomorrow morning."
    chat.push(conversation_id, text, "Jo")
    agent = chat.page.locator(".redress-msg--agent")
    expect(agent).to_have_count(1)
    expect(agent.locator(".redress-author")).to_have_text("Jo")
    expect(agent.locator(".redress-bubble")).to_have_text(text)
    expect(agent.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    chat.page.wait_for_timeout(1000)
    expect(chat.messages).to_have_count(count + 1)

    # With the panel closed, the launcher shows that something new has arrived.
    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    badge = chat.page.locator(".redress-badge")
    expect(badge).to_be_hidden()
    chat.push(conversation_id, "The engineer will come between 8 and 10.", "Jo")
    expect(badge).to_be_visible()
    chat.launcher.click()
    expect(badge).to_be_hidden()
    expect(agent).to_have_count(2)
    expect(chat.messages).to_have_count(count + 2)


def test_whatever_people_type_is_shown_as_text(chat: Chat) -> None:
    chat.open()
    chat.say(XSS)
    expect(chat.bubbles("customer")).to_have_text([XSS])

    conversation_id = chat.conversation_id()
    sneaky = "<b>bold</b><script>window.__xss = 2</script>"
    chat.push(conversation_id, sneaky, "<i>Jo</i>")
    expect(chat.bubbles("agent")).to_have_text([sneaky])
    expect(chat.page.locator(".redress-author")).to_have_text("<i>Jo</i>")

    chat.page.reload()  # the history comes over the socket: text there too
    expect(chat.bubbles("customer")).to_have_text([XSS])
    expect(chat.bubbles("agent")).to_have_text([sneaky])
    chat.page.wait_for_timeout(500)
    assert chat.page.evaluate("window.__xss") is None
    assert chat.page.locator(".redress img, .redress script, .redress b, .redress i").count() == 0


def test_the_widget_works_from_the_keyboard_alone(chat: Chat) -> None:
    chat.goto()
    for _ in range(40):
        chat.page.keyboard.press("Tab")
        if chat.page.evaluate("document.activeElement.classList.contains('redress-launcher')"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    outline = chat.page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert outline == ["solid", "3px"]  # focus is visible

    chat.page.keyboard.press("Enter")
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    expect(chat.input).to_be_focused()
    chat.page.keyboard.type(GIBBERISH)
    chat.page.keyboard.press("Enter")
    expect(chat.bubbles("customer")).to_have_text([GIBBERISH])
    expect(chat.page.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(chat.input).to_be_focused()

    # The reply buttons sit just before the message box.
    chat.page.keyboard.press("Shift+Tab")
    expect(chat.page.get_by_role("button", name="Talk to a person")).to_be_focused()
    chat.page.keyboard.press("Shift+Tab")
    expect(chat.page.get_by_role("button", name="A problem with my bill")).to_be_focused()
    chat.page.keyboard.press("Enter")
    expect(chat.bubbles("customer").last).to_have_text("A problem with my bill")
    expect(chat.page.get_by_text("I'm sorry we got your bill wrong")).to_be_visible()
    expect(chat.input).to_be_focused()

    # Shift+Enter starts a new line; Enter sends.
    chat.page.keyboard.type("its BL-100003")
    chat.page.keyboard.press("Shift+Enter")
    chat.page.keyboard.type("thanks")
    expect(chat.input).to_have_value("its BL-100003\nthanks")
    expect(chat.bubbles("customer")).to_have_count(2)
    chat.page.keyboard.press("Enter")
    expect(chat.bubbles("customer").last).to_have_text("its BL-100003\nthanks")
    expect(chat.input).to_have_value("")
    expect(chat.typing).to_be_hidden()

    chat.page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    expect(chat.launcher).to_be_focused()
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")


def test_the_length_limit_is_enforced_and_explained(chat: Chat) -> None:
    chat.allowed.append(FAILED_REQUEST)  # the API's own refusal, below
    chat.open()
    expect(chat.input).to_have_attribute("maxlength", "4000")
    counter = chat.page.locator("#redress-counter")
    expect(chat.input).to_have_attribute("aria-describedby", "redress-counter")

    chat.input.fill("a" * 3000)
    expect(counter).to_be_hidden()
    chat.input.fill("a" * 3700)
    expect(counter).to_have_text("300 characters left.")
    chat.input.fill("a" * 4000)
    expect(counter).to_contain_text("4000 characters")
    expect(counter).to_contain_text("send this part")
    chat.page.keyboard.type("more")
    assert len(chat.input.input_value()) == 4000  # the box takes no more

    # Text put there some other way is stopped before it is sent, and kept.
    with chat.page.expect_request("**/api/messages") as sent:
        chat.input.evaluate(
            "box => { box.value = 'b'.repeat(4001); box.dispatchEvent(new Event('input')); }"
        )
        chat.input.press("Enter")
        expect(chat.notice).to_contain_text("too long to send")
        assert len(chat.input.input_value()) == 4001
        expect(chat.messages).to_have_count(0)
        # Nothing went out: this plain request is the first one to match.
        chat.page.evaluate(
            "url => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},"
            " body: JSON.stringify({conversation_id: null, text: 'x'.repeat(4001)})})",
            f"{chat.gateway}/api/messages",
        )
    assert sent.value.post_data_json["text"] == "x" * 4001
    # The API refuses it as well, and says why.
    answer = sent.value.response()
    assert answer is not None and answer.status == 400
    assert answer.json()["error"]["code"] == "text_too_long"


def test_slow_down_shows_the_friendly_text_and_keeps_what_was_typed(
    chat: Chat, business: Business
) -> None:
    chat.allowed.append(FAILED_REQUEST)  # the 429
    # A conversation that has already sent a minute's worth of messages (the first, which
    # starts it, has no id to count against).
    conversation_id, _ = chat.stack.say(None, "hello")
    for _ in range(12):
        chat.stack.say(conversation_id, "hello")
    recorded = len(chat.stack.record(conversation_id)["messages"])
    chat.goto()
    chat.keep(conversation_id, chat.stack.conversation_tokens[conversation_id])
    chat.open()
    expect(chat.messages).to_have_count(recorded)  # its history, from the socket

    chat.input.fill("are you still there?")
    with chat.page.expect_response("**/api/messages") as answered:
        chat.input.press("Enter")
    assert answered.value.status == 429
    expect(chat.notice).to_have_text(business.brand.slow_down)
    expect(chat.input).to_have_value("are you still there?")
    expect(chat.typing).to_be_hidden()
    expect(chat.messages).to_have_count(recorded)  # nothing shown that was not recorded


def test_an_unavailable_assistant_a_lost_connection_and_a_reconnect(
    chat: Chat, lone_gateway: LoneGateway, business: Business
) -> None:
    chat.allowed += [FAILED_REQUEST, FAILED_SOCKET]
    chat.open(lone_gateway.url)

    # Rasa is not there: the gateway answers 503 with its apology, and the message is kept.
    with chat.page.expect_response("**/api/messages") as answered:
        chat.input.fill("my tv box keeps restarting")
        chat.input.press("Enter")
    assert answered.value.status == 503
    expect(chat.bubbles("bot")).to_have_text([business.brand.assistant_unavailable])
    expect(chat.bubbles("customer")).to_have_text(["my tv box keeps restarting"])
    # It is kept and will be answered when the assistant is back: nothing to send again.
    expect(chat.input).to_have_value("")
    conversation_id = chat.conversation_id(lone_gateway.url)

    # The gateway goes away: sending fails clearly and the text stays in the box.
    lone_gateway.stop()
    chat.input.fill("hello, anyone there?")
    chat.input.press("Enter")
    expect(chat.notice).to_contain_text("couldn't send your message")
    expect(chat.input).to_have_value("hello, anyone there?")
    expect(chat.bubbles("customer")).to_have_count(1)

    # An agent writes while the widget is cut off (through the other gateway, same records).
    chat.push(conversation_id, "Sorry about the wait. I'm looking at your box now.", "Ana")
    lone_gateway.start()
    # The widget reconnects by itself and catches up from the last message it saw.
    expect(chat.bubbles("agent")).to_have_text(
        ["Sorry about the wait. I'm looking at your box now."]
    )
    # Live again: a message pushed through this gateway arrives at once.
    chat.push(conversation_id, "Found it. A new box is on its way.", "Ana", lone_gateway.url)
    expect(chat.bubbles("agent")).to_have_count(2)
    chat.page.wait_for_timeout(1000)
    record = chat.stack.record(conversation_id)
    assert chat.ids() == [str(m["id"]) for m in record["messages"]]
    expect(chat.input).to_have_value("hello, anyone there?")


def _serve(html: str, port: int) -> ThreadingHTTPServer:
    """Another business's website on its own origin: one page, nothing else."""
    body = html.encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/"
            self.send_response(200 if found else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_one_tag_embeds_the_widget_on_another_site(chat: Chat, stack: Stack) -> None:
    port = _free_port()
    site = f"http://127.0.0.1:{port}"
    gateway = stack.start_gateway("embedding-gateway", {"REDRESS_WIDGET_ORIGINS": site})
    server = _serve(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another shop</title>
<link rel="icon" href="data:,">
<style>
  :root {{ --redress-brand: rgb(120, 20, 60); --redress-font: Georgia, serif; }}
  button {{ text-transform: uppercase; background: yellow; }}
</style></head>
<body><h1>Another shop</h1>
<script src="{gateway}/static/widget.js" data-redress-url="{gateway}" defer></script>
</body></html>""",
        port,
    )
    try:
        chat.page.goto(site + "/")
        expect(chat.launcher).to_be_visible()
        # The business's theme applies; its own button styles do not leak in.
        expect(chat.launcher).to_have_css("background-color", "rgb(120, 20, 60)")
        expect(chat.launcher).to_have_css("text-transform", "none")
        expect(chat.launcher).to_have_css("font-family", re.compile(r"^Georgia"))

        # Messages cross origins (CORS), and so does the live socket (its origin check).
        chat.launcher.click()
        chat.say(COMPLAINT)
        expect(chat.bubbles("bot").first).to_contain_text("I'm sorry your broadband")
        conversation_id = chat.conversation_id(gateway)
        chat.push(conversation_id, "I'm Priya from the network team.", "Priya", gateway)
        expect(chat.bubbles("agent")).to_have_text(["I'm Priya from the network team."])
    finally:
        server.shutdown()
        server.server_close()
        stack.stop("embedding-gateway")


def test_on_a_phone_the_panel_fills_the_screen(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        watched = Chat(page, stack)
        watched.goto()
        watched.launcher.tap()
        expect(watched.input).to_be_focused()
        box = watched.panel.bounding_box()
        assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
        expect(watched.launcher).to_be_hidden()
        close = page.get_by_role("button", name="Close chat")
        close.tap()
        expect(watched.panel).to_be_hidden()
        expect(watched.launcher).to_be_visible()
        watched.assert_clean()
    finally:
        context.close()


def test_colours_meet_wcag_aa_contrast(chat: Chat) -> None:
    chat.open()
    chat.say(GIBBERISH)
    pairs = [
        ["launcher", ".redress-launcher", None, None],
        ["heading", ".redress-title", None, ".redress-header"],
        ["greeting", ".redress-greeting", None, None],
        ["customer message", ".redress-msg--customer .redress-bubble", None, None],
        ["assistant message", ".redress-msg--bot .redress-bubble", None, None],
        ["time", ".redress-time", None, ".redress-panel"],
        ["reply button", ".redress-choice", None, None],
        ["message box", ".redress-input", None, None],
        ["send button", ".redress-send", None, None],
    ]
    ratios = dict(chat.page.evaluate(CONTRAST, pairs))
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios


def test_a_screenshot_of_a_conversation(chat: Chat) -> None:
    chat.sign_in("BL-100005")  # logged in on the business's site, so the remedy is offered
    chat.open()
    chat.say("BL-100005 here. my wifi has been down since yesterday morning, sort it out")
    # The newest reply, the offer to put it right, and its buttons are in full view.
    expect(chat.page.get_by_text("I'm sorry your wifi has been down")).to_be_visible()
    expect(chat.page.get_by_text("To make up for this")).to_be_in_viewport(ratio=1)
    expect(chat.page.get_by_role("button", name="No, thanks")).to_be_in_viewport(ratio=1)
    chat.page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    chat.page.screenshot(path=ARTIFACTS / "widget-conversation.png")
    assert (ARTIFACTS / "widget-conversation.png").stat().st_size > 10_000
