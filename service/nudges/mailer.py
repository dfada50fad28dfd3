"""Sending email over SMTP with the standard library (smtplib, email.message).

What a reminder says is decided in `service.py`; this module only writes the message and hands
it to the mail server of the settings (`CAREPATH_SMTP_*`)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from service.core.settings import Settings

TIMEOUT_SECONDS = 30.0
SEND_ERRORS = (smtplib.SMTPException, OSError)
"""What a failed send raises: the server refused, or could not be reached."""


@dataclass(frozen=True)
class Letter:
    """One email: a subject and plain-text body that name no health details, and the link
    that turns reminder emails off (RFC 8058 one-click unsubscribe)."""

    to: str
    subject: str
    body: str
    unsubscribe_url: str


def message(settings: Settings, letter: Letter, now: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.smtp_sender
    mail["To"] = letter.to
    mail["Subject"] = letter.subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid(domain="carepath")
    # Mail programs show an "Unsubscribe" button for these, and with the second one they
    # unsubscribe by a POST to the link, never by opening it (RFC 2369, RFC 8058).
    mail["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(letter.body)
    return mail


def send(settings: Settings, letter: Letter, now: datetime) -> None:
    """Hand one email to the mail server; raises one of SEND_ERRORS if that fails."""
    if not settings.smtp_host:
        raise smtplib.SMTPException("CAREPATH_SMTP_HOST is not set")
    mail = message(settings, letter, now)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                timeout=TIMEOUT_SECONDS, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(mail)
