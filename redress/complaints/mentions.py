"""Several problems in one message: "the internet keeps cutting out, and you've charged me
£15 for a router I sent back" is two complaints, not one.

The NLU reads the whole message and names its main problem. This module finds the others:
it splits the message into clauses and reads each clause's words for the kind of problem it
tells (plain words that say one kind of problem and little else). A problem counts only if
the NLU also gave its category some weight for the whole message, so a word alone does not
invent a complaint. Deterministic and explainable: each extra problem comes with the clause
that told it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from redress.complaints.categories import Category

# A clause must say this much to tell a problem of its own.
MIN_CLAUSE_WORDS = 4
MAX_PROBLEMS = 3
# The NLU's weight for a category across the whole message, at least, for a clause's
# words to count as that problem.
MIN_RANKED = 0.002

_SPLIT = re.compile(
    r"(?:[.!?;]+|\n)\s*|"
    r"\s*,?\s+(?:and also|and then|also|plus|on top of that|not to mention|as well as that|"
    r"and to top it (?:all )?off|and now|and when|and yet)\s+|"
    r"\s*,\s*and\s+|\s+and\s+(?=(?:you|you've|youve|your|i|i've|ive|i'm|im|my|the|they|"
    r"then|it's|its|nobody|no one|now)\b)",
    re.IGNORECASE,
)


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(patterns) + r")(?![\w])", re.IGNORECASE)


# Words that tell one kind of problem. Order matters only for ties (first wins).
CUES: tuple[tuple[Category, re.Pattern[str]], ...] = (
    (Category.OUTAGE, _words(
        r"no (internet|broadband|wifi|wi-fi|connection|service|signal|dial ?tone|phone line)",
        r"(internet|broadband|wifi|wi-fi|connection|line|landline|phone|service|tv)"
        r" (is |has been |went |has gone |'s |s )?(down|dead|off|out)",
        r"offline", r"outage", r"not working at all",
    )),
    (Category.SLOW_SERVICE, _words(
        r"slow", r"buffer\w*", r"unreliable", r"\d+ ?(mbps|megs?|mb)", r"lag\w*",
        r"(internet|broadband|wifi|wi-fi|connection|signal|line|it)\b.{0,30}"
        r"(drop(s|ping|ped)?( out| off)?|cut(s|ting)? out|disconnect\w*|keeps going off)",
    )),
    (Category.BILLING, _words(
        r"overcharg\w*", r"charg(ed|ing) (me|us|twice|two times?|for)", r"double charg\w*",
        r"(bill|direct debit|price|payment)\b.{0,30}(wrong|gone up|went up|increase\w*|"
        r"higher|doubled|twice|two times?|more than)", r"price (rise|increase|hike)",
        r"took (money|£\d+)", r"tak(e|en|ing) (my |the )?(money|payment|£\d+)",
        r"(money|payment) (taken|twice|two times?)",
    )),
    (Category.REFUND, _words(
        r"refund\w*", r"money back", r"owed", r"£\d+(\.\d\d)? back", r"reimburs\w*",
    )),
    (Category.DELAY, _words(
        r"(still )?(not|hasn'?t|haven'?t|never) (arrived|come|turned up|shown up|here)",
        r"(didn'?t|did not|never) (turn|show) up", r"no[- ]show",
        r"missed (the |my )?(appointment|visit|slot)", r"(days?|weeks?) (late|later than)",
        r"still waiting (for|on) (the |my |an )?(engineer|router|hub|delivery|installation)",
    )),
    (Category.FAULTY_EQUIPMENT, _words(
        r"(router|hub|box|booster|modem|extender|set.?top box|remote|tv box)\b.{0,30}"
        r"(broken|faulty|dead|not working|doesn'?t work|won'?t (power|turn|switch)|"
        r"keeps (restarting|rebooting|freezing|crashing)|blinking|flashing|no lights)",
    )),
    (Category.STAFF_CONDUCT, _words(
        r"rude", r"hung up", r"put the phone down", r"laughed", r"on hold", r"(cut|cuts) me off",
        r"unhelpful", r"condescending", r"patronising", r"call ?back (that )?never came",
        r"never (rang|called) (me )?back", r"(nobody|no one) (rang|called) (me )?back",
        r"(promised|said they would) (to )?(call|ring) (me )?back",
    )),
    (Category.ACCOUNT_ACCESS, _words(
        r"locked (me )?out", r"can'?t (log|sign) ?in", r"password", r"reset link",
        r"account (is |has been |got )?locked", r"log ?in (page|details)",
    )),
    (Category.CANCELLATION, _words(
        r"cancel\w*", r"leav(e|ing) you", r"switch(ing)? (provider|to)",
    )),
)  # fmt: skip
# A wrong charge and wanting the money back are usually one problem; they are two only when
# the other part has a history of its own ("the refund you promised in August never came").
SAME_PROBLEM = (frozenset({Category.BILLING, Category.REFUND}),)
_OWN_HISTORY = _words(
    r"promised", r"still", r"never", r"waiting", r"hasn'?t (come|arrived)", r"weeks? ago",
    r"months? ago", r"last (month|year)", r"in (january|february|march|april|may|june|july|"
    r"august|september|october|november|december)",
)  # fmt: skip

# Which problem leads when a message has several: the service first, then money, then the
# rest (what the customer pays for comes first).
LEAD_ORDER = (
    Category.OUTAGE,
    Category.SLOW_SERVICE,
    Category.FAULTY_EQUIPMENT,
    Category.DELAY,
    Category.BILLING,
    Category.REFUND,
    Category.ACCOUNT_ACCESS,
    Category.STAFF_CONDUCT,
    Category.CANCELLATION,
    Category.OTHER,
)


@dataclass(frozen=True)
class Problem:
    category: Category
    text: str  # the clause that told it (the whole message for the main one)


def clauses(text: str) -> list[str]:
    """The parts of a message that could each tell a problem."""
    parts = [p.strip(" ,-") for p in _SPLIT.split(text) if p and p.strip(" ,-")]
    return [p for p in parts if len(p.split()) >= MIN_CLAUSE_WORDS]


def cued(clause: str) -> list[Category]:
    return [category for category, words in CUES if words.search(clause)]


def tells_another_problem(text: str, open_categories: set[Category]) -> bool:
    """Whether ``text`` names a kind of problem not among those already open."""
    return any(c not in open_categories for c in cued(text))


def problems_in(
    text: str, main: Category, ranked: Mapping[Category, float] | None = None
) -> list[Problem]:
    """Every problem ``text`` tells, the main one first unless a problem with the service
    itself is among the others (then that leads). ``ranked``: the NLU's weight for each
    category over the whole message."""
    weights = ranked or {}
    found = [Problem(main, text)]
    parts = clauses(text)
    if len(parts) >= 2:
        for clause in parts:
            kinds = [c for c in cued(clause) if weights.get(c, 0.0) >= MIN_RANKED]
            if not kinds or main in cued(clause):
                continue  # this clause tells the main problem (or nothing we can name)
            best = max(kinds, key=lambda c: weights.get(c, 0.0))
            if frozenset({main, best}) in SAME_PROBLEM and not _OWN_HISTORY.search(clause):
                continue
            if all(p.category is not best for p in found):
                found.append(Problem(best, clause))
    found = found[:MAX_PROBLEMS]
    return sorted(found, key=lambda p: LEAD_ORDER.index(p.category))
