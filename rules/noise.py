"""Noise filters: records that are not interactions, and the rule that says so.

Each check returns ``(rule, detail)`` naming the rule-file key that excluded the
record (``"noise.mail.exclude_list_id"``), or None when the record passes. The
order of the checks decides which rule a record is attributed to when several
apply; it goes from the most certain (cancelled, list mail) to the most
judgemental (size).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

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


def _list_id(m: MessageMeta, rules: RuleSet) -> Verdict:
    if m.list_id and rules.model.noise.mail.exclude_list_id:
        return ("noise.mail.exclude_list_id", "List-Id")
    return None


def _list_unsubscribe(m: MessageMeta, rules: RuleSet) -> Verdict:
    if m.list_unsubscribe and rules.model.noise.mail.exclude_list_unsubscribe:
        return ("noise.mail.exclude_list_unsubscribe", "List-Unsubscribe")
    return None


def _auto_submitted(m: MessageMeta, rules: RuleSet) -> Verdict:
    auto = m.auto_submitted
    if auto and rules.model.noise.mail.exclude_auto_submitted and auto.strip().lower() != "no":
        return ("noise.mail.exclude_auto_submitted", f"Auto-Submitted: {auto}")
    return None


def _precedence(m: MessageMeta, rules: RuleSet) -> Verdict:
    if m.precedence and rules.precedence.match(m.precedence.strip()):
        return ("noise.mail.precedence", f"Precedence: {m.precedence}")
    return None


def _invitation(m: MessageMeta, rules: RuleSet) -> Verdict:
    if m.is_invitation and rules.model.noise.mail.exclude_invitations:
        return ("noise.mail.exclude_invitations", "calendar invitation")
    return None


def _recipients(m: MessageMeta, rules: RuleSet) -> Verdict:
    recipients = len(m.to) + len(m.cc) + len(m.bcc)
    limit = rules.model.noise.mail.max_recipients
    if recipients > limit:
        return ("noise.mail.max_recipients", f"{recipients} recipients > {limit}")
    return None


def _subject(m: MessageMeta, rules: RuleSet) -> Verdict:
    subject = m.subject
    if rules.mail_subjects and is_kept_subject(subject):
        hit = rules.mail_subjects.match(subject)
        if hit:
            return ("noise.mail.exclude_subjects", f"subject matches {hit!r}")
    return None


@dataclass(frozen=True, slots=True)
class MessageRule:
    """One header-noise rule.

    ``headers`` names the :class:`MessageMeta` fields of which one must be set for
    the rule to fire (the hot path skips the rule's call when none is);
    ``over_recipients``, when given, is the recipient count the rule set allows,
    above which the rule may fire. A rule with neither looks at every message.
    ``active`` says whether the rule set turns the rule on at all.
    """

    check: Callable[[MessageMeta, RuleSet], Verdict]
    headers: tuple[str, ...] = ()
    active: Callable[[RuleSet], bool] = lambda rules: True
    over_recipients: Callable[[RuleSet], int] | None = None


MESSAGE_RULES: list[MessageRule] = [
    MessageRule(_list_id, ("list_id",), lambda r: r.model.noise.mail.exclude_list_id),
    MessageRule(_list_unsubscribe, ("list_unsubscribe",),
                lambda r: r.model.noise.mail.exclude_list_unsubscribe),
    MessageRule(_auto_submitted, ("auto_submitted",),
                lambda r: r.model.noise.mail.exclude_auto_submitted),
    MessageRule(_precedence, ("precedence",)),
    MessageRule(_invitation, ("is_invitation",),
                lambda r: r.model.noise.mail.exclude_invitations),
    MessageRule(_recipients, over_recipients=lambda r: r.model.noise.mail.max_recipients),
    MessageRule(_subject, ("subject",), lambda r: bool(r.mail_subjects)),
]
"""The header-noise rules, in attribution order: the one list both :func:`message_noise`
and the inference hot path (:class:`MessageNoise`) run, so a rule added here fires on
both."""


def message_noise(message: MessageMeta, rules: RuleSet) -> Verdict:
    """Why a message is bulk, automated or a broadcast (header checks only), or None."""
    for rule in MESSAGE_RULES:
        verdict = rule.check(message, rules)
        if verdict is not None:
            return verdict
    return None


class MessageNoise:
    """:func:`message_noise` compiled for one rule set, for the per-message hot path.

    Built from :data:`MESSAGE_RULES` when constructed: rules the rule set turns off
    are dropped, and a message none of whose trigger headers is set is checked only
    against the rules that look at every message (none by default), so the common
    message (no list or automation headers, few recipients) costs one C-level
    attribute fetch and a length check.
    """

    __slots__ = ("_rules", "_checks", "_always", "_headers", "_many", "_limit")

    def __init__(self, rules: RuleSet) -> None:
        active = [rule for rule in MESSAGE_RULES if rule.active(rules)]
        self._rules = rules
        self._checks = tuple(rule.check for rule in active)
        self._always = tuple(rule.check for rule in active
                             if not rule.headers and rule.over_recipients is None)
        limits = [rule.over_recipients(rules) for rule in active if rule.over_recipients]
        self._limit = min(limits) if limits else None
        fields = sorted({field for rule in active for field in rule.headers})
        self._headers = attrgetter(*fields) if fields else None
        self._many = len(fields) > 1  # attrgetter returns a tuple only for several fields

    def __call__(self, message: MessageMeta) -> Verdict:
        rules = self._rules
        opened = False
        if self._headers is not None:
            got = self._headers(message)
            opened = bool(any(got) if self._many else got)
        if not opened and self._limit is not None:
            opened = len(message.to) + len(message.cc) + len(message.bcc) > self._limit
        checks = self._checks if opened else self._always
        if not checks:
            return None
        for check in checks:
            verdict = check(message, rules)
            if verdict is not None:
                return verdict
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
