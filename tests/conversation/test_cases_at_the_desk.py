"""Conversation test: a complaint that needs no person in the conversation still reaches its
team. The trained model, the action server and the gateway, with the Slack desk connected to
the fake Slack Web API and the Network team given a channel of its own in teams.yml.

The messages here are written for this test and are not in the training data.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.slack.blocks import local_clock
from redress.business import Business
from redress.settings import REPO_ROOT
from tests.fakes.slack_api import DESK_CHANNEL, FakeSlack
from tests.stack import MODEL, Stack, texts

pytestmark = pytest.mark.conversation

NETWORK = "C0NETWORK1"
SECRET = "slack-signing-secret-for-the-conversation-tests"


def _business_with_network_channel(folder: Path) -> Path:
    shutil.copytree(REPO_ROOT / "business", folder)
    teams = yaml.safe_load((folder / "teams.yml").read_text())
    teams["teams"]["network"]["slack_channel"] = NETWORK
    (folder / "teams.yml").write_text(yaml.safe_dump(teams))
    return folder


def test_a_complaint_with_no_handoff_appears_on_its_teams_channel(
    tmp_path: Path, business: Business
) -> None:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` first.")
    folder = _business_with_network_channel(tmp_path / "business")
    with FakeSlack() as slack:
        slack.add_channel(NETWORK, "network-team")
        env = {
            "REDRESS_BUSINESS_DIR": str(folder),
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_ESCALATION_CHANNEL": DESK_CHANNEL,
            "SLACK_API_URL": slack.base_url,
        }
        stack = Stack(tmp_path, business, extra_env=env)
        try:
            for name in ("actions", "rasa", "gateway"):
                stack.start(name)
            stack.wait_until_ready()
            # Not signed in: nothing is offered, so nothing needs a person's approval.
            conversation_id, _ = stack.say(
                None,
                "the broadband crawls every evening, videos just keep buffering",
                signed_in=False,
            )
            said = []
            for answer in ("BL-100005", "since about last tuesday", "LS6 2AB", "no"):
                _, replies = stack.say(conversation_id, answer, signed_in=False)
                said.append(texts(replies))
                if "logged this as" in said[-1]:
                    break
            assert "logged this as" in said[-1], said

            record = stack.record(conversation_id)
            assert record["handoffs"] == []
            complaint = record["complaints"][0]
            assert complaint["team"] == "network"
            reply_by = next(p for p in complaint["promises"] if p["kind"] == "reply_by")
            posts = slack.wait_for(
                lambda: [
                    c for c in slack.calls("chat.postMessage") if c.params["channel"] == NETWORK
                ],
                30,
                "the case card in the Network team's channel",
            )
            assert len(posts) == 1
            assert not [
                c for c in slack.calls("chat.postMessage") if c.params["channel"] != NETWORK
            ]
            card = json.dumps(posts[0].params["blocks"], ensure_ascii=False)
            assert f"Case {complaint['reference']} · Network team" in card
            due = datetime.fromisoformat(reply_by["due_at"])
            due = due if due.tzinfo else due.replace(tzinfo=timezone.utc)
            when = local_clock(due, datetime.now(timezone.utc), ZoneInfo(business.hours.timezone))
            assert f"Reply due by {when}" in card, card
            assert "Needs a person" not in card
        finally:
            stack.close()
