"""Built-in SQL adapter (SQLite, PostgreSQL, MariaDB/MySQL)."""

from adapters.sql.adapter import SqlAdapter
from adapters.sql.config import SqlConfig

__all__ = ["SqlAdapter", "SqlConfig"]
