"""Types of the independent residual sweep: the adapter SDK's, under the core's name.

Adapters return them (``dsrflow.adapters.sdk.sweeps``); the workflow, the ``sweep_store``
activity and the evidence records carry them. See ``docs/catalog.md`` ("Residual sweep").
"""

from dsrflow.adapters.sdk.sweeps import SweepBudget as SweepBudget
from dsrflow.adapters.sdk.sweeps import SweepExclusion as SweepExclusion
from dsrflow.adapters.sdk.sweeps import SweepHit as SweepHit
from dsrflow.adapters.sdk.sweeps import SweepReport as SweepReport
