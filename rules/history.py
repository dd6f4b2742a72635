"""A peer's counted interactions as per-day summaries, so that scoring costs the
days of history, not the rows (issue 14, item 1).

Every figure the digest derives from a peer's rows is a count, a sum, a first or
a last over rows, some restricted to ``at >= lo`` (the reciprocity, feedback and
coverage windows). So each is computed from one summary per *bucket* (the rows of
one UTC day; ``done`` overrides in a bucket of their own, since a checkpoint
never holds them), see :func:`summarize`, combined in bucket order. Only a window
boundary that falls strictly inside a bucket (its first row before ``lo``, its
last at or after it) reads rows one by one, and then only their time, weight and
initiative flags (a *thin* row).

The full digest and the resumed one run this same code over the same buckets,
so they give the same floats, bit for bit. What a checkpoint at horizon ``H``
keeps per peer (``rules.checkpoint``), and why it is enough for every ``now >= H``:

* a summary of each day before the day of ``H`` (all its rows are before ``H``);
* the full rows of the day of ``H`` (the rows after ``H`` join that day's bucket);
* thin rows of the days from ``H - longest window`` on: a window as of any
  ``now >= H`` starts at or after ``H - its length``;
* the :data:`RECENT_KEPT` newest full rows of the summarized days (evidence and
  talking points show the newest rows).

Its size grows with days of history and rows inside the longest window, not
with all rows. Tie strength per bucket is kept as a sum decayed to the bucket's
day end ``ref``; as of ``t`` it is that sum times ``0.5 ** ((t - ref) / half_life)``:
the Interactions Rank of ``rules.scoring`` up to float rounding (~1e-15
relative). No counted row is after ``now`` (future events and mail are not
interactions, ``done`` is never in the future), so no window has an upper bound.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from peerpulse.rules.overrides import DONE_KIND
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.scoring import MEETINGS, PeerScore
from peerpulse.rules.tally import InteractionRow

DAY = 86400.0
WEEK = 7 * DAY
#: Newest rows kept as rows: evidence (``recommend.evidence_size``, when larger, wins)
#: and the worker's talking points (12) read at most this many per peer.
RECENT_KEPT = 12

# Positions in a bucket summary (a plain tuple: marshal keeps it as is).
N, KINDS, FIRST, LAST, LAST_RID, LAST_KIND, MEET, MEET_KIND, REPLIES, WSUM = range(10)
ME_MAIL, ME_MEET, THEM_MAIL, THEM_MEET, DECAYED = range(10, 15)

MAIL, BY_ME, BY_THEM = 1, 2, 4  # thin row flags

# (count, weight sum, initiated by me in mail, in meetings, by them in mail, in meetings)
Window = tuple[int, float, int, int, int, int]
# A checkpoint's thin rows of one peer: (bucket keys, start offsets, times, weights, flags)
Thin = tuple[list[int], list[int], bytes, bytes, bytes]
# What a checkpoint keeps of one peer: (summaries, newest rows, thin rows, full rows)
Compact = tuple[dict[int, tuple], list[InteractionRow], Thin, list[InteractionRow]]


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
              omega_out: float) -> tuple:
    """One bucket's rows (sorted by ``(at, record id)``) as the figures scoring needs."""
    ref = (key // 2 + 1) * DAY
    kinds: dict[str, int] = {}
    last = last_rid = last_kind = meet = meet_kind = None
    replies = me_mail = me_meet = them_mail = them_meet = 0
    wsum = decayed = 0.0
    for at, kind, weight, rid, me, them, reply in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
        last, last_rid, last_kind = at, rid, kind
        if kind in MEETINGS:
            meet, meet_kind = at, kind
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
    return (len(rows), kinds, rows[0][0], last, last_rid, last_kind, meet, meet_kind, replies,
            wsum, me_mail, me_meet, them_mail, them_meet, decayed)


def _by_bucket(rows: Iterable[InteractionRow]) -> dict[int, list[InteractionRow]]:
    buckets: dict[int, list[InteractionRow]] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[3])):
        buckets.setdefault(bucket_of(row), []).append(row)
    return buckets


def _order(row: InteractionRow) -> tuple[float, str]:
    return row[0], row[3]


class PeerHistory:
    """One peer's interactions: a summary per bucket, the full rows of some buckets,
    thin rows of others, and the newest full rows of the summarized buckets."""

    __slots__ = ("keys", "summaries", "rows", "kept", "thin", "thin_at", "thin_w",
                 "thin_f", "half_life", "omega_out", "recent_kept")

    def __init__(self, rules: RuleSet) -> None:
        strength = rules.model.tie_strength
        self.recent_kept = recent_kept(rules)
        self.half_life = strength.half_life_days
        self.omega_out = strength.initiated_by_me_weight
        self.summaries: dict[int, tuple] = {}
        self.rows: dict[int, list[InteractionRow]] = {}
        self.kept: list[InteractionRow] = []
        self.thin: dict[int, tuple[int, int]] = {}  # bucket -> (start, end) in thin_*
        self.thin_at = array("d")
        self.thin_w = array("d")
        self.thin_f = b""
        self.keys: list[int] = []

    @classmethod
    def build(cls, compact: Compact | None, rows: Iterable[InteractionRow],
              rules: RuleSet) -> PeerHistory:
        """From what a checkpoint kept (or None) and the full rows of every other bucket
        (in any order; a checkpoint's full rows are passed in ``rows``)."""
        self = cls(rules)
        if compact is not None:
            summaries, kept, thin, _full = compact
            self.summaries.update(summaries)
            self.kept = list(kept)
            keys, starts, ats, weights, flags = thin
            self.thin_at.frombytes(ats)
            self.thin_w.frombytes(weights)
            self.thin_f = flags
            ends = [*starts[1:], len(self.thin_at)]
            self.thin = {k: (s, e) for k, s, e in zip(keys, starts, ends, strict=True)}
        for key, bucket in _by_bucket(rows).items():
            if key in self.summaries:
                raise StaleHistory(f"rows for day {key // 2}, which a checkpoint summarized")
            self.rows[key] = bucket
            self.summaries[key] = summarize(key, bucket, self.half_life, self.omega_out)
        self.keys = sorted(self.summaries)
        return self

    def compact(self, horizon: float, longest_window: float) -> Compact:
        """What a checkpoint at ``horizon`` keeps (see the module docstring). Every row
        here must be before ``horizon``; done overrides must not be here."""
        full_from = 2 * day_of(horizon)
        thin_from = 2 * day_of(horizon - longest_window)
        summaries = {k: s for k, s in self.summaries.items() if k < full_from}
        full = [r for k, rows in self.rows.items() if k >= full_from for r in rows]
        dropped = [r for k, rows in self.rows.items() if k < full_from for r in rows]
        kept = sorted((*self.kept, *dropped), key=_order)[-self.recent_kept:]
        keys: list[int] = []
        starts: list[int] = []
        ats, weights, flags = array("d"), array("d"), bytearray()
        for key in self.keys:
            if key < thin_from or key >= full_from:
                continue
            keys.append(key)
            starts.append(len(ats))
            for at, weight, flag in self._thin_rows(key):
                ats.append(at)
                weights.append(weight)
                flags.append(flag)
        thin = (keys, starts, ats.tobytes(), weights.tobytes(), bytes(flags))
        return summaries, kept, thin, full

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

    @property
    def interactions(self) -> int:
        return sum(s[N] for s in self.summaries.values())

    def strength(self, t: float) -> float:
        """Tie strength as of ``t`` (no row after ``t``)."""
        hl = self.half_life
        total = 0.0
        summaries = self.summaries
        for key in self.keys:
            ref = (key // 2 + 1) * DAY
            total += summaries[key][DECAYED] * 0.5 ** (((t - ref) / DAY) / hl)
        return total

    def window(self, lo: float) -> Window:
        """Figures of the rows at or after ``lo``."""
        n = me_mail = me_meet = them_mail = them_meet = 0
        wsum = 0.0
        keys = self.keys
        summaries = self.summaries
        for key in keys[bisect_left(keys, 2 * day_of(lo)):]:
            s = summaries[key]
            if s[FIRST] >= lo:
                n += s[N]
                wsum += s[WSUM]
                me_mail += s[ME_MAIL]
                me_meet += s[ME_MEET]
                them_mail += s[THEM_MAIL]
                them_meet += s[THEM_MEET]
                continue
            if s[LAST] < lo:
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
        kinds: dict[str, int] = {}
        replies = 0
        first = last = last_kind = None
        last_order: tuple[float, str] | None = None
        last_meeting = last_meeting_kind = None
        for key in self.keys:
            s = self.summaries[key]
            for kind, count in s[KINDS].items():
                kinds[kind] = kinds.get(kind, 0) + count
            replies += s[REPLIES]
            if first is None or s[FIRST] < first:
                first = s[FIRST]
            if last_order is None or (s[LAST], s[LAST_RID]) > last_order:
                last_order = (s[LAST], s[LAST_RID])
                last, last_kind = s[LAST], s[LAST_KIND]
            if s[MEET] is not None:  # done buckets hold no meeting
                last_meeting, last_meeting_kind = s[MEET], s[MEET_KIND]
        window = self.window(now_ts - rules.model.reciprocity.window_days * DAY)
        return PeerScore(
            tie_strength=self.strength(now_ts),
            interactions=self.interactions,
            first_at=first,
            last_at=last,
            last_kind=last_kind,
            last_meeting_at=last_meeting,
            last_meeting_kind=last_meeting_kind,
            kinds=kinds,
            initiated_by_me=window[2] + window[3],
            initiated_by_them=window[4] + window[5],
            replies=replies,
        )


def recent_kept(rules: RuleSet) -> int:
    return max(RECENT_KEPT, rules.model.recommend.evidence_size)


def longest_window(rules: RuleSet) -> float:
    """The longest window (seconds) a digest section applies to a peer's rows:
    reciprocity, feedback's period, coverage's 26 weeks."""
    model = rules.model
    months = {"month": 1, "quarter": 3, "half": 6}[model.feedback.period]
    return max(model.reciprocity.window_days * DAY, months * 30.5 * DAY, 26 * WEEK)
