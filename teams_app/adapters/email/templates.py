"""Email templates and the one email layout: ``compose`` and ``render_email(kind, payload, locale)``.

:func:`compose` lays out every email the bot sends (notifications, rendered by
:mod:`teams_app.adapters.bot.email_render`, and replies on the email channel): greeting, paragraphs and lists,
buttons and footer, as a text part and an escaped HTML part; chat markdown (``**bold**``, ``[label](url)``)
becomes markup in HTML and plain words in text, so none of it leaks. :func:`render_email` fills the program
templates below through the same layout.

Kinds and the payload keys they use (``*`` = required):

- ``intro``: name*, program*, partners* (list of names), meeting_start (aware datetime), meeting_booked (False:
  only proposed), join_url,
  no_slot_detail (why no meeting was booked), time_zone (IANA, for showing times)
- ``reminder``: name*, program*, partners*, meeting_start*, join_url, time_zone
- ``check_in``: name*, program*, partners*
- ``assessment``: name*, program*, due (date)
- ``manager_digest``: name* (the manager), program*, people* (list of {name, meetings, check_ins})

Every kind needs ``bot_app_id`` (chat with the bot: ``https://teams.microsoft.com/l/chat/0/0?users=28:<id>``)
or ``teams_app_id`` (the app deep link): each email ends with a button that brings the person back to the
bot in Teams, where the actual step (check-in, assessment, rescheduling) happens.

Strings are gettext msgids (marked with ``N_``, translated through :func:`teams_app.i18n.translator`), so they
live in the same catalog as the bot's; locales without a catalog fall back to English text while dates and
name lists are still formatted for the requested locale by Babel.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from babel.dates import format_date
from babel.lists import format_list

from teams_app.i18n import N_, babel_locale, format_when, translator

logger = logging.getLogger(__name__)

KINDS = ("intro", "reminder", "check_in", "assessment", "manager_digest")

# key -> English msgid; German (and any other language) lives in teams_app/locales/<lang>/LC_MESSAGES/peercoach.po
STRINGS: dict[str, str] = {
    "greeting": N_("Hi {name},"),
    "intro.subject": N_("{program}: meet {partners}"),
    "intro.body": N_("You have been matched with {partners} for the next round of {program}."),
    "intro.booked": N_("We booked a Teams meeting for you: {when}."),
    "intro.proposed": N_("Proposed time: {when}. Nothing is booked yet: add the attached invitation to your "
                         "calendar, or agree another time together."),
    "intro.no_slot": N_("We could not book a meeting for you: {detail}"),
    "reminder.subject": N_("{program}: your conversation with {partners} is coming up"),
    "reminder.body": N_("A reminder: you meet {partners} on {when}."),
    "check_in.subject": N_("{program}: how did it go with {partners}?"),
    "check_in.body": N_("Did you meet {partners}? Two minutes in Teams tell us how it went and what you "
                        "will try next."),
    "assessment.subject": N_("{program}: a short peer assessment"),
    "assessment.body": N_("Please rate the coaching skills you noticed in your partners this round."),
    "assessment.due": N_("It closes on {due}."),
    "manager_digest.subject": N_("{program}: how your team is doing"),
    "manager_digest.body": N_("Here is a summary of your team's participation in {program}."),
    "manager_digest.row": N_("{name}: {meetings} meetings, {check_ins} check-ins"),
    "join": N_("Join the Teams meeting"),
    "open_bot": N_("Open peercoach in Teams"),
    "footer": N_("You get this email because you take part in {program}. Reply to the bot in Teams to pause or "
                 "leave."),
}


def teams_chat_link(bot_app_id: str) -> str:
    """Opens the 1:1 chat with the bot."""
    return f"https://teams.microsoft.com/l/chat/0/0?users=28:{quote(bot_app_id, safe='-')}"


def teams_app_link(teams_app_id: str) -> str:
    """Opens the Teams app (manifest id)."""
    return f"https://teams.microsoft.com/l/app/{quote(teams_app_id, safe='-')}"


class _Renderer:
    def __init__(self, payload: Mapping[str, Any], locale: str) -> None:
        self.payload = payload
        self.locale = babel_locale(locale)
        self._ = translator(locale)
        self.paragraphs: list[str] = []  # plain text; escaped for HTML at the end
        self.rows: list[str] = []
        self.actions: list[tuple[str, str]] = []

    def need(self, key: str) -> Any:
        value = self.payload.get(key)
        if value in (None, "", [], ()):
            raise ValueError(f"email payload is missing '{key}'")
        return value

    def t(self, key: str, **values: Any) -> str:
        return self._(STRINGS[key]).format(**values)

    def names(self, key: str = "partners") -> str:
        value = self.need(key)
        names = [value] if isinstance(value, str) else [str(v) for v in value]
        return format_list(names, locale=self.locale)

    def when(self, moment: datetime) -> str:
        return format_when(moment, str(self.payload.get("time_zone") or "UTC"), str(self.locale))

    def day(self, value: date) -> str:
        return format_date(value, "long", locale=self.locale)


def _intro(r: _Renderer) -> str:
    program, partners = r.need("program"), r.names()
    r.paragraphs.append(r.t("intro.body", program=program, partners=partners))
    start = r.payload.get("meeting_start")
    if isinstance(start, datetime):
        # "Booked" only when a calendar event with invitations exists; otherwise it is our proposal.
        booked = r.payload.get("meeting_booked", True)
        r.paragraphs.append(r.t("intro.booked" if booked else "intro.proposed", when=r.when(start)))
        if r.payload.get("join_url"):
            r.actions.append((r.t("join"), str(r.payload["join_url"])))
    elif r.payload.get("no_slot_detail"):
        r.paragraphs.append(r.t("intro.no_slot", detail=r.payload["no_slot_detail"]))
    return r.t("intro.subject", program=program, partners=partners)


def _reminder(r: _Renderer) -> str:
    program, partners = r.need("program"), r.names()
    start = r.need("meeting_start")
    if not isinstance(start, datetime):
        raise ValueError("meeting_start must be a datetime")
    r.paragraphs.append(r.t("reminder.body", partners=partners, when=r.when(start)))
    if r.payload.get("join_url"):
        r.actions.append((r.t("join"), str(r.payload["join_url"])))
    return r.t("reminder.subject", program=program, partners=partners)


def _check_in(r: _Renderer) -> str:
    program, partners = r.need("program"), r.names()
    r.paragraphs.append(r.t("check_in.body", partners=partners))
    return r.t("check_in.subject", program=program, partners=partners)


def _assessment(r: _Renderer) -> str:
    program = r.need("program")
    r.paragraphs.append(r.t("assessment.body"))
    due = r.payload.get("due")
    if isinstance(due, date):
        r.paragraphs.append(r.t("assessment.due", due=r.day(due)))
    return r.t("assessment.subject", program=program)


def _manager_digest(r: _Renderer) -> str:
    program = r.need("program")
    people: Sequence[Mapping[str, Any]] = r.need("people")
    r.paragraphs.append(r.t("manager_digest.body", program=program))
    for person in people:
        r.rows.append(r.t("manager_digest.row", name=person.get("name", "?"), meetings=int(person.get("meetings", 0)),
                          check_ins=int(person.get("check_ins", 0))))
    return r.t("manager_digest.subject", program=program)


_KINDS: dict[str, Callable[[_Renderer], str]] = {
    "intro": _intro, "reminder": _reminder, "check_in": _check_in, "assessment": _assessment,
    "manager_digest": _manager_digest,
}


def render_email(kind: str, payload: Mapping[str, Any], locale: str = "en") -> tuple[str, str, str]:
    """(subject, html, text) for one email; raises ValueError naming a missing payload key."""
    build = _KINDS.get(kind)
    if build is None:
        raise ValueError(f"unknown email kind '{kind}': use one of {', '.join(KINDS)}")
    r = _Renderer(payload, locale)
    if payload.get("bot_app_id"):
        bot_link = teams_chat_link(str(payload["bot_app_id"]))
    elif payload.get("teams_app_id"):
        bot_link = teams_app_link(str(payload["teams_app_id"]))
    else:
        raise ValueError("email payload is missing 'bot_app_id' or 'teams_app_id' (the link back to the bot)")
    greeting = r.t("greeting", name=r.need("name"))
    subject = build(r)
    r.actions.append((r.t("open_bot"), bot_link))
    footer = r.t("footer", program=r.need("program"))
    blocks: list[Block] = list(r.paragraphs)
    if r.rows:
        blocks.append(list(r.rows))
    return compose(subject, blocks, locale=str(r.locale), greeting=greeting, actions=r.actions, footer=footer)


# -- one layout for every email the bot sends (notifications and replies) --------------------------------------
Block = str | list[str]  # a paragraph, or a bulleted list
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")


def plain(text: str) -> str:
    """Chat markdown as plain text: ``**bold**`` loses its stars, ``[label](url)`` becomes ``label (url)``."""
    return _BOLD.sub(r"\1", _LINK.sub(r"\1 (\2)", text))


def markdown_html(text: str) -> str:
    """Chat markdown as escaped HTML: ``**bold**`` -> <strong>, ``[label](url)`` -> a link; nothing else passes."""
    out: list[str] = []
    position = 0
    for link in _LINK.finditer(text):
        out.append(_bold_html(text[position:link.start()]))
        out.append(f'<a href="{html.escape(link.group(2), quote=True)}">{_bold_html(link.group(1))}</a>')
        position = link.end()
    out.append(_bold_html(text[position:]))
    return "".join(out)


def _bold_html(text: str) -> str:
    escaped = html.escape(text)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", escaped)


def compose(subject: str, blocks: Sequence[Block], *, locale: str = "en", greeting: str = "",
            actions: Sequence[tuple[str, str]] = (), footer: str = "") -> tuple[str, str, str]:
    """(subject, html, text) in the bot's email layout; ``blocks`` may use chat markdown (bold, links)."""
    subject = plain(subject)
    text_parts = [plain(greeting)] if greeting else []
    for block in blocks:
        if isinstance(block, str):
            if block.strip():
                text_parts.append(plain(block))
        elif block:
            text_parts.append("\n".join(f"- {plain(item)}" for item in block))
    text_parts.extend(f"{plain(label)}: {url}" for label, url in actions)
    if footer:
        text_parts.append(f"-- \n{plain(footer)}")
    text = "\n\n".join(text_parts) + "\n"

    esc = html.escape
    body = [f"<p>{markdown_html(greeting)}</p>"] if greeting else []
    for block in blocks:
        if isinstance(block, str):
            if block.strip():
                body.append("<p>" + "<br>".join(markdown_html(line) for line in block.split("\n")) + "</p>")
        elif block:
            body.append("<ul>" + "".join(f"<li>{markdown_html(item)}</li>" for item in block) + "</ul>")
    body.extend(
        f'<p><a href="{esc(url, quote=True)}" style="display:inline-block;padding:8px 16px;background:#5b5fc7;'
        f'color:#ffffff;text-decoration:none;border-radius:4px">{esc(plain(label))}</a></p>'
        for label, url in actions)
    if footer:
        body.append(f'<p style="color:#616161;font-size:12px">{markdown_html(footer)}</p>')
    language = babel_locale(locale).language
    html_doc = (f'<!DOCTYPE html><html lang="{esc(language)}"><head><meta charset="utf-8">'
                f"<title>{esc(subject)}</title></head>"
                f'<body style="font-family:Segoe UI,Helvetica,Arial,sans-serif">{"".join(body)}</body></html>')
    return subject, html_doc, text
