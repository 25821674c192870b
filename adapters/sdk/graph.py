"""Small, pure graph helpers (safe to use inside workflow code: no I/O, deterministic).

Part of the adapter SDK (the SQL adapter orders tables with them); the core imports them as
``dsrflow.graph``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle in a dependency graph as a closed path, or None if it is a DAG.

    Args:
        graph: node -> nodes it depends on.

    """
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def topo_levels(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Group nodes into levels: each node comes after every node it depends on.

    Nodes within a level keep the order they have in ``graph`` (deterministic), so callers can
    run a level in parallel and still get stable output.

    Raises:
        ValueError: The graph has a cycle.

    """
    cycle = find_cycle(graph)
    if cycle:
        raise ValueError("cycle: " + " -> ".join(cycle))
    done: set[str] = set()
    levels: list[list[str]] = []
    remaining = list(graph)
    while remaining:
        level = [n for n in remaining if all(d in done or d not in graph for d in graph[n])]
        levels.append(level)
        done.update(level)
        remaining = [n for n in remaining if n not in done]
    return levels
