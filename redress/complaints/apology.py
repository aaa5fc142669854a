"""Names the customer's problem in their own words, for the one apology they get for it.

"I'm sorry your broadband has been down since Monday" lands; "I'm sorry for any
inconvenience" does not (docs/principles.md: 1). Each category picks the phrase that fits what the
customer actually wrote: which service, which device, how long, what happened.

A verified customer back with the same kind of problem hears that too, once, when the
complaint is logged and linked to the earlier one (``sorry_again``, ``told_on``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from redress.compensation.policy import granted_on
from redress.complaints.categories import Category
from redress.complaints.severity import COMPROMISE, DISCLOSURE, SAFETY
from redress.complaints.since import Since, find_since

SERVICES = (
    (r"wi-?fi", "wifi"), (r"broadband", "broadband"), (r"fibre|fiber", "fibre"),
    (r"internet|interweb|interent|intenet", "internet"), (r"\bnet\b", "internet"),
    (r"\btv\b|television|telly", "TV"), (r"landline|phone line|home phone", "landline"),
    (r"connection", "connection"), (r"signal", "signal"), (r"\bphone\b", "phone"),
)  # fmt: skip
DEVICES = (
    (r"\bhub\b", "hub"), (r"router", "router"), (r"modem", "router"),
    (r"(tv|set.?top|sky|freeview)? ?box", "TV box"), (r"remote", "remote"),
    (r"cable|wire|lead", "cable"), (r"booster|extender|mesh", "wifi booster"),
    (r"\bsim\b", "SIM"),
)  # fmt: skip


def describe_problem(category: Category, text: str, now: datetime) -> str:
    """A phrase that completes "I'm sorry ..." for this complaint."""
    lowered = text.lower()
    if DISCLOSURE.search(text):
        # Whatever else it is about, someone seeing their details is what it is.
        return "your details reached someone who should never have seen them"
    return DESCRIBERS[category](lowered, find_since(text, now))


def _first(table: tuple[tuple[str, str], ...], text: str, default: str) -> str:
    found = [(m.start(), word) for pattern, word in table if (m := re.search(pattern, text))]
    return min(found)[1] if found else default


def _has(text: str, *patterns: str) -> bool:
    return any(re.search(pattern, text) for pattern in patterns)


def _outage(text: str, since: Since | None) -> str:
    service = _first(SERVICES, text, "service")
    return (
        f"your {service} has been down {since.phrase}"
        if since
        else f"your {service} has stopped working"
    )


def _slow(text: str, since: Since | None) -> str:
    service = _first(SERVICES, text, "connection")
    if _has(text, r"drop", r"cut(s|ting)? out", r"disconnect", r"keeps? (going|cutting)"):
        problem = f"your {service} keeps dropping out"
    elif _has(text, r"buffer", r"pixel", r"freez", r"picture"):
        problem = f"your {service} keeps freezing"
    else:
        problem = f"your {service} has been so slow"
    return f"{problem} {since.phrase}" if since and "has been" in problem else problem


def _billing(text: str, since: Since | None) -> str:
    if _has(text, r"twice", r"double", r"two payments", r"charged 2", r"2 charges", r"duplicate"):
        return "we charged you twice"
    if _has(
        text,
        r"after (i |we )?(cancel|left|leaving|closed)",
        r"cancell?ed.*still",
        r"still (charg|tak)",
    ):
        return "we kept charging you after you cancelled"
    if _has(text, r"price (rise|increase|hike|went up|up)", r"gone up", r"went up", r"increase"):
        return "your bill went up without you expecting it"
    if _has(text, r"\bfees?\b", r"charge for", r"admin charge", r"penalty"):
        return "we added a charge you didn't expect"
    return "we got your bill wrong"


def _delay(text: str, since: Since | None) -> str:
    if _has(text, r"engineer|technician|tech guy|installer|no.?show|never (turned|showed)"):
        return "our engineer didn't turn up when we promised"
    if _has(text, r"call ?back|ring (me )?back|call me back|never (rang|called)"):
        return "nobody called you back when we said we would"
    if _has(text, r"install|set ?up|activation|go live|switch ?over"):
        return "your install is running late"
    if _has(text, r"repair|fix"):
        return "your repair is taking so long"
    if _has(text, r"deliver|parcel|courier|arriv|post|dispatch|order"):
        device = _first(DEVICES, text, "order")
        return f"your {device} still hasn't arrived"
    return "we've kept you waiting"


def _faulty(text: str, since: Since | None) -> str:
    device = _first(DEVICES, text, "kit")
    if SAFETY.search(text):
        return f"your {device} isn't safe to use"
    if _has(text, r"arrived (broken|damaged|smashed|cracked|dead)", r"out of the box", r"\bdoa\b"):
        return f"your new {device} arrived broken"
    if _has(text, r"overheat", r"too hot", r"hot to the touch"):
        return f"your {device} gets too hot"
    if _has(text, r"reboot", r"restart", r"turn(s|ing)? (itself )?off", r"switch(es|ing)? off"):
        return f"your {device} keeps restarting itself"
    if _has(text, r"dead", r"won'?t (turn|switch|power) on", r"no (power|lights?)", r"stopped"):
        return f"the {device} we gave you has stopped working"
    return f"the {device} we gave you isn't working right"


def _staff(text: str, since: Since | None) -> str:
    if _has(text, r"hung up|hang up|cut me off|put the phone down"):
        return "one of our team hung up on you"
    if _has(text, r"rude|shout|sarcas|patroni[sz]|condescend|laughed|swore|attitude|arrogant"):
        return "one of our team was rude to you"
    if _has(text, r"on hold|hold music|queue|waiting on the phone|held for"):
        return "we kept you on hold for so long"
    if _has(text, r"passed|transferred|bounced|pass(ing)? me|round in circles|another department"):
        return "you were passed from one person to another"
    if _has(text, r"ignor|no reply|no response|never (replied|answered|got back)|left on read"):
        return "we didn't reply to you"
    return "our team didn't give you the help you deserved"


def _refund(text: str, since: Since | None) -> str:
    if _has(
        text,
        r"still|waiting|promised|haven'?t|hasn'?t|not (yet )?(received|arrived|seen|got)",
        r"never (got|received|came|arrived|showed)|didn'?t (arrive|come)|where is",
    ):
        return "your refund still hasn't reached you"
    return "you've had to ask for your money back"


def _cancellation(text: str, since: Since | None) -> str:
    if _has(
        text,
        r"can'?t cancel|cannot cancel|won'?t let|tried to cancel|trying to cancel|impossible",
        r"keeps? (refusing|trying)|retention|exit fee|not letting",
    ):
        return "cancelling has been so hard"
    return "we've let you down enough that you want to leave"


def _access(text: str, since: Since | None) -> str:
    if COMPROMISE.search(text):
        return "someone may have got into your account"
    if _has(text, r"\bcodes?\b|otp|verif|two.?factor|2fa|text message"):
        return "the codes we send you aren't getting through"
    if _has(text, r"password|reset"):
        return "you can't reset your password"
    if _has(text, r"locked|lock(ed)? out|blocked|suspended"):
        return "you've been locked out of your account"
    return "you can't get into your account"


def _other(text: str, since: Since | None) -> str:
    if _has(text, r"marketing|spam|sales calls?|cold call|opted out|unsubscribe|junk"):
        return "we keep sending you marketing you asked us to stop"
    if _has(text, r"data|privacy|gdpr|personal (details|information)"):
        return "you're worried about how we've handled your details"
    if _has(text, r"letter|post|wrong address"):
        return "we got your letters wrong"
    return "we've let you down"


DESCRIBERS: dict[Category, Callable[[str, Since | None], str]] = {
    Category.OUTAGE: _outage,
    Category.SLOW_SERVICE: _slow,
    Category.BILLING: _billing,
    Category.DELAY: _delay,
    Category.FAULTY_EQUIPMENT: _faulty,
    Category.STAFF_CONDUCT: _staff,
    Category.REFUND: _refund,
    Category.CANCELLATION: _cancellation,
    Category.ACCOUNT_ACCESS: _access,
    Category.OTHER: _other,
}


def sorry_again(earlier_still_open: bool) -> str:
    """The repeat, said honestly: the problem is back, or, while the earlier complaint is
    still open, the customer has had to come back to us about it (not "it happened again",
    which may not be true)."""
    if earlier_still_open:
        return "I'm sorry you've had to tell us about this again."
    return "I'm sorry this has happened again."


def told_on(moment: datetime, now: datetime, zone: str) -> str:
    """When the earlier complaint was told, in the business's zone: 'earlier today',
    'yesterday', 'on 3 December' (with the year when it was not this year)."""
    day = granted_on(moment, now, zone)
    return "earlier today" if day == "today" else day
