"""`python -m redress incidents ...` on a temporary SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from redress.__main__ import main
from tests.unit.incidents.test_incidents import data


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("REDRESS_BUSINESS_DIR", raising=False)
    assert main(["migrate"]) == 0
    return path


def test_load_list_update_resolve_show(database: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["incidents", "load"]) == 0
    assert main(["incidents", "load"]) == 0
    out = capsys.readouterr().out
    assert "3 added, 0 updated" in out and "0 added, 0 updated" in out
    assert main(["incidents", "list"]) == 0
    assert "INC-LS6-FIBRE" in capsys.readouterr().out
    update = ["update", "INC-LS6-FIBRE", "--status", "monitoring", "--next-update-by", "+2h"]
    assert main(["incidents", *update, "--note", "Lines are coming back."]) == 0
    assert main(["incidents", "resolve", "INC-LS6-FIBRE", "--note", "All lines are back."]) == 0
    assert "resolved INC-LS6-FIBRE" in capsys.readouterr().out
    assert main(["incidents", "list"]) == 0
    assert "INC-LS6-FIBRE" not in capsys.readouterr().out
    assert main(["incidents", "show", "INC-LS6-FIBRE"]) == 0
    shown = capsys.readouterr().out
    assert "Lines are coming back." in shown and "All lines are back." in shown
    assert "status: resolved" in shown


def test_create_from_a_file(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "new.yml"
    path.write_text(yaml.safe_dump(data()), encoding="utf-8")
    assert main(["incidents", "create", "--file", str(path)]) == 0
    assert "created INC-LS6-FIBRE" in capsys.readouterr().out
    assert main(["incidents", "create", "--file", str(path)]) == 2
    assert "already exists" in caplog.text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["incidents", "show", "INC-NOPE"], "no incident 'INC-NOPE'"),
        (["incidents", "update", "INC-LS6-FIBRE", "--status", "bogus"], "unknown status"),
        (["incidents", "update", "INC-LS6-FIBRE", "--next-update-by", "soon"], "not a time"),
        (["incidents", "update", "INC-LS6-FIBRE", "--why", "Our supplier did it."], "why: "),
        (["incidents", "create", "--file", "/nonexistent.yml"], "cannot be read"),
    ],
)
def test_mistakes_exit_2_with_a_clear_message(
    database: Path, caplog: pytest.LogCaptureFixture, argv: list[str], words: str
) -> None:
    assert main(["incidents", "load"]) == 0
    caplog.clear()
    assert main(argv) == 2
    assert words in caplog.text
    assert "Traceback" not in caplog.text
