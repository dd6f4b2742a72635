"""Persistent state: normalized records, sync cursors, digest ledger, history.

Callers depend on the :class:`Store` protocol (``protocol.py``), never on a
backend. :class:`SqliteStore` implements it; a PostgreSQL backend will
implement the same protocol and be chosen by ``open_store`` from the state URL.
"""

from __future__ import annotations

from pathlib import Path

from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.sqlite import SqliteStore, StoreError

__all__ = ["Store", "SqliteStore", "StoreError", "open_store"]


def open_store(path: Path | str, *, read_only: bool = False) -> Store:
    """The store at ``path``; ``read_only`` for commands that only read (never
    creates, migrates or writes; StoreError if there is no database yet)."""
    return SqliteStore(path, read_only=read_only)
