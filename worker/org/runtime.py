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

from peerpulse.worker.config import AccountConfig, Settings
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
        """Create or upgrade the peerpulse tables (the enrolled managers' table
        and the shared project quota too); returns the schema version."""
        from peerpulse.worker.org import roster
        from peerpulse.worker.store import project_quota
        from peerpulse.worker.store.postgres import PostgresStore

        with PostgresStore(self.url, pool=self.pool()) as store:
            version = store.schema_version()
        with self.pool().connection() as conn:
            roster.create(conn)
            project_quota.ensure_table(conn)
        return version

    # -- the mailboxes: [[accounts]] and the enrolled managers ----------------------

    def accounts(self) -> list[AccountConfig]:
        """Every mailbox served: the config's ``[[accounts]]``, then the active
        managers ``org enroll`` put in the database (read each call: an enrollment
        reaches running workers at their next tick)."""
        template = self._template()
        found = list(self.settings.accounts)
        if template is not None:
            from peerpulse.worker.org import roster

            found += [roster.account_config(template, row)
                      for row in roster.load(self.pool(), active_only=True)]
        return found

    def find_account(self, name: str) -> AccountConfig | None:
        """``name``'s account if it is configured or actively enrolled, else None
        (a job queued before its manager was deactivated finds nothing to do)."""
        for account in self.settings.accounts:
            if account.name == name:
                return account
        row = self.enrollment(name)
        template = self._template()
        if row is None or not row.active or template is None:
            return None
        from peerpulse.worker.org import roster

        return roster.account_config(template, row)

    def account(self, name: str) -> AccountConfig:
        """Like :meth:`find_account`, but an unknown name is a ConfigError (exit 2)."""
        found = self.find_account(name)
        if found is None:
            names = [a.name for a in self.accounts()]
            known = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if names[10:] else "")
            raise ConfigError(f"no account named {name!r} in the config or among the "
                              f"enrolled managers; known: {known or 'none'}")
        return found

    def enrollment(self, name: str) -> Any:
        """The enrolled manager's row (``roster.Enrollment``), or None."""
        if self._template() is None:
            return None
        from peerpulse.worker.org import roster

        return roster.load_one(self.pool(), name)

    def _template(self) -> Any:
        org = self.settings.organization
        return org.template if org is not None else None

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
