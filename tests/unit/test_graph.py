from __future__ import annotations

import pytest

from dsrflow.graph import find_cycle, topo_levels


def test_levels_respect_dependencies_and_keep_order() -> None:
    graph = {"search": ["db"], "db": [], "crm": [], "cache": ["db", "search"]}
    assert topo_levels(graph) == [["db", "crm"], ["search"], ["cache"]]


def test_cycle_is_found_and_rejected() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"]}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    with pytest.raises(ValueError, match="cycle"):
        topo_levels(graph)


def test_no_cycle() -> None:
    assert find_cycle({"a": [], "b": ["a"]}) is None
