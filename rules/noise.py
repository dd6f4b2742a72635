"""Noise filters: records that are not interactions, and the rule that says so.

Each check returns ``(rule, detail)`` naming the rule-file key that excluded the
record (``"noise.mail.exclude_list_id"``), or None when the record passes. The
order of the checks decides which rule a record is attributed to when several
apply; it goes from the most certain (cancelled, list mail) to the most
judgemental (size).
"""

from __future__ import annotations

from peerpulse.connectors.records import (
    EventInstance,
    EventStatus,
    EventType,
    MessageMeta,
    ResponseStatus,
    Transparency,
)
from peerpulse.rules.identity import domain_of
from peerpulse.rules.ruleset import RuleSet

Verdict = tuple[str, str] | None

_EVENT_TYPES = {
    EventType.OUT_OF_OFFICE: ("exclude_out_of_office", "out of office"),
    EventType.FOCUS_TIME: ("exclude_focus_time", "focus time"),
    EventType.WORKING_LOCATION: ("exclude_working_location", "working location"),
}


def is_kept_subject(subject: str | None) -> bool:
    """Subjects are usable only when the privacy setting keeps them (not dropped, not hashed)."""
    return bool(subject) and not subject.startswith("sha256:")  # type: ignore[union-attr]


def event_noise(
    event: EventInstance, my_response: ResponseStatus | None, i_organize: bool, size: int,
    others: int, rules: RuleSet,
) -> Verdict:
    """Why ``event`` is not an interaction at all, or None.

    ``my_response`` is the owner's answer (None when unknown), ``size`` the number
    of people including the owner, ``others`` the number of other people listed.
    """
    ev = rules.model.noise.events
    if ev.exclude_cancelled and event.status is EventStatus.CANCELLED:
        return ("noise.events.exclude_cancelled", "cancelled")
    if ev.exclude_all_day and event.all_day:
        return ("noise.events.exclude_all_day", "all-day")
    special = _EVENT_TYPES.get(event.event_type)
    if special and getattr(ev, special[0]):
        return ("noise.events." + special[0], special[1])
    if ev.exclude_free and event.transparency is Transparency.FREE:
        return ("noise.events.exclude_free", "marked free")
    if not i_organize:
        if ev.exclude_declined and my_response is ResponseStatus.DECLINED:
            return ("noise.events.exclude_declined", "you declined")
        if ev.exclude_not_accepted and my_response not in (
            ResponseStatus.ACCEPTED, ResponseStatus.TENTATIVE, ResponseStatus.DECLINED
        ):
            what = "you never answered" if my_response else "your answer is unknown"
            return ("noise.events.exclude_not_accepted", what)
    title = event.title
    if title:
        hit = rules.all_hands.match(title)
        if hit:
            return ("noise.events.all_hands_titles", f"title matches {hit!r}")
        hit = rules.event_titles.match(title)
        if hit:
            return ("noise.events.exclude_titles", f"title matches {hit!r}")
    if ev.exclude_self_only and others == 0:
        return ("noise.events.exclude_self_only", "nobody else attends")
    if size > ev.max_attendees:
        return ("noise.events.max_attendees", f"{size} people > {ev.max_attendees}")
    return None


def message_noise(message: MessageMeta, rules: RuleSet) -> Verdict:
    """Why a message is bulk, automated or a broadcast (header checks only), or None."""
    mail = rules.model.noise.mail
    if mail.exclude_list_id and message.list_id:
        return ("noise.mail.exclude_list_id", "List-Id")
    if mail.exclude_list_unsubscribe and message.list_unsubscribe:
        return ("noise.mail.exclude_list_unsubscribe", "List-Unsubscribe")
    auto = message.auto_submitted
    if mail.exclude_auto_submitted and auto and auto.strip().lower() != "no":
        return ("noise.mail.exclude_auto_submitted", f"Auto-Submitted: {auto}")
    if message.precedence and rules.precedence.match(message.precedence.strip()):
        return ("noise.mail.precedence", f"Precedence: {message.precedence}")
    if mail.exclude_invitations and message.is_invitation:
        return ("noise.mail.exclude_invitations", "calendar invitation")
    recipients = len(message.to) + len(message.cc) + len(message.bcc)
    if recipients > mail.max_recipients:
        return ("noise.mail.max_recipients", f"{recipients} recipients > {mail.max_recipients}")
    subject = message.subject
    if rules.mail_subjects and is_kept_subject(subject):
        hit = rules.mail_subjects.match(subject)
        if hit:
            return ("noise.mail.exclude_subjects", f"subject matches {hit!r}")
    return None


def address_noise(address: str, rules: RuleSet) -> Verdict:
    """Why mail from or to this (canonical) address never counts, or None."""
    local = address.partition("@")[0]
    hit = rules.noreply.match(local)
    if hit:
        return ("noise.mail.noreply_senders", f"sender matches {hit!r}")
    return blocked_noise(address, rules)


def blocked_noise(address: str, rules: RuleSet) -> Verdict:
    """Why an address is blocked (``blocked_addresses`` / ``blocked_domains``), or None.

    Used for recipients too: mail received through a blocked list address in
    To/Cc never counts, as docs/RULES.md promises ("not to or from").
    """
    hit = rules.blocked_addresses.match(address)
    if hit:
        return ("noise.mail.blocked_addresses", f"address matches {hit!r}")
    if rules.blocked_domains:
        domain = domain_of(address)
        for blocked in rules.blocked_domains:
            if domain == blocked or domain.endswith("." + blocked):
                return ("noise.mail.blocked_domains", f"domain {blocked}")
    return None


class AddressNoise:
    """:func:`address_noise` cached per address (a mailbox has few distinct senders)."""

    __slots__ = ("_rules", "_cache")

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules
        self._cache: dict[str, Verdict] = {}

    def __call__(self, address: str) -> Verdict:
        try:
            return self._cache[address]
        except KeyError:
            verdict = self._cache[address] = address_noise(address, self._rules)
            return verdict
