"""Persistent state: normalized records, sync cursors, digest ledger, history.

Callers depend on the :class:`Store` protocol (``protocol.py``), never on a
backend. :class:`SqliteStore` implements it for one manager (the default);
``PostgresStore`` (postgres.py, organization mode) implements it for many, and
``open_store`` picks it for a ``postgresql://`` URL. psycopg is imported only then.
"""

from __future__ import annotations

from pathlib import Path

from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.sqlite import SqliteStore, StoreError

__all__ = ["Store", "SqliteStore", "StoreError", "open_store"]


def open_store(
    path: Path | str, *, read_only: bool = False, password: str | None = None
) -> Store:
    """The store at ``path`` (a file, or a ``postgresql://`` URL whose password, if
    any, comes apart in ``password``); ``read_only`` for commands that only read
    (never creates, migrates or writes; StoreError if there is no database yet)."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        from peerpulse.worker.store.postgres import PostgresStore

        return PostgresStore(path, read_only=read_only, password=password)
    return SqliteStore(path, read_only=read_only)
