"""Rasa's model graph run node by node in a fixed order, without dask's scheduler.

Rasa 3.6 runs its model as a graph of components (the NLU pipeline to parse a message, the
policies to predict each next action) through dask: every run works out the part of the
graph the targets need, builds a dask graph of it and has dask's local scheduler order and
run it. Here that happens a few times a turn for graphs of about twenty nodes that never
change, and dask's own work was about 5% of Rasa's CPU per turn (py-spy; docs/performance.md).

``install()`` makes ``DaskGraphRunner.run`` work out each set of targets' nodes and their
order once, then call the same nodes with the same inputs in that order, one after another
as dask's synchronous scheduler does. The nodes, their hooks, the inputs' checks and the
errors are Rasa's own.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

logger = logging.getLogger("redress.rasa.graph_runner")

_installed = False

# For one runner and one tuple of targets: each node to run, in order, with the names of
# the nodes (or inputs) whose outputs it takes, in the order it takes them.
Plan = list[tuple[str, list[str]]]


def plan(schema: GraphSchema, targets: list[str]) -> Plan:
    """The nodes ``targets`` need, each after every node it needs (depth first, in the
    schema's order), with the names of what each takes."""
    minimal = schema.minimal_graph_schema(targets)
    ordered: Plan = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in minimal.nodes:
            return  # done already, or an input given to the run
        if name in visiting:
            raise GraphRunError(f"The model's graph has a cycle through '{name}'.")
        visiting.add(name)
        needs = list(minimal.nodes[name].needs.values())
        for needed in needs:
            visit(needed)
        visiting.discard(name)
        done.add(name)
        ordered.append((name, needs))

    for name in minimal.nodes:
        visit(name)
    return ordered


def install() -> None:
    """Replaces ``DaskGraphRunner.run`` in this process (once)."""
    global _installed
    if _installed:
        return

    def run(
        self: DaskGraphRunner,
        inputs: dict[str, Any] | None = None,
        targets: list[str] | None = None,
    ) -> dict[str, Any]:
        run_targets = list(targets if targets else self._graph_schema.target_names)
        plans: dict[tuple[str, ...], Plan] = self.__dict__.setdefault("_redress_plans", {})
        key = tuple(run_targets)
        if key not in plans:
            plans[key] = plan(self._graph_schema, run_targets)
        outputs: dict[str, Any] = {}
        if inputs:
            graph = {name: None for name in self._graph_schema.nodes}
            self._add_inputs_to_graph(inputs, graph)  # Rasa's check: no input named as a node
            outputs.update({name: (name, value) for name, value in inputs.items()})
        logger.debug("Running graph with inputs: %s, targets: %s", inputs, targets)
        try:
            for name, needs in plans[key]:
                # A name that is neither a node nor an input is passed as it is, as dask does.
                outputs[name] = self._instantiated_nodes[name](*(outputs.get(n, n) for n in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)

    DaskGraphRunner.run = run  # type: ignore[method-assign]
    _installed = True
