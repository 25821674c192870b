"""Audit categories, as the use cases name them: the ledger's (``dsrflow.ledger.categories``).

They live with the ledger, which stores and classifies audit entries, so that the ledger never
imports the application layer; this module keeps the use cases' import path.
"""

from __future__ import annotations

from dsrflow.ledger.categories import DECISIONS, Category, category_for

__all__ = ["DECISIONS", "Category", "category_for"]
