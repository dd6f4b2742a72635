"""Small, real-shaped records for the rules tests: one org, one owner, a few peers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import count

from peerpulse.connectors.records import (
    Attendee,
    Direction,
    EventInstance,
    MessageMeta,
    Person,
    ResponseStatus,
)
from peerpulse.rules.engine import EngineInputs, EngineResult, compute
from peerpulse.rules.loader import load_rules
from peerpulse.rules.overrides import Override
from peerpulse.rules.ruleset import RuleSet

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday, ISO week 2026-W48
PERIOD = "2026-W48"
ME = "me@corp.example"
MY_ALIAS = "m.e@corp.example"

PEOPLE = (
    Person(ME, "Morgan Me", department="Engineering", title="Engineering Manager",
           manager="boss@corp.example", manages_anyone=True),
    Person("boss@corp.example", "Blair Boss", department="Engineering", title="VP Engineering",
           manager="ceo@corp.example", manages_anyone=True),
    Person("ceo@corp.example", "Casey Ceo", department="Executive", title="CEO",
           manages_anyone=True),
    Person("r1@corp.example", "Riley One", department="Engineering", title="Engineer",
           manager=ME),
    Person("r2@corp.example", "Robin Two", department="Engineering", title="Team Lead",
           manager=ME, manages_anyone=True),
    Person("r3@corp.example", "Rene Three", department="Engineering", title="Engineer",
           manager="r2@corp.example"),
    Person("fin@corp.example", "Finley Fin", aliases=("finley@corp.example",),
           department="Finance", title="Finance Manager", manager="ceo@corp.example",
           manages_anyone=True),
    Person("hr@corp.example", "Harper Hr", department="HR", title="HR Manager",
           manager="ceo@corp.example", manages_anyone=True),
    Person("sales@corp.example", "Sam Sales", department="Sales", title="Sales Manager",
           manager="ceo@corp.example", manages_anyone=True),
    Person("ops@corp.example", "Ode Ops", department="Operations", title="Ops Manager",
           manager="ceo@corp.example", manages_anyone=True),
    Person("mkt@corp.example", "Max Mkt", department="Marketing", title="Marketing Lead",
           manager="ceo@corp.example", manages_anyone=True),
    Person("ic@corp.example", "Ivy Ic", department="Sales", title="Account Executive",
           manager="sales@corp.example"),
    Person("out@partner.example", "Oak Out", department="Partner", title="Partner Manager",
           manages_anyone=True),
)
PEERS = ("fin@corp.example", "hr@corp.example", "sales@corp.example", "ops@corp.example",
         "mkt@corp.example")

_ids = count(1)


def days_ago(days: float, hour: int = 0) -> datetime:
    return NOW - timedelta(days=days) + timedelta(hours=hour)


def attendee(email: str, response: ResponseStatus = ResponseStatus.ACCEPTED, *,
             organizer: bool = False, resource: bool = False) -> Attendee:
    return Attendee(email, "", response, organizer, resource)


def meeting(
    start: datetime,
    *others: str,
    title: str | None = "Sync",
    organizer: str = ME,
    my_response: ResponseStatus | None = ResponseStatus.ACCEPTED,
    responses: dict[str, ResponseStatus] | None = None,
    minutes: int = 30,
    uid: str | None = None,
    series: str | None = None,
    recurring: bool = False,
    count: int | None = None,
    **fields: object,
) -> EventInstance:
    """An event with the owner and ``others`` attending (all accepted unless told)."""
    responses = responses or {}
    people = [attendee(ME, my_response or ResponseStatus.NEEDS_ACTION, organizer=organizer == ME)]
    people += [attendee(o, responses.get(o, ResponseStatus.ACCEPTED), organizer=o == organizer)
               for o in others]
    uid = uid or f"ev{next(_ids)}"
    return EventInstance(
        source_id=uid,
        series_id=series or uid,
        start=start,
        end=start + timedelta(minutes=minutes),
        organizer=organizer,
        attendees=tuple(people),
        attendee_count=count if count is not None else len(people),
        title=title,
        recurring=recurring,
        self_response=my_response,
        **fields,  # type: ignore[arg-type]
    )


def mail(
    at: datetime,
    sender: str,
    to: tuple[str, ...],
    *,
    cc: tuple[str, ...] = (),
    bcc: tuple[str, ...] = (),
    reply: bool = False,
    subject: str | None = None,
    mid: str | None = None,
    **fields: object,
) -> MessageMeta:
    mid = mid or f"m{next(_ids)}@corp.example"
    direction = Direction.SENT if sender in (ME, MY_ALIAS) else Direction.RECEIVED
    return MessageMeta(
        source_id=mid,
        message_id=mid,
        thread_id=None,
        timestamp=at,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        direction=direction,
        in_reply_to="parent@corp.example" if reply else None,
        subject=subject,
        **fields,  # type: ignore[arg-type]
    )


def run(
    events: list[EventInstance] = (),  # type: ignore[assignment]
    messages: list[MessageMeta] = (),  # type: ignore[assignment]
    *,
    rules: RuleSet | None = None,
    people: tuple[Person, ...] = PEOPLE,
    now: datetime = NOW,
    period: str = PERIOD,
    timezone: str = "Europe/Berlin",
    history: dict[str, list[tuple[str, str]]] | None = None,
    title_changes: list[tuple[str, str | None, str | None, datetime]] = (),  # type: ignore[assignment]
    collect: bool = True,
    has_calendar: bool = True,
    overrides: tuple[Override, ...] = (),
) -> EngineResult:
    return compute(
        EngineInputs(
            account="work",
            owner=ME,
            owner_aliases=frozenset({MY_ALIAS}),
            timezone=timezone,
            now=now,
            period=period,
            events=iter(list(events)),
            messages=iter(list(messages)),
            people=people,
            title_changes=title_changes,
            history=history or {},
            working_hours=(time(9), time(17)),
            working_days=(0, 1, 2, 3, 4),
            collect_interactions=collect,
            has_calendar=has_calendar,
            overrides=overrides,
        ),
        rules or DEFAULT,
    )


DEFAULT = load_rules([])

