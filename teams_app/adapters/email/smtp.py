"""SMTP ``Mailer``: used when Graph mail is not configured.

The stdlib ``smtplib`` runs in a worker thread (one connection per message; program email is low volume
and the outbox sender retries). Messages are multipart/alternative (plain text + HTML) with attachments;
a ``text/calendar`` attachment keeps its ``method`` parameter so mail clients offer Accept/Decline.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

logger = logging.getLogger(__name__)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


class MailError(Exception):
    """The SMTP server could not be reached or refused the message; the message says which.

    ``permanent`` is True when sending the same message again cannot succeed (a 5xx answer, every
    recipient refused): the outbox should dead-letter it instead of retrying.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def build_message(sender: str, to: Sequence[str], subject: str, html: str, text: str,
                  attachments: Sequence[tuple[str, str, bytes]] = ()) -> EmailMessage:
    """A multipart/alternative message (text + HTML) with attachments, as every Mailer here sends it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.split("@", 1)[1])
    message.set_content(text or " ")
    if html:
        message.add_alternative(html, subtype="html")
    for name, content_type, data in attachments:
        main, _, rest = content_type.partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        extra = dict(p.split("=", 1) for p in params if "=" in p)
        if main == "text":
            message.add_attachment(data.decode(extra.pop("charset", "utf-8")), subtype=subtype,
                                   filename=name, params={k: v for k, v in extra.items()})
        else:
            message.add_attachment(data, maintype=main or "application", subtype=subtype or "octet-stream",
                                   filename=name)
    return message


class SmtpMailer:
    def __init__(self, host: str, port: int = 587, *, sender: str, starttls: bool = True, use_tls: bool = False,
                 username: str = "", password: str = "", timeout_s: float = 30.0,
                 tls_context: ssl.SSLContext | None = None) -> None:
        if not host:
            raise ValueError("SMTP host is empty (PEERCOACH_SMTP__HOST)")
        if starttls and use_tls:
            raise ValueError("choose STARTTLS (port 587) or implicit TLS (port 465), not both")
        if "@" not in sender:
            raise ValueError("SMTP sender must be an email address (PEERCOACH_SMTP__SENDER)")
        self.host, self.port, self.sender = host, port, sender
        self._starttls, self._use_tls = starttls, use_tls
        self._username, self._password = username, password
        self._timeout = timeout_s
        self._tls = tls_context

    def build_message(self, to: Sequence[str], subject: str, html: str, text: str,
                      attachments: Sequence[tuple[str, str, bytes]] = ()) -> EmailMessage:
        return build_message(self.sender, to, subject, html, text, attachments)

    async def send(self, to: Sequence[str], subject: str, html: str, text: str,
                   attachments: Sequence[tuple[str, str, bytes]] = ()) -> None:
        if not to:
            raise ValueError("no recipients")
        message = self.build_message(to, subject, html, text, attachments)
        await asyncio.to_thread(self._deliver, message, list(to))

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> None:
        context = self._tls or ssl.create_default_context()
        where = f"{self.host}:{self.port}"
        try:
            smtp: smtplib.SMTP
            if self._use_tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self._timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
            with smtp:
                smtp.ehlo()
                if self._starttls:
                    if not smtp.has_extn("starttls"):
                        raise MailError(f"SMTP server {where} does not offer STARTTLS; set "
                                        "PEERCOACH_SMTP__STARTTLS=false only on a trusted network")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self._username:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(message, from_addr=self.sender, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"SMTP server {where} rejected the login for {self._username}: "
                            f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"SMTP server {where} refused every recipient: {sorted(exc.recipients)}",
                            permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"SMTP server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                            permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP server {where} unreachable or failed: {exc}") from None
        if refused:
            # Not raised: the others already have the message, and a retry would send it to them twice.
            logger.warning("SMTP server %s refused %s of %s recipients", where, len(refused), len(recipients))
