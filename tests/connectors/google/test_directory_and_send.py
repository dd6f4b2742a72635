"""Organization directory -> people, and digest delivery through Gmail."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from googleapiclient.errors import HttpError
from peerpulse.connectors.delivery import DeliveryState
from peerpulse.connectors.google.auth import SCOPE_DIRECTORY, SCOPE_GMAIL_SEND
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.google.delivery import GmailDeliveryBackend
from peerpulse.connectors.google.settings import GoogleSettings

from tests.connectors.google.conftest import NOW, USER, drain, make_context, write_token


def user(email: str, title: str, manager: str | None = None, **extra) -> dict:
    out = {
        "primaryEmail": email,
        "name": {"fullName": email.split("@")[0].title()},
        "organizations": [{"title": title, "department": "Engineering", "primary": True}],
        "emails": [{"address": email, "primary": True}],
        **extra,
    }
    if manager:
        out["relations"] = [{"type": "manager", "value": manager}]
    return out


def test_directory_users_become_people_with_reporting_lines(fake, state_dir, store):
    fake.directory = [
        user("ceo@example.com", "CEO"),
        user(
            USER,
            "Engineering Manager",
            "ceo@example.com",
            emails=[{"address": USER}, {"address": "Alice.Old@Example.com"}],
        ),
        user("dev@example.com", "Engineer", USER),
        user("gone@example.com", "Engineer", USER, suspended=True),
    ]
    write_token(state_dir, fake, {SCOPE_DIRECTORY})
    context = make_context(fake, state_dir, calendars=[], mail=False, directory=True)
    (source,) = GoogleConnector(*context).sources()
    drain(store, source)
    people = {p.email: p for p in store.people("alice")}
    assert set(people) == {"ceo@example.com", USER, "dev@example.com"}
    alice = people[USER]
    assert alice.manager == "ceo@example.com" and alice.manages_anyone and alice.team_size == 1
    assert alice.aliases == ("alice.old@example.com",) and alice.department == "Engineering"
    assert not people["dev@example.com"].manages_anyone

    fake.directory[2] = user("dev@example.com", "Senior Engineer", USER)
    drain(store, GoogleConnector(*context).sources()[0])
    (change,) = store.title_changes("alice", NOW.replace(year=2000))
    assert (change.email, change.new_title) == ("dev@example.com", "Senior Engineer")


def digest() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = USER, USER, "Your peers this week"
    message.set_content("Talk to Bob.")
    return message


def backend(fake, state_dir) -> GmailDeliveryBackend:
    write_token(state_dir, fake, {SCOPE_GMAIL_SEND})
    settings = GoogleSettings(mode="user", api_endpoint=fake.url, token_endpoint=fake.token_url)
    return GmailDeliveryBackend("alice", settings, state_dir=state_dir)


def test_gmail_delivery_sends_the_raw_message(fake, state_dir):
    outcome = backend(fake, state_dir).send(digest())
    assert outcome.state == DeliveryState.SENT and outcome.location == "gmail:sent1"
    (raw,) = fake.sent
    assert b"Subject: Your peers this week" in raw and b"Talk to Bob." in raw


def test_gmail_delivery_outcomes_say_what_is_known(fake, state_dir):
    sender = backend(fake, state_dir)
    fake.fail_next("/messages/send", 429, "rateLimitExceeded")
    assert sender.send(digest()).state == DeliveryState.RETRY
    fake.fail_next("/messages/send", 500)
    assert sender.send(digest()).state == DeliveryState.UNKNOWN
    fake.fail_next("/messages/send", 400, "invalidArgument")
    assert sender.send(digest()).state == DeliveryState.FAILED
    assert fake.sent == []


def test_gmail_delivery_without_authorization_fails_with_the_command(fake, state_dir):
    settings = GoogleSettings(mode="user", api_endpoint=fake.url, token_endpoint=fake.token_url)
    outcome = GmailDeliveryBackend("alice", settings, state_dir=state_dir).send(digest())
    assert outcome.state == DeliveryState.FAILED
    assert "peerpulse auth google --account alice" in outcome.detail


def test_the_admin_view_needs_an_administrator(fake, state_dir, store):
    from peerpulse.connectors.base import ConnectorError

    fake.directory = [user("ceo@example.com", "CEO")]
    write_token(state_dir, fake, {SCOPE_DIRECTORY})
    context = make_context(
        fake, state_dir, calendars=[], mail=False, directory=True, directory_admin_view=True
    )
    (source,) = GoogleConnector(*context).sources()
    with pytest.raises((ConnectorError, HttpError)):
        drain(store, source)  # alice is no administrator
    fake.admins.add(USER)
    (source,) = GoogleConnector(*context).sources()
    drain(store, source)
    assert {p.email for p in store.people("alice")} == {"ceo@example.com"}
