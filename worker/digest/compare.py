"""How a recomputed digest differs from the one already sent for the same period.

After the owner edits rules, ``digest --dry-run`` shows the new computation; this
says what changed against what the owner actually received (issue 9, item 12),
so a rule change can be checked without sending anything again. Pure: it reads
the sent message's bytes and the new rendering, nothing else.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable

_ADDRESS = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


def sent_text(message: bytes) -> str:
    """The plain-text part of a sent digest (empty if it has none)."""
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def named(text: str) -> list[str]:
    """The people a digest names, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _ADDRESS.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def differences(
    sent_subject: str, sent_message: bytes, new_subject: str, new_text: str,
    ignore: Iterable[str] = (),
) -> list[str]:
    """Lines saying what the new computation changes; empty when nothing would."""
    lines: list[str] = []
    if sent_subject != new_subject:
        lines.append(f"subject: was {sent_subject!r}, now {new_subject!r}")
    skip = {a.lower() for a in ignore}
    before = [a for a in named(sent_text(sent_message)) if a not in skip]
    after = [a for a in named(new_text) if a not in skip]
    added = [a for a in after if a not in before]
    removed = [a for a in before if a not in after]
    if added:
        lines.append("now named: " + ", ".join(added))
    if removed:
        lines.append("no longer named: " + ", ".join(removed))
    return lines
