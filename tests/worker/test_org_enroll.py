"""Organization mode's one directory and `peerpulse org enroll` (issue 12).

The directory is a people file (the files provider's directory source) synced
once under the `_directory` account; enrollment makes the managers (people with
direct reports) accounts from `[organization.template]`, with an opt-out list
and per-manager overrides, idempotently. On a real PostgreSQL with a real
worker process and an SMTP sink: every enrolled manager gets exactly one digest,
addressed to that manager only.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import time as dtime
from pathlib import Path

import psycopg
import pytest
from peerpulse.connectors.base import SourceContext, reads_directory
from peerpulse.connectors.files.connector import FilesConnector
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.connectors.memory import MemorySource
from peerpulse.connectors.records import Person
from peerpulse.worker.cli import Env, main
from peerpulse.worker.config import ManagerOverride
from peerpulse.worker.errors import ConfigError
from peerpulse.worker.org import enroll, jobs
from peerpulse.worker.org.roster import Enrollment

from tests.worker.smtp_sink import Sink, smtp_server

NOW = "2026-11-23T09:30:00+00:00"  # a Monday after the 07:00 Berlin due time
NEXT_WEEK = "2026-11-30T09:30:00+00:00"

#: boss manages m1, m2, m3; each of them manages two people: four managers.
DIRECTORY = [
    ("boss@example.com", "Bo Boss", "Executive", "Chief Executive Officer", ""),
    ("m1@example.com", "Mia One", "Engineering", "Engineering Manager", "boss@example.com"),
    ("m2@example.com", "Max Two", "Sales", "Sales Manager", "boss@example.com"),
    ("m3@example.com", "Moe Three", "Finance", "Finance Manager", "boss@example.com"),
    ("a1@example.com", "Ann A", "Engineering", "Engineer", "m1@example.com"),
    ("a2@example.com", "Al A", "Engineering", "Senior Engineer", "m1@example.com"),
    ("b1@example.com", "Ben B", "Sales", "Account Executive", "m2@example.com"),
    ("b2@example.com", "Bea B", "Sales", "Account Executive", "m2@example.com"),
    ("c1@example.com", "Cy C", "Finance", "Analyst", "m3@example.com"),
    ("c2@example.com", "Cat C", "Finance", "Controller", "m3@example.com"),
]
MANAGERS = ["boss", "m1", "m2", "m3"]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


def write_directory(path: Path, rows: list[tuple[str, ...]]) -> None:
    lines = ["email,name,department,title,manager"]
    lines += [",".join(f'"{v}"' for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


# -- the directory is a property of the source, not of its name ---------------------


def test_directory_sources_are_recognized_by_their_property_not_their_name(tmp_path):
    people = tmp_path / "p.csv"
    write_directory(people, DIRECTORY[:2])
    context = SourceContext(account="a", owner_addresses=frozenset({"boss@example.com"}),
                            base_dir=str(tmp_path))
    sources = FilesConnector(context, FilesSettings(calendar=["c.ics"], people=[str(people)]))
    kinds = {s.name: reads_directory(s) for s in sources.sources()}
    assert kinds == {"calendar": False, "people": True}
    # A plugin's mail source that happens to be called "people" or "directory" is
    # synced hourly with the mailbox; a directory source under any name is not.
    assert jobs._not_directory(MemorySource("people"))
    assert jobs._not_directory(MemorySource("directory"))
    assert not jobs._not_directory(MemorySource("staff", directory=True))


def test_the_providers_directory_sources_declare_it():
    from peerpulse.connectors.google.directory import DirectorySource as GoogleDirectory
    from peerpulse.connectors.microsoft.directory import DirectorySource as GraphDirectory

    assert GoogleDirectory.directory is True and GraphDirectory.directory is True


# -- the enrollment plan, pure ---------------------------------------------------------


def _people(rows=DIRECTORY) -> list[Person]:
    return [Person(email=e, name=n, department=d, title=t, manager=m or None)
            for e, n, d, t, m in rows]


def _apply(rows: list[Enrollment], plan: enroll.Plan) -> list[Enrollment]:
    by_name = {r.account: r for r in rows}
    by_name.update({r.account: r for r in plan.rows})
    return list(by_name.values())


def test_enrollment_adds_the_managers_then_changes_nothing():
    first = enroll.plan(_people(), [], opt_out=set(), overrides={}, configured={})
    assert [(c.what, c.account) for c in first.changes] == [
        ("added", n) for n in ["boss", "m1", "m2", "m3"]]
    again = enroll.plan(_people(), first.rows, opt_out=set(), overrides={}, configured={})
    assert again.changes == [] and again.unchanged == 4 and again.active == 4
    assert again.summary() == "4 managers enrolled: 4 unchanged"


def test_leavers_opt_outs_overrides_and_returns():
    rows = enroll.plan(_people(), [], opt_out=set(), overrides={}, configured={}).rows
    without_m1_reports = [r for r in DIRECTORY if r[4] != "m1@example.com"]
    without_m3 = [r for r in without_m1_reports if r[0] != "m3@example.com"
                  and r[4] != "m3@example.com"]
    overrides = {"boss@example.com": ManagerOverride(recipient="PA@example.com",
                                                     time=dtime(8, 30)),
                 "nobody@example.com": ManagerOverride(day="friday")}
    plan = enroll.plan(_people(without_m3), rows, opt_out={"m2@example.com"},
                       overrides=overrides, configured={})
    changes = {c.account: (c.what, c.detail) for c in plan.changes}
    assert changes == {
        "boss": ("changed", "recipient=pa@example.com, time=08:30"),
        "m1": ("deactivated", enroll.NO_REPORTS),
        "m2": ("deactivated", enroll.OPTED_OUT),
        "m3": ("deactivated", enroll.LEFT),
    }
    assert plan.active == 1
    assert plan.notes and "nobody@example.com" in plan.notes[0]
    rows = _apply(rows, plan)
    back = enroll.plan(_people(), rows, opt_out=set(), overrides={}, configured={})
    changes = {c.account: c.what for c in back.changes}
    assert changes == {"boss": "changed", "m1": "reactivated", "m2": "reactivated",
                       "m3": "reactivated"}
    assert {r.account for r in back.rows} == {"boss", "m1", "m2", "m3"}  # same names


def test_disabled_and_hand_configured_managers_are_not_enrolled():
    plan = enroll.plan(_people(), [], opt_out=set(),
                       overrides={"m1@example.com": ManagerOverride(disabled=True)},
                       configured={"m2@example.com": "m2"})
    assert [c.account for c in plan.changes] == ["boss", "m3"]


def test_account_names_are_unique_and_valid():
    taken = {"lee"}
    assert enroll.account_name("Lee@example.com", taken) == "lee-example"
    taken.add("lee-example")
    assert enroll.account_name("lee@example.org", taken) == "lee-example-2"
    assert enroll.account_name("_o'neil+x@corp.example", set()) == "o-neil-x"


def test_a_bad_opt_out_line_names_file_and_line():
    text = "# people who asked\nm2@example.com\n\nnot an address\n"
    with pytest.raises(ConfigError, match=r"optout\.txt:4: .*not an email address"):
        enroll.parse_opt_out(text, "optout.txt")
    assert enroll.parse_opt_out("M2@Example.com  # asked in June\n", "f") == {"m2@example.com"}


# -- end to end on PostgreSQL -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("enroll")
    code, out, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                       "--managers", "22", "--months", "2")
    assert code == 0, out
    return root / "demo"


def _config(tmp_path: Path, url: str, demo: Path, port: int, extra: str = "") -> Path:
    config = tmp_path / "org.toml"
    config.write_text(f"""
state_dir = "{tmp_path / 'state'}"
database = "{url}"

[organization]
{extra}

[organization.directory]
admin = "admin@example.com"
source = {{ type = "files", people = ["{tmp_path / 'directory.csv'}"] }}

[organization.template]
timezone = "Europe/Berlin"
source = {{ type = "files", calendar = ["{demo / 'calendar'}"] }}
digest = {{ day = "monday", time = "07:00", send_empty = true }}
delivery = {{ type = "smtp", host = "127.0.0.1", port = {port}, security = "none", \
sender = "peerpulse@example.com" }}
""")
    return config


@pytest.fixture
def org(demo, pg_cluster, tmp_path):
    url = pg_cluster.new_database()
    write_directory(tmp_path / "directory.csv", DIRECTORY)
    with smtp_server(Sink()) as (sink, port):
        config = _config(tmp_path, url, demo, port)
        code, _, err = cli("--config", str(config), "org", "migrate")
        assert code == 0, err
        yield config, sink, url, port, demo


def _roster(url: str) -> dict[str, tuple[bool, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT account, active, reason FROM org_managers").fetchall()
    return {a: (active, reason) for a, active, reason in rows}


def _sent(sink: Sink) -> Counter:
    return Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)


def test_enroll_from_the_directory_and_every_manager_gets_only_their_digest(org, tmp_path):
    from tests.worker.test_org import Worker

    config, sink, url, _, _ = org
    code, out, err = cli("--config", str(config), "org", "enroll", "--dry-run", "--now", NOW)
    assert code == 0, err
    assert [line.split()[1] for line in out.splitlines() if line.startswith("added")] == MANAGERS
    assert "dry run, nothing written: 4 managers enrolled: 4 added" in out
    assert _roster(url) == {}

    code, out, err = cli("--config", str(config), "org", "enroll", "--now", NOW)
    assert code == 0, err
    assert "organization: directory ok" in out and "4 added" in out
    assert _roster(url) == {n: (True, None) for n in MANAGERS}
    code, out, _ = cli("--config", str(config), "org", "enroll", "--now", NOW)
    assert code == 0 and "4 managers enrolled: 4 unchanged" in out and "added" not in out

    # The tick defers a sync and a digest for every enrolled manager; one worker drains it.
    code, out, err = cli("--config", str(config), "org", "enqueue", "tick", "--now", NOW)
    assert code == 0 and "4 syncs and 4 digests deferred" in out, err
    worker = Worker(config, "--one-shot")
    log = worker.wait()
    assert worker.proc.returncode == 0, log
    assert _sent(sink) == Counter({f"{n}@example.com": 1 for n in MANAGERS}), log
    for message, (_, rcpts) in zip(sink.messages, sink.envelopes, strict=True):
        assert len(rcpts) == 1 and f"To: {rcpts[0]}".encode() in message

    # One directory for everyone: no manager holds a copy of it.
    with psycopg.connect(url) as conn:
        held = dict(conn.execute("SELECT account, count(*) FROM people GROUP BY account"))
    assert held == {"_directory": len(DIRECTORY)}
    from peerpulse.worker import config as config_module
    from peerpulse.worker.org.runtime import Runtime
    from peerpulse.worker.pipeline import people_for

    rt = Runtime(config_module.load(str(config)))
    try:
        with rt.store() as store:
            account = rt.account("m1")
            titles = {p.email: p.title for p in people_for(store, rt.settings, account)}
    finally:
        rt.close()
    assert titles["a2@example.com"] == "Senior Engineer"

    code, out, _ = cli("--config", str(config), "org", "status", "--json")
    rows = {r["account"]: r for r in json.loads(out)}
    assert code == 0 and rows["_directory"]["kind"] == "directory"
    assert {rows[n]["last_digest_state"] for n in MANAGERS} == {"sent"}
    assert {rows[n]["kind"] for n in MANAGERS} == {"enrolled"}
    assert rows["m1"]["last_digest_period"] == "2026-W48" and rows["m1"]["last_sync"]


def test_reenrolling_reports_leavers_opt_outs_and_overrides(org, tmp_path):
    config, sink, url, port, demo = org
    assert cli("--config", str(config), "org", "enroll", "--now", NOW)[0] == 0
    (tmp_path / "optout.txt").write_text("# asked not to get the digest\nm2@example.com\n")
    write_directory(tmp_path / "directory.csv",
                    [r for r in DIRECTORY if "m3@" not in r[0] and "m3@" not in r[4]])
    _config(tmp_path, url, demo, port, extra=(
        f'opt_out_file = "{tmp_path / "optout.txt"}"\n'
        '[organization.overrides."m1@example.com"]\nrecipient = "m1.assistant@example.com"\n'))
    code, out, err = cli("--config", str(config), "org", "enroll", "--now", NOW)
    assert code == 0, err
    lines = {line.split()[1]: line for line in out.splitlines() if line.split()[:1] in (
        ["changed"], ["deactivated"])}
    assert "recipient=m1.assistant@example.com" in lines["m1"]
    assert "opted out" in lines["m2"] and "left the directory" in lines["m3"]
    assert _roster(url) == {"boss": (True, None), "m1": (True, None),
                            "m2": (False, "opted out"), "m3": (False, "left the directory")}

    # The override's address gets m1's digest, and only it; the opted-out get nothing.
    from peerpulse.worker import config as config_module
    from peerpulse.worker.console import parse_now
    from peerpulse.worker.org.runtime import Runtime

    rt = Runtime(config_module.load(str(config)), now=parse_now(NOW))
    try:
        lines = [jobs.deliver_one(rt, n, "2026-W48") for n in MANAGERS]
    finally:
        rt.close()
    assert "not configured or enrolled" in lines[2] and "not configured or enrolled" in lines[3]
    assert _sent(sink) == Counter({"boss@example.com": 1, "m1.assistant@example.com": 1})
    code, out, _ = cli("--config", str(config), "org", "status")
    assert code == 0 and "m2" not in out and "m1.assistant@example.com" in out


def test_enroll_refuses_bad_input_with_file_line_and_exit_2(org, tmp_path):
    config, _, url, _, _ = org
    bad = tmp_path / "opt.txt"
    bad.write_text("m2@example.com\nMax Two\n")
    code, out, err = cli("--config", str(config), "org", "enroll", "--opt-out", str(bad))
    assert code == 2 and f"{bad}:2" in err and "Traceback" not in err
    assert _roster(url) == {}
    text = config.read_text()
    no_template = text[:text.index("[organization.template]")]
    config.write_text(no_template + '[[accounts]]\nname = "x"\nowner = "x@example.com"\n'
                      'source = { type = "files" }\n')
    code, _, err = cli("--config", str(config), "org", "enroll")
    assert code == 2 and "[organization.template]" in err


def test_enroll_with_a_directory_that_cannot_be_read_changes_nothing_and_exits_1(org, tmp_path):
    config, _, url, _, _ = org
    (tmp_path / "directory.csv").unlink()
    code, out, err = cli("--config", str(config), "org", "enroll", "--now", NOW)
    assert code == 1 and "directory.csv" in err and "nothing enrolled" in err
    assert _roster(url) == {}


def test_organization_without_a_database_is_a_config_error(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[organization.template]\nsource = { type = "files" }\n')
    code, _, err = cli("--config", str(config), "org", "status")
    assert code == 2 and "needs a shared database" in err


def test_a_managers_extra_people_file_is_layered_over_the_shared_directory(org, tmp_path):
    config, _, url, port, demo = org
    extra = tmp_path / "m1-people.csv"
    write_directory(extra, [("a2@example.com", "Al A", "Platform", "Staff Engineer",
                             "m1@example.com")])
    _config(tmp_path, url, demo, port, extra=(
        f'[organization.overrides."m1@example.com"]\npeople = ["{extra}"]\n'))
    code, out, err = cli("--config", str(config), "org", "enroll", "--now", NOW)
    assert code == 0 and f"people={extra}" in out, err

    from peerpulse.worker import config as config_module
    from peerpulse.worker.org.runtime import Runtime
    from peerpulse.worker.pipeline import people_for

    rt = Runtime(config_module.load(str(config)))
    try:
        assert jobs.own_directory_accounts(rt) == ["m1"]
        assert jobs.sync_one(rt, "m1", directory=True) == "m1: directory ok"
        assert "no people files of its own" in jobs.sync_one(rt, "m2", directory=True)
        with rt.store() as store:
            m1 = {p.email: p.title for p in people_for(store, rt.settings, rt.account("m1"))}
            m2 = {p.email: p.title for p in people_for(store, rt.settings, rt.account("m2"))}
    finally:
        rt.close()
    assert m1["a2@example.com"] == "Staff Engineer" and m2["a2@example.com"] == "Senior Engineer"
    assert len(m1) == len(m2) == len(DIRECTORY)


def test_org_status_shows_an_enrolled_managers_failed_sync(org, tmp_path):
    config, _, url, port, demo = org
    assert cli("--config", str(config), "org", "enroll", "--now", NOW)[0] == 0
    config.write_text(config.read_text().replace(str(demo / "calendar"), "/nonexistent/cal"))
    from peerpulse.worker import config as config_module
    from peerpulse.worker.org.runtime import Runtime

    rt = Runtime(config_module.load(str(config)))
    try:
        line = jobs.sync_one(rt, "m2")
    finally:
        rt.close()
    assert line.startswith("m2: sync failed")
    code, out, _ = cli("--config", str(config), "org", "status")
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert code == 1 and "nonexistent" in rows["m2"] and "never" in rows["m1"]
    assert out.splitlines()[-1] == "4 managers; 1 need attention"


def test_enqueue_for_an_unknown_account_names_the_enrolled_ones(org):
    config, _, _, _, _ = org
    assert cli("--config", str(config), "org", "enroll", "--now", NOW)[0] == 0
    code, _, err = cli("--config", str(config), "org", "enqueue", "sync", "--account", "zed")
    assert code == 2 and "no account named 'zed'" in err and "boss, m1, m2, m3" in err
    code, out, err = cli("--config", str(config), "org", "enqueue", "sync", "--account", "m1")
    assert code == 0 and "1 sync jobs deferred" in out, err


def test_enroll_from_a_google_directory_read_with_domain_wide_delegation(pg_cluster, tmp_path):
    """The directory through the fake Google server's users.list, as the admin the
    service account acts as; the managers it names are enrolled."""
    from peerpulse.connectors.google import pacing
    from peerpulse.connectors.google.auth import SCOPE_CALENDAR, SCOPE_DIRECTORY

    from tests.connectors.google.fake_google import FakeGoogle
    from tests.connectors.google.test_auth import _service_account_key
    from tests.connectors.google.test_directory_and_send import user

    pacing.reset_buckets()
    fake = FakeGoogle(allowed_scopes={SCOPE_CALENDAR, SCOPE_DIRECTORY}).start()
    try:
        fake.directory = [user(e, t, m or None) for e, _, _, t, m in DIRECTORY]
        fake.delegated = {"admin@example.com"}  # the admin only: the managers' mail is not read
        key = _service_account_key(tmp_path, fake.token_url)
        google = (f'type = "google", mode = "service_account", api_endpoint = "{fake.url}", '
                  f'token_endpoint = "{fake.token_url}", service_account_key = {{ file = '
                  f'"{key}" }}')
        config = tmp_path / "org.toml"
        config.write_text(f"""
state_dir = "{tmp_path / 'state'}"
database = "{pg_cluster.new_database()}"
[organization.directory]
admin = "admin@example.com"
source = {{ {google}, directory = true, calendars = [], mail = false }}
[organization.template]
source = {{ {google} }}
""")
        assert cli("--config", str(config), "org", "migrate")[0] == 0
        code, out, err = cli("--config", str(config), "org", "enroll", "--now", NOW)
    finally:
        fake.stop()
    assert code == 0, err
    assert "organization: directory ok" in out and "4 added" in out
    assert {user for user, _ in fake.access_tokens.values()} == {"admin@example.com"}
    assert fake.violations == []
