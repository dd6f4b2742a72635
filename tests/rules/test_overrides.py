"""Snooze, done and never given by the manager (issue 13): every section honours them."""

from __future__ import annotations

from datetime import date, timedelta

from peerpulse.rules.overrides import DONE_KIND, Override

from tests.rules.builders import NOW, PEERS, days_ago, mail, meeting, run

FIN, HR, SALES, OPS, MKT = PEERS


def _named(result) -> set[str]:  # type: ignore[no-untyped-def]
    d = result.digest
    named = {e.email for e in d.reconnect} | {e.email for e in d.feedback}
    named |= {r.person.email for r in d.reciprocity} | {c.person.email for c in d.celebrate}
    named |= {i.person.email for i in d.invitations}
    if d.peer_of_the_week:
        named.add(d.peer_of_the_week.person.email)
    return named


def _overdue_everyone() -> list:  # type: ignore[type-arg]
    # every peer met twice long ago: all overdue, so every one is a reconnect candidate
    return [meeting(days_ago(d), p) for p in PEERS for d in (150, 160)]


def test_without_overrides_everyone_overdue_is_named() -> None:
    assert _named(run(_overdue_everyone())) == set(PEERS)


def test_a_snoozed_peer_is_left_out_of_every_section_until_the_snooze_ends() -> None:
    snooze = Override(OPS, "snooze", days_ago(1), "cli", until=date(2026, 12, 20))
    assert OPS not in _named(run(_overdue_everyone(), overrides=(snooze,)))
    later = run(_overdue_everyone(), overrides=(snooze,), now=NOW + timedelta(days=30),
                period="2026-W52")
    assert OPS in _named(later)


def test_never_leaves_a_peer_out_and_an_alias_names_the_same_person() -> None:
    never = Override("finley@corp.example", "never", days_ago(1), "mail")
    result = run(_overdue_everyone(), overrides=(never,))
    assert FIN not in _named(result)
    explained = str(result.explain(FIN))
    assert "override: never suggest (mail," in explained
    assert "left out of every digest section" in explained


def test_reciprocity_and_celebrate_honour_a_snooze() -> None:
    # HR keeps writing, the owner never answers: a reciprocity entry, and a celebration
    messages = [mail(days_ago(d), HR, ("me@corp.example",), subject=f"Launched thing {d}")
                for d in (2, 5, 9, 12, 20)]
    plain = run([], messages)
    assert HR in _named(plain)
    snooze = Override(HR, "snooze", days_ago(0), "cli", until=date(2027, 1, 5))
    assert HR not in _named(run([], messages, overrides=(snooze,)))


def test_done_counts_as_an_interaction_today_and_resets_the_cadence() -> None:
    done = Override(OPS, "done", NOW - timedelta(hours=1), "cli")
    result = run(_overdue_everyone(), overrides=(done,))
    view = result.views[OPS]
    assert view.days_since == 0
    assert view.score.last_kind == DONE_KIND
    assert view.overdue is not None and view.overdue < 0
    assert OPS not in {e.email for e in result.digest.reconnect}
    assert result.rule_counts[f"kinds.{DONE_KIND}"] == 1
    # neither side's initiative: reciprocity is not skewed by a click
    before = run(_overdue_everyone()).views[OPS].score
    assert (view.score.initiated_by_me, view.score.initiated_by_them) == (
        before.initiated_by_me, before.initiated_by_them)
    counted = result.explain(OPS).counted
    assert any(i.kind == DONE_KIND for i in counted)


def test_a_done_in_the_future_of_the_clock_is_not_counted() -> None:
    done = Override(OPS, "done", NOW + timedelta(days=2), "cli")
    assert run(_overdue_everyone(), overrides=(done,)).views[OPS].days_since == 150
