"""What every job of one worker process shares: settings, one pool, the rules.

Why one object: Procrastinate runs synchronous tasks in threads, so everything
a task touches must be thread-safe. The psycopg pool is; each job opens its own
:class:`~peerpulse.worker.store.protocol.Store` on it (a store is cheap: no
connection of its own, no migration), and the rules are read once, then only
read.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from peerpulse.worker.config import Settings
from peerpulse.worker.errors import ConfigError
from peerpulse.worker.store.protocol import Store


class Runtime:
    """Settings plus lazily opened shared resources for one worker process."""

    def __init__(self, settings: Settings, *, now: datetime | None = None) -> None:
        if settings.database is None:
            raise ConfigError(
                "organization mode needs a shared database: add "
                '[database] url = "postgresql://user@host/dbname" to the config',
                key="database",
            )
        self.settings = settings
        self.pinned_now = now  # --now / PEERPULSE_NOW: a fixed clock for tests and demos
        self.database = settings.database
        self._password = self.database.password.resolve() if self.database.password else None
        self._lock = threading.Lock()
        self._pool: Any = None
        self._rules: Any = None
        from peerpulse.worker.store import project_quota

        project_quota.install(self.pool)  # an API project's quota: one row, every worker

    def now(self) -> datetime:
        return self.pinned_now or datetime.now(UTC)

    @property
    def url(self) -> str:
        return self.database.url

    @property
    def password(self) -> str | None:
        return self._password

    def pool(self) -> Any:
        with self._lock:
            if self._pool is None:
                from peerpulse.worker.store.postgres import make_pool

                self._pool = make_pool(
                    self.url, password=self._password, max_size=self.database.pool_size
                )
            return self._pool

    def store(self) -> Store:
        """A store on the shared pool; the schema must exist (``org migrate``)."""
        from peerpulse.worker.store.postgres import PostgresStore

        return PostgresStore(self.url, pool=self.pool(), migrate=False)

    def migrate(self) -> int:
        """Create or upgrade the peerpulse tables; returns the schema version."""
        from peerpulse.worker.store import project_quota
        from peerpulse.worker.store.postgres import PostgresStore

        with PostgresStore(self.url, pool=self.pool()) as store:
            version = store.schema_version()
        with self.pool().connection() as conn:
            project_quota.ensure_table(conn)
        return version

    def rules(self) -> Any:
        with self._lock:
            if self._rules is None:
                from peerpulse.worker.pipeline import read_rules

                self._rules = read_rules(self.settings)
            return self._rules

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
