"""Email adapter: SMTP Mailer, iCalendar invitations and the email templates."""

from teams_app.adapters.email.calendar import IcsCalendar, teams_new_meeting_link
from teams_app.adapters.email.ics import ICS_FILENAME, build_invitation, ics_content_type, invitation_uid
from teams_app.adapters.email.smtp import MailError, SmtpMailer
from teams_app.adapters.email.templates import KINDS, render_email, teams_app_link, teams_chat_link

__all__ = [
    "ICS_FILENAME",
    "KINDS",
    "IcsCalendar",
    "MailError",
    "SmtpMailer",
    "build_invitation",
    "ics_content_type",
    "invitation_uid",
    "render_email",
    "teams_app_link",
    "teams_chat_link",
    "teams_new_meeting_link",
]
