"""Google: how soon a new mailbox gives a useful first digest, and how close it is to the last.

Run: ``python -m benchmarks.google_first_digest [--messages 100000] [--regimes 2026 legacy]
[--scale 20]`` (``make bench-google-first``).

The world is the demo organization (``peerpulse demo`` generator: a manager,
60 managers around them, 13 months of mail and calendar, scaled to
``--messages``), served by the strict fake Google server
(tests/connectors/google) at the real per-user quota: the mbox becomes a
Gmail mailbox (headers only, SENT for the owner's mail, threads by
References), the calendar's instances become Calendar events, and the people
file is stored as a directory would give it. One child process syncs it
through the real connector and store, as a new account's first sync:
calendar, then Gmail's SENT-first phase, then the full listing. The moment the
Gmail cursor leaves the SENT phase (calendar done, the last
``sent_first_days`` of sent mail in) is the **first useful digest**: the store
is copied then, and the digest computed on that copy is compared with the one
computed after the full sync (peer of the week, reconnect, and every other
section, differences listed). Later copies (a quarter, half, three quarters,
nine tenths of the messages stored) show when the picks settle. Printed: the
times, their ratio to the full sync (goal <= 0.2), and the comparisons.

``--scale K`` runs K times faster, honestly (docs/GOOGLE.md, "Time-scaled
benchmarks"): the fake's quota windows last 1/K with Google's units in them,
latency is divided by K, the connector paces K times faster with the same
bursts and batches. The digests are computed outside the timed sync.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from benchmarks.demo_config import demo_config_text

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path("bench-out/google-first")
QUOTA = {"2026": 6000, "legacy": 15000}
SCOPES = {
    "https://www.googleapis.com/auth/gmail.metadata",
    "https://www.googleapis.com/auth/calendar.events.readonly",
}
ACCOUNT = "bench"
SENT_DAYS = 180  # the connector's default sent_first_days
MESSAGES_PER_SCALE = 7145  # the generator's messages at scale 1 (seed 11, 60 managers, 13 months)


# -- the world -------------------------------------------------------------------------


def prepare(workdir: Path, messages: int, end: date) -> dict[str, Any]:
    """Generate the demo organization and read it once through the files connector."""
    from peerpulse.worker.demo import generate

    marker = workdir / "prepared.json"
    wanted = {"messages": messages, "end": end.isoformat()}
    if marker.is_file() and json.loads(marker.read_text()).get("wanted") == wanted:
        return json.loads(marker.read_text())
    workdir.mkdir(parents=True, exist_ok=True)
    org, state = workdir / "org", workdir / "files-state"
    summary = generate(org, seed=11, managers=60, months=13,
                       scale=max(1.0, messages / MESSAGES_PER_SCALE), end=end)
    config = workdir / "files.toml"
    config.write_text(demo_config_text(
        ACCOUNT, org, state, summary.owner, list(summary.aliases), summary.timezone
    ))
    subprocess.run([sys.executable, "-m", "peerpulse.worker.cli", "--config", str(config),
                    "sync", "--now", end.isoformat()], check=True, capture_output=True)
    meta = json.loads(summary.meta_path.read_text())
    facts = {
        "wanted": wanted, "owner": summary.owner, "aliases": list(summary.aliases),
        "timezone": summary.timezone, "now": meta["now"], "messages": summary.messages,
        "mbox": str(summary.mail_path), "files_config": str(config),
    }
    marker.write_text(json.dumps(facts))
    return facts


def _root(message: Any) -> str:
    refs = (message.get("References") or "").split()
    if refs:
        return refs[0]
    return (message.get("In-Reply-To") or "").strip() or (message.get("Message-ID") or "")


def gmail_mailbox(facts: dict[str, Any]) -> Any:
    """The demo mbox as a Gmail mailbox: headers only, SENT for the owner, Gmail-like ids."""
    from tests.connectors.google.fake_data import Mailbox, Msg

    owner = {facts["owner"], *facts["aliases"]}
    box = Mailbox(facts["owner"])
    threads: dict[str, str] = {}
    for n, message in enumerate(mailbox.mbox(facts["mbox"], create=False)):
        try:
            when = parsedate_to_datetime(message["Date"])
        except (TypeError, ValueError):
            continue
        ms = int(when.timestamp() * 1000)
        sender = [a.lower() for _, a in getaddresses([message.get("From", "")])]
        labels = ("SENT",) if sender and sender[0] in owner else ("INBOX",)
        msg_id = f"{0x18F0000000000000 + n * 16 + 1:x}"
        thread = threads.setdefault(_root(message), msg_id)
        headers = [{"name": k, "value": str(v)} for k, v in message.items()]
        raw = {"id": msg_id, "threadId": thread, "labelIds": list(labels),
               "internalDate": str(ms), "historyId": "1",
               "payload": {"mimeType": "text/plain", "headers": headers}}
        box.messages.append(Msg(msg_id, thread, ms, labels, message.get("From", ""),
                                message.get("To", ""), message.get("Subject", ""), raw=raw))
    box.sort()
    box.history_id = 10_000 + len(box.messages)
    return box


def google_calendar(facts: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The demo calendar's instances as Calendar events, and the people of the directory."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    from tests.connectors.google.fake_data import Calendar

    settings = load_settings(Path(facts["files_config"]))
    calendar = Calendar(time_zone=facts["timezone"])
    owner = {facts["owner"], *facts["aliases"]}
    with open_store(settings.database_path, read_only=True) as store:
        for n, instance in enumerate(store.iter_events(ACCOUNT)):
            calendar.put(_event(n, instance, owner))
        people = store.people(ACCOUNT)
    return calendar, people


def _event(n: int, e: Any, owner: set[str]) -> dict[str, Any]:
    def when(value: datetime) -> dict[str, str]:
        if e.all_day:
            return {"date": value.date().isoformat()}
        return {"dateTime": value.isoformat(), "timeZone": e.original_tz or "UTC"}

    event: dict[str, Any] = {
        "id": f"ev{n}",
        "iCalUID": e.series_id,
        "status": str(e.status),
        "start": when(e.start),
        "end": when(e.end),
        "attendees": [
            {"email": a.email, "displayName": a.name, "responseStatus": _google_response(a),
             "organizer": a.is_organizer, "resource": a.is_resource,
             **({"self": True} if a.email in owner else {})}
            for a in e.attendees
        ],
    }
    if e.organizer:
        event["organizer"] = {"email": e.organizer, **({"self": True}
                                                       if e.organizer in owner else {})}
    if e.recurring:
        event["recurringEventId"] = f"series-{e.series_id}"
    if e.title is not None:
        event["summary"] = e.title
    if str(e.transparency) == "transparent":
        event["transparency"] = "transparent"
    kinds = {"out_of_office": "outOfOffice", "focus_time": "focusTime",
             "working_location": "workingLocation"}
    if str(e.event_type) in kinds:
        event["eventType"] = kinds[str(e.event_type)]
    if e.attendee_count > len(e.attendees):
        event["attendeesOmitted"] = True
    return event


def _google_response(attendee: Any) -> str:
    return {"accepted": "accepted", "tentative": "tentative", "declined": "declined"}.get(
        str(attendee.response), "needsAction")


# -- the measured sync (child process) -------------------------------------------------


def google_config(workdir: Path, facts: dict[str, Any], url: str, regime: str,
                  scale: float) -> Path:
    state = workdir / "google-state"
    config = workdir / f"google-{regime}.toml"
    config.write_text(f"""
state_dir = "{state}"
[privacy]
retention_days = 3650
subjects = "kept"
[[accounts]]
name = "{ACCOUNT}"
owner = "{facts['owner']}"
aliases = {json.dumps(facts['aliases'])}
timezone = "{facts['timezone']}"
[accounts.source]
type = "google"
mode = "user"
calendars = ["primary"]
mail = true
window_past_days = 400
quota_regime = "{regime}"
api_endpoint = "{url}"
token_endpoint = "{url}token"
time_budget_seconds = 86400
time_scale = {scale}
[accounts.delivery]
type = "file"
dir = "{state}/out"
""")
    return config


CHECKPOINTS = (0.25, 0.5, 0.75, 0.9)  # shares of the mailbox stored: later snapshots


def child(config: Path, now: str, snapshots: Path, total: int) -> None:
    """Sync the account once; copy the store when Gmail leaves the SENT phase, and when
    each share of ``total`` messages is stored (to see when the digest settles)."""
    from peerpulse.connectors.google.connector import GoogleConnector
    from peerpulse.connectors.google.mail_cursor import MailCursor
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import source_context

    settings = load_settings(config)
    account = settings.accounts[0]
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    taken: list[dict[str, Any]] = []
    paused = 0.0
    stored = 0
    pending = list(CHECKPOINTS)
    with open_store(settings.database_path) as store:
        connector = GoogleConnector(source_context(settings, account, moment, store),
                                    account.source)
        started = time.monotonic()
        calendar_done = None

        def snapshot(name: str) -> None:
            nonlocal paused
            taken.append({"name": name, "seconds": time.monotonic() - started - paused,
                          "messages": stored, "path": str(snapshots / f"{name}.sqlite3")})
            pause = time.monotonic()
            _copy(settings.database_path, snapshots / f"{name}.sqlite3")
            paused += time.monotonic() - pause

        for source in connector.sources():
            for batch in source.sync(store.cursor(ACCOUNT, source.name)):
                store.apply_batch(ACCOUNT, source.name, batch)
                if source.name != "gmail":
                    continue
                stored += len(batch.upserts)
                cursor = MailCursor.load(batch.cursor)
                if not taken and cursor is not None and cursor.phase != "sent":
                    snapshot("first")
                while taken and pending and stored >= pending[0] * total:
                    snapshot(f"at{int(pending.pop(0) * 100)}")
            if source.name == "calendar":
                calendar_done = time.monotonic() - started
        full = time.monotonic() - started - paused
        connector.close()
    print(json.dumps({"snapshots": taken, "full_seconds": full, "stored": stored,
                      "calendar_seconds": calendar_done, "paused": paused}))


def _copy(database: Path, snapshot: Path) -> None:
    snapshot.unlink(missing_ok=True)
    with sqlite3.connect(database) as source, sqlite3.connect(snapshot) as target:
        source.backup(target)


def digest_of(config: Path, database: Path, now: str) -> dict[str, Any]:
    """The digest's picks computed on ``database`` (names only, in section order)."""
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store import open_store

    settings = load_settings(config)
    account = settings.accounts[0]
    moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
    with open_store(database, read_only=True) as store:
        # the picks as computed: the digest sent mid-sync holds some back (worker/loading.py)
        digest = compute_for_account(store, settings, account, read_rules(settings),
                                     now=moment, history_note=False).digest
        messages = sum(1 for _ in store.iter_messages(account.name))
        events = sum(1 for _ in store.iter_events(account.name))
    pick = digest.peer_of_the_week
    return {
        "messages": messages,
        "events": events,
        "peer_of_the_week": pick.person.email if pick else None,
        "reconnect": [p.email for p in digest.reconnect],
        "reciprocity": [r.person.email for r in digest.reciprocity],
        "celebrate": [c.person.email for c in digest.celebrate],
        "feedback": [p.email for p in digest.feedback],
        "invitations": [i.person.email for i in digest.invitations],
        "fading": [p.email for p in digest.fading],
        "interactions": int(digest.stats.get("interactions", 0)),
    }


SECTIONS = ("reconnect", "reciprocity", "celebrate", "feedback", "invitations", "fading")


def differences(early: dict[str, Any], full: dict[str, Any]) -> list[str]:
    out = []
    if early["peer_of_the_week"] != full["peer_of_the_week"]:
        out.append(f"peer of the week: {early['peer_of_the_week']} early, "
                   f"{full['peer_of_the_week']} after the full sync")
    for section in SECTIONS:
        if early[section] != full[section]:
            gone = [p for p in full[section] if p not in early[section]]
            extra = [p for p in early[section] if p not in full[section]]
            order = "" if gone or extra else " (same people, other order)"
            out.append(f"{section}: early lacks {gone or '-'}, has extra {extra or '-'}{order}")
    return out


# -- driver ----------------------------------------------------------------------------


def bench(workdir: Path, facts: dict[str, Any], box: Any, calendar: Any, people: list[Any],
          regime: str, scale: float, latency: float) -> dict[str, Any]:
    from peerpulse.connectors.records import SyncBatch
    from peerpulse.worker.config import load_settings
    from peerpulse.worker.store import open_store

    from tests.connectors.google.fake_google import FakeGoogle

    fake = FakeGoogle(allowed_scopes=SCOPES, latency=latency / scale,
                      quota_per_minute=QUOTA[regime], prices=regime, time_scale=scale).start()
    try:
        fake.mailboxes[facts["owner"]] = box
        fake.calendars[(facts["owner"], "primary")] = calendar
        run_dir = workdir / f"run-{regime}"
        if run_dir.exists():
            subprocess.run(["rm", "-rf", str(run_dir)], check=True)
        run_dir.mkdir(parents=True)
        config = google_config(run_dir, facts, fake.url, regime, scale)
        settings = load_settings(config)
        _write_token(fake, facts["owner"], Path(settings.state_path))
        with open_store(settings.database_path) as store:  # the directory's people
            store.apply_batch(ACCOUNT, "people", SyncBatch(upserts=list(people)))
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.google_first_digest", "--child", str(config),
             facts["now"], str(run_dir), str(len(box.messages))],
            cwd=REPO, capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"the sync failed: {out.stderr.strip().splitlines()[-1:]}")
        timed = json.loads(out.stdout.strip().splitlines()[-1])
        throttled, refused = fake.throttled, fake.concurrency_refusals
    finally:
        fake.stop()
    full = digest_of(config, Path(settings.database_path), facts["now"])
    for snap in timed["snapshots"]:
        snap["digest"] = digest_of(config, Path(snap["path"]), facts["now"])
    return {"regime": regime, "timed": timed, "full": full,
            "throttled": throttled, "refused": refused, "scale": scale}


def _write_token(fake: Any, owner: str, state: Path) -> None:
    token = state / "tokens" / f"{ACCOUNT}-google.json"
    token.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fake.grant(owner, SCOPES, "refresh-first")
    token.write_text(json.dumps({
        "token": "x", "refresh_token": "refresh-first", "client_id": "c",
        "client_secret": "s", "scopes": sorted(SCOPES), "expiry": "2000-01-01T00:00:00Z",
    }))
    token.chmod(0o600)


def same_picks(early: dict[str, Any], full: dict[str, Any]) -> bool:
    return (early["peer_of_the_week"] == full["peer_of_the_week"]
            and early["reconnect"] == full["reconnect"])


def report(r: dict[str, Any], box_size: int, sent: int, events: int) -> dict[str, Any]:
    t, full = r["timed"], r["full"]
    k, whole = r["scale"], t["full_seconds"]
    first = t["snapshots"][0]
    early = first["digest"]
    print(f"\n[{r['regime']} regime, {QUOTA[r['regime']]:,} units/min; time scale {k:g}] "
          f"{box_size:,} messages ({sent:,} SENT), {events:,} calendar instances; "
          f"quota 429s {r['throttled']}, concurrency 429s {r['refused']}")
    print(f"  calendar synced after {t['calendar_seconds'] * k / 60:.1f} min; full sync "
          f"{whole * k / 3600:.2f} h (real-quota time)")
    print(f"  first useful digest (calendar + SENT of the last {SENT_DAYS} days) after "
          f"{first['seconds'] * k / 3600:.2f} h: ratio {first['seconds'] / whole:.3f} "
          "(goal <= 0.2)")
    print(f"  full digest: peer of the week {full['peer_of_the_week']}, reconnect "
          f"{full['reconnect']}, {full['interactions']:,} interactions")
    print("  snapshot   time/full  messages  interactions  same pick+reconnect  differences")
    settled = None
    for snap in t["snapshots"]:
        d = snap["digest"]
        diffs = differences(d, full)
        same = same_picks(d, full)
        if same and settled is None:
            settled = snap
        elif not same:
            settled = None
        print(f"  {snap['name']:<9}{snap['seconds'] / whole:>10.3f}{snap['messages']:>10,}"
              f"{d['interactions']:>14,}{'yes' if same else 'no':>21}  {len(diffs)}")
    print("  first digest against the full one: " + ("no differences" if not
          differences(early, full) else ""))
    for line in differences(early, full):
        print(f"    - {line}")
    if settled is not None:
        print(f"  peer of the week and reconnect settle at {settled['name']}: "
              f"{settled['seconds'] / whole:.3f} of the full sync")
    return {"ratio": first["seconds"] / whole}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        child(Path(args[1]), args[2], Path(args[3]), int(args[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--regimes", nargs="+", default=["2026", "legacy"],
                        choices=["2026", "legacy"])
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--end", default=(date.today() - timedelta(days=1)).isoformat())
    options = parser.parse_args(args)
    sys.path.insert(0, str(REPO))
    workdir = options.dir.resolve() / f"{options.messages}"
    facts = prepare(workdir, options.messages, date.fromisoformat(options.end))
    box = gmail_mailbox(facts)
    calendar, people = google_calendar(facts)
    sent = sum(1 for m in box.messages if "SENT" in m.labels)
    for regime in options.regimes:
        r = bench(workdir, facts, box, calendar, people, regime, options.scale,
                  options.latency)
        report(r, len(box.messages), sent, len(calendar.events))


if __name__ == "__main__":
    main()
