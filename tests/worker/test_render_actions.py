"""The digest's action links, command outcomes and talking points (issue 13), rendered."""

from __future__ import annotations

import re
from dataclasses import replace

from peerpulse.worker.digest.render import render_digest
from peerpulse.worker.talking_points import shorten

from tests.worker.sample_digest import NOW, sample_digest


def _with(**stats: object):  # type: ignore[no-untyped-def]
    digest = sample_digest()
    return replace(digest, stats={**digest.stats, **stats})


def _render(digest):  # type: ignore[no-untyped-def]
    return render_digest(digest, recipient="me@example.com", sender="me@example.com", now=NOW)


def test_each_person_gets_three_links_and_only_mailto_urls_pass():
    digest = sample_digest()
    email = digest.peer_of_the_week.person.email  # type: ignore[union-attr]
    good = {a: f"mailto:me@example.com?subject=peerpulse%3A%20{a}" for a in ("snooze", "done")}
    good["never"] = 'javascript:alert(1)"'
    html = _render(_with(actions={email: good})).html
    assert re.search(r'href="mailto:me@example\.com\?subject=peerpulse%3A%20snooze"[^>]*>'
                     r"snooze 4 weeks</a>", html)
    assert ">done</a>" in html
    assert "javascript" not in html and ">never</a>" not in html


def test_talking_points_are_escaped_and_shown_in_both_parts():
    digest = sample_digest()
    email = digest.reconnect[0].email
    rendered = _render(_with(talking_points={email: ["Q3 <b>hiring</b> plan", "Budget review"]}))
    assert "Last talked about: Q3 <b>hiring</b> plan, Budget review" in rendered.text
    assert "Last talked about: Q3 &lt;b&gt;hiring&lt;/b&gt; plan, Budget review" in rendered.html
    assert "Last talked about" not in _render(sample_digest()).text


def test_what_the_command_mails_did_opens_the_digest():
    commands = [
        {"outcome": "applied", "detail": "snoozed Lee Chen until 5 Jan 2027", "sent": "2026-11-20"},
        {"outcome": "ignored", "detail": "the signature does not match <x>", "sent": "2026-11-21"},
    ]
    rendered = _render(_with(commands=commands))
    assert "DONE FROM YOUR LINKS\n  - Snoozed Lee Chen until 5 Jan 2027\n" in rendered.text
    assert "Ignored a command mail of 2026-11-21: the signature does not match &lt;x&gt;" in \
        rendered.html
    assert rendered.text.index("DONE FROM YOUR LINKS") < rendered.text.index("PEER OF THE WEEK")


def test_subjects_are_shortened_without_prefixes_and_hashes_never_shown():
    assert shorten("RE: Fwd: AW: Budget   review") == "Budget review"
    assert shorten("Invitation: Atlas steering @ Mon 30 Nov") == "Atlas steering @ Mon 30 Nov"
    assert shorten("sha256:0123456789abcdef") == ""
    long = shorten("x" * 80)
    assert len(long) == 48 and long.endswith("\u2026")
