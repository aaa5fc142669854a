"""The rules erasure and export apply before touching any store: which selector, which
request reference, and what counts as naming the customer in free text."""

from __future__ import annotations

import pytest

from redress.privacy.erasure import ERASED, chat_ids, mentions, scrub
from redress.privacy.subject import SubjectError, check_request_reference, choose


def test_exactly_one_selector_well_formed() -> None:
    assert choose("bl 100001", None) == ("account", "BL-100001")
    assert choose(None, "Zx_9-abc") == ("conversation", "Zx_9-abc")
    for account, conversation, code in [
        (None, None, "no_selector"),
        ("BL-100001", "Zx", "one_selector"),
        ("hello", None, "invalid_account_number"),
        (None, "../etc", "invalid_conversation_id"),
        (None, "x" * 65, "invalid_conversation_id"),
    ]:
        with pytest.raises(SubjectError) as refused:
            choose(account, conversation)
        assert refused.value.code == code


def test_request_references() -> None:
    assert check_request_reference(None) is None
    assert check_request_reference(" dr-7kq2mz ") == "DR-7KQ2MZ"
    for bad in ["", "DR-", "DR-7KQ2MZ'; drop", "XR-7KQ2MZ", "DR-" + "A" * 20]:
        with pytest.raises(SubjectError):
            check_request_reference(bad)


def test_only_identifiers_standing_on_their_own_are_scrubbed() -> None:
    names = ["Marigold Quenby", "BL-700001", "987654321"]
    text = "Grant for BL-700001 (marigold quenby), chat 987654321, ts 1987654321.5"
    assert scrub(text, names) == f"Grant for {ERASED} ({ERASED}), chat {ERASED}, ts 1987654321.5"
    nested = {"detail": ["BL-700001", {"who": "Marigold Quenby"}], "n": 3}
    assert scrub(nested, names) == {"detail": [ERASED, {"who": ERASED}], "n": 3}
    assert mentions(nested, names) and not mentions({"x": "BL-7000011"}, names)


def test_chat_ids_in_any_kind_of_update() -> None:
    update = {
        "update_id": 1,
        "callback_query": {"from": {"id": 42}, "message": {"chat": {"id": 42}, "text": "hi"}},
    }
    assert chat_ids(update) == {"42"}
    assert chat_ids({"message": {"chat": {"id": -100}, "from": {"id": 7}}}) == {"-100", "7"}
