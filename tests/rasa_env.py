"""Running code in the Rasa environment (.venv-rasa) from the tests, which run in our own:
Rasa 3.6 pins libraries our code has outgrown, so its side is reached by subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Mapping
from typing import Any

from redress.settings import REPO_ROOT

RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"


def run_python(code: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs ``code`` with the Rasa environment's Python, the checkout on its path."""
    return subprocess.run(
        [str(RASA_PYTHON), "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_in_rasa(code: str, env: Mapping[str, str] | None = None) -> Any:
    """Runs ``code``, which prints one JSON value last, and returns that value."""
    done = run_python(code, env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
