"""Organization mode: many managers on one PostgreSQL database, work fanned out
to workers by Procrastinate (docs/ORGANIZATION.md).

- ``runtime.py``: one worker process's settings, connection pool and rules.
- ``jobs.py``: the work itself (sync one account, deliver one digest, what is
  due), plain functions over the Store protocol, no task engine.
- ``tasks.py``: the Procrastinate app: tasks, locks, periodic ticks and the
  stalled-job recovery.
- ``cli.py``: ``peerpulse org migrate|worker|enqueue|status``.

The single-manager path (SQLite, ``peerpulse run``) imports none of this.
"""
