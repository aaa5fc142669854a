"""The multi-turn conversation suite (tests/conversation/suite/*.yml), each conversation a
customer talking to the running assistant, checked after every turn and in the records at
the end for what a good agent would do. The same suite runs against any running stack with
scripts/conversation_suite.py, which prints the pass rate."""

from __future__ import annotations

import pytest

from scripts import conversation_suite as suite
from tests.stack import ADMIN_TOKEN, IDENTITY_SECRET, Stack

pytestmark = pytest.mark.conversation

CONVERSATIONS = suite.load()


@pytest.fixture(scope="module")
def customers(stack: Stack) -> dict[str, dict[str, str]]:
    people = suite.fresh_customers(stack.database_url, CONVERSATIONS)
    return {c.id: person for c, person in zip(CONVERSATIONS, people, strict=True)}


def test_the_suite_is_big_enough_to_mean_something() -> None:
    assert len(CONVERSATIONS) >= 40
    assert sum(len(c.turns) >= 3 for c in CONVERSATIONS) >= 40


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c.id)
def test_the_conversation_goes_as_a_good_agent_would(
    stack: Stack, customers: dict[str, dict[str, str]], conversation: suite.Conversation
) -> None:
    client = suite.Client(stack.gateway, ADMIN_TOKEN, stack.http, identity_secret=IDENTITY_SECRET)
    outcome = suite.run_one(client, conversation, customers[conversation.id])
    assert outcome.passed, "\n".join([conversation.about, *outcome.failures, *outcome.transcript])
