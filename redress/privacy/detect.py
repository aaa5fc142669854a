"""Personal data in what customers type: found by fixed rules, and masked for readers who do not
need it (agents in Slack, logs, exports).

Every detector is a regular expression plus a check that makes a match believable: a card
number passes the Luhn check and starts like a real card; an IBAN passes the mod-97 check and
has its country's length; a phone number has a UK or international number's length; a
postcode's area exists. Dates of birth, CVVs and passwords are only found where the customer
names them (or, for a CVV and an expiry date, right after a card number), so ordinary dates,
times, amounts and this business's own references (``BL-100001``, ``RD-7K3QPX``,
``CR-7KQ2MZ``) are never taken.

Standard library only: the message path, the stores and the scripts all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """What a finding is. A ``str`` whose value is its name in lower case (Python 3.10 has no
    ``StrEnum``): ``Kind.CARD == "card"``."""

    CARD = "card"
    CVV = "cvv"
    EXPIRY = "expiry"
    IBAN = "iban"
    BANK_ACCOUNT = "bank_account"
    PHONE = "phone"
    EMAIL = "email"
    POSTCODE = "postcode"
    DATE_OF_BIRTH = "date_of_birth"
    PASSWORD = "password"  # noqa: S105 (the name of a kind, not a secret)

    def __str__(self) -> str:
        return self.value


ALL: frozenset[Kind] = frozenset(Kind)
NEVER_KEPT: frozenset[Kind] = frozenset({Kind.CARD, Kind.CVV, Kind.EXPIRY, Kind.PASSWORD})
"""Card details and passwords: masked before anything is stored, anywhere."""

DOT = "•"


@dataclass(frozen=True)
class Found:
    kind: Kind
    start: int
    end: int


@dataclass(frozen=True)
class Masked:
    text: str
    found: list[Found]
    """What was masked, at its place in the original text."""


# Spaces people (and their keyboards) put inside numbers: ordinary, no-break, thin, figure.
_SPACE = "[ \\t\\u00a0\\u2007\\u2009\\u202f]"
_DASH = "[-\\u2010\\u2011\\u2012\\u2013]"
_SEP = f"(?:{_SPACE}{{1,3}}|{_SPACE}?{_DASH}{_SPACE}?)"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdecimal())


def _masked_digits(text: str, keep_last: int) -> str:
    """Every digit but the last ``keep_last`` becomes a dot; spaces and signs stay."""
    total = sum(ch.isdecimal() for ch in text)
    seen = 0
    out = []
    for ch in text:
        if ch.isdecimal():
            seen += 1
            out.append(ch if seen > total - keep_last else DOT)
        else:
            out.append(ch)
    return "".join(out)


# --- payment cards -------------------------------------------------------------------------

# A run of digit groups, each group split from the next by a space or a dash.
_DIGIT_RUN = re.compile(rf"(?<![\w.,/£$€-])\d+(?:{_SEP}\d+)*(?![\w/£$€])(?![.,]\d)")
_GROUP = re.compile(r"\d+")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_shaped(digits: str) -> bool:
    """Starts and is as long as a card of a real scheme (Visa, Mastercard, Amex, Maestro,
    Discover, Diners, JCB, UnionPay)."""
    length = len(digits)
    first, two, four = digits[0], int(digits[:2]), int(digits[:4])
    if first == "4":
        return length in (13, 16, 19)
    if 2221 <= four <= 2720 or 51 <= two <= 55:
        return length == 16 or (two in (50, 56, 57, 58) and 12 <= length <= 19)
    if two in (34, 37):
        return length == 15
    if first == "3":
        return 14 <= length <= 19
    if first == "5" or first == "6":
        return 16 <= length <= 19
    return False


def _card_in(groups: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    """The widest run of consecutive groups that reads as a card number: (first, last)."""
    for first in range(len(groups)):
        widest, digits = None, ""
        for last in range(first, len(groups)):
            digits += groups[last][2]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _card_shaped(digits) and luhn_ok(digits):
                widest = (first, last)
        if widest is not None:
            return widest
    return None


_EXPIRY_DATE = r"(?:0?[1-9]|1[0-2])\s?[/\\-]\s?(?:20\d{2}|\d{2})(?![\d/])"
# Not the first half of "123 456": the one-time codes customers are e-mailed have six digits.
_CVV_DIGITS = rf"\d{{3,4}}(?![\d/:])(?![.,]\d)(?!{_SPACE}\d{{3}}(?!\d))"
# What may follow a card number directly and still be its expiry date or CVV.
_CARD_TAIL = re.compile(
    r"[\s,;]*(?:(?:and|&)\s+)?(?:(?:exp(?:iry|ires|iration)?\.?(?:\s+date)?"
    r"\s*(?::|-|is)?\s*)?(?P<expiry>(?:0?[1-9]|1[0-2])\s?/\s?(?:20\d{2}|\d{2})(?![\d/]))"
    r"|(?:(?:cvv2?|cvc2?|cv2|csc|security\s+code)\s*(?::|-|is)?\s*)?"
    rf"(?P<cvv>{_CVV_DIGITS}))",
    re.IGNORECASE,
)


def _cards(text: str) -> Iterator[Found]:
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start(), m.end(), m.group()) for m in _GROUP.finditer(run.group())]
        found = _card_in(groups)
        if found is None:
            continue
        start = run.start() + groups[found[0]][0]
        end = run.start() + groups[found[1]][1]
        yield Found(Kind.CARD, start, end)
        yield from _card_tail(text, end)


def _card_tail(text: str, position: int) -> Iterator[Found]:
    """An expiry date and a CVV written right after a card number, in either order."""
    taken: set[str] = set()
    for _ in range(2):
        tail = _CARD_TAIL.match(text, position)
        if tail is None:
            return
        kind = "expiry" if tail.group("expiry") else "cvv"
        if kind in taken:
            return
        taken.add(kind)
        yield Found(Kind.EXPIRY if kind == "expiry" else Kind.CVV, *tail.span(kind))
        position = tail.end()


_CVV_NAMED = re.compile(
    r"\b(?:cvv2?|cvc2?|cv2|csc|card\s+verification\s+(?:code|value|number)"
    r"|security\s+(?:code|number|digits)|(?:3|4|three|four)[\s-]digit\s+(?:security\s+)?code"
    r"|(?:3|three)\s+digits\s+on\s+the\s+back)\b"
    rf"\s*(?:number|no\.?|code)?\s*(?::|-|=|is|was)?\s*(?P<value>{_CVV_DIGITS})",
    re.IGNORECASE,
)
_EXPIRY_NAMED = re.compile(
    r"\b(?:exp(?:iry|ires|ired|iration|\.)?|valid\s+(?:thru|through|until|till|to)|good\s+thru)"
    r"(?:\s+date)?\s*(?::|-|=|is|on|of)?\s*"
    rf"(?P<value>{_EXPIRY_DATE})",
    re.IGNORECASE,
)


def _named(pattern: re.Pattern[str], kind: Kind) -> Callable[[str], Iterator[Found]]:
    def detect(text: str) -> Iterator[Found]:
        for match in pattern.finditer(text):
            yield Found(kind, *match.span("value"))

    return detect


# --- bank details --------------------------------------------------------------------------

# Length of an IBAN, by country (the IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![\w])([A-Za-z]{2})(\d{2})")
_IBAN_SPACE = frozenset(" \u00a0\u2009\u202f-")


def iban_ok(compact: str) -> bool:
    """The mod-97 check of ISO 13616 on an IBAN with no spaces."""
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged.upper())
    return int(number) % 97 == 1


def _ibans(text: str) -> Iterator[Found]:
    for start_match in _IBAN_START.finditer(text):
        country = start_match.group(1).upper()
        length = IBAN_LENGTHS.get(country)
        if length is None:
            continue
        compact, position = [], start_match.start()
        while position < len(text) and len(compact) < length:
            ch = text[position]
            if ch.isascii() and ch.isalnum():
                compact.append(ch)
            elif not (ch in _IBAN_SPACE and compact and text[position - 1] not in _IBAN_SPACE):
                break
            position += 1
        after = text[position] if position < len(text) else ""
        if len(compact) == length and not after.isalnum() and iban_ok("".join(compact)):
            yield Found(Kind.IBAN, start_match.start(), position)


_SORT_CODE = rf"\d{{2}}(?:{_DASH}|{_SPACE})?\d{{2}}(?:{_DASH}|{_SPACE})?\d{{2}}"
_ACCOUNT_DIGITS = rf"(?<![\w-])(?:\d{{8}}|\d{{4}}{_SPACE}\d{{4}})(?![\w-])"
_SORT_CODE_NAMED = re.compile(
    rf"\bsort[\s-]?code\b\s*(?:is|:|-|=)?\s*(?P<value>{_SORT_CODE})(?![\w-])", re.IGNORECASE
)
# 20-00-00 12345678, or 20-00-00, account 12345678: a sort code with its dashes, then an account.
_SORT_CODE_PAIR = re.compile(
    rf"(?<![\w-])(?P<value>\d{{2}}{_DASH}\d{{2}}{_DASH}\d{{2}})(?![\w-])"
    r"(?=[\s,/]*(?:(?:account|acc|acct|a/c)\b\.?(?:\s*(?:number|no\.?|num))?\s*(?::|is)?\s*)?"
    rf"{_ACCOUNT_DIGITS})",
    re.IGNORECASE,
)
_ACCOUNT_NAMED = re.compile(
    r"\bbank\s+(?:account|acc|acct|a/c)\b(?:\s*(?:number|no\.?|num))?\s*(?::|is|-)?\s*"
    rf"(?P<value>{_ACCOUNT_DIGITS})",
    re.IGNORECASE,
)
_ACCOUNT_NEAR_SORT_CODE = re.compile(_ACCOUNT_DIGITS)
_NEAR = 60  # characters between a sort code and its account number


def _bank_accounts(text: str) -> Iterator[Found]:
    sort_codes = {m.span("value") for m in _SORT_CODE_NAMED.finditer(text)}
    sort_codes |= {m.span("value") for m in _SORT_CODE_PAIR.finditer(text)}
    accounts = {m.span("value") for m in _ACCOUNT_NAMED.finditer(text)}
    for start, end in sort_codes:
        yield Found(Kind.BANK_ACCOUNT, start, end)
        for m in _ACCOUNT_NEAR_SORT_CODE.finditer(text):
            if (start - _NEAR <= m.start() and m.end() <= start) or end <= m.start() <= end + _NEAR:
                accounts.add(m.span())
    for start, end in accounts:
        yield Found(Kind.BANK_ACCOUNT, start, end)


# --- phone numbers -------------------------------------------------------------------------

_BEFORE_NUMBER = r"(?<![\w+/.\\-])"
_AFTER_NUMBER = r"(?![\w/\\-])(?![.,]\d)"
_INTERNATIONAL = re.compile(
    rf"{_BEFORE_NUMBER}(?:\+|\b00){_SPACE}?[1-9](?:(?:{_SPACE}|{_DASH})?(?:\(0\)|\(\d{{1,5}}\)|\d))"
    rf"{{6,16}}{_AFTER_NUMBER}"
)
_UK_NATIONAL = re.compile(
    rf"{_BEFORE_NUMBER}(?:\(0[1-9]\d{{1,3}}\)|0[1-9]\d{{1,3}})(?:(?:{_SPACE}|{_DASH})?\d){{5,8}}"
    rf"{_AFTER_NUMBER}"
)
_NORTH_AMERICAN = re.compile(
    rf"{_BEFORE_NUMBER}(?:\([2-9]\d{{2}}\){_SPACE}?|[2-9]\d{{2}}(?P<sep>[-.]))"
    rf"[2-9]\d{{2}}[-.]\d{{4}}{_AFTER_NUMBER}"
)
_LAST_GROUP = re.compile(rf"(?:{_SPACE}|{_DASH})+\(?\d+\)?$")


def _uk_digits_ok(national: str) -> bool:
    """A UK number without its 0: geographic (1, 2), non-geographic (3, 5, 8), mobile (7)."""
    if national[:1] in ("2", "3", "5", "7"):
        return len(national) == 10
    return national[:1] in ("1", "8") and len(national) in (9, 10)


def _international_ok(candidate: str) -> bool:
    digits = _digits(candidate.replace("(0)", ""))
    if candidate.startswith("00"):
        digits = digits[2:]
    if digits.startswith("44"):
        return _uk_digits_ok(digits[2:])
    return 8 <= len(digits) <= 15


def _national_ok(candidate: str) -> bool:
    return _uk_digits_ok(_digits(candidate)[1:])


def _shortened(match: re.Match[str], valid: Callable[[str], bool]) -> tuple[int, int] | None:
    """The match, less any trailing groups that are not part of the number."""
    candidate = match.group()
    while candidate:
        if valid(candidate):
            return match.start(), match.start() + len(candidate)
        shorter = _LAST_GROUP.sub("", candidate)
        if shorter == candidate:
            return None
        candidate = shorter
    return None


def _phones(text: str) -> Iterator[Found]:
    for pattern, valid in ((_INTERNATIONAL, _international_ok), (_UK_NATIONAL, _national_ok)):
        for match in pattern.finditer(text):
            span = _shortened(match, valid)
            if span is not None:
                yield Found(Kind.PHONE, *span)
    for match in _NORTH_AMERICAN.finditer(text):
        if match.group("sep") is None or match.group().count(match.group("sep")) == 2:
            yield Found(Kind.PHONE, *match.span())


# --- e-mail addresses and postcodes --------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w][\w.%+'-]*@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w-])"
    r"(?!\.[^\W\d_])"
)

# The 121 postcode areas, and BFPO's.
_AREAS = (
    "AB AL B BA BB BD BF BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN "
    "DT DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L "
    "LA LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA "
    "SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS "
    "WV YO ZE "
)
POSTCODE_AREAS = frozenset(_AREAS.split())
_POSTCODE = re.compile(
    r"(?<![\w-])(?P<area>[A-Za-z]{1,2})(?P<district>\d[A-Za-z\d]?)"
    rf"{_SPACE}?(?P<inward>\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{{2}})(?![\w-])"
)
# Sizes and ordinals that are shaped like an inward code: "s10 4gb", "b1 1st".
_NOT_INWARD = frozenset({"GB", "TB"})
_NOT_INWARD_LOWER = frozenset({"st", "nd", "rd", "th"})


_CENTRAL_LONDON = frozenset({"E", "EC", "N", "NW", "SE", "SW", "W", "WC"})


def _postcodes(text: str) -> Iterator[Found]:
    for match in _POSTCODE.finditer(text):
        area, district = match.group("area"), match.group("district")
        letters = match.group("inward")[1:]
        if area.upper() not in POSTCODE_AREAS or letters.upper() in _NOT_INWARD:
            continue
        if letters in _NOT_INWARD_LOWER:
            continue
        # "A9A" districts end in a letter only in central London; elsewhere the letter form is
        # a model or a word ("m4a", "ps4").
        if district[-1:].isalpha() and area.upper() not in _CENTRAL_LONDON:
            continue
        # Written without its space, a postcode is in capitals; "m277dw" is a printer.
        if not any(ch.isspace() for ch in match.group()) and not match.group().isupper():
            continue
        yield Found(Kind.POSTCODE, *match.span())


# --- dates of birth ------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?:\d{{4}}|'?\d{{2}})"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})(?![\w/])"
)
_DATE_OF_BIRTH = re.compile(
    r"\b(?:d\.?o\.?b\b\.?|date\s+of\s+birth|birth\s?date|born(?:\s+on)?)"
    rf"\s*(?::|-|=|is|was)?\s*(?:the\s+)?(?P<value>{_DATE})",
    re.IGNORECASE,
)


# --- passwords -----------------------------------------------------------------------------

_SECRET_LABEL = r"(?:pass\s?word|passwd|pwd|passcode|pass\s+code)"  # noqa: S105
_PIN_LABEL = r"(?:pin(?:\s+(?:number|no\.?|code))?)"
_QUOTES = "\"'“”‘’`"
_PASSWORD = re.compile(
    rf"\b{_SECRET_LABEL}\b"
    r"(?P<joiner>\s*(?::|=|-)|\s+(?:is|was|now\s+is|is\s+now|'s|’s)\b:?|'s\b|’s\b|)"
    rf"\s*(?P<value>[{_QUOTES}][^{_QUOTES}\n]{{1,64}}[{_QUOTES}]|[^\s{_QUOTES}]+)",
    re.IGNORECASE,
)
_PIN = re.compile(
    rf"\b(?P<label>{_PIN_LABEL})\s*(?P<joiner>:|=|-|is|was|is\s+now|'s|’s)?\s*"
    r"(?P<value>\d{4,8})(?![\w/.,:])",
    re.IGNORECASE,
)
_TRAILING = ".,;:)]}"  # not "!" or "?": they may end a password
# What follows "my password is" in a complaint about the password rather than in the password.
_COMPLAINT_WORDS = (
    "a an the my your our this that it its not no never still also just now then too very wrong "
    "incorrect invalid expired locked blocked rejected correct right fine ok okay same old new "
    "different changed reset working broken gone lost forgotten weak strong short long case "
    "sensitive required needed missing empty blank and or but so because if when since for to "
    "of on in at with without by from up out off please help what which why how where there "
    "here been being be is was are were will would should could can cannot can't won't don't "
    "doesn't didn't isn't wasn't hidden secret saved stored stuck unknown "
)
_NOT_A_PASSWORD = frozenset(_COMPLAINT_WORDS.split())
_LOOKS_SECRET = re.compile(r"\d|[^\w\s]|[a-z][A-Z]")


def _password_value(match: re.Match[str]) -> tuple[int, int] | None:
    value = match.group("value")
    start, end = match.span("value")
    joiner = match.group("joiner").strip()
    if value[0] in _QUOTES:
        return (start + 1, end - 1) if value.strip(_QUOTES + DOT + " ") else None
    while value and value[-1] in _TRAILING:
        value, end = value[:-1], end - 1
    # A question or an exclamation ends the sentence more often than the password.
    bare = value.rstrip("!?")
    if not bare or set(value) <= {DOT} or len(bare) < 4:
        return None
    if not joiner:
        # "password Tr0ub4dor" but not "password reset?", a hashtag or a handle after it.
        secret = any(ch.isdecimal() for ch in bare) and bare[0] not in "#@"
        return (start, end) if secret and not _EXPIRY_LIKE.fullmatch(bare) else None
    if _LOOKS_SECRET.search(bare):
        return None if _EXPIRY_LIKE.fullmatch(bare) else (start, end)
    # A plain word is a password only when it is said to be one and the clause ends there:
    # "my password is sunshine." but not "my password is wrong" or "my passcode was denied".
    word = bare.lower()
    if word in _NOT_A_PASSWORD or word.endswith(_COMPLAINT_SUFFIXES):
        return None
    if re.match(r"\s*(?:$|[.,;!?\n]|(?:and|but)\b)", match.string[end:]) is None:
        return None
    return start, end


_COMPLAINT_SUFFIXES = ("ed", "ing", "ly", "able", "ible")
_EXPIRY_LIKE = re.compile(r"\d{1,2}[/:.]\d{1,2}(?:[/.]\d{2,4})?|\d+(?:st|nd|rd|th|am|pm)")


def _pin(match: re.Match[str]) -> bool:
    """A card or account PIN: four digits, or up to eight when the customer says it is the PIN.
    A six-digit "pin code" is an Indian postal code."""
    digits = match.group("value")
    if len(digits) == 4:
        return True
    return bool(match.group("joiner")) and "code" not in match.group("label").lower()


def _passwords(text: str) -> Iterator[Found]:
    for match in _PASSWORD.finditer(text):
        span = _password_value(match)
        if span is not None:
            yield Found(Kind.PASSWORD, *span)
    for match in _PIN.finditer(text):
        if _pin(match):
            yield Found(Kind.PASSWORD, *match.span("value"))


# --- finding and masking -------------------------------------------------------------------

# In this order: where two findings overlap, the earlier detector's wins, so what is never kept
# is never lost to a weaker reading of the same characters.
_DETECTORS: tuple[Callable[[str], Iterator[Found]], ...] = (
    _cards,
    _named(_CVV_NAMED, Kind.CVV),
    _named(_EXPIRY_NAMED, Kind.EXPIRY),
    _passwords,
    _ibans,
    _bank_accounts,
    _named(_DATE_OF_BIRTH, Kind.DATE_OF_BIRTH),
    lambda text: (Found(Kind.EMAIL, *m.span()) for m in _EMAIL.finditer(text)),
    _phones,
    _postcodes,
)


def _folded(text: str) -> str:
    """``text`` with full-width forms and every script's digits in ASCII, one character for one
    so positions stay the same: a phone number typed in full-width digits is still found."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch.isdecimal():
            out.append(str(int(ch)))
        elif "\uff01" <= ch <= "\uff5e":
            out.append(chr(ord(ch) - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def find(text: str) -> list[Found]:
    """Personal data in ``text``: non-overlapping, in text order."""
    folded = _folded(text)
    taken: list[Found] = []
    for detect in _DETECTORS:
        for found in detect(folded):
            if found.end > found.start and not any(
                found.start < other.end and other.start < found.end for other in taken
            ):
                taken.append(found)
    return sorted(taken, key=lambda f: f.start)


def _mask_one(kind: Kind, value: str) -> str:
    if kind is Kind.CARD:
        return f"{DOT * 4} {DOT * 4} {DOT * 4} {_digits(value)[-4:]}"
    if kind is Kind.CVV:
        return DOT * 3
    if kind is Kind.EXPIRY:
        return f"{DOT * 2}/{DOT * 2}"
    if kind is Kind.PASSWORD:
        return DOT * 8
    if kind is Kind.IBAN:
        compact = "".join(ch for ch in value if ch.isalnum())
        return f"{compact[:2].upper()}{DOT * 2} {DOT * 4} {DOT * 4} {DOT * 4} {compact[-4:]}"
    if kind is Kind.BANK_ACCOUNT:
        return _masked_digits(value, keep_last=2)
    if kind is Kind.PHONE:
        return _masked_digits(value, keep_last=3)
    if kind is Kind.EMAIL:
        at = _folded(value).rindex("@")
        return f"{value[0]}{DOT * 3}{value[at:]}"
    if kind is Kind.POSTCODE:
        compact = "".join(value.split())
        return f"{compact[:-3].upper()} {DOT * 3}"
    return f"{DOT * 2}/{DOT * 2}/{DOT * 4}"  # a date of birth


def mask(text: str, kinds: Collection[Kind] = ALL) -> Masked:
    """``text`` with the personal data of these kinds masked, in forms an agent can still read:
    a card keeps its last four digits, an e-mail its first letter and domain."""
    wanted = [found for found in find(text) if found.kind in kinds]
    parts, position = [], 0
    for found in wanted:
        parts.append(text[position : found.start])
        parts.append(_mask_one(found.kind, text[found.start : found.end]))
        position = found.end
    parts.append(text[position:])
    return Masked("".join(parts), wanted)


def mask_never_kept(text: str) -> Masked:
    """``text`` without card details or passwords: what may be stored at all."""
    return mask(text, NEVER_KEPT)
