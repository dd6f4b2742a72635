"""Directory (/users with $expand=manager) and sendMail delivery over the fake Graph."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.microsoft.directory import EmptyDirectoryRefused
from peerpulse.connectors.microsoft.send import send_message

from tests.connectors.microsoft.conftest import connect, drain, make_context, sign_in, source_named
from tests.connectors.microsoft.fake_data import USER


def _user(n: int, manager: int | None = None, **extra) -> dict:
    user = {
        "id": f"id-{n}",
        "mail": f"user{n}@contoso.com",
        "userPrincipalName": f"user{n}@contoso.com",
        "displayName": f"User {n}",
        "department": "Sales" if n % 2 else "Engineering",
        "jobTitle": "Manager" if n < 3 else "Engineer",
        "proxyAddresses": [f"SMTP:user{n}@contoso.com", f"smtp:u{n}@contoso.example",
                           f"X500:/o=ExchangeLabs/cn=u{n}"],
        "accountEnabled": True,
        "manager": {"id": f"id-{manager}", "mail": f"user{manager}@contoso.com"}
        if manager is not None else None,
    }
    user.update(extra)
    return user


@pytest.fixture
def directory(fake, state_dir, store):
    sign_in(fake, state_dir, directory=True)

    def build():
        context = make_context(fake, state_dir, store, calendar=False, mail=False,
                               directory=True)
        return source_named(MicrosoftConnector(*context), "directory")

    return build


def test_people_come_with_managers_aliases_and_team_sizes(fake, store, directory):
    fake.users = [_user(0)] + [_user(n, manager=n % 3) for n in range(1, 1500)]
    fake.users.append(_user(9999, accountEnabled=False))
    drain(store, directory())
    assert fake.graph_requests("/users") == 2  # 1,501 users at 999 a page
    people = {p.email: p for p in store.people("alice")}
    assert len(people) == 1500 and "user9999@contoso.com" not in people
    assert people["user1@contoso.com"].manager == "user1@contoso.com"  # n % 3 == 1
    one = people["user4@contoso.com"]
    assert one.manager == "user1@contoso.com" and one.aliases == ("u4@contoso.example",)
    assert one.department == "Engineering" and one.title == "Engineer"
    assert people["user2@contoso.com"].manages_anyone
    assert people["user2@contoso.com"].team_size == 500


def test_an_empty_directory_where_people_were_stored_is_refused(fake, store, directory):
    fake.users = [_user(n) for n in range(8)]
    drain(store, directory())
    fake.users = []
    with pytest.raises(EmptyDirectoryRefused):
        drain(store, directory())
    assert len(store.people("alice")) == 8


def _digest() -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = USER
    message["Subject"] = "Your peers this week"
    message.set_content("Reconnect with Bob.")
    return message


def test_send_mail_202_is_sent_and_failures_are_classified(fake, state_dir):
    sign_in(fake, state_dir, send=True)
    client = connect(fake, state_dir, send=True).client
    result = send_message(client, _digest())
    assert result.state == "sent"
    box, raw = fake.sent[0]
    assert box == USER and b"Subject: Your peers this week" in raw
    fake.inject("sendMail", 429, "ApplicationThrottled", **{"Retry-After": "5"})
    assert send_message(client, _digest()).state == "retry"
    fake.inject("sendMail", 500, "InternalServerError")
    assert send_message(client, _digest()).state == "unknown"  # may have been accepted
    fake.inject("sendMail", 400, "ErrorInvalidRecipients")
    assert send_message(client, _digest()).state == "failed"
    assert len(fake.sent) == 1  # nothing was sent twice: no blind retries


def test_send_without_mail_send_consent_fails_with_the_command(fake, state_dir):
    sign_in(fake, state_dir)  # signed in without Mail.Send
    client = connect(fake, state_dir).client
    result = send_message(client, _digest())
    assert result.state == "failed" and "ErrorAccessDenied" in result.detail
    assert "peerpulse auth microsoft --account alice" in result.detail
