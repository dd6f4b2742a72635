"""Per-day summaries of a peer's interactions (rules/history.py, issue 14, item 1).

Two properties: the summaries give what the per-row code gives (tie strength to
float rounding, everything else exactly), and a history compacted by a checkpoint
then resumed with the later rows gives the *same floats* as the history of every
row, for any ``now`` after the checkpoint: long histories (two years), windows
starting inside summarized days, decay across many weeks with a short half-life,
``done`` overrides on days the checkpoint summarized, and a checkpoint made from
a resumed one.
"""

from __future__ import annotations

import random

import pytest
from peerpulse.rules.history import DAY, PeerHistory, StaleHistory, longest_window
from peerpulse.rules.loader import load_rules
from peerpulse.rules.overrides import DONE_KIND
from peerpulse.rules.scoring import score_peer, tie_strength

RULES = load_rules([])
FAST = load_rules([("fast.toml", "[tie_strength]\nhalf_life_days = 3\n"
                    "[feedback]\nperiod = \"half\"\n[reciprocity]\nwindow_days = 30\n")])
KINDS = ("mail_sent", "mail_received", "one_on_one", "small_meeting", "large_meeting",
         "lunch")
START = 1_700_000_000.0


def rows_of(seed: int, days: int = 730, per_day: float = 3.0) -> list[tuple]:
    """A peer's interactions over ``days``: bursts, quiet months, ties on one second."""
    rnd = random.Random(seed)
    rows = []
    for i in range(int(days * per_day)):
        at = START + rnd.randrange(days * 86400)
        if rnd.random() < 0.05 and rows:
            at = rows[-1][0]  # the same second as another row
        kind = rnd.choice(KINDS)
        weight = rnd.choice((1.0, 1.5, 0.5, 3.0, 2.0, rnd.random() * 3))
        me = rnd.random() < 0.3
        them = not me and rnd.random() < 0.3
        rows.append((at, kind, weight, f"r{seed}-{i:05d}", me, them, rnd.random() < 0.4))
    return rows


def done_rows(seed: int, days: int = 730) -> list[tuple]:
    rnd = random.Random(seed + 1)
    return [(START + rnd.randrange(days * 86400), DONE_KIND, 1.0, f"override:done:{i}",
             False, False, False) for i in range(8)]


def windows(rules) -> list[float]:
    model = rules.model
    months = {"month": 1, "quarter": 3, "half": 6}[model.feedback.period]
    return [model.reciprocity.window_days * DAY, months * 30.5 * DAY,
            4 * 7 * DAY, 13 * 7 * DAY, 26 * 7 * DAY]


def figures(history: PeerHistory, now: float, rules) -> tuple:
    score = history.score(now, rules)
    last = score.last_at
    return (score, [history.window(now - w) for w in windows(rules)], history.recent(),
            history.day_times(), history.strength(last) if last is not None else None)


@pytest.mark.parametrize("rules", [RULES, FAST], ids=["default", "short-half-life"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_give_what_the_rows_give(seed: int, rules) -> None:
    rows = sorted(rows_of(seed), key=lambda r: (r[0], r[3]))
    now = rows[-1][0] + 5 * DAY
    history = PeerHistory.build(None, rows, rules)
    expected = score_peer(rows, now, rules)
    got = history.score(now, rules)
    # a sum of per-day sums: not the same float as the per-row sum, within 1e-12
    assert got.tie_strength == pytest.approx(expected.tie_strength, rel=1e-12)
    for field in ("interactions", "first_at", "last_at", "last_kind", "last_meeting_at",
                  "last_meeting_kind", "kinds", "initiated_by_me", "initiated_by_them",
                  "replies"):
        assert getattr(got, field) == getattr(expected, field), field
    last = expected.last_at
    assert history.strength(last) == pytest.approx(tie_strength(rows, last, rules), rel=1e-12)
    for length in windows(rules):
        lo = now - length
        inside = [r for r in rows if r[0] >= lo]
        n, wsum, me_mail, me_meet, them_mail, them_meet = history.window(lo)
        assert n == len(inside)
        assert wsum == pytest.approx(sum(r[2] for r in inside), rel=1e-12)
        assert (me_mail, them_mail) == (
            sum(r[4] for r in inside if r[1].startswith("mail")),
            sum(r[5] for r in inside if r[1].startswith("mail")))
        assert (me_meet, them_meet) == (
            sum(r[4] for r in inside if not r[1].startswith("mail")),
            sum(r[5] for r in inside if not r[1].startswith("mail")))
    assert history.recent() == rows[-12:]


def resumed(rows: list[tuple], horizons: list[float], later: list[tuple], rules) -> PeerHistory:
    """The history a chain of checkpoints at ``horizons`` hands the digest: each
    checkpoint compacts the rows before its horizon at the newest of them (as
    rules.checkpoint does), the next one resumes it; then ``later`` rows join."""
    compact, full, lo = None, [], float("-inf")
    for horizon in horizons:
        pending = [*full, *(r for r in rows if lo <= r[0] < horizon)]
        if pending:
            history = PeerHistory.build(compact, pending, rules)
            kept = history.compact(max(r[0] for r in pending), longest_window(rules))
            full, compact = kept[5], (*kept[:5], [], kept[6])
        lo = horizon
    tail = [r for r in rows if r[0] >= lo]
    return PeerHistory.build(compact, [*full, *tail, *later], rules)


@pytest.mark.parametrize("rules", [RULES, FAST], ids=["default", "short-half-life"])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_a_compacted_history_resumed_gives_the_same_floats(seed: int, rules) -> None:
    every = rows_of(seed)
    horizon = START + 600 * DAY
    for after in (0.0, 1.0, 3 * DAY, 10 * DAY + 3600, 40 * DAY, 41.5 * DAY, 200 * DAY):
        now = horizon + after
        rows = [r for r in every if r[0] <= now]  # a digest counts nothing after now
        done = [r for r in done_rows(seed) if r[0] <= now]  # never kept by a checkpoint
        full = PeerHistory.build(None, [*rows, *done], rules)
        once = resumed(rows, [horizon], done, rules)
        chain = resumed(rows, [horizon - 90 * DAY, horizon - 20 * DAY, horizon], done, rules)
        assert once.keys == full.keys
        if after <= 10 * DAY:  # most days came as summaries
            assert len(once.rows) < len(full.rows) / 10
        expected = figures(full, now, rules)
        assert figures(once, now, rules) == expected, after
        assert figures(chain, now, rules) == expected, after


def test_a_window_inside_a_summarized_day_is_refused_not_guessed() -> None:
    rows = rows_of(7, days=400)
    end = max(r[0] for r in rows)
    history = PeerHistory.build(None, rows, RULES)
    kept = history.compact(end, longest_window(RULES))
    thin = ([], [], b"", b"", b"")
    compact = PeerHistory.build((kept[0], kept[1], kept[2], thin, kept[4], [], kept[6]), kept[5],
                                RULES)
    with pytest.raises(StaleHistory):
        # the checkpoint's thin rows dropped: a window boundary inside a summarized day
        for days in range(0, 200):
            compact.window(end - days * DAY - 3600)


@pytest.mark.parametrize("rules", [RULES, FAST], ids=["default", "short-half-life"])
@pytest.mark.parametrize("seed", [8, 9])
def test_recompacting_a_resumed_history_keeps_the_same_thin_rows(seed: int, rules) -> None:
    """A checkpoint carried forward copies the thin rows of the days it resumed (as
    slices) and adds those of the new days: the same bytes as compacting every row
    at the new horizon at once."""
    rows = rows_of(seed)
    first, second = START + 500 * DAY, START + 507 * DAY
    before = [r for r in rows if r[0] < first]
    between = [r for r in rows if first <= r[0] < second]
    kept = PeerHistory.build(None, before, rules).compact(max(r[0] for r in before),
                                                          longest_window(rules))
    resumed = PeerHistory.build((*kept[:5], [], kept[6]), [*kept[5], *between], rules)
    newest = max(r[0] for r in between)
    again = resumed.compact(newest, longest_window(rules))
    at_once = PeerHistory.build(None, [*before, *between], rules).compact(
        newest, longest_window(rules))
    assert again[3][0] and again[3] == at_once[3]  # thin rows: keys, starts and bytes
    assert again[2] == at_once[2] and again[5] == at_once[5]
