"""``generate``: the whole demo organization, written to a folder.

Order matters for determinism: one ``random.Random(seed)`` is consumed by the
org chart, then the calendar, then the mailbox, always in that order.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from peerpulse.worker.demo import variants
from peerpulse.worker.demo.calendar_singles import peer_profiles
from peerpulse.worker.demo.calendar_writer import write_calendar
from peerpulse.worker.demo.ground_truth import GroundTruth
from peerpulse.worker.demo.invites import EventFactory
from peerpulse.worker.demo.mail_factory import MailFactory
from peerpulse.worker.demo.mail_writer import write_mailbox
from peerpulse.worker.demo.model import DemoWindow, months_before, utc_stamp
from peerpulse.worker.demo.names import ALIAS_DOMAIN, DOMAIN
from peerpulse.worker.demo.org import HOME_ZONE, OrgChart, build_org

PEOPLE_HEADER = ("email", "name", "aliases", "department", "title", "manager", "tags",
                 "team_size")


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What was written, for the CLI's one-line report and for accuracy checks."""

    out_dir: Path
    people_path: Path
    calendar_path: Path
    mail_path: Path
    ground_truth_path: Path
    meta_path: Path
    expectations_path: Path
    owner: str
    aliases: tuple[str, ...]
    timezone: str
    people: int
    peers: int
    messages: int
    events: int  # event instances (series expanded), past and the next 14 days
    vevents: int  # VEVENT components in the file
    interactions: int
    traps: int
    trap_counts: dict[str, int] = field(default_factory=dict)
    variant: str = "standard"


def generate(out_dir: Path, *, seed: int = 7, managers: int = 40, months: int = 6,
             scale: float = 1.0, end: date, calendar_scale: float | None = None,
             variant: str = "standard") -> DemoSummary:
    """Write the demo organization into ``out_dir``; same arguments, same bytes.

    ``variant`` adds one trap scenario and the checks of what the digest must and
    must not say about it (``expectations.json``; see :mod:`worker.demo.variants`).

    ``scale`` multiplies mail volume; background calendar volume grows with its
    square root (a busier inbox is not a proportionally fuller calendar) unless
    ``calendar_scale`` says otherwise, as the benchmarks do to reach 100k events.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    trap = variants.variant(variant)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    org = build_org(rng, managers)
    window = DemoWindow(months_before(end, months), end)
    profiles = peer_profiles(org, rng)
    paths = {"people": out_dir / "people.csv", "calendar": out_dir / "calendar" / "dana.ics",
             "mail": out_dir / "mail" / "dana.mbox", "truth": out_dir / "ground_truth.jsonl",
             "meta": out_dir / "demo.json", "expectations": out_dir / "expectations.json"}
    write_people(paths["people"], org, manager_column=trap.manager_column)
    # Trap records draw from their own RNG, after the standard ones: same standard content.
    cast = variants.cast(org, profiles)
    trap_random = variants.trap_rng(seed, trap.name)
    with paths["truth"].open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        truth = GroundTruth(out, org, window.now, variants.peers_for(org, trap),
                            titles_kept=trap.subjects == "kept")
        calendar = write_calendar(
            paths["calendar"], org, window, rng,
            calendar_scale if calendar_scale is not None else math.sqrt(scale), profiles, truth,
            lambda: variants.extra_series(trap, EventFactory(org, trap_random), window, cast),
        )
        messages = write_mailbox(
            paths["mail"], MailFactory(org, window, rng), scale, profiles, truth,
            variants.extra_mail(trap, MailFactory(org, window, trap_random), cast),
            reply_headers=trap.reply_headers,
        )
    checks = variants.expectations(trap, org, cast, truth.series_uids)
    paths["expectations"].write_text(json.dumps(
        {"variant": trap.name, "about": trap.about, "checks": checks,
         "unanswered_threads": truth.unanswered()}, indent=2,
        ensure_ascii=False) + "\n", encoding="utf-8")
    owner = org.by_email[org.owner]
    summary = DemoSummary(
        out_dir=out_dir, people_path=paths["people"], calendar_path=paths["calendar"],
        mail_path=paths["mail"], ground_truth_path=paths["truth"], meta_path=paths["meta"],
        expectations_path=paths["expectations"], owner=org.owner, aliases=owner.aliases,
        timezone=HOME_ZONE, people=len(org.people),
        peers=len(org.peers), messages=messages, events=calendar.instances,
        vevents=calendar.components, interactions=truth.interactions,
        traps=sum(truth.traps.values()), trap_counts=dict(sorted(truth.traps.items())),
        variant=trap.name,
    )
    _write_meta(summary, org, window, seed=seed, managers=managers, months=months, scale=scale,
                kinds=dict(sorted(truth.kinds.items())))
    return summary


def write_people(path: Path, org: OrgChart, manager_column: bool = True) -> None:
    """The directory CSV; without ``manager_column`` only titles hint at the hierarchy."""
    keep = [i for i, name in enumerate(PEOPLE_HEADER) if manager_column or name != "manager"]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([PEOPLE_HEADER[i] for i in keep])
        for p in org.people:
            row = (p.email, p.name, ";".join(p.aliases), p.department, p.title,
                   p.manager or "", ";".join(p.tags), p.team_size)
            writer.writerow([row[i] for i in keep])


def _write_meta(summary: DemoSummary, org: OrgChart, window: DemoWindow, **facts: object) -> None:
    trap = variants.variant(summary.variant)
    meta = {
        "variant": trap.name, "privacy_subjects": trap.subjects,
        "owner": summary.owner, "aliases": list(summary.aliases), "timezone": summary.timezone,
        "domains": [DOMAIN, ALIAS_DOMAIN], "end": window.end.isoformat(),
        "now": utc_stamp(window.now), "history_start": window.start.isoformat(),
        **facts,
        "files": {k: str(v.relative_to(summary.out_dir)) for k, v in (
            ("people", summary.people_path), ("calendar", summary.calendar_path),
            ("mail", summary.mail_path), ("ground_truth", summary.ground_truth_path),
            ("expectations", summary.expectations_path))},
        "counts": {"people": summary.people, "peers": summary.peers,
                   "messages": summary.messages, "event_instances": summary.events,
                   "vevents": summary.vevents, "interactions": summary.interactions,
                   "traps": summary.traps},
        "trap_counts": summary.trap_counts,
        "manager": org.chain[0], "direct_reports": list(org.direct_reports),
        "peers": sorted(variants.peers_for(org, trap)) if not trap.manager_column
        else list(org.peers),
        "conventions": {
            "out_of_office": "X-MICROSOFT-CDO-BUSYSTATUS:OOF (and title 'Out of office')",
            "focus_time": "self-only events titled 'Focus time' (no standard ICS property)",
            "rooms": "ATTENDEE;CUTYPE=ROOM or CUTYPE=RESOURCE",
            "all_day_record_key": "the date at 00:00 in the owner's time zone, as UTC",
            "moved_occurrence_record_key": "the moved start, not the RECURRENCE-ID",
            "now": "any moment of the end day: nothing is written on that day",
        },
    }
    summary.meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
