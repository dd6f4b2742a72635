"""The ``files`` connector: local ICS, mbox/Maildir/.eml and people exports.

Each configured file (or message folder) is read on its own and is its own
store *scope*, so a broken or changed file never touches the records of the
others. The cursor is a small versioned JSON object with one state per input
(a fingerprint, a run id, a position); a folder's per-file index lives in the
source's keyed connector state (:mod:`.folder`), committed with each batch:

* unchanged fingerprint → nothing is read;
* an unchanged ICS file on a later day (the window moved) → only the days that
  entered the window are expanded and the occurrences of the days that left it
  deleted, from a byte-scan cut of the file (:mod:`.ics_window`), never a whole
  re-read; a window that went back or grew at its past end means a whole read;
* a changed ICS file, same day → only its new or changed events (by UID, with
  their overrides) are parsed, from the group index of :mod:`.ics_index`;
* an mbox that only grew → only the new tail is read (same run id, no pruning);
* a message folder (Maildir, .eml files) → only the files not read before; the
  last batch deletes the records of files that went (see :mod:`.folder`), and a
  folder whose files were all replaced is re-read whole like a changed file;
* anything else that changed → re-read whole under a new run id, and the last
  batch of that input prunes what the new read did not produce (an event
  removed from the export disappears); a vanished input is pruned to nothing;
* every batch (≤ ``BATCH_SIZE`` records) carries the cursor after it, so a run
  killed halfway resumes where it stopped, under the same run id, and ends with
  the same store content as an uninterrupted run.

An input that yields only skips (an unreadable file) keeps its previous state
and records: a broken export must not empty the store (vdirsyncer #1102).

A version-1 cursor (before the folder index moved into keyed state) is read
once: its packed folder indexes become state keys and the first batch of the
run commits them with the version-2 cursor, so an upgrade reads no message
again; an index it cannot decode makes that folder a whole re-read (pruned).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeAlias

from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.files import folder, ics_index
from peerpulse.connectors.files.ics import IcsOptions, ics_items, ics_items_from_bytes
from peerpulse.connectors.files.ics_window import CalendarScan, Group
from peerpulse.connectors.files.inputs import (
    Input,
    fingerprint,
    head_hash,
    prefix_hash,
    resolve,
    special_kind,
)
from peerpulse.connectors.files.mail import (
    MailOwner,
    mbox_items,
    mbox_starts_at,
    message_file_item,
)
from peerpulse.connectors.files.people import people_items
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.connectors.records import (
    EventInstance,
    Record,
    RecordKey,
    RecordKind,
    SkippedInput,
    SyncBatch,
)
from peerpulse.connectors.state import StagedState

BATCH_SIZE = 2000
# A changed ICS file is read event by event up to this share of changed groups.
MAX_CHANGED_SHARE = 0.3
CURSOR_VERSION = 2

SourceName: TypeAlias = Literal["calendar", "mail", "people"]
Item: TypeAlias = Record | SkippedInput
State: TypeAlias = dict[str, Any]


def _new_run() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class _Read:
    """How one input is read in this run."""

    run: str
    full: bool  # a whole re-read: prune the scope at the end
    start: int  # items (sequence inputs) or bytes (mbox) already done
    records: int  # records already delivered by this read (resumed runs)
    base: State = field(default_factory=dict)  # state fields fixed for the whole read


class FilesSource:
    """One of ``calendar``, ``mail``, ``people``: every input of that setting."""

    def __init__(self, name: SourceName, context: SourceContext, settings: FilesSettings) -> None:
        self.name = name
        # The people files are the directory (connectors.base.reads_directory).
        self.directory = name == "people"
        self._context = context
        self._settings = settings
        self._entries: list[str] = list(getattr(settings, name))
        now = context.current_time().astimezone(UTC)
        self._day = now.date().isoformat()
        past = settings.window_past_days
        future = settings.window_future_days
        # Whole days, so that a run resumed later the same day expands identically.
        midnight = datetime.combine(now.date(), time(), tzinfo=UTC)
        self._ics = IcsOptions(
            window_start=midnight - timedelta(days=past),
            window_end=midnight + timedelta(days=future + 1),
            timezone=context.timezone,
            owner=context.owner_addresses,
            subjects=context.subjects,
        )
        self._owner = MailOwner(context.owner_addresses, context.subjects)

    # -- the protocol ------------------------------------------------------------

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        self._state = self._context.source_state(self.name)
        inputs, missing = resolve(self._entries, self._context.base_dir, self.name)
        if missing:
            raise SourceUnavailable(
                f"{self.name}: configured path not found: {', '.join(missing)}",
                hint=f"check the '{self.name}' list of this account's files source "
                f"(paths are relative to {self._context.base_dir})",
            )
        states, legacy = _load(cursor, self._state)
        if not states:
            folder.drop_all(self._state)  # no cursor to account for them: stale
        changed = False
        if legacy:
            changed = True
            yield self._batch(cursor=_dump(states))  # the moved index, with the new cursor
        current = {i.label for i in inputs}
        for label in sorted(set(states) - current):
            # The file is gone from the export: its records go too.
            del states[label]
            folder.drop_label(self._state, label)
            ics_index.drop(self._state, label)
            changed = True
            yield self._batch(cursor=_dump(states), scope=label, run_id=_new_run(),
                              prune_scope=True)
        for item in inputs:
            for batch in self._sync_input(item, states):
                changed = True
                yield batch
        if not changed and cursor is not None and _dump(states) != cursor:
            yield self._batch(cursor=_dump(states))

    def _batch(self, **fields: Any) -> SyncBatch:
        """A batch carrying the keyed state staged since the previous one."""
        return SyncBatch(state=self._state.take_changes(), **fields)

    # -- one input ---------------------------------------------------------------

    def _sync_input(self, item: Input, states: dict[str, State]) -> Iterator[SyncBatch]:
        if item.kind == "folder":
            yield from self._sync_folder(item, states)
            return
        if item.kind == "special":
            yield self._batch(cursor=_dump(states), skipped=[_special_skip(item.path, item.label)])
            return
        old = states.get(item.label)
        try:
            if item.kind == "mbox":
                fp = _mbox_fingerprint(item.path)
                read = _plan_mbox(item, old, fp)
            else:
                fp = fingerprint(item.path)
                read = _plan_sequence(old, fp, self._day if item.kind == "ics" else "",
                                      self._window() if item.kind == "ics" else {})
                if read is not None and item.kind == "ics" and read.full and old is not None:
                    shift = (self._shift_window(item, old, fp, states)
                             or self._changed_events(item, old, fp, states))
                    if shift is not None:
                        yield from shift
                        return
        except OSError as exc:
            yield self._batch(cursor=_dump(states), skipped=[
                SkippedInput(item.label, f"cannot read: {exc.strerror or exc}")])
            return
        if read is None:
            if old is not None and old.get("fp") != fp:
                states[item.label] = {**old, "fp": fp}  # touched, not changed: remember that
            return
        if item.kind == "mbox":
            items: Iterator[tuple[Item, int]] = mbox_items(item.path, item.label, self._owner,
                                                            read.start)
        else:
            items = _counted(self._sequence_items(item), read.start)
        if item.kind == "ics":
            index = _IndexBuilder(item, self._state, exact=read.start == 0)
            items = index.watch(items)
            yield from self._batches(item, items, read, old, fp, states, index.finish)
            return
        yield from self._batches(item, items, read, old, fp, states)

    def _batches(
        self,
        item: Input,
        items: Iterator[tuple[Item, int]],
        read: _Read,
        old: State | None,
        fp: Any,
        states: dict[str, State],
        finish: Callable[[], State] | None = None,
    ) -> Iterator[SyncBatch]:
        upserts: list[Record] = []
        skipped: list[SkippedInput] = []
        records = read.records
        position = read.start
        for entry, position in items:
            if isinstance(entry, SkippedInput):
                skipped.append(entry)
            else:
                upserts.append(entry)
                records += 1
            if len(upserts) + len(skipped) >= BATCH_SIZE:
                states[item.label] = {**read.base, "run": read.run, "full": read.full,
                                      "pos": position, "records": records, "done": False,
                                      **_edge(item, position)}
                yield self._batch(upserts=upserts, cursor=_dump(states), scope=item.label,
                                run_id=read.run, skipped=skipped)
                upserts, skipped = [], []
        broken = read.full and records == 0 and bool(skipped)
        if broken:
            # Only skips: keep what the previous readable version gave us.
            if old is None:
                states.pop(item.label, None)
            else:
                states[item.label] = old
            yield self._batch(cursor=_dump(states), skipped=skipped)
            return
        states[item.label] = {**read.base, "run": read.run, "full": False, "pos": position,
                              "done": True, "fp": fp, **_edge(item, position),
                              **(finish() if finish else {})}
        yield self._batch(upserts=upserts, cursor=_dump(states), scope=item.label,
                        run_id=read.run, prune_scope=read.full, skipped=skipped)

    # -- an unchanged ICS file under a moved window --------------------------------

    def _window(self) -> State:
        return {"wstart": self._ics.window_start.isoformat(),
                "wend": self._ics.window_end.isoformat()}

    def _shift_window(
        self, item: Input, old: State, fp: Any, states: dict[str, State]
    ) -> list[SyncBatch] | None:
        """The batches that move an unchanged file's records to today's window, or
        None when a whole re-read is needed (issue 14, item 3).

        Only the days that entered the window are expanded (upserts, under the
        read's run id so that a later whole re-read prunes them like the rest) and
        the days that left it (their occurrences are deleted, as the prune of a
        whole re-read would); everything else in the store is already what a whole
        re-read would write. The new state goes with the last batch, so a run
        killed before it starts the shift again (upserts are idempotent)."""
        if not (old.get("done") and old.get("fp") == fp and "wstart" in old and "run" in old):
            return None
        old_start = datetime.fromisoformat(str(old["wstart"]))
        old_end = datetime.fromisoformat(str(old["wend"]))
        new_start, new_end = self._ics.window_start, self._ics.window_end
        if new_start < old_start or new_end < old_end or new_start >= old_end:
            return None  # the window went back, shrank, or jumped past itself
        scan = CalendarScan.of(item.path.read_bytes())
        if scan is None:
            return None
        upserts: list[Record] = []
        deletions: list[RecordKey] = []
        if new_end > old_end and (entering := scan.cut([(old_end, new_end)])):
            options = replace(self._ics, window_start=old_end, window_end=new_end)
            upserts = [e for e in ics_items_from_bytes(entering, item.label, options)
                       if isinstance(e, EventInstance)]
        if new_start > old_start and (leaving := scan.cut([(old_start, new_start)])):
            options = replace(self._ics, window_start=old_start, window_end=new_start)
            deletions = [
                RecordKey(RecordKind.EVENT, e.source_id)
                for e in ics_items_from_bytes(leaving, item.label, options)
                if isinstance(e, EventInstance) and not _overlaps(e, new_start)
            ]

        def finish() -> State:
            indexed = bool(old.get("index")) and _index_update(
                self._state, item.label, upserts, deletions)
            return {"day": self._day, **self._window(), "index": indexed}

        return self._emit(item, old, states, upserts, deletions, [], finish)

    def _changed_events(
        self, item: Input, old: State, fp: Any, states: dict[str, State]
    ) -> list[SyncBatch] | None:
        """The batches that bring a changed ICS file's records up to date by reading
        only its new or changed VEVENT groups, or None when a whole re-read is
        needed (issue 14, item 3). Records of changed groups that the new version
        no longer produces, and of groups that went, are deleted; the group index
        (:mod:`.ics_index`) changes with them, in the same batches."""
        same_window = old.get("day") == self._day and {
            "wstart": old.get("wstart"), "wend": old.get("wend")} == self._window()
        if not (old.get("done") and old.get("index") and same_window and "run" in old):
            return None
        scan = CalendarScan.of(item.path.read_bytes())
        if scan is None or scan.envelope() != old.get("env"):
            return None
        previous = ics_index.load(self._state, item.label)
        current: dict[str, list[Group]] = {}
        for group in scan.groups:
            current.setdefault(ics_index.key(item.label, group.uid), []).append(group)
        digests = {k: _digest(groups) for k, groups in current.items()}
        changed = [k for k in current
                   if k not in previous or previous[k][0] != digests[k] or digests[k] == "-"]
        if len(changed) > MAX_CHANGED_SHARE * max(len(current), 1):
            return None  # most of it changed: a whole read is as cheap and simpler
        upserts: list[Record] = []
        skipped: list[SkippedInput] = []
        produced: dict[str, list[str]] = {k: [] for k in changed}
        small = scan.cut_groups([g for k in changed for g in current[k]])
        for entry in ics_items_from_bytes(small, item.label, self._ics) if small else ():
            if isinstance(entry, SkippedInput):
                skipped.append(entry)
                continue
            k = ics_index.key(item.label, entry.series_id)
            if k not in produced:
                return None  # a record we cannot place: read whole
            produced[k].append(entry.source_id)
            upserts.append(entry)
        deletions: list[RecordKey] = []
        for k, (_, ids) in previous.items():
            keep = set(produced.get(k, ())) if k in current else set()
            if k in current and k not in produced:
                continue  # unchanged group
            deletions.extend(RecordKey(RecordKind.EVENT, i) for i in ids if i not in keep)

        def finish() -> State:
            for k in changed:
                ics_index.put(self._state, k, digests[k], produced[k])
            for k in previous.keys() - current.keys():
                self._state.delete(k)
            return {"fp": fp, "fp_start": fp}

        return self._emit(item, old, states, upserts, deletions, skipped, finish)

    def _emit(
        self,
        item: Input,
        old: State,
        states: dict[str, State],
        upserts: list[Record],
        deletions: list[RecordKey],
        skipped: list[SkippedInput],
        finish: Callable[[], State],
    ) -> list[SyncBatch]:
        """Upserts in batches under the read's run id; deletions, skips, the keyed
        state ``finish`` stages and the new file state (its fields updated with what
        ``finish`` returns) with the last one, so a run killed earlier does it all
        again from the same starting point."""
        run = str(old["run"])
        batches = [
            self._batch(upserts=upserts[i:i + BATCH_SIZE], cursor=_dump(states),
                        scope=item.label, run_id=run)
            for i in range(0, max(len(upserts) - BATCH_SIZE, 0), BATCH_SIZE)
        ]
        states[item.label] = {**old, **finish()}
        last = upserts[len(batches) * BATCH_SIZE:]
        batches.append(self._batch(upserts=last, deletions=deletions, cursor=_dump(states),
                                   scope=item.label, run_id=run, skipped=skipped))
        return batches

    # -- sequence inputs: ICS, people, single messages ----------------------------

    def _sequence_items(self, item: Input) -> Iterator[Item]:
        if item.kind == "ics":
            return ics_items(item.path, item.label, self._ics)
        if item.kind == "people":
            return people_items(item.path, item.label)
        return iter([message_file_item(item.path, item.label, self._owner)])

    # -- message folders: Maildir, .eml ------------------------------------------

    def _sync_folder(self, item: Input, states: dict[str, State]) -> Iterator[SyncBatch]:
        """Read the files the index lacks; the last batch drops the index entries that went.

        After every batch the index holds what was read so far (plus, on an
        incremental read, the old entries not yet dropped), so a killed run
        resumes by reading what is still missing, and only the last batch
        deletes or prunes.
        """
        old = states.get(item.label)
        specials: list[Path] = []
        try:
            entries = folder.listing(item.path, specials)
        except OSError as exc:
            yield self._batch(cursor=_dump(states), skipped=[
                SkippedInput(item.label, f"cannot read: {exc.strerror or exc}")])
            return
        if specials:
            yield self._batch(cursor=_dump(states), skipped=[
                _special_skip(p, f"{item.label}/{p.relative_to(item.path).as_posix()}")
                for p in specials])
        fp = folder.listing_digest(entries)
        current = {key for key, _ in entries}
        plan = _plan_folder(old, fp, current, self._state, item.label)
        if plan is None:
            return
        read, index, present = plan
        upserts: list[Record] = []
        skipped: list[SkippedInput] = []
        records = read.records
        for key, path in entries:
            if key in present:
                continue
            entry = message_file_item(
                path, f"{item.label}/{path.relative_to(item.path).as_posix()}", self._owner)
            if isinstance(entry, SkippedInput):
                skipped.append(entry)
                index.add(key, "")
            else:
                upserts.append(entry)
                index.add(key, entry.source_id)
                records += 1
            if len(upserts) + len(skipped) >= BATCH_SIZE:
                states[item.label] = {"run": read.run, "full": read.full, "done": False,
                                      "records": records, "keyed": True}
                yield self._batch(upserts=upserts, cursor=_dump(states), scope=item.label,
                                run_id=read.run, skipped=skipped)
                upserts, skipped = [], []
        if read.full and records == 0 and skipped and old is not None:
            states[item.label] = old  # only skips: keep what the readable version gave us
            if old.get("run") != read.run:
                index.drop()
            yield self._batch(cursor=_dump(states), skipped=skipped)
            return
        deletions = index.finish(current)
        if read.full:
            index.drop_other_runs()
        states[item.label] = {"run": read.run, "full": False, "done": True, "fp": fp,
                              "keyed": True}
        yield self._batch(upserts=upserts, cursor=_dump(states), scope=item.label,
                        run_id=read.run, prune_scope=read.full, skipped=skipped,
                        deletions=[RecordKey(RecordKind.MESSAGE, sid) for sid in deletions])


def _special_skip(path: Path, label: str) -> SkippedInput:
    """A FIFO, socket or device file: reported, never opened (opening a FIFO blocks)."""
    try:
        what = special_kind(path.stat().st_mode) or "not a regular file"
    except OSError as exc:
        return SkippedInput(label, f"cannot read: {exc.strerror or exc}")
    return SkippedInput(label, f"{what}, not a regular file: skipped, never opened")


def _edge(item: Input, position: int) -> State:
    """For a plain mbox, the hash of the bytes before ``position`` (to detect rewrites)."""
    if item.kind != "mbox" or item.path.suffix == ".gz":
        return {}
    return {"edge": prefix_hash(item.path, position), "head": head_hash(item.path, position)}


def _counted(items: Iterator[Item], skip: int) -> Iterator[tuple[Item, int]]:
    """Items numbered from 1, the first ``skip`` (already delivered) left out."""
    for number, entry in enumerate(items, 1):
        if number > skip:
            yield entry, number


def _plan_sequence(old: State | None, fp: Any, day: str, window: State) -> _Read | None:
    """Unchanged → None; a read of ours interrupted on the same content → resume; else all."""
    base = {"fp_start": fp, "day": day, **window}
    if old is not None and old.get("fp_start", old.get("fp")) == fp and old.get("day") == day:
        if old.get("done"):
            return None
        return _Read(old["run"], bool(old.get("full", True)), int(old.get("pos", 0)),
                     int(old.get("records", 0)), base)
    return _Read(_new_run(), True, 0, 0, base)


class _IndexBuilder:
    """Watches a whole ICS read and, at its end, writes the group index
    (:mod:`.ics_index`) that lets the next change be read event by event."""

    def __init__(self, item: Input, state: StagedState, *, exact: bool) -> None:
        self._item = item
        self._state = state
        self._exact = exact  # a resumed read did not see the records of its first part
        self._ids: dict[str, list[str]] = {}

    def watch(self, items: Iterator[tuple[Item, int]]) -> Iterator[tuple[Item, int]]:
        for entry, position in items:
            if isinstance(entry, EventInstance):
                self._ids.setdefault(entry.series_id, []).append(entry.source_id)
            yield entry, position

    def finish(self) -> State:
        """Stage the index; the file state's fields saying whether it is complete."""
        label = self._item.label
        scan = CalendarScan.of(self._item.path.read_bytes()) if self._exact else None
        if scan is None:
            ics_index.drop(self._state, label)
            return {"index": False}
        entries: dict[str, tuple[list[Group], list[str]]] = {}
        for group in scan.groups:
            entries.setdefault(ics_index.key(label, group.uid), ([], []))[0].append(group)
        for series, ids in self._ids.items():
            k = ics_index.key(label, series)
            if k not in entries:
                ics_index.drop(self._state, label)
                return {"index": False}  # a record the scan cannot place
            entries[k][1].extend(ids)
        for k, (groups, ids) in entries.items():
            ics_index.put(self._state, k, _digest(groups), ids)
        ics_index.drop(self._state, label, keep=set(entries))
        return {"index": True, "env": scan.envelope()}


def _digest(groups: list[Group]) -> str:
    """One entry's digest; the no-UID entry's is never equal (always re-read)."""
    if len(groups) == 1 and groups[0].uid is not None:
        return groups[0].digest()
    return "-"


def _index_update(
    state: StagedState, label: str, upserts: list[Record], deletions: list[RecordKey]
) -> bool:
    """Add a window shift's new records to their groups' entries and remove the
    deleted ones; False (index no longer exact) when a record has no entry."""
    gone = {d.source_id for d in deletions}
    touched: dict[str, tuple[str, set[str]]] = {}
    for record in upserts:
        assert isinstance(record, EventInstance)
        k = ics_index.key(label, record.series_id)
        if k not in touched:
            value = state.get(k)
            if value is None:
                return False
            digest, ids = json.loads(value)
            touched[k] = (digest, set(ids))
        touched[k][1].add(record.source_id)
    if gone:
        for k, value in state.iter_prefix(ics_index.prefix(label)):
            if k in touched:
                digest, ids = touched[k]
            else:
                digest, listed = json.loads(value)
                ids = set(listed)
            if gone & ids:
                touched[k] = (digest, ids - gone)
    for k, (digest, ids) in touched.items():
        ics_index.put(state, k, digest, ids)
    return True


def _overlaps(event: EventInstance, start: datetime) -> bool:
    """Whether an occurrence still touches a window starting at ``start`` (the reader's
    own test: a zero-length occurrence at the edge counts)."""
    return event.end > start or (event.end == event.start and event.start >= start)


def _plan_folder(
    old: State | None, fp: str, current: set[bytes], state: StagedState, label: str
) -> tuple[_Read, folder.FolderIndex, set[bytes]] | None:
    """Nothing (same files), an incremental read, a resumed one, or a whole re-read,
    with the folder's index and the listed keys it already holds.

    A whole re-read (new run, pruned at the end) is for a folder never read, a
    state without a keyed index (from before the index, or one the upgrade could
    not decode), and a folder none of whose files were read before (replaced
    wholesale, or renamed by a UIDVALIDITY reset): the prune then also clears
    records that no index entry accounts for.
    """
    keyed = old is not None and bool(old.get("keyed")) and "run" in old
    if keyed and old is not None and old.get("done") and old.get("fp") == fp:
        return None

    def whole() -> tuple[_Read, folder.FolderIndex, set[bytes]]:
        run = _new_run()
        return _Read(run, True, 0, 0), folder.FolderIndex(state, label, run), set()

    if old is None or not keyed:
        return whole()
    index = folder.FolderIndex(state, label, old["run"])
    present, size = index.scan(current)
    if not old.get("done"):
        resumed = _Read(old["run"], bool(old.get("full")), 0, int(old.get("records", 0)))
        return resumed, index, present
    if size and not present:
        return whole()
    return _Read(old["run"], False, 0, 0), index, present


def _mbox_fingerprint(path: Path) -> dict[str, Any]:
    return fingerprint(path)


def _plan_mbox(item: Input, old: State | None, fp: dict[str, Any]) -> _Read | None:
    """Decide between nothing, the appended tail, resuming, and a full re-read."""
    fresh = _Read(_new_run(), True, 0, 0, {"fp_start": fp})
    if old is None:
        return fresh
    if old.get("done") and old.get("fp") == fp:
        return None
    offset = int(old.get("pos", 0))
    compressed = item.path.suffix == ".gz"
    if compressed:
        # Offsets are into the decompressed stream: only resuming the same bytes is sound.
        if not old.get("done") and old.get("fp_start") == fp:
            return _Read(old["run"], bool(old.get("full")), offset, int(old.get("records", 0)),
                         {"fp_start": fp})
        return fresh
    intact = (
        fp["size"] >= offset
        and head_hash(item.path, offset) == old.get("head")
        and prefix_hash(item.path, offset) == old.get("edge")
        and mbox_starts_at(item.path, offset)
    )
    if not intact:
        return fresh
    if old.get("done"):
        if fp["size"] == offset:
            return None  # touched but not grown
        return _Read(old["run"], False, offset, 0, {"fp_start": fp})
    return _Read(old["run"], bool(old.get("full")), offset, int(old.get("records", 0)),
                 {"fp_start": fp})


def _load(cursor: str | None, state: StagedState) -> tuple[dict[str, State], bool]:
    """The per-input states, and whether they came from a version-1 cursor.

    A version-1 cursor packed each folder's index into its state: it is moved
    into keyed state here (staged; the caller commits it with the new cursor).
    A folder state whose index is unreadable loses it and is re-read whole.
    """
    if not cursor:
        return {}, False
    try:
        data = json.loads(cursor)
    except json.JSONDecodeError:
        return {}, False
    if not isinstance(data, dict) or data.get("v") not in (1, CURSOR_VERSION):
        return {}, False
    inputs = data.get("inputs")
    states = dict(inputs) if isinstance(inputs, dict) else {}
    if data["v"] == CURSOR_VERSION:
        return states, False
    for label, old in states.items():
        if not isinstance(old, dict) or "index" not in old:
            continue
        packed = folder.legacy_index(old.pop("index"))
        if packed is not None and "run" in old:
            folder.FolderIndex(state, label, str(old["run"])).put_all(packed)
            old["keyed"] = True
    return states, True


def _dump(states: dict[str, State]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "inputs": states}, sort_keys=True,
                      separators=(",", ":"))


class FilesConnector:
    """Offers a source for each of ``calendar``, ``mail``, ``people`` that is configured."""

    def __init__(self, context: SourceContext, settings: FilesSettings) -> None:
        self._context = context
        self._settings = settings

    def sources(self) -> list[FilesSource]:
        names: tuple[SourceName, ...] = ("calendar", "mail", "people")
        return [
            FilesSource(n, self._context, self._settings)
            for n in names
            if getattr(self._settings, n)
        ]

