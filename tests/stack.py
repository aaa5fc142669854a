"""The running assistant for conversation and browser tests. The launcher lives in
scripts/stack.py, shared with the serving benchmark (scripts/bench.py); the session-wide
``stack`` fixture in tests/conftest.py starts one for the whole run."""

from __future__ import annotations

from scripts.stack import (
    ADMIN_TOKEN,
    IDENTITY_SECRET,
    MODEL,
    RASA_API_TOKEN,
    Stack,
    signed_identity,
    texts,
)
from scripts.stack import free_port as _free_port

__all__ = [
    "ADMIN_TOKEN",
    "IDENTITY_SECRET",
    "MODEL",
    "RASA_API_TOKEN",
    "Stack",
    "_free_port",
    "signed_identity",
    "texts",
]
