"""The SMTP backend against a real SMTP server on 127.0.0.1 (aiosmtpd), good and bad."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peerpulse.worker.config import SecretRef, SmtpDelivery
from peerpulse.worker.delivery.base import DeliveryState
from peerpulse.worker.delivery.smtp import SmtpBackend
from peerpulse.worker.digest.ics_hold import build_hold
from peerpulse.worker.digest.message import build_message, message_bytes, new_message_id
from peerpulse.worker.digest.render import render_digest

from tests.worker.digest_builders import full_digest
from tests.worker.smtp_sink import (
    DropAfterData,
    DropOnMail,
    RefuseData,
    RefuseRcpt,
    Sink,
    SlowAfterData,
    free_port,
    smtp_server,
)

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))
PASSWORD_ENV = "PEERPULSE_TEST_SMTP_PASSWORD"


def _message():
    digest = full_digest()
    rendered = render_digest(digest, recipient="sam@example.com", sender="sam@example.com",
                             now=NOW, hold_attached=True)
    hold = build_hold(digest, organizer="sam@example.com", now=NOW)
    return build_message(rendered, account="work", message_id=new_message_id(digest.period,
                         "sam@example.com"), date=NOW, hold=hold)


def _backend(port: int, **overrides) -> SmtpBackend:
    config = SmtpDelivery(type="smtp", host="127.0.0.1", port=port, security="none",
                          timeout_seconds=overrides.pop("timeout_seconds", 5.0), **overrides)
    return SmtpBackend(config)


def test_a_digest_arrives_whole_and_its_mime_structure_parses():
    message = _message()
    with smtp_server(Sink()) as (sink, port):
        outcome = _backend(port).send(message)
    assert outcome.state is DeliveryState.SENT
    assert sink.envelopes == [("sam@example.com", ["sam@example.com"])]
    assert sink.messages[0] == message_bytes(message)
    received = email.message_from_bytes(sink.messages[0], policy=email.policy.default)
    assert received.get_content_type() == "multipart/mixed"
    alternative, hold = received.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    assert hold.get_content_type() == "text/calendar"
    assert hold.get_param("method") == "PUBLISH"
    assert received["Subject"] == "Week 48: lunch with Dana, 2 peers to reconnect"


def test_a_message_with_a_line_starting_with_a_dot_arrives_unchanged():
    message = _message()
    raw = message_bytes(message).replace(b"Only you receive", b".Only you receive", 1)
    from peerpulse.worker.digest.message import parse_stored

    with smtp_server(Sink()) as (sink, port):
        outcome = _backend(port).send(parse_stored(raw))
    assert outcome.state is DeliveryState.SENT
    assert sink.messages == [raw]


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (RefuseRcpt("450 4.2.1 mailbox busy, try later"), DeliveryState.RETRY),
        (RefuseRcpt("550 5.1.1 no such user"), DeliveryState.FAILED),
        (RefuseData("451 4.3.0 local error in processing"), DeliveryState.RETRY),
        (RefuseData("554 5.7.1 message rejected as spam"), DeliveryState.FAILED),
        (DropOnMail(), DeliveryState.RETRY),
        (DropAfterData(), DeliveryState.UNKNOWN),
    ],
    ids=["4xx-on-rcpt", "5xx-on-rcpt", "4xx-after-data", "5xx-after-data",
         "disconnect-before-data", "disconnect-after-data"],
)
def test_smtp_replies_and_disconnects_map_to_the_right_outcome(handler, expected):
    with smtp_server(handler) as (_, port):
        outcome = _backend(port).send(_message())
    assert outcome.state is expected, outcome.detail


def test_a_timeout_waiting_for_the_reply_to_the_message_is_unknown():
    with smtp_server(SlowAfterData()) as (sink, port):
        outcome = _backend(port, timeout_seconds=0.5).send(_message())
    assert outcome.state is DeliveryState.UNKNOWN
    assert len(sink.messages) == 1  # it did arrive: resending blindly would duplicate it
    assert "may have been delivered" in outcome.detail


def test_a_server_that_is_not_there_means_retry():
    outcome = _backend(free_port(), timeout_seconds=1).send(_message())
    assert outcome.state is DeliveryState.RETRY


def test_the_password_is_never_sent_in_clear_to_a_remote_host():
    # 192.0.2.1 is TEST-NET-1: the check happens before any connection is attempted.
    config = SmtpDelivery(type="smtp", host="192.0.2.1", port=25, security="none",
                          username="sam", password=SecretRef(env="NOPE"), timeout_seconds=0.2)
    outcome = SmtpBackend(config).send(_message())
    assert outcome.state is DeliveryState.RETRY
    assert "refusing to send the SMTP password without TLS" in outcome.detail


# -- TLS -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=30,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return cert, key


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class Auth:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_a_trusted_certificate_and_a_password_from_a_secret_reference(
    certificate, monkeypatch, security
):
    monkeypatch.setenv("PEERPULSE_TEST_SMTP_PASSWORD", "s3cret")
    auth = Auth()
    context = _server_context(certificate)
    options = (
        {"tls_context": context, "require_starttls": True} if security == "starttls"
        else {"ssl_context": context}
    )
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the socket is encrypted anyway.
    require = security == "starttls"
    with smtp_server(Sink(), authenticator=auth, auth_require_tls=require,
                     **options) as (sink, port):
        config = SmtpDelivery(type="smtp", host="127.0.0.1", port=port, security=security,
                              username="sam", password=SecretRef(env=PASSWORD_ENV),
                              timeout_seconds=5)
        backend = SmtpBackend(config, ssl_context=lambda: ssl.create_default_context(
            cafile=str(certificate[0])))
        outcome = backend.send(_message())
    assert outcome.state is DeliveryState.SENT, outcome.detail
    assert auth.logins == [("sam", "s3cret")]
    assert len(sink.messages) == 1


def test_an_untrusted_certificate_is_refused_by_the_default_context(certificate):
    context = _server_context(certificate)
    with smtp_server(Sink(), tls_context=context, require_starttls=True) as (sink, port):
        config = SmtpDelivery(type="smtp", host="127.0.0.1", port=port, security="starttls",
                              timeout_seconds=5)
        outcome = SmtpBackend(config).send(_message())
    assert outcome.state is DeliveryState.RETRY
    assert "certificate" in outcome.detail.lower()
    assert sink.messages == []


def test_a_wrong_password_is_retried_after_the_user_fixes_it(monkeypatch):
    monkeypatch.setenv("PEERPULSE_TEST_SMTP_PASSWORD", "wrong")
    # Plain SMTP is allowed for a password only towards a loopback relay.
    with smtp_server(Sink(), authenticator=Auth(), auth_require_tls=False,
                     auth_exclude_mechanism=["LOGIN"]) as (sink, port):
        config = SmtpDelivery(type="smtp", host="127.0.0.1", port=port, security="none",
                              username="sam", password=SecretRef(env=PASSWORD_ENV),
                              timeout_seconds=2)
        outcome = SmtpBackend(config).send(_message())
    assert outcome.state is DeliveryState.RETRY
    assert "535" in outcome.detail
    assert sink.messages == []
