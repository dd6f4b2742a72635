"""From a :class:`Digest` to the words and markup the manager reads.

Two steps. First the digest becomes a *view*: plain dicts of already cleaned,
length-limited, formatted strings (dates as "12 Sep", cadence as "every ~30
days"), built once so the text and HTML parts cannot disagree about who is in
them. Then two Jinja2 templates draw the view. The HTML environment autoescapes
everything (Jinja2's default is *off*) and both
use StrictUndefined, so a misspelt field is an error, not a blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from peerpulse.rules.forecast import span
from peerpulse.rules.recommendations import Digest, PersonEntry
from peerpulse.worker.digest.sanitize import NAME_LIMIT, clean_address, header_text, printable_line
from peerpulse.worker.schedule import parse_period, period_dates

TEMPLATES = Path(__file__).parent / "templates"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_KINDS = {
    "one_on_one": "1:1",
    "lunch": "meal or coffee",  # lunch_titles match coffee, breakfast and dinner too
    "small_meeting": "meeting",
    "meeting": "meeting",
    "mail_sent": "mail sent",
    "mail_received": "mail received",
    "mail_reply": "reply",
}
FORECAST_SHOWN_DAYS = 60  # a forecast months away is noise in a weekly digest (explain has it)
_TREND = {"up": "rising", "flat": "steady", "down": "falling", "dark": "gone dark"}


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """What the message builder needs: the subject line and both bodies."""

    period: str
    subject: str
    text: str
    html: str
    recipient: str
    sender: str
    people: tuple[str, ...]  # emails named in the digest, in order of appearance
    is_empty: bool


def render_digest(
    digest: Digest, *, recipient: str, sender: str, now: datetime, hold_attached: bool = False,
    missed: tuple[str, ...] = (),
) -> RenderedDigest:
    """Render ``digest`` as a subject, a plain-text body and an HTML body.

    ``missed``: earlier periods no digest went out for, named in the footer.
    """
    view = build_view(digest, now=now, hold_attached=hold_attached)
    view["missed"] = [f"No digest went out for {_week_label(p).lower()} ({week_range(p)})."
                      for p in missed]
    context = {"v": view, "recipient": printable_line(recipient, 120)}
    text = _text_env().get_template("digest.txt.j2").render(context)
    html = _html_env().get_template("digest.html.j2").render(context)
    return RenderedDigest(
        period=digest.period,
        subject=view["subject"],
        text=text,
        html=html,
        recipient=recipient,
        sender=sender,
        people=tuple(view["people"]),
        is_empty=digest.is_empty,
    )


@lru_cache(maxsize=1)
def _html_env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def _text_env() -> Environment:
    # text/plain is not markup: escaping would print "&lt;" to the reader. Every value
    # in the view is already one clean line, which is what plain text needs.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 - the text part is not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# -- the view ----------------------------------------------------------------------


def build_view(digest: Digest, *, now: datetime, hold_attached: bool = False) -> dict[str, Any]:
    """The digest as cleaned strings, in the order the templates show them."""
    today = _local_today(digest, now)
    people: list[str] = []

    actions = digest.stats.get("actions") or {}
    points = digest.stats.get("talking_points") or {}

    shown_in: dict[str, str] = {}

    def person(entry: PersonEntry, section: str) -> dict[str, Any]:
        """A person's block; a person already shown in an earlier section keeps only their
        name and this section's reason, and points back: the same evidence twice in one
        digest reads as two facts."""
        people.append(entry.email)
        talked = points.get(entry.email) if isinstance(points, dict) else None
        earlier = shown_in.setdefault(entry.email, section)
        return {**_person_view(entry, today), "actions": _actions_view(actions.get(entry.email)),
                "talked": _talked_view(talked),
                "shown_above": earlier if earlier != section else ""}

    pick = None
    if digest.peer_of_the_week is not None:
        pick = {
            "person": person(digest.peer_of_the_week.person, "peer of the week"),
            "slots": [_slot_text(s.start, s.end) for s in digest.peer_of_the_week.slots[:3]],
            "hold_attached": hold_attached and bool(digest.peer_of_the_week.slots),
            "no_calendar": digest.stats.get("calendar") is False,
            "heading": ("Peer of the week: a first coffee" if digest.peer_of_the_week.first_coffee
                        else "Peer of the week"),
        }
    view: dict[str, Any] = {
        "period": digest.period,
        "week_label": _week_label(digest.period),
        "range": week_range(digest.period),
        "pick": pick,
        "reconnect": [person(p, "reconnect") for p in digest.reconnect],
        "reciprocity": [
            {
                "person": person(r.person, "reciprocity"),
                "line": _reciprocity_line(r.direction, r.person, r.initiated_by_me,
                                          r.initiated_by_them, r.action),
            }
            for r in digest.reciprocity
        ],
        "celebrate": [
            {
                "person": person(c.person, "celebrate"),
                "what": printable_line(c.what),
                "date": _day(c.date, today),
            }
            for c in digest.celebrate
        ],
        "feedback": [person(p, "ask for feedback") for p in digest.feedback],
        "leaders": [person(p, "leaders to keep informed") for p in digest.leaders],
        "invitations": [
            {
                "person": person(i.person, "invite to your team meeting"),
                "meeting": printable_line(i.meeting_title, 120) or "your recurring team meeting",
                "when": printable_line(f"{i.weekday.capitalize()}s at {i.local_time}", 60),
                "departments": printable_line(", ".join(i.attendee_departments), 200)
                or "none recorded",
            }
            for i in digest.invitations
        ],
        "coverage": _coverage_view(digest, today),
        "fading": [
            {"person": person(p, "fading"),
             "when": printable_line(f"in about {span(p.fades_in_days)}" if p.fades_in_days
                               is not None else "now", 40)}
            for p in digest.fading
        ],
        "generated": _generated_text(now, digest.timezone),
        "chain_unknown": digest.stats.get("management_chain_known") is False,
        "excluded": excluded_line(digest.stats.get("excluded")),
        "stale": (
            "Could not sync " + ", ".join(printable_line(str(x), 80)
                                          for x in digest.stats["stale_sources"])
            + " this run: this digest uses what was stored before. `peerpulse status` "
            "shows the error." if digest.stats.get("stale_sources") else ""
        ),
        "quiet": _quiet_text(digest.stats.get("quiet_sources"), today),
        "timezone": printable_line(digest.timezone, 64),
        "commands": _commands_view(digest.stats.get("commands")),
        "loading": _loading_view(digest.stats.get("history")),
        "is_empty": digest.is_empty and not digest.owner_missing,
        "owner_missing": (
            f"Your address {clean_address(digest.owner)} appears in none of the "
            f"{_records(digest)} records read, so this digest has no advice: anything "
            "it suggested would not be based on your own meetings and mail. Check the "
            "account's owner and aliases in the config, then run `peerpulse status`."
            if digest.owner_missing else ""
        ),
    }
    view["subject"] = subject_line(digest)
    view["headline"] = view["subject"].split(": ", 1)[-1]
    view["people"] = people
    return view


_ACTION_LABELS = (("snooze", "snooze 4 weeks"), ("done", "done"), ("never", "never"))


def _actions_view(links: Any) -> list[dict[str, str]]:
    """The "snooze 4 weeks · done · never" links of one person (issue 13): each a
    ``mailto:`` to the owner whose subject is a signed command. Only URLs of that
    shape pass; the template escapes them like any other attribute value."""
    if not isinstance(links, dict):
        return []
    out = []
    for action, label in _ACTION_LABELS:
        url = links.get(action)
        if isinstance(url, str) and url.startswith("mailto:") and url.isascii() \
                and not any(c.isspace() or c in '"<>' for c in url):
            out.append({"label": label, "url": url})
    return out


def _talked_view(points: Any) -> str:
    """"Q3 hiring plan, Budget review": at most three, each one clean bounded line."""
    if not isinstance(points, list):
        return ""
    return printable_line(", ".join(printable_line(str(p), 60) for p in points[:3] if p), 200)


_SECTION_NAMES = {
    "reconnect": "Reconnect",
    "reciprocity": "Reciprocity",
    "peer_of_the_week": "the peer of the week",
    "feedback": "feedback asks",
    "celebrate": "celebrate",
    "fading": "the fading forecast",
    "coverage": "coverage",
}


def _loading_view(info: Any) -> dict[str, Any] | None:
    """The "history is still loading" note (worker/loading.py sets ``stats.history``):
    how far the first sync is, since when history is complete, what is held back and
    what is marked; None when history is complete."""
    if not isinstance(info, dict) or info.get("complete", True):
        return None
    done = info.get("percent_done")
    since = info.get("since")
    how_far = f"about {int(done)}% done" if isinstance(done, int | float) else "under way"
    if since:
        complete = f"your mail is complete from {printable_line(str(since), 20)} on"
    else:
        complete = "only your own sent mail is in so far, none you received"
    held = [_SECTION_NAMES.get(str(h), printable_line(str(h), 40)) for h in info.get("held", [])]
    flagged = [_SECTION_NAMES.get(str(f), printable_line(str(f), 40))
               for f in info.get("flagged", [])]
    lines = [f"Your history is still loading: the first sync is {how_far}, and {complete}."]
    if held:
        lines.append(f"Held back until it is in: {_and(held)} (they read old ties and the "
                     "mail you received; shown now, they could name the wrong people).")
    if flagged:
        lines.append(f"Based on partial history, and may change: {_and(flagged)}.")
    details = [printable_line(f"{s.get('source')}: {s.get('detail')}", 160)
               for s in info.get("sources", []) if isinstance(s, dict) and s.get("detail")]
    return {"text": " ".join(lines), "details": details,
            "flag": "Partial history: chosen before your older mail was loaded.",
            "flagged": [str(f) for f in info.get("flagged", [])]}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _commands_view(commands: Any) -> list[str]:
    """What last week's command mails did: "Snoozed Lee Park until 5 Jan 2027", and
    for an ignored one, why (so a click that did nothing is never silent)."""
    lines = []
    for item in commands or ():
        detail = printable_line(str(item.get("detail", "")), 200)
        if item.get("outcome") == "applied":
            lines.append(detail[:1].upper() + detail[1:])
        else:
            sent = printable_line(str(item.get("sent", "")), 12)
            lines.append(f"Ignored a command mail of {sent}: {detail}")
    return lines


def excluded_line(excluded: Any) -> str:
    """"Rules left out 1,300 of 2,000 records read (65%), most by …": why a digest
    may look thin, and where to look (empty when rules excluded less than half)."""
    if not excluded:
        return ""
    total, read = int(excluded["records"]), int(excluded["read"])
    by = ", ".join(f"{printable_line(str(rule), 80)} ({int(n):,})" for rule, n in excluded["rules"])
    return (f"Rules left out {total:,} of {read:,} records read ({total / read:.0%}), "
            f"most by {by}. `peerpulse rules check` shows what each rule did.")


def subject_line(digest: Digest) -> str:
    """"Week 48: lunch with Dana, 3 peers to reconnect": the period and the headline."""
    parts: list[str] = []
    if digest.owner_missing:
        return header_text(f"{_week_label(digest.period)}: your address was not found in your data")
    if digest.peer_of_the_week is not None:
        pick = digest.peer_of_the_week
        what = "a first coffee" if pick.first_coffee else "lunch"
        parts.append(f"{what} with {first_name(pick.person)}")
    counted = (
        (len(digest.reconnect), "peer to reconnect", "peers to reconnect"),
        (len(digest.reciprocity), "favour to return", "favours to return"),
        (len(digest.celebrate), "win to celebrate", "wins to celebrate"),
        (len(digest.feedback), "feedback ask", "feedback asks"),
        (len(digest.invitations), "meeting invitation", "meeting invitations"),
    )
    for count, one, many in counted:
        if count and len(parts) < 2:
            parts.append(f"{count} {one if count == 1 else many}")
    headline = ", ".join(parts) or "nothing to do this week"
    if isinstance(digest.stats.get("history"), dict):  # worker/loading.py: a partial digest
        headline += " (history still loading)"
    return header_text(f"{_week_label(digest.period)}: {headline}")


def _records(digest: Digest) -> str:
    read = int(digest.stats.get("events_read", 0)) + int(digest.stats.get("messages_read", 0))
    return f"{read:,}"


def first_name(entry: PersonEntry) -> str:
    name = printable_line(entry.name, NAME_LIMIT) or entry.email.split("@", 1)[0]
    return printable_line(name.split(" ", 1)[0], 40)


def _ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"


def _role(entry: PersonEntry) -> str:
    """"Director, Finance", without repeating a department the title already names."""
    title = printable_line(entry.title, 80)
    department = printable_line(entry.department, 60)
    if title and department and department.casefold() not in title.casefold():
        return f"{title}, {department}"
    return title or department


def _recent(entry: PersonEntry, today: date) -> list[str]:
    """Newest first, one item per kind and day with a count: "mail sent 20 Jul ×2"."""
    counts: dict[str, int] = {}
    for e in sorted(entry.evidence, key=lambda e: e.date, reverse=True):
        kind = _KINDS.get(e.kind, printable_line(e.kind.replace("_", " "), 30))
        item = f"{kind} {_day(e.date, today)}"
        counts[item] = counts.get(item, 0) + 1
    return [item if n == 1 else f"{item} \u00d7{n}" for item, n in list(counts.items())[:3]]


def _person_view(entry: PersonEntry, today: date) -> dict[str, Any]:
    """One person's block: the leading reason, then only the facts it does not already
    state (no fact twice in one entry: issue 9, item 11)."""
    reason = printable_line(entry.reasons[0]) if entry.reasons else ""
    said = reason.lower()
    why: list[str] = []
    if entry.last_interaction:
        ago = ""
        if entry.days_since is not None and _ago(entry.days_since) not in said:
            ago = f" ({_ago(entry.days_since)})"
        why.append(f"last together {_day(entry.last_interaction, today)}{ago}")
        if "cadence" not in said:
            why.append(f"usual cadence every ~{entry.cadence_days} days")
    elif "no interaction" not in said:
        why.append("no interaction on record")  # and no cadence: there is none with a stranger
    if entry.days_overdue is not None and entry.days_overdue > 0:  # negative: not due yet
        why.append(f"{entry.days_overdue} days overdue")
    if entry.already_scheduled:
        why.append(f"already on your calendar {_day(entry.already_scheduled, today)}")
    if entry.fades_in_days is not None and entry.fades_in_days <= FORECAST_SHOWN_DAYS \
            and "threshold" not in said:
        why.append(f"falls below your threshold in about {span(entry.fades_in_days)}")
    recent = _recent(entry, today)
    try:
        mailto = clean_address(entry.email)
    except ValueError:
        mailto = ""  # not an address we would put in a link
    return {
        "name": printable_line(entry.name, NAME_LIMIT) or printable_line(entry.email, NAME_LIMIT),
        "email": printable_line(entry.email, 120),
        "mailto": mailto,
        "department": printable_line(entry.department, 60),
        "title": printable_line(entry.title, 80),
        "role": _role(entry),
        "reason": reason,
        "why": printable_line("; ".join(why), 300),
        "recent": printable_line(", ".join(recent), 200),
    }


def _reciprocity_line(
    direction: str, entry: PersonEntry, mine: int, theirs: int, action: str = ""
) -> str:
    """Both directions and the next step ("You owe Lee one: Lee started 5, you 1. ...")."""
    first = first_name(entry)
    if direction == "you_owe":
        text = f"You owe {first} one: {first} started {theirs}, you {mine}."
    else:
        text = f"{first} owes you one: you started {mine}, {first} {theirs}."
    if action:
        text += f" {action[:1].upper()}{action[1:]}."
    return printable_line(text)


def _coverage_view(digest: Digest, today: date) -> list[dict[str, Any]]:
    """Per department, three bars: interactions per week over 4, 13 and 26 weeks.

    Rates per week make the windows comparable (a falling 4-week bar under a long
    26-week bar is a tie cooling down); all bars share one scale, the largest rate.
    """
    rows = sorted(digest.coverage, key=lambda c: (not c.key_function, -c.weeks_26, c.department))
    rates = [(c.weeks_4 / 4, c.weeks_13 / 13, c.weeks_26 / 26) for c in rows]
    top = max((r for trio in rates for r in trio), default=0.0) or 1.0
    view = []
    for row, trio in zip(rows, rates, strict=True):
        bars = [
            {"label": label, "pct": _pct(rate, top), "value": f"{rate:.1f}/wk",
             "blocks": _blocks(rate, top)}
            for label, rate in zip(("4 wk", "13 wk", "26 wk"), trio, strict=True)
        ]
        view.append({
            "department": printable_line(row.department, 60) or "(no department)",
            "key": row.key_function,
            "trend": row.trend if row.trend in _TREND else "flat",
            # Never contacted is not "gone dark": nothing went quiet, it never started.
            "trend_text": (_TREND.get(row.trend, printable_line(row.trend, 20))
                           if row.last_interaction else "not yet met"),
            "last": _day(row.last_interaction, today) if row.last_interaction else "",
            "peers": row.peers,
            "bars": bars,
        })
    return view


def _shown_empty(rate: float) -> bool:
    """A rate printed as "0.0/wk" must have an empty bar, or bar and label disagree."""
    return round(rate, 1) <= 0


def _pct(rate: float, top: float) -> int:
    if _shown_empty(rate):
        return 0
    return max(2, min(100, round(rate / top * 100)))


def _blocks(rate: float, top: float, width: int = 12) -> str:
    filled = 0 if _shown_empty(rate) else max(1, round(rate / top * width))
    return "\u2588" * filled + "\u2591" * (width - filled)


def _quiet_text(quiet: object, today: date) -> str:
    """The warning for a record that stopped (worker/freshness.py), or ""."""
    if not isinstance(quiet, list) or not quiet:
        return ""
    what = {"mail": "mail", "calendar": "meeting"}
    parts = [
        f"the newest {what.get(str(q.get('kind')), 'record')} on record is from "
        f"{_day(str(q.get('newest') or ''), today)} ({span(int(q.get('days') or 0))} ago)"
        for q in quiet if isinstance(q, dict)
    ]
    found = printable_line("; ".join(parts), 240)
    return (
        found[:1].upper() + found[1:] + ". If you have been in touch with people since, "
        "peerpulse is not seeing it: check the export or `peerpulse status`. "
        "The advice below counts nothing after that day, so ties may look more "
        "overdue than they are."
    )


# -- dates -------------------------------------------------------------------------


def _local_today(digest: Digest, now: datetime) -> date:
    try:
        return now.astimezone(ZoneInfo(digest.timezone)).date()
    except (ValueError, KeyError):
        return now.date()


def _day(value: str | None, today: date) -> str:
    """"12 Sep" (with the year when it is not this year); the raw text if unparseable."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return printable_line(value, 30)
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _slot_text(start: str, end: str) -> str:
    try:
        begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError:
        return printable_line(f"{start} to {end}", 80)
    return (
        f"{_DAYS[begin.weekday()]} {begin.day} {_MONTHS[begin.month - 1]}, "
        f"{begin:%H:%M}\u2013{finish:%H:%M}"
    )


def _week_label(period: str) -> str:
    try:
        _, week = parse_period(period)
    except ValueError:
        return printable_line(period, 20)
    return f"Week {week}"


def week_range(period: str) -> str:
    """"23\u201329 Nov 2026" for the subject's week."""
    try:
        monday, sunday = period_dates(period)
    except ValueError:
        return ""
    if monday.month == sunday.month:
        return f"{monday.day}\u2013{sunday.day} {_MONTHS[sunday.month - 1]} {sunday.year}"
    return (
        f"{monday.day} {_MONTHS[monday.month - 1]} \u2013 "
        f"{sunday.day} {_MONTHS[sunday.month - 1]} {sunday.year}"
    )


def _generated_text(now: datetime, timezone: str) -> str:
    try:
        local = now.astimezone(ZoneInfo(timezone))
    except (ValueError, KeyError):
        local = now
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"
