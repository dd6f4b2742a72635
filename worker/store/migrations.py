"""Versioned schema migrations, in portable SQL (SQLite and PostgreSQL).

Append a new entry to ``MIGRATIONS`` for every schema change; never edit a
shipped one. Each entry is applied once, in its own transaction, and recorded in
``schema_version``. Types are limited to INTEGER, BIGINT-compatible INTEGER,
TEXT and REAL, and upserts use ``INSERT ... ON CONFLICT ... DO UPDATE``, which
both engines understand.
"""

from __future__ import annotations

#: Statements only one backend runs (trigger syntax differs): sqlite.py skips the
#: second, postgres_schema.py the first.
SQLITE_ONLY = "-- sqlite only"
POSTGRES_ONLY = "-- postgres only"

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "records, cursors, sync runs and skipped inputs",
        [
            """CREATE TABLE cursors (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                cursor TEXT,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (account, source)
            )""",
            """CREATE TABLE events (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                source_id TEXT NOT NULL,
                scope TEXT NOT NULL,
                run_id TEXT NOT NULL,
                series_id TEXT NOT NULL,
                start_ts INTEGER NOT NULL,
                end_ts INTEGER NOT NULL,
                organizer TEXT,
                attendees TEXT NOT NULL,
                attendee_count INTEGER NOT NULL,
                all_day INTEGER NOT NULL,
                original_tz TEXT,
                title TEXT,
                status TEXT NOT NULL,
                transparency TEXT NOT NULL,
                event_type TEXT NOT NULL,
                recurring INTEGER NOT NULL,
                self_response TEXT,
                PRIMARY KEY (account, source, source_id)
            )""",
            "CREATE INDEX events_by_time ON events (account, start_ts)",
            "CREATE INDEX events_by_scope ON events (account, source, scope)",
            """CREATE TABLE messages (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                source_id TEXT NOT NULL,
                scope TEXT NOT NULL,
                run_id TEXT NOT NULL,
                message_id TEXT,
                thread_id TEXT,
                ts INTEGER NOT NULL,
                sender TEXT,
                to_addrs TEXT NOT NULL,
                cc_addrs TEXT NOT NULL,
                bcc_addrs TEXT NOT NULL,
                direction TEXT NOT NULL,
                in_reply_to TEXT,
                refs TEXT NOT NULL,
                list_id TEXT,
                list_unsubscribe INTEGER NOT NULL,
                auto_submitted TEXT,
                precedence TEXT,
                is_invitation INTEGER NOT NULL,
                subject TEXT,
                sender_name TEXT,
                PRIMARY KEY (account, source, source_id)
            )""",
            "CREATE INDEX messages_by_time ON messages (account, ts)",
            "CREATE INDEX messages_by_scope ON messages (account, source, scope)",
            """CREATE TABLE people (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                source_id TEXT NOT NULL,
                scope TEXT NOT NULL,
                run_id TEXT NOT NULL,
                email TEXT NOT NULL,
                name TEXT,
                aliases TEXT NOT NULL,
                department TEXT,
                title TEXT,
                manager TEXT,
                manages_anyone INTEGER NOT NULL,
                tags TEXT NOT NULL,
                team_size INTEGER,
                PRIMARY KEY (account, source, source_id)
            )""",
            "CREATE INDEX people_by_scope ON people (account, source, scope)",
            """CREATE TABLE title_changes (
                account TEXT NOT NULL,
                email TEXT NOT NULL,
                old_title TEXT,
                new_title TEXT,
                seen_at INTEGER NOT NULL
            )""",
            "CREATE INDEX title_changes_by_time ON title_changes (account, seen_at)",
            """CREATE TABLE sync_runs (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                finished_at INTEGER,
                outcome TEXT NOT NULL,
                upserted INTEGER NOT NULL,
                deleted INTEGER NOT NULL,
                skipped INTEGER NOT NULL,
                error TEXT
            )""",
            "CREATE INDEX sync_runs_by_account ON sync_runs (account, source, started_at)",
            """CREATE TABLE skipped_inputs (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                location TEXT NOT NULL,
                reason TEXT NOT NULL,
                seen_at INTEGER NOT NULL,
                PRIMARY KEY (account, source, location)
            )""",
            """CREATE TABLE recommendation_history (
                account TEXT NOT NULL,
                period TEXT NOT NULL,
                section TEXT NOT NULL,
                email TEXT NOT NULL,
                recorded_at INTEGER NOT NULL,
                PRIMARY KEY (account, period, section, email)
            )""",
        ],
    ),
]

# 2: the digest ledger (worker/ledger.py). One row per digest message: seq 0 is the
# period's scheduled digest, seq 1, 2, ... are deliberate resends (`digest --force`).
# The message column holds the exact RFC 5322 bytes (ASCII: every part uses a 7-bit
# transfer encoding), so a retry sends what was rendered, with the same Message-ID.
MIGRATIONS.append(
    (
        2,
        "digest ledger: one digest per recipient and period",
        [
            """CREATE TABLE digest_ledger (
                account TEXT NOT NULL,
                recipient TEXT NOT NULL,
                period TEXT NOT NULL,
                seq INTEGER NOT NULL,
                message_id TEXT NOT NULL UNIQUE,
                subject TEXT NOT NULL,
                message TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN
                    ('pending', 'sending', 'sent', 'unknown', 'failed', 'empty')),
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                location TEXT,
                created_at INTEGER NOT NULL,
                sending_at INTEGER,
                finished_at INTEGER,
                reported_at INTEGER,
                PRIMARY KEY (account, recipient, period, seq)
            )""",
            "CREATE INDEX digest_ledger_by_state ON digest_ledger (account, state)",
        ],
    )
)

MIGRATIONS.append(
    (
        3,
        "time indexes that also order by source_id (no temp sort when scoring)",
        [
            # The digest reads every message in (ts, source_id) order: with the
            # id in the index SQLite walks it in order instead of sorting ties
            # in a temporary B-tree (measured: ~0.6 s per million messages).
            "CREATE INDEX messages_by_time_id ON messages (account, ts, source_id)",
            "DROP INDEX messages_by_time",
            "CREATE INDEX events_by_time_id ON events (account, start_ts, source_id)",
            "DROP INDEX events_by_time",
        ],
    )
)

# 4: connector state (connectors/state.py), one home for what a connector must
# remember beyond its cursor; written in the same transaction as the batch.
MIGRATIONS.append(
    (
        4,
        "connector state keyed by source and key",
        [
            """CREATE TABLE connector_state (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                state_key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (account, source, state_key)
            )""",
        ],
    )
)

# 5: the store's identity, checked against the marker file beside the database.
MIGRATIONS.append(
    (
        5,
        "store identity, so a replaced database is recognised (issue 10, item 3)",
        ["CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    )
)

# 6: what the manager told us (issue 13): snooze / done / never from the CLI or
# from the digest's action links, and the command mails those links produce.
# An override is undone by stamping ``undone_at``, never deleted, so `explain`
# and the digest can say what happened. ``token`` is the signed token of the
# command mail that gave it: unique, so a replayed or resent command applies once.
MIGRATIONS.append(
    (
        6,
        "overrides (snooze, done, never) and digest command mails (issue 13)",
        [
            """CREATE TABLE overrides (
                account TEXT NOT NULL,
                override_id TEXT NOT NULL,
                email TEXT NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('snooze', 'done', 'never')),
                until_date TEXT,
                created_at INTEGER NOT NULL,
                source TEXT NOT NULL,
                token TEXT,
                undone_at INTEGER,
                PRIMARY KEY (account, override_id)
            )""",
            "CREATE INDEX overrides_by_email ON overrides (account, email, created_at)",
            "CREATE UNIQUE INDEX overrides_by_token ON overrides (account, token)",
            """CREATE TABLE mail_commands (
                account TEXT NOT NULL,
                source TEXT NOT NULL,
                source_id TEXT NOT NULL,
                sent_at INTEGER NOT NULL,
                command TEXT NOT NULL,
                outcome TEXT,
                detail TEXT,
                processed_at INTEGER,
                PRIMARY KEY (account, source, source_id)
            )""",
            "CREATE INDEX mail_commands_by_time ON mail_commands (account, sent_at)",
        ],
    )
)

# 7: the digest's inference checkpoint (issue 14, item 1; rules/checkpoint.py): the
# pass over every record before ``horizon``, kept with the fingerprint of the rules,
# people, owner and retention it was made under. Every write of an event or message
# (insert, content change, deletion: syncs, pruning, retention purges alike) lowers
# ``dirty_from`` to the record's time and bumps ``generation`` in its own transaction,
# through triggers, so no write path can forget it; a checkpoint with ``dirty_from``
# before its horizon is rebuilt. The triggers are SQLite's (postgres_schema.py leaves
# statements marked ``-- sqlite only`` out: PostgreSQL keeps no checkpoint and reads
# the raw records, as before).
_CONTENT_COLUMNS = {
    "events": (
        "series_id", "start_ts", "end_ts", "organizer", "attendees", "attendee_count",
        "all_day", "original_tz", "title", "status", "transparency", "event_type",
        "recurring", "self_response",
    ),
    "messages": (
        "message_id", "thread_id", "ts", "sender", "to_addrs", "cc_addrs", "bcc_addrs",
        "direction", "in_reply_to", "refs", "list_id", "list_unsubscribe",
        "auto_submitted", "precedence", "is_invitation", "subject", "sender_name",
    ),
}
_CONTENT_CHANGED = {
    table: " OR ".join(f"old.{c} IS NOT new.{c}" for c in columns)
    for table, columns in _CONTENT_COLUMNS.items()
}
_TIME = {"events": "start_ts", "messages": "ts"}


def _touch(table: str, row: str, at: str) -> str:
    return (
        f"UPDATE digest_checkpoints SET generation = generation + 1, "
        f"dirty_from = MIN(COALESCE(dirty_from, {at}), {at}) WHERE account = {row}.account"
    )


def _checkpoint_triggers() -> list[str]:
    out = []
    for table, column in _TIME.items():
        out += [
            f"-- sqlite only\nCREATE TRIGGER {table}_checkpoint_insert AFTER INSERT ON {table} "
            f"BEGIN {_touch(table, 'new', f'new.{column}')}; END",
            f"-- sqlite only\nCREATE TRIGGER {table}_checkpoint_update AFTER UPDATE ON {table} "
            f"WHEN {_CONTENT_CHANGED[table]} "
            f"BEGIN {_touch(table, 'new', f'MIN(old.{column}, new.{column})')}; END",
            f"-- sqlite only\nCREATE TRIGGER {table}_checkpoint_delete AFTER DELETE ON {table} "
            f"BEGIN {_touch(table, 'old', f'old.{column}')}; END",
        ]
    return out


MIGRATIONS.append(
    (
        7,
        "the digest's inference checkpoint, kept current by triggers (issue 14, item 1)",
        [
            """CREATE TABLE digest_checkpoints (
                account TEXT NOT NULL PRIMARY KEY,
                fingerprint TEXT,
                horizon INTEGER,
                since_ts INTEGER,
                dirty_from INTEGER,
                generation INTEGER NOT NULL,
                state BLOB
            )""",
            *_checkpoint_triggers(),
        ],
    )
)

# 8: PostgreSQL keeps the digest checkpoint too (issue 14, item 1): plpgsql row
# triggers mark ``digest_checkpoints`` in the writing transaction, as SQLite's do
# (migration 7, unchanged there). Two differences, both for PostgreSQL's concurrency
# and cost (benchmarks/checkpoint_marking.py):
# * a transaction's first write of an account upserts the row (creating it if need
#   be), bumps ``generation`` and lowers ``dirty_from``: it holds the row's lock
#   from then to its commit, so a digest beginning meanwhile waits for it, and a
#   sync racing the very first digest cannot go unmarked;
# * its later writes only compare their time with what that first write left
#   (a transaction-local setting) and update the row only to lower ``dirty_from``:
#   a function call per row, no table access.
_PG_CHANGED = {
    table: " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    for table, columns in _CONTENT_COLUMNS.items()
}
_PG_MARK_SETTING = "peerpulse.checkpoint_mark"  # '<dirty_from> <account>', this transaction


def _pg_mark_function(table: str, column: str) -> str:
    # Lower-case type names: postgres_schema.translate() rewrites upper-case ones.
    return (
        f"{POSTGRES_ONLY}\nCREATE FUNCTION {table}_checkpoint_mark() RETURNS trigger "
        "LANGUAGE plpgsql AS $mark$\n"
        "DECLARE\n  at bigint;\n  acct text;\n  seen text;\n  low bigint;\nBEGIN\n"
        f"  IF TG_OP = 'INSERT' THEN at := NEW.{column}; acct := NEW.account;\n"
        f"  ELSIF TG_OP = 'DELETE' THEN at := OLD.{column}; acct := OLD.account;\n"
        f"  ELSE at := LEAST(OLD.{column}, NEW.{column}); acct := NEW.account;\n"
        "  END IF;\n"
        f"  seen := current_setting('{_PG_MARK_SETTING}', true);\n"
        "  IF seen IS NULL OR seen = '' OR substr(seen, strpos(seen, ' ') + 1) <> acct THEN\n"
        "    INSERT INTO digest_checkpoints AS c (account, generation, dirty_from)\n"
        "      VALUES (acct, 1, at) ON CONFLICT (account) DO UPDATE\n"
        "      SET generation = c.generation + 1, dirty_from = LEAST(c.dirty_from, at)\n"
        "      RETURNING c.dirty_from INTO low;\n"
        f"    PERFORM set_config('{_PG_MARK_SETTING}', low || ' ' || acct, true);\n"
        "  ELSIF at < split_part(seen, ' ', 1)::bigint THEN\n"
        "    UPDATE digest_checkpoints SET dirty_from = at WHERE account = acct;\n"
        f"    PERFORM set_config('{_PG_MARK_SETTING}', at || ' ' || acct, true);\n"
        "  END IF;\n"
        "  RETURN NULL;\nEND\n$mark$"
    )


def _sqlite_lowering_triggers() -> list[str]:
    out = []
    for table, column in _TIME.items():
        for op, row, at in (
            ("insert", "new", f"new.{column}"),
            ("update", "new", f"MIN(old.{column}, new.{column})"),
            ("delete", "old", f"old.{column}"),
        ):
            when = f" WHEN {_CONTENT_CHANGED[table]}" if op == "update" else ""
            out += [
                f"{SQLITE_ONLY}\nDROP TRIGGER {table}_checkpoint_{op}",
                f"{SQLITE_ONLY}\nCREATE TRIGGER {table}_checkpoint_{op} AFTER {op.upper()} "
                f"ON {table}{when} BEGIN UPDATE digest_checkpoints SET "
                f"generation = generation + 1, dirty_from = {at} WHERE account = {row}.account "
                f"AND (dirty_from IS NULL OR dirty_from > {at}); END",
            ]
    return out


def _postgres_triggers() -> list[str]:
    out = []
    for table, column in _TIME.items():
        out.append(_pg_mark_function(table, column))
        for op in ("insert", "update", "delete"):
            when = f" WHEN ({_PG_CHANGED[table]})" if op == "update" else ""
            out.append(
                f"{POSTGRES_ONLY}\nCREATE TRIGGER {table}_checkpoint_{op} AFTER {op.upper()} "
                f"ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {table}_checkpoint_mark()"
            )
    return out


# 9: a stamp per account that changes with every write to its people rows (issue 12:
# organization mode). A worker resolves the shared directory once and keeps it while
# the ``_directory`` account's stamp is the one it read before the rows; triggers set
# a new random stamp in the writing transaction (insert, update, delete: directory
# syncs, pruning, purges, the benchmark's SQL alike), so no write path can forget
# it (no conflict clause in SQLite's: an outer statement's would override it). Random,
# not a counter: a stamp row deleted and written again can never repeat
# an old value. SQLite's triggers fire per row, PostgreSQL's once per statement.
PEOPLE_STAMP_FUNCTION = "people_stamp_touch"

MIGRATIONS.append(
    (
        8,
        "the digest checkpoint in PostgreSQL too, marked by plpgsql triggers; its state "
        "in a table of its own (issue 14, item 1)",
        [
            """CREATE TABLE digest_checkpoint_states (
                account TEXT NOT NULL PRIMARY KEY,
                state BLOB NOT NULL
            )""",
            "INSERT INTO digest_checkpoint_states (account, state) "
            "SELECT account, state FROM digest_checkpoints WHERE state IS NOT NULL",
            "UPDATE digest_checkpoints SET state = NULL",
            *_sqlite_lowering_triggers(),
            *_postgres_triggers(),
        ],
    )
)

MIGRATIONS.append(
    (
        9,
        "a stamp per account changed by every write to its people (issue 12)",
        [
            """CREATE TABLE people_stamps (
                account TEXT NOT NULL PRIMARY KEY,
                stamp TEXT NOT NULL
            )""",
            "INSERT INTO people_stamps (account, stamp) SELECT DISTINCT account, 'migrated' "
            "FROM people",
            *[
                f"-- sqlite only\nCREATE TRIGGER people_stamp_{op.lower()} AFTER {op} ON people "
                f"BEGIN INSERT INTO people_stamps (account, stamp) SELECT {row}.account, '' "
                f"WHERE NOT EXISTS (SELECT 1 FROM people_stamps WHERE account = {row}.account); "
                f"UPDATE people_stamps SET stamp = lower(hex(randomblob(16))) "
                f"WHERE account = {row}.account; END"
                for op, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old"))
            ],
            f"-- postgres only\nCREATE FUNCTION {PEOPLE_STAMP_FUNCTION}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO people_stamps (account, stamp) "
            "SELECT a.account, md5(random()::text || clock_timestamp()::text) "
            "FROM (SELECT DISTINCT account FROM changed) a "
            "ON CONFLICT (account) DO UPDATE SET stamp = excluded.stamp; "
            "RETURN NULL; END $$",
            *[
                f"-- postgres only\nCREATE TRIGGER people_stamp_{op.lower()} AFTER {op} "
                f"ON people REFERENCING {side} TABLE AS changed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {PEOPLE_STAMP_FUNCTION}()"
                for op, side in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
            ],
        ],
    )
)

MIGRATIONS.append(
    (
        10,
        "records by (account, source_id): talking points and explain look up their "
        "subjects and titles by id (issue 14)",
        [
            # record_labels asks for a few dozen ids of any source; the primary key
            # leads with source, so without these both engines read every record of
            # the account (measured: ~22% of the resumed digest at 1M messages).
            "CREATE INDEX messages_by_id ON messages (account, source_id)",
            "CREATE INDEX events_by_id ON events (account, source_id)",
        ],
    )
)

MIGRATIONS.append(
    (
        11,
        "a retention purge re-bases the digest checkpoint instead of invalidating it "
        "(issue 14)",
        [
            # Set with the purge's cutoff by the purge itself, which puts ``dirty_from``
            # back as it was (sqlite_retention.purge_before): the records it deleted
            # left the window, and rules/rebase.py takes them out of the checkpoint.
            "ALTER TABLE digest_checkpoints ADD COLUMN purged_below INTEGER",
        ],
    )
)

MIGRATIONS.append(
    (
        12,
        "events by (account, end_ts): the events overlapping a window ahead of now (the "
        "digest's free slots) found by their end (issue 14)",
        [
            # By (account, start_ts), "start before the window's end and end after its
            # start" reads every event starting before the window's end: at 100k events,
            # 60-70 ms of CPU for the ~10 of next week (a tenth of the resumed digest).
            "CREATE INDEX events_by_end ON events (account, end_ts)",
        ],
    )
)

MIGRATIONS.append(
    (
        13,
        "the digest checkpoint's second state, at the digest's own time (issue 14)",
        [
            # A weekly digest keeps, besides the checkpoint at ``horizon`` (3 days before
            # it), the pass up to its own time: the next digest resumes that one when no
            # record dated before ``ahead_horizon`` was written since (worker/checkpoint.py),
            # and reads 7 days instead of 10.
            "ALTER TABLE digest_checkpoints ADD COLUMN ahead_horizon INTEGER",
            "ALTER TABLE digest_checkpoint_states ADD COLUMN ahead_state BLOB",
        ],
    )
)

MIGRATIONS.append(
    (
        14,
        "recurring events by (account, start_ts): the team meeting's series found without "
        "reading every event of its weeks (issue 14)",
        [
            # The digest resumed from a checkpoint reads the recurring events of the team
            # meeting's window (13 weeks): by (account, start_ts) SQLite visited every
            # event of those weeks (~26,000 at 100k events) for ~90 recurring ones,
            # 15 ms of a 0.5 s digest.
            "CREATE INDEX events_recurring ON events (account, start_ts, source_id) "
            "WHERE recurring = 1",
        ],
    )
)
