"""The first scheduled digest waits until setup is done (issue 13, item 3)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from peerpulse.worker.cli import Env, main

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"  # after Monday 07:00 Berlin: the W48 digest is due


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def test_a_people_file_with_too_few_peers_holds_the_first_digest_then_it_goes_out(tmp_path):
    code, _, _ = cli("demo", "--out", str(tmp_path / "demo"), "--end", "2026-11-22",
                     "--managers", "24", "--months", "3")
    meta = json.loads((tmp_path / "demo" / "demo.json").read_text())
    full = tmp_path / "demo" / "people.csv"
    rows = list(csv.DictReader(full.open()))
    # a half-filled people file: the owner, their chain and a single other manager
    keep = {meta["owner"]} | {r["manager"] for r in rows if r["email"] == meta["owner"]}
    keep |= {r["manager"] for r in rows if r["email"] in keep}
    small = [r for r in rows if r["email"] in keep]
    small.append(next(r for r in rows if r["email"] not in keep and r["team_size"] not in
                      ("", "0") and r["department"] != "Executive"))
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(small)
    config = tmp_path / "config.toml"
    config.write_text(
        (REPO / "config.example.toml").read_text()
        .replace('# state_dir = "~/.local/state/peerpulse"', f'state_dir = "{tmp_path / "state"}"')
        .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                 f"aliases = {json.dumps(meta['aliases'])}")
        .replace('people = ["demo/people.csv"]', f'people = ["{people}"]')
    )
    code, _, err = cli("--config", str(config), "run", "--now", NOW)
    assert code == 0, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    preview = tmp_path / "state" / "preview-demo-2026-W48.txt"
    text = preview.read_text()
    assert "held your first digest until setup is done" in text
    assert re.search(rf"the people file \({re.escape(str(people))}\) names [012] peers?, "
                     r"at least 3 are needed: `peerpulse people suggest --merge`", text)
    assert "--- preview ---" in text and "Subject: Week 48" in text
    assert err.count("first digest for 2026-W48 held until setup is done") == 1
    code, _, err = cli("--config", str(config), "run", "--now", "2026-11-23T10:30:00+00:00")
    assert code == 0 and "held" not in err  # logged once

    # the user completes the people file: the next run sends the first digest
    people.write_text(full.read_text())
    code, _, err = cli("--config", str(config), "run", "--now", "2026-11-23T11:30:00+00:00")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "2026-W48-demo.eml", "2026-W48-demo.html", "2026-W48-demo.txt"]
