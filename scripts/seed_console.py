"""Fills a database with realistic made-up records for the operator console: customers,
web and Telegram conversations with the customer's, the assistant's and agents' messages,
complaints of every category (business/categories.yml) worked by their teams
(business/teams.yml), incidents, handoffs, promises (kept, missed, still owed and overdue),
resolutions with ratings, and compensation offers and grants, spread over the last 90 days.

The schema is migrated first. Rows go in through the models in bulk (multi-row INSERTs), so
100,000 messages take seconds on SQLite and PostgreSQL. The same --seed and --now give the
same records. It refuses a database that was seeded before.

    .venv/bin/python scripts/seed_console.py --database-url sqlite:///var/console.db
        [--conversations 10000] [--messages 100000] [--seed 7] [--now 2026-12-07T12:00:00Z]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

# Run as a script (sys.path[0] is scripts/): our packages are in the folder above.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redress.business import load_business
from redress.db.models import (
    Base,
    CompensationGrant,
    CompensationOffer,
    Complaint,
    Conversation,
    Customer,
    Handoff,
    Incident,
    Message,
    Promise,
    Resolution,
)
from redress.db.session import unit_of_work
from redress.migrate import upgrade
from redress.settings import REPO_ROOT

# Seeded conversations' ids start with this, which is how a seeded database is recognised.
ID_PREFIX = "seed-"
DAYS = 90
CHUNK = 5000

FIRST_NAMES = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Ivy",
    "Leo",
    "Freya",
    "Oscar",
    "Lily",
    "Harry",
    "Grace",
    "Jack",
    "Sophia",
    "Charlie",
    "Evie",
    "Thomas",
    "Rosie",
    "Jacob",
    "Ella",
    "Alfie",
    "Poppy",
    "Henry",
    "Zara",
    "Mohammed",
    "Aisha",
    "Priya",
    "Ravi",
    "Kwame",
    "Chiamaka",
    "Siobhan",
    "Declan",
    "Rhys",
    "Carys",
    "Ewan",
    "Morag",
    "Agnieszka",
    "Piotr",
    "Jun",
    "Mei",
    "Fatima",
    "Yusuf",
    "Tomasz",
    "Niamh",
    "Callum",
    "Bethan",
    "Margaret",
    "Dennis",
    "Brenda",
    "Graham",
    "Shirley",
    "Keith",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Robinson",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Hughes",
    "Edwards",
    "Khan",
    "Ahmed",
    "Begum",
    "Okafor",
    "Mensah",
    "Nowak",
    "Kowalski",
    "MacDonald",
    "Campbell",
    "Murphy",
    "O'Brien",
    "Kelly",
    "Lewis",
    "Morgan",
    "Price",
    "Chen",
    "Wong",
    "Singh",
    "Kaur",
    "Ali",
    "Hussain",
    "Baker",
    "Turner",
    "Harris",
    "Cooper",
    "Ward",
    "Fletcher",
]
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "example.co.uk")
PLANS = (
    ("Fibre 150", 3200),
    ("Fibre 500", 4500),
    ("Fibre 900", 6000),
    ("Broadband Essentials", 2400),
    ("Fibre 150 + TV", 5200),
    ("Business Fibre 300", 6800),
)
POSTCODES = ("LS6 2AB", "M14 5RT", "B29 6EX", "BS3 4DY", "CF10 3AT", "EH7 5QG", "LS11 5QT")
DAYS_OF_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROOMS = ("the lounge", "the bedroom", "the office", "the kitchen", "my flat", "the shop")
THINGS = ("router", "TV box", "hub", "booster", "phone line", "set-top box")

# What a customer says first, per category: {day}, {thing}, {amount}, {room} are filled in.
OPENINGS: dict[str, tuple[str, ...]] = {
    "outage": (
        "My internet has been down since {day} and nobody has told me why.",
        "No broadband at all since {day}. I work from home and this is costing me.",
        "The {thing} lights are red and nothing connects, it's been like this since {day}.",
        "Completely offline again in {room}. Third time this month.",
    ),
    "slow_service": (
        "My speed keeps dropping to almost nothing every evening since {day}.",
        "I pay for fibre and I'm getting 2 Mbps. Video calls keep freezing.",
        "The connection drops every few minutes in {room}, it's unusable.",
    ),
    "billing": (
        "You've charged me {amount} twice this month and I want it back.",
        "My bill went up to {amount} without any warning. Why?",
        "I was promised a discount and my bill still says {amount}.",
    ),
    "delay": (
        "The engineer never turned up on {day}. I took the day off for it.",
        "My new {thing} was meant to arrive last week and still hasn't come.",
        "I was told my line would be live by {day}. Still nothing.",
    ),
    "faulty_equipment": (
        "The {thing} you sent keeps restarting itself every hour.",
        "My {thing} stopped working on {day}, the power light just blinks.",
        "The replacement {thing} is faulty as well. This is ridiculous.",
    ),
    "staff_conduct": (
        "The person I spoke to on the phone on {day} was really rude to me.",
        "Your engineer left a mess in {room} and was dismissive when I asked about it.",
        "I was hung up on twice yesterday. Not good enough.",
    ),
    "refund": (
        "I'm still waiting for the {amount} refund I was promised on {day}.",
        "You said I'd get my money back within five days. It's been three weeks.",
    ),
    "cancellation": (
        "I want to cancel. I've had enough of the problems since {day}.",
        "How do I leave? I'm moving and you can't serve my new address.",
    ),
    "account_access": (
        "I can't log in to my account, the reset e-mail never arrives.",
        "Someone changed my password on {day} and it wasn't me.",
    ),
    "other": (
        "I've got a complaint about the letter you sent me on {day}.",
        "Your website says one thing and the phone team said another. Which is right?",
    ),
}
CUSTOMER_FOLLOW_UPS = (
    "It's {account}.",
    "My account number is {account}",
    "Yes, that's right.",
    "Since {day} morning, roughly.",
    "I've already restarted the {thing} twice.",
    "Is anyone actually going to fix this?",
    "When will I hear back?",
    "Any update on this?",
    "OK, thanks.",
    "That's not good enough, I want to speak to a person.",
    "Yes please, send me updates.",
    "I'll accept the credit, thank you.",
    "It's working again now, thanks.",
    "Still broken I'm afraid.",
    "The postcode is {postcode}.",
    "I have a {thing} in {room} if that matters.",
)
BOT_REPLIES = (
    "I'm sorry your service has let you down. I'll get this sorted with you.",
    "Thanks. Could you tell me your account number, please? It starts with BL.",
    "Thank you. I've logged this as {reference}, and our team will reply here by {due}.",
    "We know about a problem in your area. Our engineers are working on it now.",
    "I can offer you a {amount} credit on your next bill for the trouble. Would you like it?",
    "Done: the credit is on your account. It will show on your next bill.",
    "I'll let you know as soon as it changes. You don't need to check back.",
    "I'm sorry it's still not right. I'm bringing in a person from our team now.",
    "Is it working again for you now?",
    "How did we do? Please rate us from 1 to 5.",
)
AGENT_REPLIES = (
    "Hi {first}, I'm {agent} from the {team}. I've read everything, so no need to repeat it.",
    "I've checked your line and found the fault. An engineer is booked for {day}.",
    "I've refunded {amount} to your account today. You'll see it in three to five days.",
    "I'm sorry about how you were treated. I've passed this to the team leader.",
    "I'll call you back tomorrow before noon with an answer.",
    "Your replacement {thing} is on its way and should arrive by {day}.",
    "I've reset your account access. Please try signing in again.",
    "Thanks for bearing with us. Is there anything else I can help with today?",
)
HANDOFF_REASONS = (
    "asked_for_person",
    "angry",
    "out_of_depth",
    "vulnerable",
    "compensation_review",
    "not_fixed",
    "reply_overdue",
)
AGENTS = (
    ("U0AGENT001", "Hannah Webb"),
    ("U0AGENT002", "Marcus Reid"),
    ("U0AGENT003", "Sunita Rao"),
    ("U0AGENT004", "Owen Pritchard"),
    ("U0AGENT005", "Leah Goldberg"),
    ("U0AGENT006", "Kofi Boateng"),
    ("U0AGENT007", "Erin Doyle"),
    ("U0AGENT008", "Dylan Hart"),
)
SEVERITY_WEIGHTS = (("low", 30), ("medium", 40), ("high", 22), ("critical", 8))
REPLY_HOURS = {"low": 48, "medium": 24, "high": 8, "critical": 2}
INCIDENT_CATEGORIES = ("outage", "slow_service", "billing")
REMEDIES = (
    ("account_credit", 500, 2500),
    ("refund", 1000, 6000),
    ("voucher", 1000, 2000),
    ("free_month", 2400, 6000),
    ("priority_repair", 0, 0),
)
OFFER_STATUSES = (
    ("granted", 60),
    ("offered", 15),
    ("pending_approval", 10),
    ("declined", 10),
    ("rejected", 5),
)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class AlreadySeeded(RuntimeError):
    """The database holds seeded records already."""


@dataclass
class Seeded:
    """The rows made, per table, in the order they are inserted (parents first)."""

    rows: dict[type[Base], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: type[Base], row: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(row)

    def counts(self) -> dict[str, int]:
        return {model.__tablename__: len(rows) for model, rows in self.rows.items()}


class Generator:
    """Makes the rows, from one random generator, so a seed gives the same records."""

    def __init__(
        self,
        seed: int,
        now: datetime,
        first_ids: dict[type[Base], int],
        teams: dict[str, str],
        team_names: dict[str, str],
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - made-up records, not secrets
        self.now = now
        self.next_id = dict(first_ids)
        self.teams = teams
        self.team_names = team_names
        self.references: set[str] = set()
        self.out = Seeded()

    def new_id(self, model: type[Base]) -> int:
        value = self.next_id[model]
        self.next_id[model] = value + 1
        return value

    def reference(self, prefix: str) -> str:
        while True:
            value = prefix + "-" + "".join(self.rng.choice(_ALPHABET) for _ in range(6))
            if value not in self.references:
                self.references.add(value)
                return value

    def weighted(self, options: Iterable[tuple[str, int]]) -> str:
        names, weights = zip(*options, strict=True)
        return self.rng.choices(names, weights)[0]

    def moment(self) -> datetime:
        # More recent days are busier: the square root skews towards now.
        age = DAYS * 86400 * (self.rng.random() ** 1.6)
        return (self.now - timedelta(seconds=age)).replace(microsecond=0)

    def fill(self, template: str, **values: str) -> str:
        base = {
            "day": self.rng.choice(DAYS_OF_WEEK),
            "thing": self.rng.choice(THINGS),
            "room": self.rng.choice(ROOMS),
            "amount": f"£{self.rng.randint(5, 180)}.{self.rng.randint(0, 99):02d}",
        }
        return template.format(**{**base, **values})

    # --- The tables --------------------------------------------------------------------

    def customers(self, count: int) -> list[dict[str, Any]]:
        made = []
        for _ in range(count):
            id_ = self.new_id(Customer)
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            plan, fee = self.rng.choice(PLANS)
            handle = f"{first}.{last}".lower().replace("'", "")
            row = {
                "id": id_,
                "account_number": f"BL-{500000 + id_:06d}",
                "name": f"{first} {last}",
                "email": f"{handle}{id_}@{self.rng.choice(EMAIL_DOMAINS)}",
                "postcode": self.rng.choice(POSTCODES),
                "plan": plan,
                "monthly_fee_pence": fee,
                "created_at": self.now - timedelta(days=DAYS + self.rng.randint(1, 2000)),
            }
            self.out.add(Customer, row)
            made.append(row)
        return made

    def incidents(self, count: int) -> list[dict[str, Any]]:
        made = []
        for number in range(1, count + 1):
            started = self.now - timedelta(days=self.rng.uniform(1, DAYS - 1))
            ended = started + timedelta(hours=self.rng.randint(3, 96))
            resolved = ended < self.now and number % 4 != 0
            row = {
                "id": f"INC-SEED-{number:03d}",
                "title": self.rng.choice(
                    ("Broadband outage", "Slow speeds", "Double billing run", "TV service down")
                )
                + f" in {self.rng.choice(('Leeds', 'Manchester', 'Birmingham', 'Bristol'))}",
                "services": ["broadband"],
                "categories": [self.rng.choice(INCIDENT_CATEGORIES)],
                "areas": [],
                "accounts": [],
                "status": "resolved" if resolved else "identified",
                "started_at": started,
                "ended_at": ended if resolved else None,
                "what_is_wrong": "Broadband is not working for some customers.",
                "why": "A cable was damaged during building work.",
                "what_we_are_doing": "Our engineers are replacing the cable.",
                "expected_fix_text": "We expect it fixed by this evening.",
                "expected_fix_at": ended,
                "next_update_by": None if resolved else self.now + timedelta(hours=2),
                "missed_promise_handled": None,
                "created_at": started,
                "updated_at": ended if resolved else started,
            }
            self.out.add(Incident, row)
            made.append(row)
        return made

    def conversation(
        self,
        customers: list[dict[str, Any]],
        incidents: list[dict[str, Any]],
        message_count: int,
        number: int,
    ) -> None:
        rng = self.rng
        started = self.moment()
        channel = "telegram" if rng.random() < 0.3 else "web"
        customer = rng.choice(customers) if rng.random() < 0.85 else None
        conversation_id = f"{ID_PREFIX}{rng.getrandbits(96):024x}"
        category = rng.choice(tuple(OPENINGS))
        complaints = []
        if rng.random() < 0.92:
            complaints.append(self.complaint(conversation_id, customer, category, started))
            if rng.random() < 0.05:
                later = rng.choice(tuple(OPENINGS))
                complaints.append(
                    self.complaint(conversation_id, customer, later, started + timedelta(hours=1))
                )
        for complaint in complaints:
            self.link_incident(complaint, incidents)
        handoff = self.handoff(conversation_id, started, complaints)
        resolved = bool(complaints) and all(c["status"] == "resolved" for c in complaints)
        rating = None
        if resolved and rng.random() < 0.6:
            rating = rng.choices((1, 2, 3, 4, 5), (8, 7, 15, 30, 40))[0]
        status = "resolved" if resolved else "open"
        if handoff is not None and handoff["status"] == "taken_over":
            status = "with_agent"
        last = self.messages(
            conversation_id, channel, customer, category, complaints, message_count, started
        )
        self.out.add(
            Conversation,
            {
                "id": conversation_id,
                "channel": channel,
                "external_id": str(700000000 + number) if channel == "telegram" else None,
                "reachable": True,
                "client_token_hash": None,
                "status": status,
                "customer_id": customer["id"] if customer else None,
                "fixed": (rating or 0) >= 3 if rating else None,
                "rating": rating,
                "rated_at": last if rating else None,
                "created_at": started,
                "updated_at": last,
            },
        )
        # Parents before children: the conversation row is inserted first by table order.
        for complaint in complaints:
            self.case_records(complaint, customer, handoff)

    def complaint(
        self,
        conversation_id: str,
        customer: dict[str, Any] | None,
        category: str,
        created: datetime,
    ) -> dict[str, Any]:
        rng = self.rng
        severity = self.weighted(SEVERITY_WEIGHTS)
        age = self.now - created
        resolved = rng.random() < (0.85 if age > timedelta(days=7) else 0.4)
        resolved_at = None
        if resolved:
            resolved_at = min(self.now, created + timedelta(hours=rng.uniform(0.2, 120)))
        claimed = rng.random() < 0.6
        agent = rng.choice(AGENTS) if claimed else (None, None)
        desk_status = None
        if not resolved:
            desk_status = rng.choice(("waiting_on_us", "waiting_on_us", "waiting_on_customer"))
        team = self.teams[category] if rng.random() > 0.03 else None
        opening = self.fill(rng.choice(OPENINGS[category]))
        row = {
            "id": self.new_id(Complaint),
            "reference": self.reference("RD"),
            "conversation_id": conversation_id,
            "customer_id": customer["id"] if customer else None,
            "category": category,
            "severity": severity,
            "severity_reasons": ["customer works from home"] if severity == "high" else [],
            "status": "resolved" if resolved else "open",
            "summary": opening,
            "facts": {"account": customer["account_number"]} if customer else {},
            "incident_id": None,
            "created_at": created,
            "updated_at": resolved_at or created,
            "team": team,
            "owner_id": agent[0] if team else None,
            "owner_name": agent[1] if team else None,
            "claimed_at": created + timedelta(minutes=rng.randint(2, 240)) if claimed else None,
            "desk_status": desk_status if team else None,
            "desk_channel": None,
            "desk_thread": None,
            "posted_at": None,
            "post_attempts": 0,
            "next_post_at": None,
            "last_post_error": None,
            "repeat_of_id": None,
            "resolved_at": resolved_at,
            "resolved_by": (agent[1] or "assistant") if resolved else None,
            "resolved_via": (
                ("agent" if agent[1] else rng.choice(("assistant", "incident")))
                if resolved
                else None
            ),
        }
        return row

    def link_incident(self, complaint: dict[str, Any], incidents: list[dict[str, Any]]) -> None:
        if complaint["category"] not in INCIDENT_CATEGORIES or self.rng.random() < 0.5:
            return
        for incident in incidents:
            window_end = incident["ended_at"] or self.now
            if (
                complaint["category"] in incident["categories"]
                and incident["started_at"] <= complaint["created_at"] <= window_end
            ):
                complaint["incident_id"] = incident["id"]
                return

    def handoff(
        self, conversation_id: str, started: datetime, complaints: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        rng = self.rng
        if rng.random() > 0.3:
            return None
        resolved = bool(complaints) and all(c["status"] == "resolved" for c in complaints)
        status = "resolved" if resolved else rng.choice(("requested", "taken_over", "handed_back"))
        agent_id, agent_name = rng.choice(AGENTS)
        asked = started + timedelta(minutes=rng.randint(1, 20))
        taken = asked + timedelta(minutes=rng.randint(1, 90)) if status != "requested" else None
        row = {
            "id": self.new_id(Handoff),
            "conversation_id": conversation_id,
            "reason": rng.choice(HANDOFF_REASONS),
            "status": status,
            "created_at": asked,
            "desk_channel": None,
            "desk_thread": None,
            "posted_at": asked,
            "post_attempts": 1,
            "next_post_at": None,
            "last_error": None,
            "agent_id": agent_id if taken else None,
            "agent_name": agent_name if taken else None,
            "taken_over_at": taken,
            "reminded_at": None,
            "follow_up_offered_at": None,
            "ended_at": taken + timedelta(hours=1) if taken and status != "taken_over" else None,
        }
        self.out.add(Handoff, row)
        return row

    def messages(
        self,
        conversation_id: str,
        channel: str,
        customer: dict[str, Any] | None,
        category: str,
        complaints: list[dict[str, Any]],
        count: int,
        started: datetime,
    ) -> datetime:
        rng = self.rng
        first = customer["name"].split()[0] if customer else "there"
        account = customer["account_number"] if customer else "BL-000000"
        reference = complaints[0]["reference"] if complaints else "RD-PENDING"
        team_key = (complaints[0]["team"] if complaints else None) or ""
        team = self.team_names.get(team_key, "Customer care team").lower()
        agent = rng.choice(AGENTS)[1]
        moment = started
        for index in range(count):
            if index == 0:
                role = "customer"
                text_ = (
                    complaints[0]["summary"]
                    if complaints
                    else self.fill(rng.choice(OPENINGS[category]))
                )
            else:
                role = ("bot", "customer")[index % 2]
                if index > 5 and rng.random() < 0.3:
                    role = "agent"
                pool = {
                    "customer": CUSTOMER_FOLLOW_UPS,
                    "bot": BOT_REPLIES,
                    "agent": AGENT_REPLIES,
                }[role]
                text_ = self.fill(
                    rng.choice(pool),
                    account=account,
                    postcode=customer["postcode"] if customer else "LS6 2AB",
                    reference=reference,
                    due=rng.choice(("5pm today", "tomorrow at 10am", "Monday at noon")),
                    first=first,
                    agent=agent,
                    team=team,
                )
            self.out.add(
                Message,
                {
                    "id": self.new_id(Message),
                    "conversation_id": conversation_id,
                    "role": role,
                    "channel": channel,
                    "text": text_,
                    "external_id": None,
                    "client_message_id": None,
                    "buttons": None,
                    "details": None,
                    "created_at": moment,
                },
            )
            moment = moment + timedelta(seconds=rng.randint(5, 900))
        return moment

    def case_records(
        self,
        complaint: dict[str, Any],
        customer: dict[str, Any] | None,
        handoff: dict[str, Any] | None,
    ) -> None:
        rng = self.rng
        self.out.add(Complaint, complaint)
        if complaint["team"] is None:
            return
        created = complaint["created_at"]
        due = created + timedelta(hours=REPLY_HOURS[complaint["severity"]])
        resolved_at = complaint["resolved_at"]
        self.promise(complaint, "reply_by", "reply to you", due, resolved_at)
        if rng.random() < 0.15:
            callback_due = created + timedelta(hours=rng.randint(4, 72))
            who = complaint["owner_name"] or "Hannah Webb"
            self.promise(complaint, "callback", "call you back", callback_due, None, who)
        if resolved_at is not None:
            rated = rng.random() < 0.6
            self.out.add(
                Resolution,
                {
                    "id": self.new_id(Resolution),
                    "complaint_id": complaint["id"],
                    "conversation_id": complaint["conversation_id"],
                    "via": complaint["resolved_via"],
                    "by": complaint["resolved_by"],
                    "resolved_at": resolved_at,
                    "fixed": rng.random() < 0.85 if rated else None,
                    "rating": rng.choices((1, 2, 3, 4, 5), (8, 7, 15, 30, 40))[0]
                    if rated
                    else None,
                    "rated_at": resolved_at + timedelta(minutes=3) if rated else None,
                    "follow_up_due_at": resolved_at + timedelta(days=7),
                    "follow_up_sent_at": resolved_at + timedelta(days=7)
                    if resolved_at + timedelta(days=7) < self.now
                    else None,
                    "still_working": None,
                    "reopened_at": None,
                    "handoff_id": handoff["id"] if handoff else None,
                    "rating_asked_at": resolved_at + timedelta(minutes=1),
                },
            )
        if customer is not None and rng.random() < 0.3:
            self.offer(complaint, customer)

    def promise(
        self,
        complaint: dict[str, Any],
        kind: str,
        what: str,
        due: datetime,
        resolved_at: datetime | None,
        made_by: str = "assistant",
    ) -> None:
        rng = self.rng
        missed_at = kept_at = None
        if complaint["incident_id"] and kind == "reply_by":
            status = "cancelled"
        elif resolved_at is not None:
            status = "kept"
            kept_at = min(resolved_at, due) if rng.random() < 0.8 else resolved_at
            if kept_at > due:
                missed_at = due
        elif due < self.now:
            # Still owed: either the watch marked it missed, or it has not run since.
            status = "missed" if rng.random() < 0.5 else "open"
            missed_at = due if status == "missed" else None
        else:
            status = "open"
        self.out.add(
            Promise,
            {
                "id": self.new_id(Promise),
                "complaint_id": complaint["id"],
                "conversation_id": complaint["conversation_id"],
                "kind": kind,
                "what": what,
                "due_at": due,
                "status": status,
                "made_by": made_by,
                "warned_at": None,
                "missed_at": missed_at,
                "customer_told_at": missed_at,
                "kept_at": kept_at,
                "kept_by": complaint["resolved_by"] if kept_at else None,
                "created_at": complaint["created_at"],
            },
        )

    def offer(self, complaint: dict[str, Any], customer: dict[str, Any]) -> None:
        rng = self.rng
        remedy, low, high = rng.choice(REMEDIES)
        amount = rng.randint(low // 100, high // 100) * 100 if high else 0
        status = self.weighted(OFFER_STATUSES)
        made = complaint["created_at"] + timedelta(minutes=rng.randint(2, 30))
        decided = made + timedelta(minutes=rng.randint(1, 600))
        offer_id = self.new_id(CompensationOffer)
        self.out.add(
            CompensationOffer,
            {
                "id": offer_id,
                "reference": self.reference("OF"),
                "complaint_id": complaint["id"],
                "conversation_id": complaint["conversation_id"],
                "customer_id": customer["id"],
                "incident_id": complaint["incident_id"],
                "rule": f"{complaint['category']}_{complaint['severity']}",
                "remedy": remedy,
                "amount_pence": amount,
                "status": status,
                "explanation": f"{remedy} for a {complaint['severity']} {complaint['category']}",
                "review_requested_at": made if status == "pending_approval" else None,
                "decided_at": decided if status not in ("offered", "pending_approval") else None,
                "decided_by": "assistant (within policy)" if status == "granted" else None,
                "created_at": made,
            },
        )
        if status == "granted":
            approver = "assistant (within policy)" if rng.random() < 0.8 else rng.choice(AGENTS)[1]
            self.out.add(
                CompensationGrant,
                {
                    "id": self.new_id(CompensationGrant),
                    "reference": self.reference("CR"),
                    "offer_id": offer_id,
                    "customer_id": customer["id"],
                    "incident_id": complaint["incident_id"],
                    "remedy": remedy,
                    "amount_pence": amount,
                    "approved_by": approver,
                    "created_at": decided,
                },
            )


# Parents first, so foreign keys hold at every INSERT.
TABLE_ORDER: tuple[type[Base], ...] = (
    Customer,
    Incident,
    Conversation,
    Message,
    Complaint,
    Handoff,
    Promise,
    Resolution,
    CompensationOffer,
    CompensationGrant,
)
# Tables whose integer ids the seed assigns (continuing after any rows already there).
NUMBERED = tuple(model for model in TABLE_ORDER if model not in (Incident, Conversation))


def seed(
    database_url: str,
    *,
    conversations: int = 10_000,
    messages: int = 100_000,
    seed_value: int = 7,
    now: datetime | None = None,
    revision: str = "head",
) -> dict[str, int]:
    """Migrates the database and fills it; returns how many rows went into each table."""
    if conversations < 1 or messages < 2 * conversations:
        raise ValueError("give at least one conversation and two messages per conversation")
    upgrade(database_url, revision)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    business = load_business(REPO_ROOT / "business")
    default_team = business.team_file.default
    teams = {
        key: category.team or default_team
        for key, category in business.categories.categories.items()
    }
    for category in OPENINGS:
        teams.setdefault(category, default_team)
    with unit_of_work(database_url) as session:
        already = session.scalar(select(func.count()).where(Conversation.id.startswith(ID_PREFIX)))
        if already:
            raise AlreadySeeded(
                f"this database already holds {already} seeded conversations; "
                "seed a fresh database instead"
            )
        first_ids = {
            model: (session.scalar(select(func.max(model.id))) or 0) + 1  # type: ignore[attr-defined]
            for model in NUMBERED
        }
        team_names = {key: team.name for key, team in business.team_file.teams.items()}
        generator = Generator(seed_value, now, first_ids, teams, team_names)
        customers = generator.customers(max(5, conversations // 3))
        incidents = generator.incidents(max(2, min(12, conversations // 800)))
        counts = _spread(generator.rng, conversations, messages)
        for number, count in enumerate(counts):
            generator.conversation(customers, incidents, count, number)
        _insert(session, generator.out)
        _advance_sequences(session)
    # Fresh statistics, so the query planner knows the tables' new sizes at once.
    with unit_of_work(database_url) as session:
        session.execute(text("ANALYZE"))
    return generator.out.counts()


def _spread(rng: random.Random, conversations: int, messages: int) -> list[int]:
    """How many messages each conversation gets: at least two, about the same on average,
    some long and some short."""
    counts = [2] * conversations
    for _ in range(messages - 2 * conversations):
        counts[rng.randrange(conversations)] += 1
    return counts


def _insert(session: Session, seeded: Seeded) -> None:
    for model in TABLE_ORDER:
        rows = seeded.rows.get(model, [])
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(model), rows[start : start + CHUNK])


def _advance_sequences(session: Session) -> None:
    """PostgreSQL hands out ids from a sequence, which rows given their own ids do not move
    on: move each to the highest id, so the next row the application writes gets a new one."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in NUMBERED:
        table = model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the database")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same data")
    parser.add_argument(
        "--now",
        type=_moment,
        default=None,
        help="the moment the 90 days end (ISO 8601, default: the current time)",
    )
    parser.add_argument(
        "--revision", default="head", help="migrate only this far (to compare indexes)"
    )
    return parser.parse_args(argv)


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time like 2026-12-07T12:00:00Z: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.perf_counter()
    try:
        counts = seed(
            options.database_url,
            conversations=options.conversations,
            messages=options.messages,
            seed_value=options.seed,
            now=options.now,
            revision=options.revision,
        )
    except (AlreadySeeded, ValueError) as error:
        print(f"seed_console: {error}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    summary = ", ".join(f"{table} {count}" for table, count in counts.items())
    print(f"Seeded in {took:.1f}s: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
