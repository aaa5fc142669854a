"""The secret the gateway, the Rasa server and the action server share, so that each accepts
requests only from the others: the gateway sends it to Rasa's customer channel, and Rasa
sends it to the action server, as ``Authorization: Bearer <secret>``.

It comes from REDRESS_INTERNAL_SECRET. Outside production, when that is unset, the first
process to start makes a random one in ``var/internal-secret`` (readable by its owner only)
and the others read it, so ``make run`` and the test stacks need no setting. In production
(REDRESS_ENV=production) it must be set.

``python -m redress.internal_secret`` prints it, for scripts/run-rasa. It imports only the
standard library, so Rasa's environment can run it too.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from redress.settings import (
    MIN_SECRET_LENGTH,
    REPO_ROOT,
    SettingsError,
    internal_secret_from_env,
)

SECRET_FILE = REPO_ROOT / "var" / "internal-secret"


def internal_secret(env: Mapping[str, str] | None = None, path: Path = SECRET_FILE) -> str:
    """REDRESS_INTERNAL_SECRET, or (outside production) the one kept in ``path``, made on
    first use. Raises SettingsError, saying what to fix, when neither can be had."""
    env = os.environ if env is None else env
    return internal_secret_from_env(env) or _shared_file(path)


def bearer(secret: str) -> str:
    """The Authorization header's value that carries ``secret``."""
    return f"Bearer {secret}"


def is_bearer_of(header: str | None, secret: str) -> bool:
    """Whether an Authorization header carries ``secret``, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), secret.encode("utf-8")
    )


def _shared_file(path: Path) -> str:
    """The secret in ``path``, made first if there is none. The file appears whole or not
    at all (written aside, then linked into place), so processes starting together all read
    the one that was linked first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another process was first: theirs
                os.link(aside, path)
        finally:
            aside.unlink()
    return _read(path)


def _read(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        raise SettingsError(
            f"{path} can be read by other users of this machine; delete it (a new one is made "
            "on the next start) or set REDRESS_INTERNAL_SECRET."
        )
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{path} does not hold a secret; delete it to make a new one.")
    return secret


def main() -> int:
    try:
        secret = internal_secret()
    except (SettingsError, OSError, UnicodeDecodeError) as problem:
        print(problem, file=sys.stderr)  # noqa: T201 (the command's one line of output)
        return 2
    print(secret)  # noqa: T201 (read by scripts/run-rasa)
    return 0


if __name__ == "__main__":
    sys.exit(main())
