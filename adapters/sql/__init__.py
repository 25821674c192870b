"""Built-in SQL adapter (SQLite, PostgreSQL, MariaDB/MySQL)."""

from dsrflow.adapters.sql.adapter import SqlAdapter
from dsrflow.adapters.sql.config import SqlConfig

__all__ = ["SqlAdapter", "SqlConfig"]
