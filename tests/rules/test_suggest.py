"""Correspondents for ``people suggest``: everyone, directory or not, after the noise rules."""

from __future__ import annotations

from peerpulse.connectors.records import MessageMeta
from peerpulse.rules.suggest import correspondents

from tests.rules.builders import DEFAULT, ME, MY_ALIAS, NOW, PEOPLE, days_ago, mail, meeting

STRANGER = "new.colleague@corp.example"


def _run(events=(), messages=(), people=PEOPLE):  # type: ignore[no-untyped-def]
    return {c.email: c for c in correspondents(ME, {MY_ALIAS}, list(events), list(messages),
                                                people, DEFAULT, NOW)}


def test_people_outside_the_directory_are_counted_with_kinds_and_last_contact() -> None:
    found = _run(
        [meeting(days_ago(3), STRANGER)],
        [mail(days_ago(5), ME, (STRANGER,)), mail(days_ago(1), STRANGER, (ME,),
                                                  sender_name="New Colleague")],
    )
    c = found[STRANGER]
    assert (c.interactions, c.mail, c.meetings) == (3, 2, 1)
    assert c.name == "New Colleague" and c.person is None and c.internal
    assert c.last_at == days_ago(1).timestamp()
    assert ME not in found and MY_ALIAS not in found


def test_noise_is_left_out_and_directory_people_keep_their_entry() -> None:
    listed: MessageMeta = mail(days_ago(2), "announce@corp.example", (ME,),
                               list_id="all.corp.example")
    robot = mail(days_ago(2), "noreply@tool.example", (ME,))
    found = _run([meeting(days_ago(4), "fin@corp.example")], [listed, robot,
                 mail(days_ago(2), "x@partner.example", (ME,))])
    assert "announce@corp.example" not in found and "noreply@tool.example" not in found
    assert found["fin@corp.example"].person is not None
    assert found["fin@corp.example"].name == "Finley Fin"
    assert not found["x@partner.example"].internal
