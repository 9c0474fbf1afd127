"""The one email renderer for notifications: every :class:`NotificationKind` as a complete email.

What a Teams user gets as a card, a person Teams cannot reach gets as an email with a subject, a text and an
HTML part (one layout: :func:`teams_app.adapters.email.templates.compose`), in their language, with times in
their time zone, and with a link to the card's web twin (:class:`~teams_app.service.ports.CardLinks`). When no
link can be made the email says how to answer instead (a reply with a command), never a broken link.

The sender adds what only it knows to the payload before rendering: ``recipient`` = {id, email, name},
``reader`` = {time_zone, locale} when the payload has none, and ``invitation_attached`` (an .ics of a proposed
time goes with this email). Payloads that carry their own ``email`` = {subject, text} (assessment feedback)
keep their words and get the same layout and link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from babel.lists import format_list

from teams_app.adapters.bot.cards import said_reasons
from teams_app.adapters.email.templates import Block, compose, teams_app_link, teams_chat_link
from teams_app.domain.notifications import NotificationKind, TwinCard
from teams_app.i18n import babel_locale, format_when, translator
from teams_app.service.ports import CardLinks

logger = logging.getLogger(__name__)

EmailRenderer = Callable[[str, Mapping[str, Any], str], tuple[str, str, str]]

_PARTNER_KINDS = frozenset({NotificationKind.PARTNER_RESCHEDULE.value, NotificationKind.PARTNER_CANCEL.value})


class _Email:
    """One email being written: its blocks (paragraphs, lists) and buttons, in the reader's language."""

    def __init__(self, payload: Mapping[str, Any], locale: str, links: CardLinks | None, bot_link: str) -> None:
        self.payload = payload
        self.reader = payload.get("reader") or {}
        self.locale = str(self.reader.get("locale") or locale or "en")
        self._ = translator(self.locale)
        recipient = payload.get("recipient") or {}
        self.recipient_id = str(recipient.get("id") or "")
        self.recipient_email = str(recipient.get("email") or "").lower()
        partner_notice = payload.get("kind") in _PARTNER_KINDS  # there ``name`` is the partner who acted
        self.name = str(recipient.get("name") or ("" if partner_notice else payload.get("name")) or "")
        self.program = str(payload.get("program") or "")
        self.blocks: list[Block] = []
        self.actions: list[tuple[str, str]] = []
        self._links = links
        self.bot_link = bot_link

    def when(self, value: Any) -> str:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if moment.tzinfo is None:
            return str(value)
        return format_when(moment, str(self.reader.get("time_zone") or "UTC"), self.locale)

    def names(self, people: list[Mapping[str, Any]]) -> str:
        names = [str(p.get("name", "")) for p in people if p.get("name")]
        return format_list(names, locale=babel_locale(self.locale)) if names else ""

    def partners(self) -> list[Mapping[str, Any]]:
        """The other members: never the reader (by address), whatever the payload holds."""
        return [p for p in self.payload.get("partners") or []
                if not (self.recipient_email and str(p.get("email", "")).lower() == self.recipient_email)]

    def twin(self, card: TwinCard, subject: str, label: str, fallback: str) -> None:
        """The button to the card's web twin, or (no link) the sentence that says how to answer instead and,
        when the bot's Teams app is known, a button to the card there."""
        url = self._links.link(self.recipient_id, card, subject) if self._links and self.recipient_id else None
        if url:
            self.actions.append((label, url))
            return
        self.blocks.append(fallback)
        if self.bot_link:
            self.actions.append((self._("Open peercoach in Teams"), self.bot_link))

    def finish(self, subject: str) -> tuple[str, str, str]:
        _ = self._
        footer = (_("You get this email because you take part in {program}. Reply with 'pause' for a break, "
                    "'leave' to stop, or 'help' for everything else.").format(program=self.program)
                  if self.program else _("You get this email because you take part in peer coaching. Reply with "
                                         "'help' to see what you can do."))
        greeting = _("Hi {name},").format(name=self.name) if self.name else ""
        return compose(subject, self.blocks, locale=self.locale, greeting=greeting, actions=self.actions,
                       footer=footer)


# -- the meeting, as it really is ---------------------------------------------------------------------------
def _meeting(e: _Email, names: str) -> None:
    _ = e._
    meeting = e.payload.get("meeting") or {}
    if not meeting.get("start"):
        e.blocks.append(_("No meeting is booked yet: please find a time together."))
        return
    start = e.when(meeting["start"])
    if meeting.get("booked"):
        # A calendar event exists and invited them; no .ics goes with this email.
        e.blocks.append(_("Your meeting with {names} is booked for {start}. The calendar invitation comes in its "
                          "own email.").format(names=names, start=start))
    elif e.payload.get("invitation_attached"):
        e.blocks.append(_("Proposed time for your meeting with {names}: {start}. Nothing is booked yet: add the "
                          "attached invitation to your calendar, or agree another time together.").format(
            names=names, start=start))
    else:
        e.blocks.append(_("Proposed time for your meeting with {names}: {start}. Nothing is booked yet: please "
                          "agree the time together.").format(names=names, start=start))
    if meeting.get("join_url"):
        e.actions.append((_("Join the Teams meeting"), str(meeting["join_url"])))


def _match_card_link(e: _Email) -> None:
    _ = e._
    e.twin(TwinCard.INTRO, str(e.payload.get("match_id") or ""), _("Open your match card"),
           _("To agree a time, write to your partners at the addresses above. Reply with 'my matches' to see "
             "all your matches."))


# -- one function per kind: fills the email, returns its subject ------------------------------------------------
def _intro(e: _Email) -> str:
    _ = e._
    partners = e.partners()
    names = e.names(partners)
    e.blocks.append(_("You have been matched with {partners} for the next round of {program}.").format(
        partners=names, program=e.program))
    session, term = e.payload.get("session"), e.payload.get("sessions_in_term")
    if isinstance(session, int) and isinstance(term, int) and term > 0:
        e.blocks.append(_("Session {session} of {sessions}.").format(session=session, sessions=term))
    facilitator = e.payload.get("facilitator") or {}
    if facilitator.get("id") and e.recipient_id and str(facilitator["id"]) == e.recipient_id:
        e.blocks.append(_("You facilitate this session: you open it, keep time and make sure everyone is heard. "
                          "The role passes to someone else next session."))
    elif facilitator.get("name"):
        e.blocks.append(_("{name} facilitates this session.").format(name=facilitator["name"]))
    if e.payload.get("role") and not facilitator.get("name"):  # a circle's facilitator line says the role already
        e.blocks.append(_("Your role this round: **{role}**").format(role=_(str(e.payload["role"]))))
    if partners:
        e.blocks.append(_("Who you meet:"))
        e.blocks.append([f"**{p.get('name', '')}** ({_(str(p.get('role', '')))})" +
                         (f": {p['email']}" if p.get("email") else "") for p in partners])
    reasons = said_reasons(_, e.payload.get("reasons") or [], e.name, [str(p.get("name", "")) for p in partners])
    if reasons:
        e.blocks.append(_("Why you two:") if len(partners) == 1 else _("Why this group:"))
        e.blocks.append(reasons)
    prompts = [_(str(p)) for p in e.payload.get("prompts") or []]
    if prompts:
        e.blocks.append(_("Questions to start with:"))
        e.blocks.append(prompts)
    _meeting(e, names)
    _match_card_link(e)
    return _("{program}: meet {partners}").format(program=e.program, partners=names)


def _meeting_update(e: _Email) -> str:
    _ = e._
    _meeting(e, e.names(e.partners()))
    _match_card_link(e)
    meeting = e.payload.get("meeting") or {}
    if meeting.get("booked"):
        return _("Your coaching meeting in {program}").format(program=e.program)
    return _("A proposed time for your coaching meeting in {program}").format(program=e.program)


def _check_in(e: _Email) -> str:
    _ = e._
    if e.payload.get("kind") == NotificationKind.CHECKIN_REMINDER.value:
        e.blocks.append(_("A friendly reminder:"))
    e.blocks.append(_("Please tell us how your session with {names} went: did you meet, how useful was it (1-5), "
                      "what did you learn, what is your next step?").format(names=e.names(e.partners())))
    e.twin(TwinCard.CHECK_IN, str(e.payload.get("match_id") or ""), _("Tell us how it went"),
           _("The check-in is a short form: open peer coaching in Teams to fill it in, or reply with 'my matches' "
             "to see your matches."))
    return _("How did your coaching session go?")


def _unmatched(e: _Email) -> str:
    _ = e._
    e.blocks.append(_("We could not find a good match for you this round ({reason}). You get priority in the next "
                      "round. Thank you for your patience!").format(reason=e.payload.get("reason", "")))
    return _("No match for you this round in {program}").format(program=e.program)


def _partner_change(e: _Email) -> str:
    _ = e._
    name = str(e.payload.get("name") or "")
    if e.payload.get("kind") == NotificationKind.PARTNER_RESCHEDULE.value:
        e.blocks.append(_("{name} asked to find a new time for your {program} session. Please agree a new time "
                          "together.").format(name=name, program=e.program))
        _match_card_link(e)
        return _("{name} would like to reschedule").format(name=name)
    e.blocks.append(_("{name} can't make your {program} session this time. You will be matched again next "
                      "round.").format(name=name, program=e.program))
    return _("{name} can't make it this time").format(name=name)


def _card_lines(card: Mapping[str, Any]) -> list[str]:
    """The text a card shows (its TextBlocks, FactSets and columns), in order; inputs and buttons left out."""
    lines: list[str] = []

    def walk(elements: Any) -> None:
        for element in elements or []:
            if not isinstance(element, Mapping):
                continue
            kind = element.get("type")
            if element.get("id") == "due":  # the email says the deadline in a sentence of its own
                continue
            if kind == "TextBlock" and str(element.get("text") or "").strip():
                text = str(element["text"]).strip()
                bold = element.get("weight") == "Bolder" and "**" not in text and bool(lines)  # the title: the subject
                lines.append(f"**{text}**" if bold else text)
            elif kind == "FactSet":
                lines.extend(f"{f.get('title', '')}: {f.get('value', '')}" for f in element.get("facts") or [])
            elif kind == "ColumnSet":
                cells = [" ".join(_card_lines({"body": c.get("items")})) for c in element.get("columns") or []]
                if any(cells):
                    lines.append(" · ".join(c for c in cells if c))
            elif kind == "Container":
                walk(element.get("items"))

    walk(card.get("body"))
    return lines


def _review(e: _Email) -> str:
    """A review to write: who and with which rubric (the ``review`` facts added when it is sent), what the card
    asks, the deadline in the reader's zone, and the link to the review card's web twin."""
    _ = e._
    card = e.payload.get("card") if isinstance(e.payload.get("card"), Mapping) else {}
    facts = e.payload.get("review") if isinstance(e.payload.get("review"), Mapping) else {}
    lines = _card_lines(card or {})
    reminder = e.payload.get("kind") == NotificationKind.REVIEW_REMINDER.value
    deadline = e.payload.get("deadline")
    when = e.when(deadline) if deadline else ""
    name, rubric = str((facts or {}).get("reviewee") or ""), str((facts or {}).get("rubric") or "")
    self_review = bool((facts or {}).get("self_assessment") or e.payload.get("self_assessment"))
    if facts and self_review:
        subject = (_("Reminder: your self-assessment is due {deadline}") if reminder and when
                   else _("Your self-assessment: {rubric}")).format(deadline=when, rubric=rubric)
        e.blocks.append(_("Please assess yourself in {program}, with the rubric \"{rubric}\".").format(
            program=facts.get("program") or e.program, rubric=rubric))
    elif facts:
        subject = (_("Reminder: your review of {name} is due {deadline}") if reminder and when
                   else _("Please review {name}: {rubric}")).format(name=name, deadline=when, rubric=rubric)
        e.blocks.append(_("Please review how {name} did in {program}, with the rubric \"{rubric}\".").format(
            name=name, program=facts.get("program") or e.program, rubric=rubric))
    else:  # queued before the facts were added: the card's title says what it is
        title = lines[0] if lines else _("A peer review for you to write")
        subject = _("Reminder: {title}").format(title=title) if reminder else title
        if reminder:
            e.blocks.append(_("A friendly reminder:"))
    e.blocks += _blocks(lines[1:])
    if when:
        e.blocks.append(_("Please write it by {when}. You can change your answers until then.").format(when=when))
    e.twin(TwinCard.REVIEW, str(e.payload.get("review_id") or ""), _("Open the review"),
           _("Answer on the review card in your chat with me in Teams. Reply with 'my reviews' to see the "
             "reviews you still have to write."))
    return subject


def _feedback(e: _Email) -> str:
    _ = e._
    own = e.payload.get("email") if isinstance(e.payload.get("email"), Mapping) else {}
    card = e.payload.get("card") if isinstance(e.payload.get("card"), Mapping) else {}
    subject, lines = _own_words(own or {}, card or {})
    e.blocks += _blocks(lines)
    e.twin(TwinCard.FEEDBACK, str(e.payload.get("assessment_id") or ""), _("Open your feedback"),
           _("Reply with 'my feedback' to get your feedback again."))
    return subject or _("Your peer feedback")


def _own_words(own: Mapping[str, Any], card: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The payload's own email words (subject, text lines), else the card's text (title, the rest)."""
    text = str(own.get("text") or "")
    if own.get("subject") and text.strip():
        return str(own["subject"]), text.splitlines()
    lines = _card_lines(card)
    if own.get("subject"):
        return str(own["subject"]), lines
    return (lines[0], lines[1:]) if lines else ("", [])


def _blocks(lines: list[str]) -> list[Block]:
    """Text lines as blocks: runs of '- item' lines become one list."""
    out: list[Block] = []
    for line in lines:
        if line.startswith("- "):
            if out and isinstance(out[-1], list):
                out[-1].append(line[2:])
            else:
                out.append([line[2:]])
        elif line.strip():
            out.append(line)
    return out


def _channel_post(e: _Email) -> str:
    """Announcements and circle threads go to team channels; rendered for completeness (never to a person)."""
    _ = e._
    if e.payload.get("kind") == NotificationKind.CIRCLE_THREAD.value:
        e.blocks.append(_("A new learning circle in {program}: {members}. This thread is yours: introduce "
                          "yourselves and agree on a first meeting.").format(
            program=e.program, members=", ".join(str(m) for m in e.payload.get("members") or [])))
        return _("Learning circle in {program}").format(program=e.program)
    count = int(e.payload.get("matches", 0) or 0)
    e.blocks.append(_.ngettext(
        "Round {number} of {program} has started with {matches} match: check your chat with me for your match. "
        "Not taking part yet? Mention me with 'join'.",
        "Round {number} of {program} has started with {matches} matches: check your chat with me for your match. "
        "Not taking part yet? Mention me with 'join'.", count).format(
        number=e.payload.get("round", ""), program=e.program, matches=count))
    return _("A new round of {program} has started").format(program=e.program)


def _message(e: _Email) -> str:
    """Thanks and free messages: their own email words, else their card's text, else subject and text."""
    _ = e._
    own = e.payload.get("email") if isinstance(e.payload.get("email"), Mapping) else {}
    card = e.payload.get("card") if isinstance(e.payload.get("card"), Mapping) else {}
    subject, lines = _own_words(own or {}, card or {})
    if not subject and not lines:
        subject, lines = str(e.payload.get("subject") or ""), str(e.payload.get("text") or "").splitlines()
    e.blocks += _blocks(lines)
    return subject or str(e.payload.get("subject") or "") or _("A message from peer coaching")


_BUILDERS: dict[str, Callable[[_Email], str]] = {
    NotificationKind.INTRO.value: _intro,
    NotificationKind.MEETING_UPDATE.value: _meeting_update,
    NotificationKind.CHECKIN.value: _check_in,
    NotificationKind.CHECKIN_REMINDER.value: _check_in,
    NotificationKind.UNMATCHED.value: _unmatched,
    NotificationKind.ANNOUNCEMENT.value: _channel_post,
    NotificationKind.CIRCLE_THREAD.value: _channel_post,
    NotificationKind.PARTNER_RESCHEDULE.value: _partner_change,
    NotificationKind.PARTNER_CANCEL.value: _partner_change,
    NotificationKind.REVIEW_REQUESTED.value: _review,
    NotificationKind.REVIEW_REMINDER.value: _review,
    NotificationKind.FEEDBACK.value: _feedback,
    NotificationKind.FEEDBACK_WITHHELD.value: _feedback,
    NotificationKind.THANKS.value: _message,
    NotificationKind.MESSAGE.value: _message,
}


def program_email_renderer(*, bot_app_id: str = "", teams_app_id: str = "",
                           links: CardLinks | None = None) -> EmailRenderer:
    """The renderer the sender uses: ``render(kind, payload, locale) -> (subject, html, text)``."""
    bot_link = teams_chat_link(bot_app_id) if bot_app_id else teams_app_link(teams_app_id) if teams_app_id else ""

    def render(kind: str, payload: Mapping[str, Any], locale: str) -> tuple[str, str, str]:
        build = _BUILDERS.get(str(kind), _message)
        data = {**payload, "kind": str(kind)}
        email = _Email(data, locale, links, bot_link)
        return email.finish(build(email))

    return render
