"""Peak memory of reading a big ICS export (issue 10, item 8).

    python -m benchmarks.ics_memory [--events 100000 1000000] [--keep DIR]

Writes a synthetic calendar of N VEVENTs (mostly single meetings with two to
six attendees, one in twenty a weekly series with a moved occurrence, some
series whose override sits far from its master), then reads it with the files
connector's ICS reader in a fresh process and reports the file size, the
records produced, the time and the peak RSS of that process (ru_maxrss),
next to the peak of a process that only imports the reader.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
WINDOW = (datetime(2024, 12, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def write_calendar(path: Path, events: int) -> None:
    """N VEVENTs written line by line (the generator itself holds one event)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//peerpulse//bench//EN\r\n"
                  "X-WR-TIMEZONE:Europe/Berlin\r\n")
        late_overrides = []
        for n in range(events):
            start = START + timedelta(minutes=37 * n % (60 * 24 * 400))
            people = "".join(
                f"ATTENDEE;CN=Person {n * 7 % 997 + k};PARTSTAT=ACCEPTED:"
                f"mailto:p{(n * 7 + k) % 5000}@corp.example\r\n"
                for k in range(2 + n % 5)
            )
            rule = "RRULE:FREQ=WEEKLY;COUNT=20\r\n" if n % 20 == 0 else ""
            out.write(
                f"BEGIN:VEVENT\r\nUID:ev-{n}@bench\r\nDTSTAMP:{_stamp(START)}\r\n"
                f"DTSTART:{_stamp(start)}\r\nDTEND:{_stamp(start + timedelta(minutes=30))}\r\n"
                f"{rule}SUMMARY:Meeting {n}\r\nORGANIZER:mailto:me@corp.example\r\n"
                f"{people}END:VEVENT\r\n"
            )
            if rule:
                moved = start + timedelta(weeks=2)
                override = (
                    f"BEGIN:VEVENT\r\nUID:ev-{n}@bench\r\nRECURRENCE-ID:{_stamp(moved)}\r\n"
                    f"DTSTART:{_stamp(moved + timedelta(hours=1))}\r\n"
                    f"DTEND:{_stamp(moved + timedelta(hours=1, minutes=30))}\r\n"
                    f"SUMMARY:Meeting {n} (moved)\r\nEND:VEVENT\r\n"
                )
                if n % 100 == 0:
                    late_overrides.append(override)  # far from its master: the rare case
                else:
                    out.write(override)
        out.write("".join(late_overrides))
        out.write("END:VCALENDAR\r\n")


_CHILD = """
import json, resource, sys, time
from datetime import datetime
from pathlib import Path
from peerpulse.connectors.files.ics import IcsOptions, ics_items
from peerpulse.connectors.records import SkippedInput
path, lo, hi, read = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
options = IcsOptions(datetime.fromisoformat(lo), datetime.fromisoformat(hi), "Europe/Berlin",
                     frozenset({"me@corp.example"}))
records = skipped = 0
started = time.monotonic()
if read:
    for item in ics_items(Path(path), "bench.ics", options):
        if isinstance(item, SkippedInput):
            skipped += 1
        else:
            records += 1
print(json.dumps({"records": records, "skipped": skipped,
                  "seconds": round(time.monotonic() - started, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def measure(path: Path, read: bool) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), WINDOW[0].isoformat(), WINDOW[1].isoformat(),
         "1" if read else "0"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="write the calendars here and keep them")
    args = parser.parse_args(argv)
    baseline = measure(Path("/dev/null"), read=False)["peak_rss_mb"]
    print(f"a process that only imports the reader: {baseline} MB peak RSS")
    with tempfile.TemporaryDirectory(prefix="peerpulse-ics-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for events in args.events:
            path = folder / f"calendar-{events}.ics"
            started = time.monotonic()
            if not path.exists():
                write_calendar(path, events)
            written = time.monotonic() - started
            size = path.stat().st_size / 2**20
            figures = measure(path, read=True)
            print(f"{events:>9,} VEVENTs, {size:,.0f} MB (written in {written:.0f} s): "
                  f"{figures['records']:,} records, {figures['skipped']} skipped in "
                  f"{figures['seconds']:.0f} s, peak RSS {figures['peak_rss_mb']:,} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
