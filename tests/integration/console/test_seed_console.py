"""The console's seed script fills a fresh database with cases the console can list, the same
way for the same seed, and refuses to seed a database twice."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from redress.console.queries import CaseFilter, list_cases
from redress.db.models import Complaint, Conversation, Message, Promise
from redress.db.session import session_factory
from scripts.seed_console import main

NOW = "2026-12-07T12:00:00Z"


def seeded(path: Path, seed: int = 7) -> str:
    url = f"sqlite:///{path}"
    args = ["--database-url", url, "--conversations", "50", "--messages", "400"]
    assert main([*args, "--seed", str(seed), "--now", NOW]) == 0
    return url


def test_the_seed_makes_cases_the_console_lists(tmp_path: Path) -> None:
    url = seeded(tmp_path / "console.db")
    now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    with session_factory(url)() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 50
        assert session.scalar(select(func.count()).select_from(Message)) == 400
        roles = set(session.scalars(select(Message.role).distinct()))
        assert roles == {"customer", "bot", "agent"}
        assert set(session.scalars(select(Conversation.channel).distinct())) == {"web", "telegram"}
        assert session.scalar(select(func.count()).select_from(Promise)) > 0
        page = list_cases(session, CaseFilter(), now)
        assert page.total > 30
        assert page.rows[0].created_at <= now
        account = next(row.account_number for row in page.rows if row.account_number)
        assert list_cases(session, CaseFilter(q=account), now).total >= 1


def test_the_same_seed_gives_the_same_records(tmp_path: Path) -> None:
    def references(url: str) -> list[str]:
        with session_factory(url)() as session:
            return list(session.scalars(select(Complaint.reference).order_by(Complaint.id)))

    first = seeded(tmp_path / "one.db")
    second = seeded(tmp_path / "two.db")
    other = seeded(tmp_path / "three.db", seed=8)
    assert references(first) == references(second)
    assert references(first) != references(other)


def test_a_seeded_database_is_not_seeded_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = seeded(tmp_path / "console.db")
    args = ["--database-url", url, "--conversations", "50", "--messages", "400"]
    assert main(args) == 1
    assert "already holds 50 seeded conversations" in capsys.readouterr().err
