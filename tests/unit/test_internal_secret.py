"""The internal secret the gateway, the Rasa server and the action server share: from
REDRESS_INTERNAL_SECRET, or (outside production) one file in var/ that every process reads
the same, made once however many start together; refused when unsafe, and required in
production."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from redress.internal_secret import bearer, internal_secret, is_bearer_of
from redress.settings import REPO_ROOT, Settings, SettingsError

GOOD = "Vq9-Xr2bLw7_ZpT4yHs8k3"


def test_the_environment_variable_is_the_secret_and_no_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "var" / "internal-secret"
    assert internal_secret({"REDRESS_INTERNAL_SECRET": f"  {GOOD} "}, path) == GOOD
    assert not path.exists()


@pytest.mark.parametrize("env", [{}, {"REDRESS_INTERNAL_SECRET": ""}])
def test_unset_a_random_secret_is_made_once_for_its_owner_only(tmp_path: Path, env: dict) -> None:
    path = tmp_path / "var" / "internal-secret"
    first = internal_secret(env, path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert internal_secret(env, path) == first  # the next process reads the same one
    assert internal_secret(env, tmp_path / "elsewhere") != first  # random, not fixed
    assert [p.name for p in path.parent.iterdir()] == ["internal-secret"]  # nothing left aside


def _read_at_once(path: Path, start: Any, results: Any) -> None:
    start.wait()
    results.put(internal_secret({}, path))


def test_processes_starting_together_all_read_the_same_secret(tmp_path: Path) -> None:
    path = tmp_path / "var" / "internal-secret"
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(8), context.Queue()
    processes = [
        context.Process(target=_read_at_once, args=(path, start, results)) for _ in range(8)
    ]
    for process in processes:
        process.start()
    secrets = {results.get(timeout=30) for _ in processes}
    for process in processes:
        process.join()
    assert len(secrets) == 1
    assert path.read_text().strip() in secrets


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "internal-secret"
    path.write_text(GOOD)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match="other users"):
        internal_secret({}, path)


def test_an_empty_secret_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "internal-secret"
    path.write_text("\n")
    path.chmod(0o600)
    with pytest.raises(SettingsError, match="delete it"):
        internal_secret({}, path)


@pytest.mark.parametrize(
    ("value", "words"),
    [("changeme", "placeholder"), ("abc", "too short"), (f"{GOOD} {GOOD}", "only letters")],
)
def test_unsafe_secrets_are_refused_by_name(tmp_path: Path, value: str, words: str) -> None:
    with pytest.raises(SettingsError, match="REDRESS_INTERNAL_SECRET") as caught:
        internal_secret({"REDRESS_INTERNAL_SECRET": value}, tmp_path / "internal-secret")
    assert words in str(caught.value)


def test_production_needs_the_variable_and_never_makes_a_file(tmp_path: Path) -> None:
    path = tmp_path / "internal-secret"
    with pytest.raises(SettingsError) as caught:
        internal_secret({"REDRESS_ENV": "production"}, path)
    message = str(caught.value)
    assert "REDRESS_INTERNAL_SECRET must be set" in message and "\n" not in message
    assert "secrets.token_urlsafe" in message  # how to make one
    assert not path.exists()
    production = {"REDRESS_ENV": "production", "REDRESS_INTERNAL_SECRET": GOOD}
    assert internal_secret(production, path) == GOOD


def test_every_process_refuses_to_start_in_production_without_it() -> None:
    with pytest.raises(SettingsError, match="REDRESS_INTERNAL_SECRET"):
        Settings.from_env({"REDRESS_ENV": "Production "})
    settings = Settings.from_env({"REDRESS_ENV": "production", "REDRESS_INTERNAL_SECRET": GOOD})
    assert settings.production and settings.internal_secret == GOOD
    assert not Settings.from_env({}).production


@pytest.mark.parametrize("value", ["prod", "staging", "live"])
def test_an_unknown_environment_is_refused_rather_than_taken_for_development(value: str) -> None:
    with pytest.raises(SettingsError, match="REDRESS_ENV"):
        Settings.from_env({"REDRESS_ENV": value})


@pytest.mark.parametrize(
    ("header", "carries"),
    [
        (bearer(GOOD), True),
        (f"bearer   {GOOD}", True),
        (None, False),
        ("", False),
        (GOOD, False),
        (f"Basic {GOOD}", False),
        (f"Bearer {GOOD[:-1]}", False),
        (f"Bearer {GOOD}x", False),
        ("Bearer ünïcode", False),
    ],
)
def test_only_the_secret_itself_is_accepted(header: str | None, carries: bool) -> None:
    assert is_bearer_of(header, GOOD) is carries


def test_the_command_prints_the_secret_for_scripts_run_rasa() -> None:
    def run(env: dict[str, str]) -> subprocess.CompletedProcess:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("REDRESS_")}
        return subprocess.run(
            [sys.executable, "-m", "redress.internal_secret"],
            cwd=REPO_ROOT,
            env={**clean, **env},
            capture_output=True,
            text=True,
            check=False,
        )

    given = run({"REDRESS_INTERNAL_SECRET": GOOD})
    assert (given.returncode, given.stdout) == (0, GOOD + "\n")
    refused = run({"REDRESS_ENV": "production"})
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "REDRESS_INTERNAL_SECRET" in refused.stderr
