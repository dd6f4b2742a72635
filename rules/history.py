"""A peer's counted interactions as per-day summaries, so that scoring costs the
days of history, not the rows (issue 14, item 1).

Every figure the digest derives from a peer's rows is a count, a sum, a first or
a last over rows, some restricted to ``at >= lo`` (the reciprocity, feedback and
coverage windows). So each is computed from one summary per *bucket* (the rows of
one UTC day; ``done`` overrides in a bucket of their own, since a checkpoint
never holds them), see :func:`summarize`. Counts, firsts and lasts are exact in
any grouping; float sums are added bucket by bucket in bucket order. Only a window
boundary that falls strictly inside a bucket (its first row before ``lo``, its
last at or after it) reads rows one by one, and then only their time, weight and
initiative flags (a *thin* row).

The full digest and the resumed one run this same code over the same buckets,
so they give the same floats, bit for bit. What a checkpoint at horizon ``H``
keeps per peer (``rules.checkpoint``), and why it is enough for every ``now >= H``:

* totals over the days before the day of ``H`` (counts per kind, replies, first
  and last interaction, last meeting): exact, whatever the grouping;
* each such day's decayed sum (tie strength needs every day, in order);
* the window figures (count, weight sum, initiatives, first and last time) and the
  thin rows of those days from ``H - longest window`` on: a window as of any
  ``now >= H`` starts at or after ``H - its length``; older days are outside
  every window for good;
* the full rows of the day of ``H`` (the rows after ``H`` join that day's bucket);
* the :data:`RECENT_KEPT` newest full rows of the summarized days (evidence and
  talking points show the newest rows);
* each summarized day's first time, replies and count per kind (:data:`KIND_ORDER`):
  when the retention window's start moves past days, :func:`drop_days` takes them
  out of the totals exactly (``rules.rebase``), which one merged total could not.

So its size grows with days of history (16 bytes a day) and with the rows inside
the longest window (17 bytes a row), not with all rows. Tie strength per bucket
is kept as a sum decayed to the bucket's day end ``ref``; as of ``t`` it is that
sum times ``0.5 ** ((t - ref) / half_life)``: the Interactions Rank of
``rules.scoring`` up to float rounding (~1e-15 relative). No counted row is after
``now`` (future events and mail are not interactions, ``done`` is never in the
future), so no window has an upper bound.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from peerpulse.rules.overrides import DONE_KIND
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.scoring import MEETINGS, PeerScore
from peerpulse.rules.tally import InteractionRow

DAY = 86400.0
WEEK = 7 * DAY
#: Newest rows kept as rows: evidence (``recommend.evidence_size``, when larger, wins)
#: and the worker's talking points (12) read at most this many per peer.
RECENT_KEPT = 12

# Positions in a bucket summary: the totals part (exact in any grouping) ...
N, KINDS, REPLIES, FIRST, LAST, LAST_RID, LAST_KIND, MEET, MEET_RID, MEET_KIND = range(10)
# ... and the window part (FIRST, LAST again, then sums), then the decayed sum.
W_FIRST, W_LAST, W_N, WSUM, ME_MAIL, ME_MEET, THEM_MAIL, THEM_MEET = range(8)

MAIL, BY_ME, BY_THEM = 1, 2, 4  # thin row flags
#: The kinds a row can have, in the order of a summarized day's counts (after replies).
KIND_ORDER = ("mail_sent", "mail_received", "one_on_one", "small_meeting", "large_meeting",
              "lunch", DONE_KIND)
_WIDTH = 1 + len(KIND_ORDER)

# (count, weight sum, initiated by me in mail, in meetings, by them in mail, in meetings)
Window = tuple[int, float, int, int, int, int]
# A checkpoint's thin rows of one peer: (bucket keys, start offsets, times, weights, flags)
Thin = tuple[list[int], list[int], bytes, bytes, bytes]
# Per summarized bucket, as array bytes: first time ("d"), then replies and the count
# of each kind of KIND_ORDER ("H", _WIDTH a bucket: a peer's day has fewer than 65536)
Days = tuple[bytes, bytes]
# What a checkpoint keeps of one peer: (totals, (bucket keys, decayed sums) as array
# bytes, window figures by bucket, thin rows, newest rows, full rows of the last day,
# per-day totals)
Compact = tuple[tuple | None, tuple[bytes, bytes], dict[int, tuple], Thin,
                list[InteractionRow], list[InteractionRow], Days]


class StaleHistory(ValueError):
    """A window boundary fell inside a bucket held only as a summary, or rows came for
    a summarized day: the checkpoint does not hold for these records."""


def day_of(at: float) -> int:
    return math.floor(at / DAY)


def bucket_of(row: InteractionRow) -> int:
    """Day ``d`` holds bucket ``2d`` (records) and ``2d + 1`` (done overrides)."""
    return 2 * day_of(row[0]) + (row[1] == DONE_KIND)


def flags_of(kind: str, me: bool, them: bool) -> int:
    return (MAIL if kind.startswith("mail") else 0) | (BY_ME if me else 0) | (
        BY_THEM if them else 0)


def summarize(key: int, rows: Sequence[InteractionRow], half_life_days: float,
              omega_out: float) -> tuple[tuple, tuple, float]:
    """One bucket's rows (sorted by ``(at, record id)``) as (totals, window figures,
    decayed sum)."""
    ref = (key // 2 + 1) * DAY
    kinds: dict[str, int] = {}
    last = last_rid = last_kind = meet = meet_rid = meet_kind = None
    replies = me_mail = me_meet = them_mail = them_meet = 0
    wsum = decayed = 0.0
    for at, kind, weight, rid, me, them, reply in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
        last, last_rid, last_kind = at, rid, kind
        if kind in MEETINGS:
            meet, meet_rid, meet_kind = at, rid, kind
        replies += reply
        wsum += weight
        if kind.startswith("mail"):
            me_mail += me
            them_mail += them
        else:
            me_meet += me
            them_meet += them
        w = weight * omega_out if me else weight
        decayed += w * 0.5 ** (((ref - at) / DAY) / half_life_days)
    first = rows[0][0]
    n = len(rows)
    return ((n, kinds, replies, first, last, last_rid, last_kind, meet, meet_rid, meet_kind),
            (first, last, n, wsum, me_mail, me_meet, them_mail, them_meet), decayed)


def merge(total: tuple | None, more: tuple) -> tuple:
    """Two totals as one: counts added, the earliest first, the latest last and last
    meeting by ``(at, record id)``. Exact, so any grouping gives the same totals."""
    if total is None:
        return more
    kinds = dict(total[KINDS])
    for kind, count in more[KINDS].items():
        kinds[kind] = kinds.get(kind, 0) + count
    last = total if (total[LAST], total[LAST_RID]) >= (more[LAST], more[LAST_RID]) else more
    meet = total
    if more[MEET] is not None and (
            total[MEET] is None or (more[MEET], more[MEET_RID]) > (total[MEET], total[MEET_RID])):
        meet = more
    return (total[N] + more[N], kinds, total[REPLIES] + more[REPLIES],
            min(total[FIRST], more[FIRST]), last[LAST], last[LAST_RID], last[LAST_KIND],
            meet[MEET], meet[MEET_RID], meet[MEET_KIND])


#: ``(at, record id)``: the order of a peer's rows. A C-level key, not a lambda: a
#: weekly digest sorts the ~13,000 rows of its tail with it (issue 14).
_order = itemgetter(0, 3)


def _by_bucket(rows: Iterable[InteractionRow]) -> dict[int, list[InteractionRow]]:
    buckets: dict[int, list[InteractionRow]] = {}
    floor = math.floor
    for row in sorted(rows, key=_order):
        key = 2 * floor(row[0] / DAY) + (row[1] == DONE_KIND)  # bucket_of, inlined
        found = buckets.get(key)
        if found is None:
            buckets[key] = [row]
        else:
            found.append(row)
    return buckets


class PeerHistory:
    """One peer's interactions: totals and decayed sums of summarized buckets, window
    figures and thin rows of the recent ones, full rows and summaries of the rest."""

    __slots__ = ("keys", "base", "totals", "decayed", "windows", "rows", "kept", "thin",
                 "thin_at", "thin_w", "thin_f", "half_life", "omega_out", "recent_kept",
                 "days", "summarized_keys")

    def __init__(self, rules: RuleSet) -> None:
        strength = rules.model.tie_strength
        self.recent_kept = recent_kept(rules)
        self.half_life = strength.half_life_days
        self.omega_out = strength.initiated_by_me_weight
        self.base: tuple | None = None  # totals of the summarized buckets
        self.totals: dict[int, tuple] = {}  # totals of each bucket held as rows
        self.decayed: dict[int, float] = {}
        self.windows: dict[int, tuple] = {}
        self.rows: dict[int, list[InteractionRow]] = {}
        self.kept: list[InteractionRow] = []
        self.thin: dict[int, tuple[int, int]] = {}  # bucket -> (start, end) in thin_*
        self.thin_at = array("d")
        self.thin_w = array("d")
        self.thin_f = b""
        self.keys: list[int] = []
        self.days: Days = (b"", b"")  # of the summarized buckets, as a checkpoint kept them
        self.summarized_keys: list[int] = []

    @classmethod
    def build(cls, compact: Compact | None, rows: Iterable[InteractionRow],
              rules: RuleSet) -> PeerHistory:
        """From what a checkpoint kept (or None) and the full rows of every other bucket
        (in any order; a checkpoint's full rows are passed in ``rows``)."""
        self = cls(rules)
        if compact is not None:
            base, (keys_bytes, decayed_bytes), windows, thin, kept, _full, days = compact
            self.base = base
            self.days = days
            keys_array, values = array("q"), array("d")
            keys_array.frombytes(keys_bytes)
            values.frombytes(decayed_bytes)
            self.decayed = dict(zip(keys_array, values, strict=True))
            self.summarized_keys = list(keys_array)
            self.windows = dict(windows)
            self.kept = list(kept)
            keys, starts, ats, weights, flags = thin
            self.thin_at.frombytes(ats)
            self.thin_w.frombytes(weights)
            self.thin_f = flags
            ends = [*starts[1:], len(self.thin_at)] if starts else []
            self.thin = {k: (s, e) for k, s, e in zip(keys, starts, ends, strict=True)}
        for key, bucket in _by_bucket(rows).items():
            if key in self.decayed:
                raise StaleHistory(f"rows for day {key // 2}, which a checkpoint summarized")
            self.rows[key] = bucket
            totals, window, decayed = summarize(key, bucket, self.half_life, self.omega_out)
            self.totals[key] = totals
            self.windows[key] = window
            self.decayed[key] = decayed
        self.keys = sorted(self.decayed)
        return self

    def compact(self, horizon: float, longest_window: float) -> Compact:
        """What a checkpoint at ``horizon`` keeps (see the module docstring). Every row
        here must be before ``horizon``; done overrides must not be here."""
        full_from = 2 * day_of(horizon)
        thin_from = 2 * day_of(horizon - longest_window)
        base = self.base
        for key in sorted(self.totals):
            if key < full_from:
                base = merge(base, self.totals[key])
        summarized = [k for k in self.keys if k < full_from]
        keys_array = array("q", summarized)
        decayed = array("d", (self.decayed[k] for k in summarized))
        windows = {k: self.windows[k] for k in summarized if k >= thin_from}
        full = [r for k, rows in self.rows.items() if k >= full_from for r in rows]
        dropped = [r for k, rows in self.rows.items() if k < full_from for r in rows]
        kept = sorted((*self.kept, *dropped), key=_order)[-self.recent_kept:]
        keys: list[int] = []
        starts: list[int] = []
        ats, weights, flags = array("d"), array("d"), bytearray()
        old_at, old_w, old_f = self.thin_at, self.thin_w, self.thin_f
        for key in summarized:
            if key < thin_from:
                continue
            keys.append(key)
            starts.append(len(ats))
            span = self.thin.get(key) if key not in self.rows else None
            if span is not None:
                # A day the checkpoint resumed already held as thin rows: copied as
                # slices, not row by row (~360,000 of them at 1M messages; issue 14).
                lo, hi = span
                ats.extend(old_at[lo:hi])
                weights.extend(old_w[lo:hi])
                flags += old_f[lo:hi]
                continue
            for at, weight, flag in self._thin_rows(key):
                ats.append(at)
                weights.append(weight)
                flags.append(flag)
        thin = (keys, starts, ats.tobytes(), weights.tobytes(), bytes(flags))
        return (base, (keys_array.tobytes(), decayed.tobytes()), windows, thin, kept, full,
                self._days(summarized))

    def _days(self, summarized: list[int]) -> Days:
        """The per-day totals of ``summarized``: the kept ones as they were, the buckets
        held as rows from their totals (appended when they are all newer, the usual
        case; merged in key order when a re-base added older ones)."""
        firsts, counts = array("d"), array("H")
        firsts.frombytes(self.days[0])
        counts.frombytes(self.days[1])
        old = self.summarized_keys
        new = [k for k in summarized if k in self.totals]
        if old and new and new[0] < old[-1]:
            by_key = {k: (firsts[i], counts[i * _WIDTH:(i + 1) * _WIDTH])
                      for i, k in enumerate(old)}
            firsts, counts = array("d"), array("H")
            for key in summarized:
                if key in self.totals:
                    first, row = _day_totals(self.totals[key])
                else:
                    first, row = by_key[key]
                firsts.append(first)
                counts.extend(row)
            return firsts.tobytes(), counts.tobytes()
        for key in new:
            first, row = _day_totals(self.totals[key])
            firsts.append(first)
            counts.extend(row)
        return firsts.tobytes(), counts.tobytes()

    def _thin_rows(self, key: int) -> Iterator[tuple[float, float, int]]:
        rows = self.rows.get(key)
        if rows is not None:
            for at, kind, weight, _rid, me, them, _reply in rows:
                yield at, weight, flags_of(kind, me, them)
            return
        span = self.thin.get(key)
        if span is None:
            raise StaleHistory(f"a window starts inside day {key // 2}, held as a summary")
        ats, weights, flags = self.thin_at, self.thin_w, self.thin_f
        for i in range(*span):
            yield ats[i], weights[i], flags[i]

    # -- figures -----------------------------------------------------------------

    def total(self) -> tuple | None:
        """Totals over every bucket (None without any interaction)."""
        total = self.base
        for key in sorted(self.totals):
            total = merge(total, self.totals[key])
        return total

    def strength(self, t: float) -> float:
        """Tie strength as of ``t`` (no row after ``t``)."""
        hl = self.half_life
        total = 0.0
        decayed = self.decayed
        for key in self.keys:
            ref = (key // 2 + 1) * DAY
            total += decayed[key] * 0.5 ** (((t - ref) / DAY) / hl)
        return total

    def window(self, lo: float) -> Window:
        """Figures of the rows at or after ``lo``."""
        n = me_mail = me_meet = them_mail = them_meet = 0
        wsum = 0.0
        keys = self.keys
        windows = self.windows
        for key in keys[bisect_left(keys, 2 * day_of(lo)):]:
            s = windows.get(key)
            if s is None:
                raise StaleHistory(f"a window reaches day {key // 2}, held as a total only")
            if s[W_FIRST] >= lo:
                n += s[W_N]
                wsum += s[WSUM]
                me_mail += s[ME_MAIL]
                me_meet += s[ME_MEET]
                them_mail += s[THEM_MAIL]
                them_meet += s[THEM_MEET]
                continue
            if s[W_LAST] < lo:
                continue
            part = 0.0
            for at, weight, flag in self._thin_rows(key):
                if at < lo:
                    continue
                n += 1
                part += weight
                me, them = bool(flag & BY_ME), bool(flag & BY_THEM)
                if flag & MAIL:
                    me_mail += me
                    them_mail += them
                else:
                    me_meet += me
                    them_meet += them
            wsum += part
        return n, wsum, me_mail, me_meet, them_mail, them_meet

    def day_times(self) -> list[float]:
        """A time in each day with contact (cadence counts weeks with contact)."""
        return [(key // 2) * DAY for key in self.keys]

    def contact_days(self) -> int:
        """How many (UTC) days have contact: a day's ``done`` bucket is the same day."""
        return len({key // 2 for key in self.keys})

    def recent(self) -> list[InteractionRow]:
        """The newest rows (:func:`recent_kept` of them), oldest first, ordered by
        ``(at, record id)``: the same in a full and in a resumed digest."""
        n = self.recent_kept
        kept: dict[int, list[InteractionRow]] = {}
        for row in self.kept:
            kept.setdefault(bucket_of(row), []).append(row)
        found: list[InteractionRow] = []
        for key in reversed(self.keys):
            rows = self.rows.get(key)
            found.extend(rows if rows is not None else kept.get(key, ()))
            # the other bucket of the same day may still hold newer rows: finish the day
            if len(found) >= n and key % 2 == 0:
                break
        found.sort(key=_order)
        return found[-n:]

    def score(self, now_ts: float, rules: RuleSet) -> PeerScore:
        """What ``rules.scoring.score_peer`` computes from the rows, from the buckets."""
        total = self.total()
        window = self.window(now_ts - rules.model.reciprocity.window_days * DAY)
        return PeerScore(
            tie_strength=self.strength(now_ts),
            interactions=total[N] if total else 0,
            first_at=total[FIRST] if total else None,
            last_at=total[LAST] if total else None,
            last_kind=total[LAST_KIND] if total else None,
            last_meeting_at=total[MEET] if total else None,
            last_meeting_kind=total[MEET_KIND] if total else None,
            kinds=dict(total[KINDS]) if total else {},
            initiated_by_me=window[2] + window[3],
            initiated_by_them=window[4] + window[5],
            replies=total[REPLIES] if total else 0,
        )


def _day_totals(totals: tuple) -> tuple[float, array]:
    kinds = totals[KINDS]
    unknown = set(kinds) - set(KIND_ORDER)
    if unknown:
        raise StaleHistory(f"an interaction kind the checkpoint cannot keep: {unknown}")
    counts = (totals[REPLIES], *(kinds.get(k, 0) for k in KIND_ORDER))
    if max(counts) > 0xFFFF:
        raise StaleHistory("more than 65535 interactions of one kind with one peer in a day")
    return totals[FIRST], array("H", counts)


def drop_days(compact: Compact, through: int) -> Compact | None:
    """``compact`` without its buckets up to key ``through`` (the days that left the
    retention window): what a checkpoint keeps of the same peer when the pass starts
    after them (None: nothing left). Totals come from the remaining days' own
    (counts added, the first day's first time; last contact and last meeting kept
    unless their day went, and then none is left); every per-day figure is the
    kept one, so sums stay bit for bit those of a pass that never saw the days."""
    base, (keys_bytes, decayed_bytes), windows, thin, kept, full, (fb, cb) = compact
    keys = array("q")
    keys.frombytes(keys_bytes)
    cut = bisect_right(keys, through)
    if cut == 0:
        return compact
    if cut == len(keys):
        return None
    decayed = array("d")
    decayed.frombytes(decayed_bytes)
    firsts, counts = array("d"), array("H")
    firsts.frombytes(fb)
    counts.frombytes(cb)
    kept_counts = counts[cut * _WIDTH:]
    sums = [sum(kept_counts[j::_WIDTH]) for j in range(_WIDTH)]  # per column, in C
    kinds = {k: n for k, n in zip(KIND_ORDER, sums[1:], strict=True) if n}
    assert base is not None  # days were summarized
    meet: tuple = (base[MEET], base[MEET_RID], base[MEET_KIND])
    if meet[0] is None or 2 * day_of(meet[0]) <= through:
        meet = (None, None, None)
    base = (sum(kinds.values()), kinds, sums[0], firsts[cut], base[LAST], base[LAST_RID],
            base[LAST_KIND], *meet)
    t_keys, starts, ats, weights, flags = thin
    j = bisect_right(t_keys, through)
    if j:
        offset = starts[j] if j < len(starts) else len(flags)
        t_keys = t_keys[j:]
        starts = [s - offset for s in starts[j:]]
        ats, weights, flags = ats[8 * offset:], weights[8 * offset:], flags[offset:]
    return (
        base, (keys[cut:].tobytes(), decayed[cut:].tobytes()),
        {k: v for k, v in windows.items() if k > through},
        (t_keys, starts, ats, weights, flags),
        [r for r in kept if bucket_of(r) > through], full,
        (firsts[cut:].tobytes(), kept_counts.tobytes()),
    )


def reopen_day(compact: Compact, key: int) -> Compact:
    """``compact`` without bucket ``key``, whose rows come back as rows, reclassified
    (``rules.rebase``: a reply or a series' initiative that the window's new start
    changed): the same times, kinds and record ids, so the totals keep their first,
    last and last meeting and lose only that day's counts, which the returned rows
    add back when the checkpoint is compacted again."""
    base, (keys_bytes, decayed_bytes), windows, thin, kept, full, (fb, cb) = compact
    keys = array("q")
    keys.frombytes(keys_bytes)
    i = bisect_left(keys, key)
    if i == len(keys) or keys[i] != key:
        return compact
    decayed, firsts, counts = array("d"), array("d"), array("H")
    decayed.frombytes(decayed_bytes)
    firsts.frombytes(fb)
    counts.frombytes(cb)
    day = counts[i * _WIDTH:(i + 1) * _WIDTH]
    assert base is not None
    kinds = dict(base[KINDS])
    for kind, n in zip(KIND_ORDER, day[1:], strict=True):
        if n:
            kinds[kind] -= n
            if not kinds[kind]:
                del kinds[kind]
    base = (base[N] - sum(day[1:]), kinds, base[REPLIES] - day[0], *base[FIRST:])
    del keys[i], decayed[i], firsts[i], counts[i * _WIDTH:(i + 1) * _WIDTH]
    t_keys, starts, ats, weights, flags = thin
    j = bisect_left(t_keys, key)
    if j < len(t_keys) and t_keys[j] == key:
        lo = starts[j]
        hi = starts[j + 1] if j + 1 < len(starts) else len(flags)
        width = hi - lo
        t_keys = [*t_keys[:j], *t_keys[j + 1:]]
        starts = [*starts[:j], *(s - width for s in starts[j + 1:])]
        ats = ats[:8 * lo] + ats[8 * hi:]
        weights = weights[:8 * lo] + weights[8 * hi:]
        flags = flags[:lo] + flags[hi:]
    return (
        base, (keys.tobytes(), decayed.tobytes()),
        {k: v for k, v in windows.items() if k != key}, (t_keys, starts, ats, weights, flags),
        [r for r in kept if bucket_of(r) != key], full, (firsts.tobytes(), counts.tobytes()),
    )


def recent_kept(rules: RuleSet) -> int:
    return max(RECENT_KEPT, rules.model.recommend.evidence_size)


def longest_window(rules: RuleSet) -> float:
    """The longest window (seconds) a digest section applies to a peer's rows:
    reciprocity, feedback's period, coverage's 26 weeks."""
    model = rules.model
    months = {"month": 1, "quarter": 3, "half": 6}[model.feedback.period]
    return max(model.reciprocity.window_days * DAY, months * 30.5 * DAY, 26 * WEEK)
