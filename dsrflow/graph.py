"""Dependency-graph helpers (pure, deterministic): the adapter SDK's, under the core's name.

The SQL adapter orders tables with them and the SDK may import nothing of the core; the catalog
loader (and workflow code, which may use them: no I/O) imports them from here.
"""

from dsrflow.adapters.sdk.graph import find_cycle as find_cycle
from dsrflow.adapters.sdk.graph import topo_levels as topo_levels
