"""The personal-data detector: what it finds in customers' own words, what it leaves alone, and
how it masks."""

from __future__ import annotations

import itertools

import pytest

from redress.privacy.detect import (
    ALL,
    NEVER_KEPT,
    Found,
    Kind,
    Masked,
    find,
    iban_ok,
    luhn_ok,
    mask,
    mask_never_kept,
)


def found(text: str) -> list[tuple[str, str]]:
    """(kind, the characters found) for each finding, in order."""
    return [(f.kind.value, text[f.start : f.end]) for f in find(text)]


# --- positive cases: each kind, in a sentence a customer might send --------------------------

FOUND = [
    # cards
    (
        "my card number is 4111 1111 1111 1111 exp 12/27 cvv 123 and you still charged me twice",
        [("card", "4111 1111 1111 1111"), ("expiry", "12/27"), ("cvv", "123")],
    ),
    (
        "you took £30 twice from 5555-5555-5555-4444, expires 03/2028, security code 737",
        [("card", "5555-5555-5555-4444"), ("expiry", "03/2028"), ("cvv", "737")],
    ),
    (
        "refund it to 4111111111111111 12/27 123 please",
        [("card", "4111111111111111"), ("expiry", "12/27"), ("cvv", "123")],
    ),
    (
        "card 4111111111111111, 123, 09/26",
        [("card", "4111111111111111"), ("cvv", "123"), ("expiry", "09/26")],
    ),
    ("amex 3782 822463 10005 was charged", [("card", "3782 822463 10005")]),
    ("the cvc is 4821 if you need it", [("cvv", "4821")]),
    ("the expiry date is 11/29", [("expiry", "11/29")]),
    ("valid thru 01/30", [("expiry", "01/30")]),
    # bank details
    ("refund to GB82 WEST 1234 5698 7654 32 please", [("iban", "GB82 WEST 1234 5698 7654 32")]),
    ("my iban is DE89370400440532013000.", [("iban", "DE89370400440532013000")]),
    ("iban gb82west12345698765432", [("iban", "gb82west12345698765432")]),
    (
        "sort code 20-00-00 account 12345678 for the refund",
        [("bank_account", "20-00-00"), ("bank_account", "12345678")],
    ),
    (
        "account 12345678, sort code 200000",
        [("bank_account", "12345678"), ("bank_account", "200000")],
    ),
    ("pay it into 40-47-84 31926819", [("bank_account", "40-47-84"), ("bank_account", "31926819")]),
    ("my bank account number is 55779911", [("bank_account", "55779911")]),
    (
        "sort code 20 00 00 account 1234 5678",
        [("bank_account", "20 00 00"), ("bank_account", "1234 5678")],
    ),
    # phones
    ("ring me on 07700 900123 after six", [("phone", "07700 900123")]),
    ("call +44 7700 900123", [("phone", "+44 7700 900123")]),
    ("landline 020 7946 0958 is dead", [("phone", "020 7946 0958")]),
    ("landline (020) 7946 0958 is dead", [("phone", "(020) 7946 0958")]),
    ("my number: +44 (0)20 7946 0958", [("phone", "+44 (0)20 7946 0958")]),
    ("07700900123", [("phone", "07700900123")]),
    ("your freephone 0800 800 150 just rings out", [("phone", "0800 800 150")]),
    (
        "0161 496 0000 or 0044 161 496 0000",
        [("phone", "0161 496 0000"), ("phone", "0044 161 496 0000")],
    ),
    ("I'm abroad, +33 1 23 45 67 89", [("phone", "+33 1 23 45 67 89")]),
    ("my US cell (415) 555-2671", [("phone", "(415) 555-2671")]),
    # e-mail
    ("email me at john.smith@example.co.uk.", [("email", "john.smith@example.co.uk")]),
    ("it's J_O'Neil+bills@mail.example.com", [("email", "J_O'Neil+bills@mail.example.com")]),
    ("send it to 'ann@example.org'", [("email", "ann@example.org")]),
    # postcodes
    ("no signal at SW1A 1AA since monday", [("postcode", "SW1A 1AA")]),
    ("I'm in m1 1ae", [("postcode", "m1 1ae")]),
    ("outage in EC1A 1BB and B33 8TH?", [("postcode", "EC1A 1BB"), ("postcode", "B33 8TH")]),
    ("postcode CR26XH", [("postcode", "CR26XH")]),
    # dates of birth
    ("dob 12/03/1980", [("date_of_birth", "12/03/1980")]),
    ("date of birth: 3rd March 1980", [("date_of_birth", "3rd March 1980")]),
    ("I was born on March 3, 1980", [("date_of_birth", "March 3, 1980")]),
    ("D.O.B. 1980-03-12", [("date_of_birth", "1980-03-12")]),
    # passwords and PINs
    ("my password is hunter2 and it still won't log in", [("password", "hunter2")]),
    ("password: Tr0ub4dor&3", [("password", "Tr0ub4dor&3")]),
    ("my password is sunshine.", [("password", "sunshine")]),
    ("the password is 'correct horse battery'", [("password", "correct horse battery")]),
    ("my pin is 1234", [("password", "1234")]),
    ("PIN 4321 doesn't work at the machine", [("password", "4321")]),
    ("new pin is 123456", [("password", "123456")]),
]


@pytest.mark.parametrize(("text", "expected"), FOUND)
def test_finds_personal_data(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


# --- negative cases: what looks like personal data and is not --------------------------------

NOT_FOUND = [
    "my account is BL-100001 and I was charged £49.50 not 49.50",
    "complaint RD-7K3QPX, credit CR-7KQ2MZ, still nothing",
    "the engineer came at 10:30 on 12/03/2024 and left at 11:15",
    "it's been down since 03/12 and again on 2024-12-06",
    "the card ending 1234 was charged twice",
    "card ending in 4444, last four 1111",
    "order 4111111111111112 never arrived",  # fails Luhn
    "order 113542617735902 never arrived",  # passes Luhn, but no card starts with 1
    "tracking 1Z999AA10123456784 is stuck",
    "@BrightlineHelp my internet is down again",
    "thanks @virginmedia.com for nothing",
    "my password is wrong and the reset link doesn't work",
    "my password isn't working",
    "my passcode was denied",
    "I reset my password 3 times and it still fails",
    "password reset? how",
    "pin code 851133 please deliver",
    "my contract ends 12/27",
    "galaxy s10 4gb and b1 1st floor, m2 8gb",
    "printer m277dw jams",
    "I'm on the 500 Mbps plan, router model DSL-2750U, 1,234,567 customers",
    "IBAN GB00 WEST 1234 5698 7654 32",  # fails mod-97
    "born in 1980 and still waiting",
    "the bill dated 12/03/1980",
    "call 999 or 111 if it's urgent",
    "cvv",
    "the security code you e-mailed is 123 456",  # a one-time code, not a CVV
    "security code 123456 doesn't work",
    "",
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_leaves_alone_what_is_not_personal_data(text: str) -> None:
    assert find(text) == []


def test_a_card_with_a_cvv_needs_no_label() -> None:
    assert found("4111 1111 1111 1111 123") == [
        ("card", "4111 1111 1111 1111"),
        ("cvv", "123"),
    ]


def test_a_number_after_a_card_that_is_not_its_cvv() -> None:
    assert found("4111 1111 1111 1111 charged 3 times") == [("card", "4111 1111 1111 1111")]


# --- Unicode, odd spacing, long text ----------------------------------------------------------


UNICODE = [
    ("card 4111\u00a01111\u00a01111\u00a01111", [("card", "4111\u00a01111\u00a01111\u00a01111")]),
    ("card 4111\u20091111\u20091111\u20091111", [("card", "4111\u20091111\u20091111\u20091111")]),
    ("card 4111 – 1111 – 1111 – 1111", [("card", "4111 – 1111 – 1111 – 1111")]),
    ("card 4111  1111  1111  1111", [("card", "4111  1111  1111  1111")]),
    ("“my password is hunter2” 😡", [("password", "hunter2")]),
    ("José’s email is josé@correo.es", [("email", "josé@correo.es")]),
    ("ring 07700\u00a0900123", [("phone", "07700\u00a0900123")]),
    ("Ｔｅｌ ０７７００ ９００１２３", [("phone", "０７７００ ９００１２３")]),
    ("card ４１１１ １１１１ １１１１ １１１１", [("card", "４１１１ １１１１ １１１１ １１１１")]),
    ("ｍｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", [("email", "ｍｅ＠ｅｘａｍｐｌｅ．ｃｏｍ")]),
]


@pytest.mark.parametrize(("text", "expected"), UNICODE)
def test_unicode_and_odd_spacing(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_long_text() -> None:
    filler = "the broadband has been dropping every evening and nobody calls back. " * 400
    text = filler + "my card is 4111 1111 1111 1111 and email a@b.co " + filler + "SW1A 1AA"
    assert [f.kind for f in find(text)] == [Kind.CARD, Kind.EMAIL, Kind.POSTCODE]
    assert mask(text).text.count("•••• •••• •••• 1111") == 1


def test_findings_are_in_order_and_never_overlap() -> None:
    text = (
        "dob 01/02/1990, phone 07700 900123, card 4111 1111 1111 1111 12/27 999, "
        "sort code 20-00-00 account 12345678, postcode M1 1AE, email me@x.org, pin is 4321"
    )
    result = find(text)
    assert [f.start for f in result] == sorted(f.start for f in result)
    assert all(a.end <= b.start for a, b in itertools.pairwise(result))
    assert {f.kind for f in result} == ALL - {Kind.IBAN}


# --- masking ----------------------------------------------------------------------------------

MASKED = [
    (
        "my card number is 4111 1111 1111 1111 exp 12/27 cvv 123 and you still charged me twice",
        "my card number is •••• •••• •••• 1111 exp ••/•• cvv ••• and you still charged me twice",
    ),
    ("my password is hunter2 and pin is 1234", "my password is •••••••• and pin is ••••••••"),
    ("refund GB82 WEST 1234 5698 7654 32", "refund GB•• •••• •••• •••• 5432"),
    ("sort code 20-00-00 account 12345678", "sort code ••-••-00 account ••••••78"),
    ("call 07700 900123", "call ••••• •••123"),
    ("call +44 7700 900123", "call +•• •••• •••123"),
    ("email john.smith@example.com", "email j•••@example.com"),
    ("at sw1a 1aa", "at SW1A •••"),
    ("date of birth 12 March 1980", "date of birth ••/••/••••"),
    ("ｍｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｍ•••＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("card ４１１１ １１１１ １１１１ １１１１", "card •••• •••• •••• １１１１"),
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_mask_forms(text: str, expected: str) -> None:
    assert mask(text).text == expected


def test_mask_reports_positions_in_the_original_text() -> None:
    text = "card 4111 1111 1111 1111, email jo@example.com"
    result = mask(text)
    assert isinstance(result, Masked)
    assert [text[f.start : f.end] for f in result.found] == [
        "4111 1111 1111 1111",
        "jo@example.com",
    ]


def test_mask_only_the_kinds_asked_for() -> None:
    text = "card 4111 1111 1111 1111 cvv 123, phone 07700 900123, email jo@example.com"
    result = mask(text, {Kind.PHONE})
    assert result.text == (
        "card 4111 1111 1111 1111 cvv 123, phone ••••• •••123, email jo@example.com"
    )
    assert [f.kind for f in result.found] == [Kind.PHONE]


def test_mask_never_kept_keeps_what_may_be_stored() -> None:
    text = (
        "card 4111 1111 1111 1111 exp 12/27 cvv 123, password: hunter22, "
        "phone 07700 900123, email jo@example.com"
    )
    result = mask_never_kept(text)
    assert result.text == (
        "card •••• •••• •••• 1111 exp ••/•• cvv •••, password: ••••••••, "
        "phone 07700 900123, email jo@example.com"
    )
    assert {f.kind for f in result.found} == NEVER_KEPT
    assert result == mask(text, NEVER_KEPT)


def test_never_kept_is_card_details_and_passwords() -> None:
    assert frozenset({Kind.CARD, Kind.CVV, Kind.EXPIRY, Kind.PASSWORD}) == NEVER_KEPT


def test_nothing_to_mask_leaves_the_text_as_it_is() -> None:
    text = "my internet is down again, BL-100001"
    assert mask(text) == Masked(text, [])


IDEMPOTENT = [text for text, _ in FOUND + MASKED + UNICODE] + NOT_FOUND


@pytest.mark.parametrize("text", IDEMPOTENT)
def test_masking_masked_text_changes_nothing(text: str) -> None:
    for kinds in (ALL, NEVER_KEPT, {Kind.PHONE, Kind.EMAIL}):
        once = mask(text, kinds).text
        again = mask(once, kinds)
        assert again.text == once
        assert again.found == []


def test_masked_text_holds_nothing_left_to_find() -> None:
    for text, _ in FOUND + UNICODE:
        assert find(mask(text).text) == []


# --- the checks themselves ------------------------------------------------------------------


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")


def test_iban_mod_97() -> None:
    assert iban_ok("GB82WEST12345698765432")
    assert iban_ok("DE89370400440532013000")
    assert not iban_ok("GB82WEST12345698765433")


def test_kind_is_its_lower_case_name() -> None:
    assert Kind.DATE_OF_BIRTH == "date_of_birth"
    assert str(Kind.CARD) == "card"
    assert Found(Kind.CARD, 0, 4) == Found(Kind("card"), 0, 4)
