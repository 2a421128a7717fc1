"""SQLite backend (the embedded default): ``store`` (the queries) and ``database`` (the file,
its privacy and its schema). See ``database`` for durability: WAL with ``synchronous = FULL``."""

from .store import SQLiteSettings, SQLiteStore

__all__ = ["SQLiteSettings", "SQLiteStore"]
