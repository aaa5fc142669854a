"""Severity of a complaint, from what the customer said: deterministic rules with reasons.

Each rule adds points and a reason a person can read. Points map to a severity; safety risks,
and someone whose health or safety depends on the service (a care alarm, the only way to
reach a doctor, an elderly person living alone without it), are always critical; vulnerable
customers are never below high. The reasons are recorded
with the complaint so agents and reports can see why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from redress.complaints.categories import Category, Severity
from redress.complaints.since import find_since


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(patterns) + r")(?![\w])", re.IGNORECASE)


SAFETY = _words(
    r"spark(s|ing|ed)?", r"smok(e|ing|y)", r"burning( smell)?", r"smells? (of )?burn(ing|t)",
    r"(on|caught) fire", r"fire hazard", r"melt(ed|ing)", r"electric(al)? shock",
    r"shocked me", r"(exposed|live|bare) wires?", r"scorch(ed|ing)?",
)  # fmt: skip
VULNERABLE = _words(
    r"elderly", r"pensioner", r"aged? (8\d|9\d|1[01]\d)",
    r"(she's|he's|i'm|im|(mum|mom|dad|nan|gran|grandma|grandad|mother|father) is) "
    r"(8\d|9\d|1[01]\d)(?! ?(mb|mbps|meg|quid|pounds|p\b|%))",
    r"(8\d|9\d|1[01]\d)[- ]?(years?|yrs?)([- ]old)?", r"disab(led|ility)", r"wheelchair", r"carer",
    r"medical", r"oxygen", r"dialysis", r"(care|personal) alarm", r"lifeline", r"telecare",
    r"pacemaker", r"hospital", r"terminal(ly)? ill", r"cancer", r"chemo", r"new ?born",
    r"baby", r"pregnant", r"lives? alone", r"vulnerable", r"blind", r"deaf", r"dementia",
    r"relies on (the |her |his |my )?(landline|phone)",
)  # fmt: skip
# The service is how someone gets help: their health or safety depends on it working.
DEPENDS_ON_IT = _words(
    r"only way (to|i can|she can|he can|they can) (call|ring|phone|reach|contact|get)",
    r"(can'?t|cannot|no way to|unable to) (call|ring|phone|reach|contact) "
    r"(999|112|911|an ambulance|the doctor|my doctor|the gp|my gp|the surgery|for help|"
    r"anyone|emergency services|the hospital)",
    r"(care ?line|lifeline|telecare|personal alarm|pendant alarm|panic alarm|fall alarm|"
    r"emergency alarm|alarm (button|pendant)|community alarm)",
    r"(heart|blood pressure|glucose|sugar|oxygen|cardiac|dialysis) (monitor|machine|"
    r"concentrator|device|pump)",
    r"\w*dialysis", r"medical (device|equipment|alarm|monitor)", r"ventilator",
    r"insulin pump", r"oxygen (supply|machine|concentrator)",
    # A deaf customer's phone calls go through a text relay over the line.
    r"text ?relay", r"relay uk", r"textphone", r"minicom", r"typetalk",
    r"(needs?|relies on|depends on) (it|the (landline|phone|line|internet)) "
    r"(for|to) (her|his|my|their)? ?(health|medic\w*|doctor|safety|care)",
)  # fmt: skip
OLD_AGE = _words(
    r"aged? (8\d|9\d|1[01]\d)", r"(8\d|9\d|1[01]\d)[- ]?(years?|yrs?)([- ]old)?",
    r"(she's|he's|i'm|im|i am|she is|he is|(mum|mom|dad|nan|gran|grandma|grandad|mother|"
    r"father)('s| is)) (8\d|9\d|1[01]\d)(?! ?(mb|mbps|meg|quid|pounds|p\b|%))",
    r"elderly", r"pensioner",
)  # fmt: skip
ALONE = _words(
    r"lives? (alone|on (her|his|my|their) own|by (her|him|my)self)", r"living alone",
    r"on (her|his|my) own( at home)?", r"no one else (there|at home|in the house)",
    r"no family nearby", r"widow(ed|er)?",
)  # fmt: skip
CHILD = _words(
    r"toddler", r"baby", r"babies", r"new ?born", r"(my|our|the) (kids?|children|son|daughter)",
    r"(little|young) (one|ones|boy|girl|child|children)", r"\d{1,2}[- ]?(month|year)[- ]old",
)  # fmt: skip
# Circumstances that call for a person at once, though nothing is dangerous: grief, and
# money so short that our mistake hurts now.
BEREAVED = _words(
    r"passed away", r"bereave\w*", r"funeral", r"death in the family",
    # "died" of a person, never of a router or a battery.
    r"(mum|mother|mom|dad|father|husband|wife|partner|son|daughter|nan|gran|grandma|grandad|"
    r"grandmother|grandfather|brother|sister|aunt|uncle|he|she)( has| had| just| recently)* "
    r"(died|passed)", r"(mum|mother|mom|dad|father|husband|wife|partner)'?s death",
    r"(late|deceased) (mum|mother|dad|father|husband|wife|partner|son|daughter|nan|gran)",
    r"lost my (mum|mother|dad|father|husband|wife|partner|son|daughter)", r"probate",
    r"executor",
)  # fmt: skip
HARDSHIP = _words(
    r"can'?t afford", r"cannot afford", r"food ?banks?", r"universal credit", r"on benefits",
    r"struggling (to pay|financially|with money|for money)", r"overdra(wn|ft)", r"skint",
    r"lost my job", r"made redundant", r"money is (tight|short)", r"hardship",
    r"(£|\$|€)\s?\d{1,2}(\.\d{2})? left", r"(nothing|no money|not a penny) left",
    r"(kids|children|family) to feed", r"can'?t pay (my|the) (rent|mortgage|bills?)",
)  # fmt: skip
# Someone else saw the customer's personal details: never explained away by an incident.
DISCLOSURE = _words(
    r"data breach", r"privacy breach", r"gdpr breach",
    r"(he|she|they|someone|somebody|ex|partner|neighbours?|strangers?|people|tenants?)"
    r"( \w+)? (opened|read|saw|has seen|have seen|got hold of) (my|our|all my) "
    r"(post|mail|letters?|bills?|statements?)",
    r"(sent|posted|mailed|delivered) (my|our|the) (bills?|letters?|post|mail|statements?|details) "
    r"to (an? |my |the )?"
    r"(old|wrong|previous|former|ex'?s?|someone else'?s?)( \w+)? (address|house|email)",
    r"(someone else'?s?|another customer'?s?|a stranger'?s?) (details|bill|account|name|address)",
    r"(my|our) (details|bill|account|address) (sent|shown|given) to (someone|a stranger|"
    r"another customer|my ex)",
)  # fmt: skip
DISCLOSED = "personal details may have been seen by someone else"
# Reasons other code reads back from a complaint's record.
SAFETY_RISK = "safety risk mentioned"
DEPENDS = "their health or safety depends on the service"
OLD_AND_ALONE = "an elderly person living alone"
BEREAVEMENT = "bereaved"
FINANCIAL_HARDSHIP = "financial hardship"
REPEAT_CONTACT = _words(
    r"(\d+|two|three|four|five|six|several|many|multiple|countless|numerous|so many) "
    r"(times|calls|emails|attempts|chats)",
    r"(second|third|fourth|fifth|sixth|\d+(st|nd|rd|th)) time",
    r"already (called|rang|phoned|emailed|complained|reported|contacted|been on)",
    r"(keep|kept) (calling|ringing|phoning|chasing|emailing|being told)",
    r"(called|rang|phoned|contacted|chased) (you |them )?(before|already|again|repeatedly)",
    r"again and again", r"over and over", r"every (day|week)",
)  # fmt: skip
ANGER_WORDS = _words(
    r"f+u+c+k\w*", r"f\*+k\w*", r"f\*+\w*", r"sh[i\*]t\w*", r"bloody", r"damn\w*", r"wtf",
    r"ffs", r"crap\w*", r"piss(ed)?", r"bollocks", r"bastards?", r"furious", r"livid",
    r"fuming", r"disgust(ed|ing)", r"disgrace(ful)?", r"pathetic", r"unacceptable",
    r"ridiculous", r"sick (of|and tired)", r"fed up", r"appalling", r"outrageous",
    r"a joke", r"useless",
)  # fmt: skip
ANGRY_EMOJI = re.compile("[\U0001f621\U0001f620\U0001f92c\U0001f624\U0001f47f\U0001f4a2\U0001f595]")
LIVELIHOOD = _words(
    r"work(ing)? from home", r"wfh", r"my (own )?(business|shop|company|clients|customers)",
    r"lost (work|business|orders|money|earnings|income|a day's pay|clients)", r"can'?t work",
    r"exams?", r"job interview", r"on call",
)  # fmt: skip
COMPROMISE = _words(
    r"hack(ed|er|ers)?", r"someone else", r"fraud\w*", r"stolen", r"unauthori[sz]ed",
    r"(didn'?t|did not|never) (make|authorise|authorize|change|request)", r"not me",
    r"(wasn'?t|was not|it wasn'?t) me", r"scam(med)?",
    r"password (was|been|has been|got) changed", r"changed my password",
)  # fmt: skip
_MONEY = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,6}(?:\.\d{1,2})?"
AMOUNT = re.compile(rf"(?:£|\$|€)\s?({_MONEY})|({_MONEY})\s?(?:quid|pounds)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SeverityAssessment:
    severity: Severity
    reasons: tuple[str, ...] = field(default_factory=tuple)
    safety_risk: bool = False
    # Someone's health or safety depends on the service (or an old person alone without
    # it): critical, a person at once, and how to get urgent help first.
    depends_on_it: bool = False
    # Grief or financial hardship: a person at once, and said with care (BEREAVEMENT,
    # FINANCIAL_HARDSHIP).
    circumstances: tuple[str, ...] = ()
    # Health, age, disability, a baby or pregnancy, grief, hardship: a person at once.
    vulnerable: bool = False
    # Personal details seen by someone else (DISCLOSED): a person at once, and no incident
    # explains it away.
    disclosed: bool = False


@dataclass
class _Tally:
    """Points towards the severity, and every reason recorded, in the order found."""

    points: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, score: int, reason: str) -> None:
        self.points += score
        self.reasons.append(reason)


@dataclass(frozen=True)
class _Risk:
    safety: bool
    depends: bool
    vulnerable: bool
    circumstances: tuple[str, ...]
    disclosed: bool


def assess_severity(
    category: Category, text: str, now: datetime, *, earlier_complaints: int = 0
) -> SeverityAssessment:
    """Rates how badly the customer has been let down, with the reasons for the rating."""
    tally = _Tally()
    risk = _who_is_at_risk(text, tally)
    _how_much_harm(category, text, now, earlier_complaints, tally)
    points = tally.points
    severity = Severity.from_rank(
        0 if points == 0 else 1 if points <= 2 else 2 if points <= 4 else 3
    )
    if risk.vulnerable and severity.rank < Severity.HIGH.rank:
        severity = Severity.HIGH
    if risk.safety or risk.depends:
        severity = Severity.CRITICAL
    return SeverityAssessment(
        severity=severity,
        reasons=tuple(tally.reasons),
        safety_risk=risk.safety,
        depends_on_it=risk.depends,
        circumstances=risk.circumstances,
        vulnerable=risk.vulnerable,
        disclosed=risk.disclosed,
    )


def _who_is_at_risk(text: str, tally: _Tally) -> _Risk:
    """Safety, someone who depends on the service, vulnerability, grief, hardship, and
    personal details seen by someone else."""
    safety = bool(SAFETY.search(text))
    if safety:
        tally.reasons.append(SAFETY_RISK)
    vulnerable = bool(VULNERABLE.search(text))
    if vulnerable:
        tally.add(2, "customer or someone in their home may be vulnerable")
    depends = bool(DEPENDS_ON_IT.search(text))
    if depends:
        tally.reasons.append(DEPENDS)
    if OLD_AGE.search(text) and ALONE.search(text):
        depends = True
        tally.reasons.append(OLD_AND_ALONE)
    if safety and CHILD.search(text):
        tally.reasons.append("a child is at risk")
    disclosed = bool(DISCLOSURE.search(text))
    if disclosed:
        tally.add(3, DISCLOSED)
    circumstances = tuple(
        name
        for name, words in ((BEREAVEMENT, BEREAVED), (FINANCIAL_HARDSHIP, HARDSHIP))
        if words.search(text)
    )
    for name in circumstances:
        tally.reasons.append(f"customer is {name}" if name == BEREAVEMENT else name)
    vulnerable = vulnerable or bool(circumstances)
    return _Risk(safety, depends, vulnerable, circumstances, disclosed)


def _how_much_harm(
    category: Category, text: str, now: datetime, earlier_complaints: int, tally: _Tally
) -> None:
    """No service, a compromised account, how long, how much money, repeated contact, an
    earlier complaint, anger and work."""
    if category is Category.OUTAGE:
        tally.add(1, "no service at all")
    if category is Category.ACCOUNT_ACCESS and COMPROMISE.search(text):
        tally.add(2, "account may have been used by someone else")
    since = find_since(text, now)
    if since and since.days >= 7:
        tally.add(2, f"going on {since.phrase}")
    elif since and since.days >= 2:
        tally.add(1, f"going on {since.phrase}")
    money = _largest_amount(text)
    if money is not None and money >= 100:
        tally.add(2, f"£{money:,.2f} involved")
    elif money is not None and money > 0:
        tally.add(1, f"£{money:,.2f} involved")
    if REPEAT_CONTACT.search(text):
        tally.add(1, "has contacted us about this before")
    if earlier_complaints:
        tally.add(1, f"{earlier_complaints} earlier complaint(s) on record in the last 30 days")
    if _sounds_angry(text):
        tally.add(1, "customer is angry")
    if LIVELIHOOD.search(text):
        tally.add(1, "affects their work or livelihood")


def _largest_amount(text: str) -> Decimal | None:
    amounts = [Decimal((a or b).replace(",", "")) for a, b in AMOUNT.findall(text)]
    return max(amounts) if amounts else None


def _sounds_angry(text: str) -> bool:
    shouted = [w for w in re.findall(r"[A-Za-z]{3,}", text) if w.isupper()]
    return bool(
        ANGER_WORDS.search(text)
        or ANGRY_EMOJI.search(text)
        or len(shouted) >= 3
        or re.search(r"[!?]{3,}|!!", text)
    )
