"""The ledger database: request projection, audit log, key records."""

from dsrflow.ledger.db import Ledger

__all__ = ["Ledger"]
