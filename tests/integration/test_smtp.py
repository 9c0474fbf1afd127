"""SmtpMailer against a real aiosmtpd server: multipart message, ICS invitation, STARTTLS, AUTH, failures."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from icalendar import Calendar

from teams_app.adapters.email import (
    ICS_FILENAME,
    MailError,
    SmtpMailer,
    build_invitation,
    ics_content_type,
    render_email,
)
from teams_app.devstack import free_port
from teams_app.domain.model import Meeting, MeetingStatus, Participant, Program
from tests.fixtures.smtp import Inbox


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"coach" and auth_data.password == b"pw"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, ssl.SSLContext]]:
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    yield inbox, port, client_ctx
    controller.stop()


PROGRAM = Program.create("Pilot", "peer_pairs", "weekly", program_id="p1")
ANN = Participant.create("ann@x.org", "Ann", participant_id="ann")
BEN = Participant.create("ben@x.org", "Ben", participant_id="ben")
MEETING = Meeting("match-1", MeetingStatus.SCHEDULED, dt.datetime(2026, 1, 12, 14, tzinfo=dt.UTC),
                  dt.datetime(2026, 1, 12, 14, 30, tzinfo=dt.UTC), join_url="https://teams.microsoft.com/l/meetup-join/x")


async def test_intro_email_arrives_with_text_html_and_a_valid_ics_invitation(plain_smtp: tuple[Inbox, int]) -> None:
    inbox, port = plain_smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="coaching@x.org", starttls=False)
    subject, html, text = render_email("intro", {"name": "Ann", "program": "Pilot", "partners": ["Ben"],
                                                 "meeting_start": MEETING.start, "join_url": MEETING.join_url,
                                                 "bot_app_id": "00000000-bot"}, "en")
    ics = build_invitation(PROGRAM, MEETING, ANN, [ANN, BEN])
    await mailer.send(["ann@x.org", "ben@x.org"], subject, html, text, [(ICS_FILENAME, ics_content_type(), ics)])

    [(sender, recipients, message)] = inbox.messages
    assert sender == "coaching@x.org" and recipients == ["ann@x.org", "ben@x.org"]
    assert message["Subject"] == "Pilot: meet Ben"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and "https://teams.microsoft.com/l/chat/0/0?users=28:00000000-bot" in plain.get_content()
    assert rich is not None and "Join the Teams meeting" in rich.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == ICS_FILENAME
    assert attachment.get_content_type() == "text/calendar" and attachment.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event.decoded("DTSTART") == MEETING.start and event.decoded("DTEND") == MEETING.end
    assert str(event["UID"]) == "match-1@peercoach"
    assert str(event["ORGANIZER"]) == "mailto:ann@x.org"
    assert [str(a) for a in (event["ATTENDEE"] if isinstance(event["ATTENDEE"], list) else [event["ATTENDEE"]])] == [
        "mailto:ben@x.org"]
    assert "What would you like to improve?" in str(event["DESCRIPTION"])


async def test_starttls_with_login_delivers(tls_smtp: tuple[Inbox, int, ssl.SSLContext]) -> None:
    inbox, port, client_ctx = tls_smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="coaching@x.org", starttls=True, username="coach",
                        password="pw", tls_context=client_ctx)
    await mailer.send(["ann@x.org"], "Hello", "<p>Hello</p>", "Hello")
    assert [m[1] for m in inbox.messages] == [["ann@x.org"]]


async def test_wrong_password_is_a_clear_mail_error(tls_smtp: tuple[Inbox, int, ssl.SSLContext]) -> None:
    inbox, port, client_ctx = tls_smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="coaching@x.org", username="coach", password="nope",
                        tls_context=client_ctx)
    with pytest.raises(MailError, match="rejected the login for coach") as err:
        await mailer.send(["ann@x.org"], "Hello", "<p>Hello</p>", "Hello")
    assert inbox.messages == [] and not err.value.permanent  # fixing the password makes a retry work


async def test_server_without_starttls_is_refused_when_starttls_required(plain_smtp: tuple[Inbox, int]) -> None:
    inbox, port = plain_smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="coaching@x.org", starttls=True)
    with pytest.raises(MailError, match="does not offer STARTTLS"):
        await mailer.send(["ann@x.org"], "Hello", "<p>Hello</p>", "Hello")
    assert inbox.messages == []


async def test_refused_recipient_is_a_permanent_error_partial_refusal_is_not(plain_smtp: tuple[Inbox, int]) -> None:
    inbox, port = plain_smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="coaching@x.org", starttls=False)
    with pytest.raises(MailError, match="refused every recipient") as err:
        await mailer.send(["gone@x.org"], "Hello", "<p>Hello</p>", "Hello")
    assert err.value.permanent
    await mailer.send(["gone@x.org", "ann@x.org"], "Hello", "<p>Hello</p>", "Hello")  # no retry: Ann has it
    assert [m[1] for m in inbox.messages] == [["ann@x.org"]]


async def test_unreachable_server_is_a_clear_mail_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), sender="coaching@x.org", starttls=False, timeout_s=2)
    with pytest.raises(MailError, match="unreachable"):
        await mailer.send(["ann@x.org"], "Hello", "<p>Hello</p>", "Hello")


def test_mailer_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="SMTP host"):
        SmtpMailer("", sender="a@x.org")
    with pytest.raises(ValueError, match="not both"):
        SmtpMailer("h", sender="a@x.org", starttls=True, use_tls=True)
    with pytest.raises(ValueError, match="sender"):
        SmtpMailer("h", sender="nobody")
