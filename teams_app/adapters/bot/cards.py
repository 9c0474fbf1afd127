"""Adaptive Card JSON builders and card-input parsers (pure: no botbuilder, no I/O).

Cards are Adaptive Cards 1.5 with Universal Actions (``Action.Execute``). Every submission comes back as an
``adaptiveCard/action`` invoke and is answered with a replacement card: either the same card with the
problems named next to the fields, or a read-only card without actions, so it cannot be submitted twice.
Every user-facing string goes through the ``Translate`` function of the person's locale.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import MAX_TEXT, Profile
from teams_app.i18n import Translate

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
                required: bool = False, max_length: int = 200) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "Input.Text", "id": input_id, "label": label, "value": value,
                               "isMultiline": multiline, "maxLength": max_length, "isRequired": required}
    if placeholder:
        element["placeholder"] = placeholder
    return element


def _with_error(elements: list[dict[str, Any]], errors: Mapping[str, str], field: str) -> list[dict[str, Any]]:
    if field in errors:
        elements.append(_error(errors[field]))
    return elements


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
                 errors: Mapping[str, str] | None = None, enrolling: bool = True) -> Card:
    """The profile form. ``programs`` (id, name) offers a choice when more than one program is open."""
    errors = errors or {}
    body: list[dict[str, Any]] = [_title(_("Your coaching profile") if not enrolling else _("Join: your profile"))]
    if errors:
        body.append(_error(_("Please fix the fields marked below.")))
    if len(programs) > 1:
        body += _with_error([{
            "type": "Input.ChoiceSet", "id": "program_id", "label": _("Program"), "isRequired": True,
            "value": values.get("program_id", ""), "style": "expanded",
            "choices": [{"title": name, "value": pid} for pid, name in programs],
        }], errors, "program_id")
    body += _with_error([_input_text("department", _("Department"), values.get("department", ""))], errors,
                        "department")
    body += _with_error([_input_text("time_zone", _("Time zone"), values.get("time_zone", ""), required=True,
                                     placeholder="Europe/Berlin")], errors, "time_zone")
    body += _with_error([_input_text("working_hours", _("Working hours"), values.get("working_hours", "09:00-17:00"),
                                     required=True, placeholder="09:00-17:00")], errors, "working_hours")
    body += _with_error([_input_text("languages", _("Languages you can coach in"), values.get("languages", "en"),
                                     required=True, placeholder="en, de")], errors, "languages")
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
            errors.setdefault(name, message)
    if errors or profile is None:
        raise CardErrors(errors, values)
    return ProfileSubmission(program_id, profile, values)


# -- intro, check-in, status cards -----------------------------------------------------------------
def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def intro_card(_: Translate, payload: Mapping[str, Any], *, with_actions: bool = True) -> Card:
    """The match introduction: who, why, roles, coaching prompts, meeting, actions."""
    partners = payload.get("partners", [])
    body: list[dict[str, Any]] = [
        _title(_("Round {number} of {program}: meet your match").format(
            number=payload.get("round", ""), program=payload.get("program", ""))),
        _text(_("Your role this round: **{role}**").format(role=_(str(payload.get("role", ""))))),
        {"type": "FactSet", "facts": [
            {"title": str(p.get("name", "")), "value": f"{_(str(p.get('role', '')))} · {p.get('email', '')}"}
            for p in partners]},
    ]
    reasons = payload.get("reasons") or []
    if reasons:
        body.append(_text(_("Why you two:") if len(partners) == 1 else _("Why this group:"), weight="Bolder"))
        body += [_text(f"- {reason}") for reason in reasons]
    prompts = payload.get("prompts") or []
    if prompts:
        body.append(_text(_("Questions to start with:"), weight="Bolder"))
        body += [_text(f"- {_(prompt)}") for prompt in prompts]
    meeting = payload.get("meeting")
    if meeting and meeting.get("start"):
        line = _("Meeting: {start}").format(start=_when(meeting.get("start")))
        if meeting.get("join_url"):
            line += f" · [{_('Join')}]({meeting['join_url']})"
        body.append(_text(line, weight="Bolder"))
    else:
        body.append(_text(_("No meeting is booked yet: please find a time together.")))
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


def checkin_card(_: Translate, match_id: str, *, partner_names: str = "", values: Mapping[str, str] | None = None,
                 errors: Mapping[str, str] | None = None) -> Card:
    values = values or {}
    errors = errors or {}
    body: list[dict[str, Any]] = [_title(_("How did it go?"))]
    if partner_names:
        body.append(_text(_("Your session with {names}").format(names=partner_names)))
    if errors:
        body.append(_error(_("Please fix the fields marked below.")))
    body += _with_error([{
        "type": "Input.ChoiceSet", "id": "met", "label": _("Did you meet?"), "isRequired": True, "style": "expanded",
        "value": values.get("met", ""),
        "choices": [{"title": _("Yes"), "value": "yes"}, {"title": _("No"), "value": "no"}],
    }], errors, "met")
    body += _with_error([{
        "type": "Input.Number", "id": "usefulness", "label": _("How useful was it? (1-5)"), "min": 1, "max": 5,
        "value": values.get("usefulness", ""),
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


def message_card(_: Translate, kind: str, payload: Mapping[str, Any]) -> Card | None:
    """The card for an outbox notification, or None when the notification is plain text."""
    if isinstance(payload.get("card"), dict):  # a card built elsewhere (e.g. assessment cards)
        return dict(payload["card"])
    if kind in ("intro", "meeting_update"):
        return intro_card(_, payload)
    if kind in ("checkin", "checkin_reminder"):
        names = ", ".join(str(p.get("name", "")) for p in payload.get("partners", []))
        return checkin_card(_, str(payload.get("match_id", "")), partner_names=names)
    return None


def notification_text(_: Translate, kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, plain text) of a notification: the Teams fallback text and the email body."""
    program = str(payload.get("program", ""))
    names = ", ".join(str(p.get("name", "")) for p in payload.get("partners", []))
    if kind == "intro":
        subject = _("Your peer coaching match in {program}").format(program=program)
        lines = [_("Round {number}: you are matched with {names}.").format(number=payload.get("round", ""),
                                                                        names=names),
                 _("Your role: {role}").format(role=_(str(payload.get("role", ""))))]
        lines += [f"- {r}" for r in payload.get("reasons", [])]
        lines += [_("Questions to start with:")] + [f"- {_(p)}" for p in payload.get("prompts", [])]
    elif kind == "meeting_update":
        subject = _("Your coaching meeting in {program}").format(program=program)
        meeting = payload.get("meeting") or {}
        lines = [_("Your meeting with {names} is booked for {start}.").format(names=names,
                                                                            start=_when(meeting.get("start")))]
        if meeting.get("join_url"):
            lines.append(str(meeting["join_url"]))
    elif kind in ("checkin", "checkin_reminder"):
        subject = _("How did your coaching session go?")
        lines = [_("Please tell us how your session with {names} went: did you meet, how useful was it (1-5), "
                   "what did you learn, what is your next step?").format(names=names)]
        if kind == "checkin_reminder":
            lines.insert(0, _("A friendly reminder:"))
    elif kind == "unmatched":
        subject = _("No match for you this round in {program}").format(program=program)
        lines = [_("We could not find a good match for you this round ({reason}). You get priority in the next "
                   "round. Thank you for your patience!").format(reason=payload.get("reason", ""))]
    elif kind == "announcement":
        subject = _("A new round of {program} has started").format(program=program)
        lines = [_("Round {number} of {program} has started with {matches} matches: check your chat with me "
                   "for your match. Not taking part yet? Mention me with 'join'.").format(
            number=payload.get("round", ""), program=program, matches=payload.get("matches", 0))]
    elif kind == "circle_thread":
        subject = _("Learning circle in {program}").format(program=program)
        lines = [_("A new learning circle in {program}: {members}. This thread is yours: introduce yourselves "
                   "and agree on a first meeting.").format(program=program,
                                                          members=", ".join(payload.get("members", [])))]
    elif kind == "partner_reschedule":
        subject = _("{name} would like to reschedule").format(name=payload.get("name", ""))
        lines = [_("{name} asked to find a new time for your {program} session. Please agree a new time "
                   "together.").format(name=payload.get("name", ""), program=program)]
    elif kind == "partner_cancel":
        subject = _("{name} can't make it this time").format(name=payload.get("name", ""))
        lines = [_("{name} can't make your {program} session this time. You will be matched again next "
                   "round.").format(name=payload.get("name", ""), program=program)]
    else:
        subject = str(payload.get("subject") or _("A message from peer coaching"))
        lines = [str(payload.get("text", ""))]
    return subject, "\n".join(lines)


def render_email(_: Translate, kind: str, payload: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, html, text) for the email fallback; cards are not interactive by email."""
    subject, text = notification_text(_, kind, payload)
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line)
    return subject, f"<html><body>{paragraphs}</body></html>", text
