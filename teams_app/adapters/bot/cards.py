"""Adaptive Card JSON builders and card-input parsers (pure: no botbuilder, no I/O).

Cards are Adaptive Cards 1.5 with Universal Actions (``Action.Execute``). Every submission comes back as an
``adaptiveCard/action`` invoke and is answered with a replacement card: either the same card with the
problems named next to the fields, or a read-only card without actions, so it cannot be submitted twice.
Every user-facing string goes through the ``Translate`` function of the person's locale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.matching.population import OFFERS, SENIOR
from teams_app.domain.model import MAX_TEXT, Profile
from teams_app.domain.notifications import CardState, NotificationKind
from teams_app.domain.reasons import ParamValue, Reason
from teams_app.i18n import N_, Translate, format_when

logger = logging.getLogger(__name__)

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Verbs of Action.Execute; the bot dispatches on them.
VERB_CONSENT = "consent.accept"
VERB_PROFILE = "profile.submit"
VERB_CHECKIN = "checkin.submit"
VERB_MET = "match.met"
VERB_RESCHEDULE = "match.reschedule"
VERB_CANCEL = "match.cancel"
VERB_LEAVE_KEEP = "leave.keep"
VERB_LEAVE_ERASE = "leave.erase"
VERBS = (VERB_CONSENT, VERB_PROFILE, VERB_CHECKIN, VERB_MET, VERB_RESCHEDULE, VERB_CANCEL, VERB_LEAVE_KEEP,
         VERB_LEAVE_ERASE)

PROFILE_FIELDS = ("program_id", "department", "time_zone", "working_hours", "languages", "skills_offered",
                  "skills_wanted", "goals")
CHECKIN_FIELDS = ("met", "usefulness", "learned", "next_step")


Card = dict[str, Any]


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> Card:
    out: Card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                 "version": CARD_VERSION, "body": body}
    if actions:
        out["actions"] = actions
    return out


def verbs_of(content: Card) -> list[str]:
    """The verbs of a card's buttons ([] for a read-only card)."""
    return [str(a.get("verb", "")) for a in content.get("actions", [])]


def attachment(content: Card) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": content}


def _title(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "wrap": True}


def _text(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _error(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, "color": "Attention", "size": "Small"}


def _execute(title: str, verb: str, data: Mapping[str, Any] | None = None, style: str = "") -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": dict(data or {})}
    if style:
        action["style"] = style
    return action


def _input_text(input_id: str, label: str, value: str, *, placeholder: str = "", multiline: bool = False,
                required: bool = False, max_length: int = 200, error: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "Input.Text", "id": input_id, "label": label, "value": value,
                               "isMultiline": multiline, "maxLength": max_length, "isRequired": required}
    if placeholder:
        element["placeholder"] = placeholder
    if required or error:  # the client names the problem beside the field before anything is sent
        element["errorMessage"] = error
    return element


# The zones offered in the profile's searchable list (the person's own zone is always added): one per
# large region and UTC offset, so the card stays well under Teams' message size.
COMMON_ZONES = (
    "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Berlin", "Europe/Paris", "Europe/Madrid",
    "Europe/Rome", "Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich", "Europe/Vienna", "Europe/Stockholm",
    "Europe/Oslo", "Europe/Copenhagen", "Europe/Warsaw", "Europe/Prague", "Europe/Budapest", "Europe/Athens",
    "Europe/Helsinki", "Europe/Bucharest", "Europe/Kyiv", "Europe/Istanbul", "Europe/Moscow", "Africa/Lagos",
    "Africa/Cairo", "Africa/Johannesburg", "Africa/Nairobi", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata",
    "Asia/Dhaka", "Asia/Bangkok", "Asia/Jakarta", "Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong",
    "Asia/Taipei", "Asia/Manila", "Asia/Seoul", "Asia/Tokyo", "Australia/Perth", "Australia/Adelaide",
    "Australia/Brisbane", "Australia/Sydney", "Australia/Melbourne", "Pacific/Auckland", "Pacific/Honolulu",
    "America/Anchorage", "America/Los_Angeles", "America/Vancouver", "America/Denver", "America/Phoenix",
    "America/Chicago", "America/Mexico_City", "America/New_York", "America/Toronto", "America/Bogota",
    "America/Lima", "America/Caracas", "America/Santiago", "America/Sao_Paulo", "America/Argentina/Buenos_Aires",
    "America/Halifax", "America/St_Johns", "Atlantic/Reykjavik",
)


def zone_choices(current: str = "") -> list[dict[str, str]]:
    """Choices for the time zone list: 'Berlin (Europe)' shown, the zone's name sent."""
    zones = list(COMMON_ZONES)
    if current and current not in zones:
        zones.insert(0, current)

    def title(name: str) -> str:
        if "/" not in name:
            return name
        region, _sep, city = name.partition("/")
        return f"{city.split('/')[-1].replace('_', ' ')} ({region})"

    return sorted(({"title": title(z), "value": z} for z in zones), key=lambda c: c["title"])


def _with_error(elements: list[dict[str, Any]], errors: Mapping[str, str], field: str) -> list[dict[str, Any]]:
    if field in errors:
        elements.append(_error(errors[field]))
    return elements


# Program kinds and cadences in words (the stored values are identifiers, not for people).
KIND_WORDS = {"peer_pairs": N_("peer coaching in pairs"), "mentoring": N_("mentoring"), "buddy": N_("buddy pairs"),
              "circle": N_("learning circles"), "action_learning": N_("action learning sets")}
CADENCE_WORDS = {"weekly": N_("every week"), "fortnightly": N_("every two weeks"), "monthly": N_("every month")}


def program_words(_: Translate, kind: str, cadence: str) -> str:
    """'peer coaching in pairs, every two weeks' for ('peer_pairs', 'fortnightly')."""
    return f"{_(KIND_WORDS.get(kind, kind))}, {_(CADENCE_WORDS.get(cadence, cadence))}"


# -- welcome, consent and help ---------------------------------------------------------------------
def welcome_card(_: Translate, programs: Sequence[tuple[str, str]]) -> Card:
    """Shown on install and on 'join' before consent. ``programs``: (name, description)."""
    body = [
        _title(_("Welcome to peer coaching")),
        _text(_("I match you with colleagues for short, regular coaching conversations: you help each other "
                "with real work questions, then tell me briefly how it went.")),
        _text(_("What I store: your profile (department, time zone, working hours, languages, skills, goals), "
                "your matches and your check-ins. You can pause, or leave and have your data erased, at any "
                "time.")),
    ]
    for name, description in programs:
        body.append(_text(f"**{name}**" + (f": {description}" if description else "")))
    if not programs:
        body.append(_text(_("No program is open yet; an administrator will announce one.")))
    actions = [_execute(_("Yes, I want to take part"), VERB_CONSENT, {"consent": True}, "positive")] if programs \
        else []
    return card(body, actions)


def help_text(_: Translate, admin: bool) -> str:
    lines = [
        _("Here is what I understand:"),
        _("- **join**: take part in a program (I ask for your consent and your profile)"),
        _("- **profile**: change your profile"),
        _("- **pause** [until YYYY-MM-DD]: no matches for a while"),
        _("- **resume**: matches again"),
        _("- **leave**: stop taking part (you choose whether I keep or erase your data)"),
        _("- **my matches**: your current and past matches"),
        _("- **progress**: how many sessions you had and how useful they were"),
        _("- **help**: this list"),
    ]
    if admin:
        lines += [
            _("Admin commands:"),
            _("- **program list** / **program create NAME KIND CADENCE**"),
            _("- **round run PROGRAM**: match the next round now"),
            _("- **status PROGRAM**: enrolled, active, paused, matched, met, checked in"),
        ]
    return "\n\n".join(lines)


# -- profile ---------------------------------------------------------------------------------------
def profile_values(profile: Profile | None) -> dict[str, str]:
    if profile is None:
        return {}
    return {
        "department": profile.department, "time_zone": profile.time_zone,
        "working_hours": str(profile.working_hours), "languages": ", ".join(profile.languages),
        "skills_offered": ", ".join(profile.skills_offered), "skills_wanted": ", ".join(profile.skills_wanted),
        "goals": "; ".join(profile.goals),
    }


def profile_card(_: Translate, values: Mapping[str, str], *, programs: Sequence[tuple[str, str]] = (),
                 errors: Mapping[str, str] | None = None, enrolling: bool = True, local_time_zone: str = "") -> Card:
    """The profile form. ``programs`` (id, name) offers a choice when more than one program is open.

    ``local_time_zone`` is the Teams client's own zone (the activity's ``localTimezone``): the time zone
    list starts there when the profile has none yet.
    """
    errors = errors or {}
    zone_now = values.get("time_zone", "") or local_time_zone
    body: list[dict[str, Any]] = [_title(_("Your coaching profile") if not enrolling else _("Join: your profile"))]
    if errors:
        body.append(_error(_("Please fix the fields marked below.")))
    if len(programs) > 1:
        body += _with_error([{
            "type": "Input.ChoiceSet", "id": "program_id", "label": _("Program"), "isRequired": True,
            "errorMessage": _("Choose a program."),
            "value": values.get("program_id", ""), "style": "expanded",
            "choices": [{"title": name, "value": pid} for pid, name in programs],
        }], errors, "program_id")
    body += _with_error([_input_text("department", _("Department"), values.get("department", ""))], errors,
                        "department")
    body += _with_error([{
        "type": "Input.ChoiceSet", "id": "time_zone", "label": _("Your time zone"), "style": "filtered",
        "isRequired": True, "value": zone_now, "placeholder": _("Type a city, e.g. Berlin"),
        "errorMessage": _("Choose your time zone."), "choices": zone_choices(zone_now),
    }], errors, "time_zone")
    body += _with_error([_input_text("working_hours", _("Working hours"), values.get("working_hours", "09:00-17:00"),
                                     required=True, placeholder="09:00-17:00",
                                     error=_("Write your working hours like 09:00-17:00."))],
                        errors, "working_hours")
    body += _with_error([_input_text("languages", _("Languages you can coach in"), values.get("languages", "en"),
                                     required=True, placeholder="en, de",
                                     error=_("Name at least one language, e.g. en."))], errors, "languages")
    body += _with_error([_input_text("skills_offered", _("Skills you can offer"), values.get("skills_offered", ""),
                                     placeholder=_("e.g. public speaking, SQL"), max_length=MAX_TEXT)],
                        errors, "skills_offered")
    body += _with_error([_input_text("skills_wanted", _("Skills you want to grow"), values.get("skills_wanted", ""),
                                     max_length=MAX_TEXT)], errors, "skills_wanted")
    body += _with_error([_input_text("goals", _("Your goals"), values.get("goals", ""), multiline=True,
                                     max_length=MAX_TEXT)], errors, "goals")
    data: dict[str, Any] = {"enrolling": enrolling}
    if len(programs) == 1:
        data["program_id"] = programs[0][0]
    return card(body, [_execute(_("Save") if not enrolling else _("Join"), VERB_PROFILE, data, "positive")])


@dataclass(frozen=True)
class ProfileSubmission:
    program_id: str
    profile: Profile
    values: dict[str, str]


class CardErrors(Exception):
    """Card input problems by field, in the person's language, plus the values to show again."""

    def __init__(self, errors: dict[str, str], values: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.values = values


def _str_values(data: Mapping[str, Any], fields: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in fields:
        value = data.get(name)
        out[name] = "" if value is None else str(value)
    return out


def _oversized(_: Translate, values: Mapping[str, str], errors: dict[str, str]) -> None:
    for name, value in values.items():
        if len(value) > MAX_TEXT:
            errors[name] = _("At most {limit} characters (you wrote {count}).").format(limit=MAX_TEXT,
                                                                                      count=len(value))


def domain_errors(_: Translate, error: Exception) -> dict[str, str]:
    """Field -> message from the domain's InvalidInput(s); the message is the domain's own explanation."""
    problems = error.problems if isinstance(error, InvalidInputs) else [error] if isinstance(
        error, InvalidInput) else []
    return {p.field: _(p.problem[:1].upper() + p.problem[1:]) for p in problems}


def parse_profile(_: Translate, data: Mapping[str, Any], program_ids: Sequence[str]) -> ProfileSubmission:
    """Validate a profile card submission; raises :class:`CardErrors` naming every problem."""
    values = _str_values(data, PROFILE_FIELDS)
    errors: dict[str, str] = {}
    _oversized(_, values, errors)
    program_id = values["program_id"].strip()
    if not program_id and len(program_ids) == 1:
        program_id = program_ids[0]
        values["program_id"] = program_id
    if program_ids and program_id not in program_ids:
        errors["program_id"] = _("Choose a program.")
    for required in ("time_zone", "working_hours", "languages"):
        if not values[required].strip() and required not in errors:
            errors[required] = _("This field is required.")
    profile: Profile | None = None
    try:  # also when other fields are wrong, so every problem is named at once
        profile = Profile.build(
            department=values["department"], time_zone=values["time_zone"],
            working_hours=values["working_hours"], languages=values["languages"],
            skills_offered=values["skills_offered"], skills_wanted=values["skills_wanted"],
            goals=values["goals"].replace("\n", ";"),
        )
    except (InvalidInput, InvalidInputs) as exc:
        for name, message in domain_errors(_, exc).items():
            errors.setdefault(name, _("\"{value}\" is not a time zone I know: choose yours from the list.").format(
                value=values["time_zone"][:60]) if name == "time_zone" else message)
    if errors or profile is None:
        raise CardErrors(errors, values)
    return ProfileSubmission(program_id, profile, values)


# -- intro, check-in, status cards -----------------------------------------------------------------
def when(value: str | None, payload: Mapping[str, Any]) -> str:
    """A stored ISO moment as the reader reads it: their zone (by name) and their locale's format."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    reader = payload.get("reader") or {}
    if moment.tzinfo is None:
        return value
    return format_when(moment, str(reader.get("time_zone") or "UTC"), str(reader.get("locale") or "en"))


def meeting_line(_: Translate, payload: Mapping[str, Any]) -> str:
    """The meeting as it really is: booked (a calendar event with invitations), proposed, or not yet set."""
    meeting = payload.get("meeting") or {}
    if not meeting.get("start"):
        return _("No meeting is booked yet: please find a time together.")
    start = when(str(meeting.get("start")), payload)
    if meeting.get("booked"):
        return _("Meeting booked: {start}. The invitation is in your calendar.").format(start=start)
    return _("Proposed time: {start}. Nothing is booked: add the invitation from your email to your calendar, "
             "or agree another time together.").format(start=start)


def circle_lines(_: Translate, payload: Mapping[str, Any]) -> list[str]:
    """A circle's session in its term, who facilitates, what that means and who is next (empty for pairs)."""
    facilitator = payload.get("facilitator")
    if not isinstance(facilitator, Mapping):
        return []
    lines: list[str] = []
    session, total = payload.get("session"), payload.get("sessions_in_term")
    if isinstance(session, int) and isinstance(total, int) and session >= 1:
        lines.append(_("Session {session} of {total}: your circle stays together for {total} sessions.").format(
            session=session, total=total))
    if payload.get("role") == "facilitator":
        lines.append(_("You facilitate this session."))
    else:
        lines.append(_("Facilitator this session: {name}").format(name=facilitator.get("name", "")))
    role = _("The facilitator keeps time, opens with the check-in question and makes sure everyone speaks.")
    following = payload.get("next_facilitator")
    if isinstance(following, Mapping):
        name = _("you") if following.get("you") else str(following.get("name", ""))
        lines.append(role + " " + _("The role rotates each session: next time {name}.").format(name=name))
    elif isinstance(session, int) and isinstance(total, int) and session >= total:
        lines.append(role + " " + _("The role rotates each session. This is the last session of the term: new "
                                    "circles form next time."))
    else:
        lines.append(role + " " + _("The role rotates each session."))
    return lines

def say_reason(_: Translate, reason: object, reader_name: str = "", partner_names: Sequence[str] = ()) -> str:
    """A match reason in the reader's language and said to them: "You offer SQL, which Bo wants.", never
    "Ana offers ..." to Ana. The one place reasons become text for people (intro card, its fallback text,
    the email and the web twin).

    ``reason`` is a :class:`Reason`, its stored JSON form, or a plain English string from a match stored
    before reasons were values (shown as it was). The reader is ``reader_name``, or else the one named who is
    not among ``partner_names`` (a card's payload lists the others only). "" for a stored reason that lacks one
    of its values (callers leave it out).
    """
    value = reason if isinstance(reason, Reason) else Reason.from_json(reason)
    if isinstance(value, str):
        return value[:1].upper() + value[1:]
    others = set(partner_names)

    def is_reader(name: ParamValue | None) -> bool:
        if not isinstance(name, str) or not name:
            return False
        return name == reader_name if reader_name else bool(others) and name not in others

    def join(items: Sequence[str]) -> str:
        if len(items) <= 1:
            return "".join(items)
        return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])

    values = value.values
    count = values.get("count")
    n = count if isinstance(count, int) else 0
    extra: dict[str, ParamValue] = {}
    if value.template == OFFERS and is_reader(values.get("giver")):
        template, extra["name"] = _("You offer {skills}, which {name} wants."), values.get("taker", "")
    elif value.template == OFFERS and is_reader(values.get("taker")):
        template, extra["name"] = _("{name} offers {skills}, which you want."), values.get("giver", "")
    elif value.template == SENIOR[0] and is_reader(values.get("mentor")):
        template = _.ngettext("You are one level more senior than {mentee}.",
                              "You are {count} levels more senior than {mentee}.", n)
    elif value.template == SENIOR[0] and is_reader(values.get("mentee")):
        template = _.ngettext("{mentor} is one level more senior than you.",
                              "{mentor} is {count} levels more senior than you.", n)
    elif value.plural:
        template = _.ngettext(value.template, value.plural, n)
    else:
        template = _(value.template)
    try:
        return value.text(template, join, extra)
    except (KeyError, IndexError, ValueError) as exc:  # a translation that does not fit: English then
        logger.warning("match reason %r does not fit its translation (%s); said in English", value.template, exc)
    try:
        return str(value)
    except (KeyError, IndexError, ValueError) as exc:  # a stored reason without its values: left out
        logger.warning("match reason %r lacks a value (%s); left out", value.template, exc)
        return ""


def said_reasons(_: Translate, reasons: Sequence[object], reader_name: str = "",
                 partner_names: Sequence[str] = ()) -> list[str]:
    """Each reason of a match as :func:`say_reason` says it, without the ones it leaves out."""
    return [line for line in (say_reason(_, r, reader_name, partner_names) for r in reasons) if line]


def intro_card(_: Translate, payload: Mapping[str, Any], *, with_actions: bool = True) -> Card:
    """The match introduction: who, why, roles, coaching prompts, meeting, actions (a circle: its session, the
    facilitator and what the role asks)."""
    partners = payload.get("partners", [])
    circle = circle_lines(_, payload)
    if circle:
        title = _("{program}: your circle").format(program=payload.get("program", ""))
    elif payload.get("round"):
        title = _("Round {number} of {program}: meet your match").format(
            number=payload.get("round", ""), program=payload.get("program", ""))
    else:
        title = _("{program}: meet your match").format(program=payload.get("program", ""))
    # A circle's own lines say the reader's role this session (facilitating or who does), so no "role this round".
    role_line = [] if circle else [
        _text(_("Your role this round: **{role}**").format(role=_(str(payload.get("role", "")))))]
    body: list[dict[str, Any]] = [
        _title(title),
        *role_line,
        *(_text(line) for line in circle),
        {"type": "FactSet", "facts": [
            {"title": str(p.get("name", "")), "value": f"{_(str(p.get('role', '')))} · {p.get('email', '')}"}
            for p in partners]},
    ]
    reasons = said_reasons(_, payload.get("reasons") or [], partner_names=[str(p.get("name", "")) for p in partners])
    if reasons:
        body.append(_text(_("Why you two:") if len(partners) == 1 else _("Why this group:"), weight="Bolder"))
        body += [_text(f"- {line}") for line in reasons]
    prompts = payload.get("prompts") or []
    if prompts:
        body.append(_text(_("Questions to start with:"), weight="Bolder"))
        body += [_text(f"- {_(prompt)}") for prompt in prompts]
    meeting = payload.get("meeting") or {}
    line = meeting_line(_, payload)
    if meeting.get("start") and meeting.get("join_url"):
        line += f" · [{_('Join')}]({meeting['join_url']})"
    body.append(_text(line, weight="Bolder" if meeting.get("start") else "Default"))
    status = payload.get("status")
    if status:
        body.append(_text(str(status), color="Good"))
    actions = None
    if with_actions:
        data = {"match_id": payload.get("match_id", "")}
        actions = [_execute(_("We met"), VERB_MET, data, "positive"),
                   _execute(_("Reschedule"), VERB_RESCHEDULE, data),
                   _execute(_("Can't make it"), VERB_CANCEL, data, "destructive")]
    return card(body, actions)


def checkin_context(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a check-in card says about its match, from a match payload: the others' names, a circle's session."""
    session, total = payload.get("session"), payload.get("sessions_in_term")
    circle = (str(payload.get("program", "")), session, total) \
        if isinstance(session, int) and isinstance(total, int) and session >= 1 else None
    return {"partner_names": ", ".join(str(p.get("name", "")) for p in payload.get("partners", [])),
            "circle_session": circle}


def checkin_card(_: Translate, match_id: str, *, partner_names: str = "", values: Mapping[str, str] | None = None,
                 errors: Mapping[str, str] | None = None,
                 circle_session: tuple[str, int, int] | None = None) -> Card:
    """The check-in form; ``circle_session`` (program, session, sessions in the term) says which session of a
    circle it is about, since a circle's members may have several sessions' cards in the chat."""
    values = values or {}
    errors = errors or {}
    body: list[dict[str, Any]] = [_title(_("How did it go?"))]
    if circle_session is not None:
        program, session, total = circle_session
        body.append(_text(_("{program}: session {session} of {total}").format(
            program=program, session=session, total=total), weight="Bolder"))
    if partner_names:
        body.append(_text(_("Your session with {names}").format(names=partner_names)))
    if errors:
        body.append(_error(_("Please fix the fields marked below.")))
    body += _with_error([{
        "type": "Input.ChoiceSet", "id": "met", "label": _("Did you meet?"), "isRequired": True, "style": "expanded",
        "errorMessage": _("Tell us whether you met."),
        "value": values.get("met", ""),
        "choices": [{"title": _("Yes"), "value": "yes"}, {"title": _("No"), "value": "no"}],
    }], errors, "met")
    body += _with_error([{
        "type": "Input.ChoiceSet", "id": "usefulness", "label": _("How useful was it?"), "style": "compact",
        "value": values.get("usefulness", ""), "placeholder": _("Choose from 1 to 5"),
        "errorMessage": _("Tell us how useful it was, from 1 to 5."),
        "choices": [{"title": title, "value": str(n)} for n, title in enumerate(
            (_("1 - not useful"), _("2 - a little useful"), _("3 - useful"), _("4 - very useful"),
             _("5 - extremely useful")), start=1)],
    }], errors, "usefulness")
    body += _with_error([_input_text("learned", _("What did you learn?"), values.get("learned", ""), multiline=True,
                                     max_length=MAX_TEXT)], errors, "learned")
    body += _with_error([_input_text("next_step", _("Your next step"), values.get("next_step", ""), multiline=True,
                                     max_length=MAX_TEXT)], errors, "next_step")
    return card(body, [_execute(_("Send"), VERB_CHECKIN, {"match_id": match_id}, "positive")])


@dataclass(frozen=True)
class CheckInSubmission:
    match_id: str
    met: bool
    usefulness: int | None
    learned: str
    next_step: str


def parse_checkin(_: Translate, data: Mapping[str, Any]) -> CheckInSubmission:
    values = _str_values(data, CHECKIN_FIELDS)
    errors: dict[str, str] = {}
    _oversized(_, values, errors)
    match_id = str(data.get("match_id") or "")
    met_raw = values["met"].strip().lower()
    if met_raw not in ("yes", "no", "true", "false"):
        errors["met"] = _("Tell us whether you met.")
    met = met_raw in ("yes", "true")
    usefulness: int | None = None
    raw = values["usefulness"].strip()
    if raw:
        try:
            number = float(raw)
            if not number.is_integer() or not 1 <= number <= 5:
                raise ValueError
            usefulness = int(number)
        except ValueError:
            errors["usefulness"] = _("Choose a whole number from 1 to 5.")
    elif met:
        errors["usefulness"] = _("Tell us how useful it was, from 1 to 5.")
    if not match_id:
        errors["met"] = _("This card is no longer valid; say 'my matches' for a new one.")
    if errors:
        raise CardErrors(errors, values)
    return CheckInSubmission(match_id, met, usefulness if met else None, values["learned"].strip(),
                             values["next_step"].strip())


def leave_card(_: Translate, program_id: str, program_name: str) -> Card:
    return card([
        _title(_("Leave {program}?").format(program=program_name)),
        _text(_("Should I keep your profile and history (so you can come back later), or erase your personal "
                "data?")),
    ], [_execute(_("Leave and keep my data"), VERB_LEAVE_KEEP, {"program_id": program_id}),
        _execute(_("Leave and erase my data"), VERB_LEAVE_ERASE, {"program_id": program_id}, "destructive")])


def done_card(title: str, text: str) -> Card:
    """A read-only card that replaces a submitted one (no actions: it cannot be submitted again)."""
    return card([_title(title), _text(text)])


def state_card(_: Translate, state: CardState, payload: Mapping[str, Any], *, partner_told: bool = False) -> Card:
    """What a person's match card shows in ``state`` (the one function the bot and the sender both use)."""
    told = _("Your partner has been told. ") if partner_told else ""
    if state is CardState.INTRO:
        return intro_card(_, payload)
    if state is CardState.CHECKIN_OPEN:
        return checkin_card(_, str(payload.get("match_id", "")), values={"met": "yes"}, **checkin_context(payload))
    if state is CardState.CHECKED_IN:
        return done_card(_("Thank you!"), _("Your check-in is saved. See you next round."))
    if state is CardState.RESCHEDULING:
        return done_card(_("Reschedule"), told + _(
            "Please agree a new time together; the check-in card comes after your meeting."))
    return done_card(_("Noted"), told + _(
        "You can't make it this time; say 'pause' if you need a break from matching."))


def message_card(_: Translate, kind: str, payload: Mapping[str, Any]) -> Card | None:
    """The card for an outbox notification, or None when the notification is plain text."""
    if isinstance(payload.get("card"), dict):  # a card built elsewhere (e.g. assessment cards)
        return dict(payload["card"])
    if kind in (NotificationKind.INTRO, NotificationKind.MEETING_UPDATE):
        return intro_card(_, payload)
    if kind in (NotificationKind.CHECKIN, NotificationKind.CHECKIN_REMINDER):
        return checkin_card(_, str(payload.get("match_id", "")), **checkin_context(payload))
    return None


def notification_text(_: Translate, kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, plain text) of a notification: the Teams fallback text and the email body."""
    program = str(payload.get("program", ""))
    names = ", ".join(str(p.get("name", "")) for p in payload.get("partners", []))
    if kind == NotificationKind.INTRO:
        subject = _("Your peer coaching match in {program}").format(program=program)
        lines = [_("Round {number}: you are matched with {names}.").format(number=payload.get("round", ""),
                                                                        names=names),
                 _("Your role: {role}").format(role=_(str(payload.get("role", ""))))]
        lines += circle_lines(_, payload)
        others = [str(p.get("name", "")) for p in payload.get("partners", [])]
        lines += [f"- {line}" for line in said_reasons(_, payload.get("reasons") or [], partner_names=others)]
        lines += [_("Questions to start with:")] + [f"- {_(p)}" for p in payload.get("prompts", [])]
    elif kind == NotificationKind.MEETING_UPDATE:
        meeting = payload.get("meeting") or {}
        if meeting.get("booked"):
            subject = _("Your coaching meeting in {program}").format(program=program)
            lines = [_("Your meeting with {names} is booked for {start}.").format(
                names=names, start=when(meeting.get("start"), payload))]
        else:
            subject = _("A proposed time for your coaching meeting in {program}").format(program=program)
            lines = [_("Proposed time for your meeting with {names}: {start}. Nothing is booked yet: add the "
                       "invitation to your calendar, or agree another time together.").format(
                names=names, start=when(meeting.get("start"), payload))]
        if meeting.get("join_url"):
            lines.append(str(meeting["join_url"]))
    elif kind in (NotificationKind.CHECKIN, NotificationKind.CHECKIN_REMINDER):
        subject = _("How did your coaching session go?")
        lines = [_("Please tell us how your session with {names} went: did you meet, how useful was it (1-5), "
                   "what did you learn, what is your next step?").format(names=names)]
        if kind == NotificationKind.CHECKIN_REMINDER:
            lines.insert(0, _("A friendly reminder:"))
    elif kind == NotificationKind.UNMATCHED:
        subject = _("No match for you this round in {program}").format(program=program)
        lines = [_("We could not find a good match for you this round ({reason}). You get priority in the next "
                   "round. Thank you for your patience!").format(reason=payload.get("reason", ""))]
    elif kind == NotificationKind.ANNOUNCEMENT:
        subject = _("A new round of {program} has started").format(program=program)
        count = int(payload.get("matches", 0) or 0)
        lines = [_.ngettext("Round {number} of {program} has started with {matches} match: check your chat with "
                            "me for your match. Not taking part yet? Mention me with 'join'.",
                            "Round {number} of {program} has started with {matches} matches: check your chat "
                            "with me for your match. Not taking part yet? Mention me with 'join'.", count).format(
            number=payload.get("round", ""), program=program, matches=count)]
    elif kind == NotificationKind.CIRCLE_THREAD:
        # Sent only to the circle's own group chat: every reader is one of the members named.
        subject = _("Learning circle in {program}").format(program=program)
        lines = [_("Your learning circle in {program}: {members}. This chat is yours: agree on your next "
                   "meeting here.").format(program=program, members=", ".join(payload.get("members", [])))]
        lines += circle_lines(_, payload)
    elif kind == NotificationKind.PARTNER_RESCHEDULE:
        subject = _("{name} would like to reschedule").format(name=payload.get("name", ""))
        lines = [_("{name} asked to find a new time for your {program} session. Please agree a new time "
                   "together.").format(name=payload.get("name", ""), program=program)]
    elif kind == NotificationKind.PARTNER_CANCEL:
        subject = _("{name} can't make it this time").format(name=payload.get("name", ""))
        lines = [_("{name} can't make your {program} session this time. You will be matched again next "
                   "round.").format(name=payload.get("name", ""), program=program)]
    else:
        subject = str(payload.get("subject") or _("A message from peer coaching"))
        lines = [str(payload.get("text", ""))]
    return subject, "\n".join(lines)
