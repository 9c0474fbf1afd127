"""Email for notifications that fall back from Teams: the program's email templates where one fits.

Payloads that carry their own ``email`` = {subject, html, text} (assessment feedback) are sent as they are;
intro, meeting and check-in notifications use :func:`teams_app.adapters.email.templates.render_email` (with the
link back to the bot); anything else, or a template that cannot be filled, uses the bot's plain renderer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from teams_app.adapters.bot.cards import render_email as plain_email
from teams_app.adapters.bot.delivery import EmailRenderer
from teams_app.domain.notifications import NotificationKind
from teams_app.i18n import translator

logger = logging.getLogger(__name__)

_TEMPLATE_KIND = {NotificationKind.INTRO.value: "intro", NotificationKind.MEETING_UPDATE.value: "intro",
                  NotificationKind.CHECKIN.value: "check_in", NotificationKind.CHECKIN_REMINDER.value: "check_in"}


def program_email_renderer(*, bot_app_id: str = "", teams_app_id: str = "") -> EmailRenderer:
    def render(kind: str, payload: Mapping[str, Any], locale: str) -> tuple[str, str, str]:
        own = payload.get("email")
        if isinstance(own, Mapping) and own.get("subject") and (own.get("html") or own.get("text")):
            text = str(own.get("text") or "")
            return str(own["subject"]), str(own.get("html") or f"<pre>{text}</pre>"), text
        template = _TEMPLATE_KIND.get(kind)
        if template and (bot_app_id or teams_app_id):
            meeting = payload.get("meeting") or {}
            data: dict[str, Any] = {
                "name": payload.get("name", ""), "program": payload.get("program", ""),
                "partners": [str(p.get("name", "")) for p in payload.get("partners", [])],
                "bot_app_id": bot_app_id, "teams_app_id": teams_app_id,
            }
            reader = payload.get("reader") or {}
            data["time_zone"] = str(reader.get("time_zone") or "UTC")  # times in the reader's own zone
            if meeting.get("start"):
                data["meeting_start"] = datetime.fromisoformat(str(meeting["start"]))
                data["meeting_booked"] = bool(meeting.get("booked"))
                data["join_url"] = meeting.get("join_url") or ""
            try:
                from teams_app.adapters.email.templates import render_email

                return render_email(template, data, locale)
            except (ImportError, ValueError) as exc:
                logger.info("email template %s not usable (%s); using the plain text email", template, exc)
        return plain_email(translator(locale), kind, payload)

    return render
