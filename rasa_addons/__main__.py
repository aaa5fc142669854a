"""Rasa's command line with our additions: ``python -m rasa_addons run ...`` takes the same
arguments as ``rasa run ...`` (scripts/run-rasa uses it)."""

from __future__ import annotations

from rasa_addons import (
    action_results,
    dialogue_states,
    event_types,
    graph_runner,
    private_logs,
    tracker_guard,
    turns_once,
)


def main() -> None:
    private_logs.install()
    action_results.install()
    tracker_guard.install()
    turns_once.install()
    event_types.install()
    graph_runner.install()
    dialogue_states.install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
