"""The dialogue's states worked out once per event, not again for every prediction.

To predict the next action, RulePolicy and memoization turn the conversation into a list of
states, one before each action: Rasa 3.6's ``Domain.states_for_tracker_history`` replays
every event of the session into a new tracker and builds each state, for every policy, for
every prediction, a few predictions a turn. The states of the events already seen never
change, so on turn 60 most of that work repeats turn 59's, and a turn's cost grows with the
conversation.

``install()`` keeps, for each conversation and each way the states are asked for (with or
without unset slots, with or without turns that only rules have), where the replay got to:
the replayed tracker, the states so far and the loop's two flags. The next call whose
events begin with the same events (the same event objects: rasa_addons/tracker_store.py
hands each turn the kept tracker's events) carries on from there and replays only the new
ones. Anything else is worked out whole, as Rasa does: another conversation's tracker, a
tracker read afresh from the database, or events undone since (a rewind or a restart changes
which events apply). Callers get their own copies of the states, so a policy that changes
one changes nothing kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rasa.shared.core import constants
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker

KEPT = 1024  # conversations times ways of asking; the least recently used are dropped

_installed = False


@dataclass
class _Replay:
    """Where the replay of one conversation's applied events got to."""

    events: int  # applied events replayed so far
    last_event: Event | None  # the last of them (the same object, not an equal one)
    tracker: DialogueStateTracker  # the replayed tracker after them
    states: list[State]  # the states before each action among them
    last_ml_action: Any
    turn_was_hidden: bool
    rule_only_data: Any  # the slots and loops only rules have, as asked with


class DialogueStates:
    """The replays kept for one domain (one loaded model)."""

    def __init__(self, domain: Domain, kept: int = KEPT) -> None:
        self.domain = domain
        self.kept = kept
        self._replays: OrderedDict[tuple[Any, ...], _Replay] = OrderedDict()

    def states(
        self,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        """What ``Domain.states_for_tracker_history`` returns, carrying on from the last
        replay of this conversation when its events begin with the same events."""
        key = (tracker.sender_id, omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
        applied = tracker.applied_events()
        replay = self._replays.get(key)
        if not (
            replay is not None
            and 0 < replay.events <= len(applied)
            and applied[replay.events - 1] is replay.last_event
        ):
            replay = _Replay(0, None, tracker.init_copy(), [], None, False, rule_only_data)
        for event in applied[replay.events :]:
            if isinstance(event, ActionExecuted):
                state, replay.last_ml_action, replay.turn_was_hidden = _turn(
                    self.domain, replay, event.hide_rule_turn, omit_unset_slots,
                    ignore_rule_only_turns,
                )  # fmt: skip
                if state is not None:
                    replay.states.append(state)
            replay.tracker.update(event)
        replay.events = len(applied)
        replay.last_event = applied[-1] if applied else None
        self._keep(key, replay)
        # The state after the last event is the caller's only: it is not kept, as the next
        # events may come before the next action.
        final, _, _ = _turn(self.domain, replay, False, omit_unset_slots, ignore_rule_only_turns)
        return [_copy(state) for state in [*replay.states, *([final] if final is not None else [])]]

    def _keep(self, key: tuple[Any, ...], replay: _Replay) -> None:
        if replay.events == 0:
            self._replays.pop(key, None)
            return
        self._replays[key] = replay
        self._replays.move_to_end(key)
        while len(self._replays) > self.kept:
            self._replays.popitem(last=False)


def _turn(
    domain: Domain,
    replay: _Replay,
    hide_rule_turn: bool,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
) -> tuple[State | None, Any, bool]:
    """One step of Rasa's loop over the prior trackers (``states_for_tracker_history``) at
    the replay's tracker: the state before this action (None for a hidden rule turn), and
    the loop's two flags after it."""
    tr = replay.tracker
    last_ml_action, turn_was_hidden = replay.last_ml_action, replay.turn_was_hidden
    if ignore_rule_only_turns:
        if not turn_was_hidden:
            last_ml_action = domain._get_prev_action_sub_state(tr)
        if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
            turn_was_hidden = hide_rule_turn
        if turn_was_hidden:
            return None, last_ml_action, turn_was_hidden
    state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, replay.rule_only_data)
        if replay.states:
            domain._substitute_rule_only_user_input(state, replay.states[-1])
        if last_ml_action:
            state[constants.PREVIOUS_ACTION] = last_ml_action
    return domain._clean_state(state), last_ml_action, turn_was_hidden


def _frozen(rule_only_data: dict[str, Any] | None) -> Any:
    """The rule-only slots and loops as part of a key (RulePolicy makes a new dict each time)."""
    if not rule_only_data:
        return None
    return tuple(sorted((kind, tuple(names)) for kind, names in rule_only_data.items()))


def _copy(state: State) -> State:
    """A state the caller may change: its own dict and its own sub-state dicts."""
    return {
        kind: dict(sub_state) if isinstance(sub_state, dict) else sub_state
        for kind, sub_state in state.items()
    }


def install() -> None:
    """Makes ``Domain.states_for_tracker_history`` carry on from the last replay (once).
    For serving only: training trackers have their own cache in Rasa."""
    global _installed
    if _installed:
        return
    rasas_own = Domain.states_for_tracker_history

    def states_for_tracker_history(
        self: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        if type(tracker) is not DialogueStateTracker or tracker.is_rule_tracker:
            return rasas_own(
                self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
        kept: DialogueStates | None = self.__dict__.get("_redress_states")
        if kept is None:
            kept = self.__dict__.setdefault("_redress_states", DialogueStates(self))
        return kept.states(tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)

    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
    _installed = True
