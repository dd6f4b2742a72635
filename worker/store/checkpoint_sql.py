"""The digest checkpoint's table in SQL (issue 14, item 1): statements only.

Both backends run these on a ``?``-style cursor inside one transaction (SQLite's
directly, PostgreSQL's through its adapter), so the rules below have one copy;
the triggers of migrations 7 and 8 keep ``dirty_from`` and ``generation`` current
in every transaction that writes an event or a message. The state itself lives in
``digest_checkpoint_states``, away from the row the triggers update (SQLite rewrites
a whole row on UPDATE: a state in it was copied once per record written).

The triggers touch the row only when a write lowers ``dirty_from`` (PostgreSQL: and
at a transaction's first write, which then holds the row until commit), so a
writer starting a digest consumes the mark (:func:`begin`): a checkpoint it
invalidates is dropped, the mark cleared and ``generation`` bumped. From then on
a writing transaction bumps ``generation`` again, so :func:`save`, which succeeds only at
the generation :func:`begin` returned, refuses a checkpoint read while a record
was written (or while another writer began).
"""

from __future__ import annotations

from typing import Any

from peerpulse.worker.store.rows import DigestCheckpoint

#: Which states :func:`get` reads (each is megabytes: a digest reads the one it resumes).
PARTS = ("both", "first", "ahead")


def get(cur: Any, account: str, part: str = "both") -> DigestCheckpoint | None:
    """The checkpoint with both states ("both"), with the first only ("first": the
    second's horizon kept, its state None), or its second state as a checkpoint of its
    own ("ahead": that horizon and state; None when there is none)."""
    first = "s.state" if part in ("both", "first") else "NULL"
    second = "s.ahead_state" if part in ("both", "ahead") else "NULL"
    row = cur.execute(
        "SELECT c.fingerprint, c.horizon, c.since_ts, c.dirty_from, c.generation, "  # noqa: S608
        f"{first}, c.purged_below, c.ahead_horizon, {second} "
        "FROM digest_checkpoints c LEFT JOIN digest_checkpoint_states s "
        "ON s.account = c.account WHERE c.account = ?", (account,)
    ).fetchone()
    if row is None:
        return None
    if part == "ahead":
        if row[7] is None or row[8] is None:
            return None
        return DigestCheckpoint(row[0], row[7], row[2], row[3], int(row[4]), bytes(row[8]),
                                row[6])
    ahead = row[7] if part == "first" or row[8] is not None else None
    return DigestCheckpoint(row[0], row[1], row[2], row[3], int(row[4]),
                            bytes(row[5]) if row[5] is not None else None, row[6],
                            ahead, bytes(row[8]) if ahead is not None and row[8] is not None
                            else None)


def begin(cur: Any, account: str) -> int:
    """Make the row exist (writes mark it from now on), consume the mark, and return
    the generation a later :func:`save` must still find."""
    cur.execute(
        "INSERT INTO digest_checkpoints (account, generation) VALUES (?, 0) "
        "ON CONFLICT (account) DO NOTHING", (account,)
    )
    cur.execute(
        "DELETE FROM digest_checkpoint_states WHERE account = ? AND EXISTS (SELECT 1 FROM "
        "digest_checkpoints WHERE account = ? AND dirty_from < horizon)", (account, account)
    )
    cur.execute(  # the second state goes as soon as a record dated before it was written
        "UPDATE digest_checkpoint_states SET ahead_state = NULL WHERE account = ? AND EXISTS "
        "(SELECT 1 FROM digest_checkpoints WHERE account = ? AND dirty_from < ahead_horizon)",
        (account, account)
    )
    cur.execute(
        "UPDATE digest_checkpoints SET generation = generation + 1, dirty_from = NULL, "
        "horizon = CASE WHEN dirty_from < horizon THEN NULL ELSE horizon END, "
        "ahead_horizon = CASE WHEN dirty_from < ahead_horizon THEN NULL ELSE ahead_horizon END "
        "WHERE account = ?", (account,)
    )
    row = cur.execute(
        "SELECT generation FROM digest_checkpoints WHERE account = ?", (account,)
    ).fetchone()
    return int(row[0])


def save(cur: Any, account: str, checkpoint: DigestCheckpoint, generation: int) -> bool:
    """Replace the checkpoint, both states (a second state not given is dropped: it
    belongs to the pass it was kept with)."""
    ahead = (checkpoint.ahead_horizon if checkpoint.state is not None
             and checkpoint.ahead_state is not None else None)
    cur.execute(
        # A checkpoint saved at the generation it began at saw the store after every
        # purge so far (a purge bumps the generation): no cutoff is left to honour.
        "UPDATE digest_checkpoints SET fingerprint = ?, horizon = ?, since_ts = ?, "
        "dirty_from = NULL, purged_below = NULL, ahead_horizon = ? "
        "WHERE account = ? AND generation = ?",
        (checkpoint.fingerprint, checkpoint.horizon, checkpoint.since_ts, ahead, account,
         generation),
    )
    if cur.rowcount != 1:
        return False
    if checkpoint.state is None:
        cur.execute("DELETE FROM digest_checkpoint_states WHERE account = ?", (account,))
    else:
        cur.execute(
            "INSERT INTO digest_checkpoint_states (account, state, ahead_state) "
            "VALUES (?, ?, ?) ON CONFLICT (account) DO UPDATE SET state = excluded.state, "
            "ahead_state = excluded.ahead_state",
            (account, checkpoint.state, checkpoint.ahead_state if ahead is not None else None),
        )
    return True


def purged(cur: Any, account: str, limit: int, dirty_from: int | None) -> None:
    """After a retention purge in the same transaction: ``dirty_from`` as it was before
    its deletions (they only took records below ``limit``, which leave every window
    starting from ``limit`` on: ``rules.rebase`` takes them out of the checkpoint), and
    ``limit`` kept as ``purged_below``, below which the checkpoint no longer holds."""
    cur.execute(
        "UPDATE digest_checkpoints SET dirty_from = ?, purged_below = CASE WHEN "
        "purged_below IS NULL OR purged_below < ? THEN ? ELSE purged_below END "
        "WHERE account = ?", (dirty_from, limit, limit, account),
    )


def dirty_from(cur: Any, account: str) -> tuple[bool, int | None]:
    """(whether the account has a checkpoint row, its ``dirty_from``)."""
    row = cur.execute(
        "SELECT dirty_from FROM digest_checkpoints WHERE account = ?", (account,)
    ).fetchone()
    return (row is not None, row[0] if row is not None else None)


def records_between(cur: Any, account: str, lo: int, hi: int) -> bool:
    """Whether a message is dated, or an event (started before ``hi``) ends, in
    [lo, hi): the records a retention window moving from ``lo`` to ``hi`` drops."""
    if hi <= lo:
        return False
    found = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE account = ? AND ts >= ? AND ts < ?) "
        "OR EXISTS (SELECT 1 FROM events WHERE account = ? AND start_ts < ? "
        "AND end_ts >= ? AND end_ts < ?)",
        (account, lo, hi, account, hi, lo, hi),
    ).fetchone()
    return bool(found[0])
