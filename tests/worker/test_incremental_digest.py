"""The incremental digest equals the full one (issue 14, item 1).

Every digest section, the rule counts and every peer's figures are computed both
ways on real demo organizations synced through the files connector: resumed
from the stored inference checkpoint (worker/checkpoint.py, rules/checkpoint.py)
and from every raw record. Week after week, across a DST change, with mail
added after the checkpoint, records deleted before it, a rules change and a
people-file change; and a broken write path (a trigger dropped) is caught.
Every test runs on SQLite and on the PostgreSQL server the fixtures start (its
triggers are plpgsql, migration 8), on a subset of the cases there.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from peerpulse.connectors.records import Person, RecordKey, RecordKind, SyncBatch
from peerpulse.rules.loader import load_rules
from peerpulse.worker.checkpoint import AHEAD_SLACK, HORIZON_MARGIN
from peerpulse.worker.config import load_settings
from peerpulse.worker.demo import generate
from peerpulse.worker.pipeline import carry_checkpoint, compute_for_account, read_rules
from peerpulse.worker.store import open_store
from peerpulse.worker.sync import sync_account

from benchmarks.demo_config import write_demo_config

# (seed, last day of the demo, days before its end of the first digest, variant)
CASES = [
    (7, date(2026, 11, 20), 30, "standard"),  # weekly across the end of US daylight time
    (23, date(2026, 3, 31), 28, "standard"),  # and across its start (Mar 8)
    (41, date(2026, 6, 30), 21, "standard"),
    # replies told by "Re:" alone: the thread state carried by the checkpoint matters
    (7, date(2026, 11, 20), 30, "no_reply_headers"),
]
# (case, backend): every case on SQLite; on PostgreSQL the DST change and "Re:" alone.
PARAMS = [(c, "sqlite") for c in CASES] + [(CASES[0], "postgres"), (CASES[3], "postgres")]


@dataclasses.dataclass
class Demo:
    settings: object
    account: object
    rules: object
    now: datetime  # the demo's end
    state: Path
    database: Path | str  # the SQLite file or the PostgreSQL URL

    @property
    def postgres(self) -> bool:
        return isinstance(self.database, str)


@pytest.fixture(scope="module", params=PARAMS,
                ids=[f"{b}-seed{c[0]}-{c[1]:%b}-{c[3]}" for c, b in PARAMS])
def demo(request, tmp_path_factory) -> Demo:
    (seed, end, back, variant), backend = request.param
    tmp = tmp_path_factory.mktemp(f"incremental-{seed}")
    generate(tmp / "demo", seed=seed, managers=30, months=6, end=end, variant=variant)
    config = tmp / "config.toml"
    meta = write_demo_config(tmp / "demo", tmp / "state", config)
    settings = load_settings(config)
    account = settings.accounts[0]
    now = datetime.fromisoformat(meta["now"].replace("Z", "+00:00"))
    database: Path | str = settings.database_path
    if backend == "postgres":
        cluster = request.getfixturevalue("pg_cluster")
        database = cluster.new_schema_url(request.getfixturevalue("pg_database"))
    with open_store(database) as store:
        assert sync_account(store, settings, account, now=now).ok
    demo = Demo(settings, account, read_rules(settings), now, tmp / "state", database)
    demo.back = back  # type: ignore[attr-defined]
    return demo


def both(store, demo: Demo, now: datetime, rules=None):
    rules = rules or demo.rules
    incremental = compute_for_account(store, demo.settings, demo.account, rules, now=now)
    full = compute_for_account(store, demo.settings, demo.account, rules, now=now, raw=True)
    return incremental, full


def assert_same(incremental, full) -> None:
    assert incremental.digest == full.digest
    assert dict(incremental.rule_counts) == dict(full.rule_counts)
    assert incremental.coverage == full.coverage
    assert incremental.team_meeting == full.team_meeting
    assert incremental.views.keys() == full.views.keys()
    for email, view in full.views.items():
        mine = incremental.views[email]
        assert (mine.score, mine.cadence, mine.days_since, mine.upcoming, mine.attendance,
                mine.unanswered, mine.open_latest, mine.fades_in) == (
                view.score, view.cadence, view.days_since, view.upcoming, view.attendance,
                view.unanswered, view.open_latest, view.fades_in), email
        assert mine.rows == view.rows, email


def query(demo: Demo, sql: str, params: tuple = ()) -> list[tuple]:
    """``sql`` (``?`` placeholders) on the demo's database, whichever backend."""
    if demo.postgres:
        import psycopg

        with psycopg.connect(str(demo.database)) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()
    with sqlite3.connect(demo.database) as db:
        return db.execute(sql, params).fetchall()


def peer_mail(result, before: float) -> str:
    """A peer's mail (record id) dated before ``before``: it counts in the digest."""
    rows = sorted((r[0], r[3]) for v in result.views.values() for r in v.rows
                  if r[1].startswith("mail") and r[0] < before)
    assert rows
    return rows[len(rows) // 2][1]


def delete_message(store, demo: Demo, record_id: str) -> None:
    ((source,),) = query(demo, "SELECT source FROM messages WHERE source_id = ?", (record_id,))
    store.apply_batch(demo.account.name, source, SyncBatch(
        deletions=[RecordKey(RecordKind.MESSAGE, record_id)], scope="test", run_id="test"))


def test_week_after_week_the_resumed_digest_equals_the_full_one(demo: Demo) -> None:
    start = demo.now - timedelta(days=demo.back)
    with open_store(demo.database) as store:
        first, full = both(store, demo, start)
        assert not first.resumed
        assert_same(first, full)
        assert first.digest.peer_of_the_week is not None and first.digest.stats["interactions"]
        for week in range(1, 4):
            result, full = both(store, demo, start + timedelta(days=7 * week))
            assert result.resumed, f"week {week} read everything again"
            assert_same(result, full)


def test_new_mail_after_the_checkpoint_and_deletions_before_it(demo: Demo) -> None:
    now = demo.now - timedelta(days=10)
    with open_store(demo.database) as store:
        base, _ = both(store, demo, now)
        later = now + timedelta(days=7)
        # New mail between the checkpoint and the next digest: copies of peer mail.
        source_rows = [m for m in store.iter_messages(demo.account.name)
                       if m.timestamp.timestamp() < now.timestamp()][-40:]
        fresh = [dataclasses.replace(m, source_id=f"new-{i}", message_id=f"<new-{i}@test>",
                                     timestamp=now + timedelta(days=2, minutes=i))
                 for i, m in enumerate(source_rows)]
        store.apply_batch(demo.account.name, "test", SyncBatch(
            upserts=list(fresh), scope="test", run_id="r1"))
        result, full = both(store, demo, later)
        assert result.resumed
        assert_same(result, full)
        # A record before the horizon goes: the next digest reads everything.
        delete_message(store, demo, peer_mail(result, now.timestamp() - 30 * 86400))
        result, full = both(store, demo, later + timedelta(days=1))
        assert not result.resumed
        assert_same(result, full)
        # A late mail (dated before the horizon) too.
        store.apply_batch(demo.account.name, "test", SyncBatch(
            upserts=[dataclasses.replace(fresh[0], source_id="late", message_id="<late@x>",
                                         timestamp=now - timedelta(days=20))],
            scope="test", run_id="r2"))
        result, full = both(store, demo, later + timedelta(days=2))
        assert not result.resumed
        assert_same(result, full)
        # An unchanged re-upsert (a re-read export) keeps the checkpoint.
        store.apply_batch(demo.account.name, "test", SyncBatch(
            upserts=list(fresh), scope="test", run_id="r3"))
        result, full = both(store, demo, later + timedelta(days=3))
        assert result.resumed
        assert_same(result, full)
        # A purge of what lies before the window changes nothing; one inside it does.
        assert base.digest.stats["interactions"]


def test_a_rules_change_and_a_people_change_rebuild(demo: Demo) -> None:
    now = demo.now - timedelta(days=5)
    with open_store(demo.database) as store:
        both(store, demo, now)
        stricter = load_rules([("strict.toml", "[recommend]\nreconnect_min_interactions = 9\n"
                                "[tie_strength]\nhalf_life_days = 45\n")])
        result, full = both(store, demo, now + timedelta(days=1), rules=stricter)
        assert not result.resumed
        assert_same(result, full)
        result, full = both(store, demo, now + timedelta(days=2), rules=stricter)
        assert result.resumed
        assert_same(result, full)
        # Someone in the people file gets an alias: inference changes, so a rebuild.
        people = store.people(demo.account.name)
        peer = sorted(result.views)[0]
        ((source,), *_) = query(demo, "SELECT source FROM people")
        changed = [dataclasses.replace(p, aliases=(*p.aliases, "alias-of-peer@example.org"))
                   for p in people if p.email == peer]
        assert changed and isinstance(changed[0], Person)
        store.apply_batch(demo.account.name, source, SyncBatch(
            upserts=changed, scope=_scope_of(demo, peer), run_id=_run_of(demo, peer)))
        result, full = both(store, demo, now + timedelta(days=3), rules=stricter)
        assert not result.resumed
        assert_same(result, full)


def _scope_of(demo: Demo, email: str) -> str:
    return query(demo, "SELECT scope FROM people WHERE email = ?", (email,))[0][0]


def _run_of(demo: Demo, email: str) -> str:
    return query(demo, "SELECT run_id FROM people WHERE email = ?", (email,))[0][0]


def test_a_broken_write_path_is_caught(tmp_path: Path, demo: Demo) -> None:
    """Without the deletion trigger the checkpoint misses a deletion: the comparison fails."""
    if demo.postgres:
        _broken_on_postgres(demo)
        return
    copy = tmp_path / "copy.sqlite"
    with sqlite3.connect(demo.settings.database_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    settings = dataclasses.replace(demo, settings=demo.settings.model_copy(
        update={"state_dir": tmp_path}))
    settings.database = settings.settings.database_path
    assert settings.settings.database_path != demo.settings.database_path
    copy.rename(settings.settings.database_path)
    now = demo.now - timedelta(days=12)
    with open_store(settings.settings.database_path) as store:
        first, _ = both(store, settings, now)
        with sqlite3.connect(settings.settings.database_path) as db:
            db.execute("DROP TRIGGER messages_checkpoint_delete")
        delete_message(store, settings, peer_mail(first, now.timestamp() - 30 * 86400))
        _assert_missed(store, settings, now)


def _broken_on_postgres(demo: Demo) -> None:
    """The same with PostgreSQL's trigger disabled (and enabled again: the demo's
    database is shared by the module's tests, and the deleted mail is put back)."""
    import psycopg

    now = demo.now - timedelta(days=12)
    with open_store(demo.database) as store:
        first, _ = both(store, demo, now)
        victim = peer_mail(first, now.timestamp() - 30 * 86400)
        kept = next(m for m in store.iter_messages(demo.account.name) if m.source_id == victim)
        ((source, scope, run_id),) = query(
            demo, "SELECT source, scope, run_id FROM messages WHERE source_id = ?", (victim,))
        with psycopg.connect(str(demo.database), autocommit=True) as conn:
            conn.execute("ALTER TABLE messages DISABLE TRIGGER messages_checkpoint_delete")
        try:
            delete_message(store, demo, victim)
        finally:
            with psycopg.connect(str(demo.database), autocommit=True) as conn:
                conn.execute("ALTER TABLE messages ENABLE TRIGGER messages_checkpoint_delete")
        _assert_missed(store, demo, now)
        store.apply_batch(demo.account.name, source, SyncBatch(
            upserts=[kept], scope=scope, run_id=run_id))
        result, full = both(store, demo, now + timedelta(days=8))
        assert not result.resumed  # the mail put back is before the horizon
        assert_same(result, full)


def _assert_missed(store, demo: Demo, now: datetime) -> None:
    result, full = both(store, demo, now + timedelta(days=7))
    assert result.resumed  # it should not have: the deletion went unnoticed
    with pytest.raises(AssertionError):
        assert_same(result, full)


def test_readers_use_the_checkpoint_but_never_write_it(demo: Demo) -> None:
    now = demo.now - timedelta(days=3)
    with open_store(demo.database) as store:
        both(store, demo, now)
        kept = store.digest_checkpoint(demo.account.name)
    with open_store(demo.database, read_only=True) as reader:
        result, full = both(reader, demo, now + timedelta(days=1))
        assert result.resumed
        assert_same(result, full)
        assert reader.digest_checkpoint(demo.account.name) == kept


def test_a_moving_retention_window_and_a_purge_rebuild(demo: Demo) -> None:
    """Records leaving the window (a short retention): the checkpoint is re-based past
    them (or, where the re-base refuses, everything read); a purge inside the window
    (before the horizon): it no longer holds. The digest equals the full one."""
    short = dataclasses.replace(demo, settings=demo.settings.model_copy(update={
        "privacy": demo.settings.privacy.model_copy(update={"retention_days": 60})}))
    now = demo.now - timedelta(days=14)
    with open_store(demo.database) as store:
        first, full = both(store, short, now)
        assert_same(first, full)
        result, full = both(store, short, now + timedelta(days=7))
        assert result.rebase is not None  # a week of records left the 60-day window
        assert result.resumed == (result.rebase == "rebased")
        assert_same(result, full)
        both(store, demo, now)  # the long window again: a checkpoint under its fingerprint
        result, full = both(store, demo, now + timedelta(days=1))
        assert result.resumed
        store.purge_before(demo.account.name, now - timedelta(days=100))
        result, full = both(store, demo, now + timedelta(days=2))
        assert not result.resumed
        assert_same(result, full)


def test_a_checkpoint_carried_forward_by_runs_without_a_digest(demo: Demo) -> None:
    """Daily runs that send no digest carry the checkpoint forward
    (pipeline.carry_checkpoint): the weekly digest then resumes 3 days before its
    ``now``, not 10, and still equals the full one; a late mail between the two
    horizons makes it read everything, still equal."""
    start = demo.now - timedelta(days=20)
    name = demo.account.name

    def carry(now: datetime) -> bool:
        return carry_checkpoint(store, demo.settings, demo.account, demo.rules, now=now)

    def horizon() -> int | None:
        found = store.digest_checkpoint(name)
        return found.horizon if found else None

    with open_store(demo.database) as store:
        assert_same(*both(store, demo, start))
        kept = horizon()
        assert kept == math.floor((start - HORIZON_MARGIN).timestamp())
        assert not carry(start + timedelta(hours=12))  # less than a day gained
        assert horizon() == kept
        assert [carry(start + timedelta(days=d)) for d in range(1, 7)] == [True] * 6
        assert horizon() == math.floor((start + timedelta(days=6) - HORIZON_MARGIN).timestamp())
        result, full = both(store, demo, start + timedelta(days=7))
        assert result.resumed
        assert_same(result, full)
        # Carrying never reads everything: without a usable checkpoint it does nothing.
        late = start + timedelta(days=5) - HORIZON_MARGIN  # before the carried horizon
        mail = next(iter(store.iter_messages(name)))
        store.apply_batch(name, "test", SyncBatch(upserts=[dataclasses.replace(
            mail, source_id="carried-late", message_id="<carried-late@x>", timestamp=late)],
            scope="test", run_id="carry"))
        assert not carry(start + timedelta(days=9))
        result, full = both(store, demo, start + timedelta(days=10))
        assert not result.resumed
        assert_same(result, full)


def test_records_leaving_the_window_rebase_the_checkpoint(demo: Demo) -> None:
    """A store holding more than ``retention_days``: records leave the window between
    digests, read by them (week 1) or purged first as a sync does (weeks 2-3). The
    checkpoint is re-based past them (rules/rebase.py), not read again in full, and
    the digest still equals the full one. A 30-day reciprocity window so that the
    6-month demo holds more than a retention window the re-base supports."""
    rules = load_rules([("r.toml", "[reciprocity]\nwindow_days = 30\n")])
    short = dataclasses.replace(demo, settings=demo.settings.model_copy(update={
        "privacy": demo.settings.privacy.model_copy(update={"retention_days": 100})}))
    # Windows from 110 days back: after the 114 days another test of the module
    # purged (the demo's database is shared), so records leave each week.
    start = demo.now - timedelta(days=10)
    with open_store(demo.database) as store:
        first, full = both(store, short, start, rules)
        assert_same(first, full)
        for week in (1, 2, 3):
            now = start + timedelta(days=7 * week)
            if week > 1:
                store.purge_before(demo.account.name, now - timedelta(days=100))
            result, full = both(store, short, now, rules)
            assert result.resumed, result.rebase
            assert result.rebase == "rebased"
            assert_same(result, full)


def test_the_second_state_resumed_unless_a_record_landed_in_the_margin(demo: Demo) -> None:
    """A weekly digest keeps a second state at about its own time (worker/checkpoint.py):
    the next digest resumes it (7 days read, not 10) while no record dated before it
    was written since; late mail, or a deletion, inside the margin (between the two
    horizons) makes it resume the state 3 days earlier; before both, everything is
    read. A reader resumes it too; a rules change rebuilds. Every digest equals the
    full one."""
    name = demo.account.name
    start = demo.now - timedelta(days=50)

    def stored():
        return store.digest_checkpoint(name)

    def ts(at: datetime) -> int:
        return math.floor(at.timestamp())

    with open_store(demo.database) as store:
        assert_same(*both(store, demo, start))
        kept = stored()
        assert kept.horizon == ts(start - HORIZON_MARGIN)
        assert kept.ahead_state and kept.horizon < kept.ahead_horizon <= ts(start - AHEAD_SLACK)
        # The next week: the second state, nothing between it and the first read again.
        week = start + timedelta(days=7)
        result, full = both(store, demo, week)
        assert result.resumed_from == kept.ahead_horizon
        assert result.digest.stats["messages_read"] == full.digest.stats["messages_read"]
        assert_same(result, full)
        kept = stored()
        # Late mail dated inside the margin: the first state, 3 days earlier.
        mail = next(iter(store.iter_messages(name)))
        late = datetime.fromtimestamp(kept.ahead_horizon - 86400, week.tzinfo)
        assert late.timestamp() > kept.horizon
        store.apply_batch(name, "test", SyncBatch(upserts=[dataclasses.replace(
            mail, source_id="margin-late", message_id="<margin-late@x>", timestamp=late)],
            scope="test", run_id="margin"))
        with open_store(demo.database, read_only=True) as reader:  # readers see it too
            result, full = both(reader, demo, week + timedelta(days=7))
            assert result.resumed_from == kept.horizon
            assert_same(result, full)
        result, full = both(store, demo, week + timedelta(days=7))
        assert result.resumed_from == kept.horizon
        assert_same(result, full)
        # A deletion inside the margin: the same.
        week += timedelta(days=7)
        kept = stored()
        in_margin = [m.source_id for m in store.iter_messages(
            name, since=datetime.fromtimestamp(kept.horizon + 3600, week.tzinfo),
            until=datetime.fromtimestamp(kept.ahead_horizon - 3600, week.tzinfo))]
        assert in_margin
        delete_message(store, demo, in_margin[len(in_margin) // 2])
        result, full = both(store, demo, week + timedelta(days=7))
        assert result.resumed_from == kept.horizon
        assert_same(result, full)
        # A deletion after the second state's horizon: it still holds.
        week += timedelta(days=7)
        kept = stored()
        after = [m.source_id for m in store.iter_messages(
            name, since=datetime.fromtimestamp(kept.ahead_horizon + 3600, week.tzinfo),
            until=week)]
        if after:
            delete_message(store, demo, after[0])
        with open_store(demo.database, read_only=True) as reader:
            result, full = both(reader, demo, week + timedelta(days=7))
            assert result.resumed_from == kept.ahead_horizon
            assert_same(result, full)
        # A rules change: neither state holds.
        stricter = load_rules([("strict.toml", "[tie_strength]\nhalf_life_days = 45\n")])
        result, full = both(store, demo, week + timedelta(days=7), rules=stricter)
        assert not result.resumed
        assert_same(result, full)


def test_a_carry_keeps_the_second_state_or_starts_from_it(demo: Demo) -> None:
    """A daily run carrying the checkpoint 1 day on keeps the weekly digest's second
    state (still ahead of the new horizon); 4 days on, it carries from it. The next
    digest still equals the full one."""
    name = demo.account.name
    start = demo.now - timedelta(days=45)
    with open_store(demo.database) as store:
        assert_same(*both(store, demo, start))
        kept = store.digest_checkpoint(name)

        def carry(now: datetime) -> bool:
            return carry_checkpoint(store, demo.settings, demo.account, demo.rules, now=now)

        assert carry(start + timedelta(days=1))
        found = store.digest_checkpoint(name)
        assert found.horizon == math.floor((start + timedelta(days=1) - HORIZON_MARGIN)
                                           .timestamp())
        assert (found.ahead_horizon, found.ahead_state) == (kept.ahead_horizon,
                                                            kept.ahead_state)
        assert carry(start + timedelta(days=5))
        found = store.digest_checkpoint(name)
        assert found.ahead_state is None and found.horizon > kept.ahead_horizon
        result, full = both(store, demo, start + timedelta(days=7))
        assert result.resumed_from == found.horizon
        assert_same(result, full)


def test_the_collector_is_paused_while_a_resumed_digest_computes(demo: Demo, monkeypatch):
    """A resumed digest computes with the cyclic garbage collector off (its ~190
    collections were ~15% of it at 1M messages) and leaves it as it found it."""
    import gc

    import peerpulse.worker.pipeline as pipeline

    seen: list[bool] = []
    real = pipeline.compute

    def compute(inputs, rules):
        seen.append(gc.isenabled())
        return real(inputs, rules)

    monkeypatch.setattr(pipeline, "compute", compute)
    now = demo.now - timedelta(days=2)
    with open_store(demo.database) as store:
        assert gc.isenabled()
        both(store, demo, now)  # keeps a checkpoint (the raw one: collector on)
        result, full = both(store, demo, now + timedelta(days=1))
        assert result.resumed
        assert_same(result, full)
        assert gc.isenabled()
        gc.disable()
        try:
            compute_for_account(store, demo.settings, demo.account, demo.rules,
                                now=now + timedelta(days=1))
            assert not gc.isenabled()  # left as it was
        finally:
            gc.enable()
    assert seen == [False, True, False, True, False]
