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


def open_store(path: Path | str) -> Store:
    return SqliteStore(path)
