"""The resumed digest equals the full one over a long history (issue 14, item 1).

What the checkpoint's compaction (rules/history.py) could break, on a 14-month
demo organization: windows (reciprocity, feedback, coverage) that start inside
days the checkpoint holds as summaries only, tie strength decayed across many
weeks (a 3-day half-life: the per-day sums scaled by tiny factors), a checkpoint
resumed five weeks later, one made from a resumed one, and a ``done`` override
dated on a summarized day. Compared with ``==`` (floats included): both digests
add the same per-day sums in the same order, so exact equality holds and no
tolerance is needed.
"""

from __future__ import annotations

import marshal
from datetime import date, datetime, timedelta

import pytest
from peerpulse.rules.loader import load_rules
from peerpulse.worker.config import load_settings
from peerpulse.worker.demo import generate
from peerpulse.worker.pipeline import read_rules
from peerpulse.worker.store import open_store
from peerpulse.worker.store.rows import StoredOverride
from peerpulse.worker.sync import sync_account

from benchmarks.demo_config import write_demo_config
from tests.worker.test_incremental_digest import Demo, assert_same, both

SHORT = ("[tie_strength]\nhalf_life_days = 3\n[feedback]\nperiod = \"half\"\n"
         "[reciprocity]\nwindow_days = 30\n")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    tmp = tmp_path_factory.mktemp("long-history")
    generate(tmp / "demo", seed=5, managers=22, months=14, end=date(2026, 10, 30))
    config = tmp / "config.toml"
    meta = write_demo_config(tmp / "demo", tmp / "state", config)
    settings = load_settings(config)
    settings = settings.model_copy(update={"privacy": settings.privacy.model_copy(
        update={"retention_days": 500})})
    account = settings.accounts[0]
    now = datetime.fromisoformat(meta["now"].replace("Z", "+00:00"))
    with open_store(settings.database_path) as store:
        assert sync_account(store, settings, account, now=now).ok
    return Demo(settings, account, read_rules(settings), now, tmp / "state",
                settings.database_path)


def kept_rows(store, demo: Demo) -> tuple[int, int]:
    """(peer rows the checkpoint keeps as rows, days it keeps as summaries)."""
    found = store.digest_checkpoint(demo.account.name)
    persons = marshal.loads(found.state)[5]
    rows = sum(len(p[0]) for p in persons.values())
    days = sum(len(p[6][1][0]) // 8 for p in persons.values() if p[6])
    return rows, days


@pytest.mark.parametrize("rules_text", ["", SHORT], ids=["default", "short-windows"])
def test_a_long_history_resumed_equals_the_full_digest(demo: Demo, rules_text: str) -> None:
    rules = load_rules([("r.toml", rules_text)]) if rules_text else demo.rules
    start = demo.now - timedelta(days=60)
    with open_store(demo.settings.database_path) as store:
        first, full = both(store, demo, start, rules)
        assert not first.resumed and first.digest.stats["interactions"] > 1000
        assert_same(first, full)
        rows, days = kept_rows(store, demo)
        assert days > 300 and rows < first.digest.stats["interactions"] / 20
        peer = sorted(full.views)[0]
        store.add_override(demo.account.name, StoredOverride(
            f"old-done-{len(rules_text)}", peer, "done", None,
            int((start - timedelta(days=250)).timestamp()), "cli"))
        for days_later in (7, 14, 49, 56):  # weekly, then five weeks without a digest
            result, full = both(store, demo, start + timedelta(days=days_later), rules)
            assert result.resumed, days_later
            assert_same(result, full)
        assert full.views[peer].score.kinds.get("marked_done", 0) >= 1


def test_the_compacted_checkpoint_is_smaller_than_the_rows(demo: Demo) -> None:
    now = demo.now - timedelta(days=3)
    with open_store(demo.settings.database_path) as store:
        _, full = both(store, demo, now)
        state = store.digest_checkpoint(demo.account.name).state
    rows = [r for e in full.views for r in full.counted(e)]
    persons = marshal.loads(state)[5]
    compacted = marshal.dumps({e: p[0] for e, p in persons.items()})
    compacted += marshal.dumps({e: p[6] for e, p in persons.items()})
    assert len(rows) > 1000
    # About one row per peer and day here, the sparsest case: still smaller (0.64x
    # when written, 0.83x since checkpoint version 4 keeps each day's totals for the
    # re-base, rules/rebase.py); a day's summary replaces all its rows, so denser mail
    # gains more.
    assert len(compacted) < 0.9 * len(marshal.dumps(rows))


def test_talking_points_read_no_more_rows_than_a_peer_view_keeps() -> None:
    """A peer view holds only its newest rows (rules.history.RECENT_KEPT); talking
    points look at the newest LOOK_BACK of them."""
    from peerpulse.rules.history import RECENT_KEPT
    from peerpulse.worker.talking_points import LOOK_BACK

    assert LOOK_BACK <= RECENT_KEPT
