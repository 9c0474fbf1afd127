"""What a participant can type: join, profile, pause [until DATE], resume, leave [erase], my matches, progress.

By email (cards are not interactive there) ``join`` answers with the consent text and a link to the consent
card's web twin; the person is registered (so the link can name them) but enrolled only once they consented
and sent their profile through the twin, which posts the usual card actions. ``profile`` answers with the
profile as text and a link to the profile twin. Without web links the answer says what to do instead.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from botbuilder.core import TurnContext

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.commands import pause_until
from teams_app.adapters.bot.identity import Identity
from teams_app.adapters.bot.turns import choose, enrolled_programs, is_email, open_programs, say
from teams_app.domain.model import MeetingStatus, Participant, Program
from teams_app.domain.notifications import TwinCard
from teams_app.i18n import Translate, format_when
from teams_app.service.ports import CardLinks, NoCardLinks
from teams_app.service.use_cases import CoachingService, ParticipantInput


def email_display_name(address: str, from_name: str) -> str:
    """The name to call someone who wrote from ``address``: their From name, else one made from the address.

    A From name that is only the address or its local part ("grace") is not a name: "grace.hopper@..." gives
    "Grace Hopper".
    """
    local = address.split("@", 1)[0]
    name = " ".join((from_name or "").split())
    if name and name.lower() not in (address.lower(), local.lower()):
        return name
    return " ".join(part.capitalize() for part in re.split(r"[._+-]+", local) if part) or address


class MemberCommands:
    NAMES = frozenset({"join", "profile", "pause", "resume", "leave", "my matches", "progress"})

    def __init__(self, service: CoachingService, identity: Identity, *, default_locale: str = "en",
                 card_links: CardLinks | None = None) -> None:
        self._service = service
        self._identity = identity
        self._default_locale = default_locale
        self._links = card_links or NoCardLinks()

    def email_help(self, text: str, _: Translate) -> str:
        """The help text for an email: without web links, joining by email cannot ask for consent; it says so."""
        if isinstance(self._links, NoCardLinks):
            return text.replace(
                _("- **join**: take part in a program (I ask for your consent and your profile)"),
                _("- **join**: take part in a program (by email this needs web links, which are not switched on "
                  "here: join in Teams instead)"))
        return text

    async def _say(self, turn_context: TurnContext, text: str, card: dict[str, Any] | None = None,
                   subject: str = "") -> None:
        await say(turn_context, text, card, subject, default_locale=self._default_locale)

    async def run(self, turn_context: TurnContext, name: str, person: Participant | None, args: tuple[str, ...],
                  _: Translate) -> None:
        if name == "join":
            await self.join(turn_context, person, args, _)
        elif name == "profile":
            await self.profile(turn_context, person, _)
        elif name in ("pause", "resume", "leave"):
            await self.enrollment(turn_context, name, person, args, _)
        elif name == "my matches":
            await self.my_matches(turn_context, person, _)
        elif name == "progress":
            await self.progress(turn_context, person, _)

    async def join(self, turn_context: TurnContext, person: Participant | None, args: tuple[str, ...],
                   _: Translate) -> None:
        programs = await open_programs(self._service)
        if not programs:
            await self._say(turn_context, _("No program is open yet; an administrator will announce one."))
            return
        enrolled = {p.id for p in await enrolled_programs(self._service, person)} if person else set()
        available = [p for p in programs if p.id not in enrolled]
        if not available:
            await self._say(turn_context, _("You are already taking part. Say 'profile' to change your profile."))
            return
        if is_email(turn_context):
            await self.join_by_email(turn_context, person, available, args, _)
            return
        await self._say(turn_context, _("Please confirm that you want to take part."),
                        cards.welcome_card(_, [(p.name, p.description) for p in available]))

    async def join_by_email(self, turn_context: TurnContext, person: Participant | None, available: list[Program],
                            args: tuple[str, ...], _: Translate) -> None:
        chosen = choose(available, args)
        if args and chosen is None:
            await self._say(turn_context, _("Which program? Reply with 'join' and one of: {names}").format(
                names=", ".join(p.name for p in available)))
            return
        targets = [chosen] if chosen is not None else available
        if person is None:
            # The consent link names a person: registered now, enrolled only after consent and profile.
            _aad, email, from_name = await self._identity.identity(turn_context)
            person = await self._service.register(ParticipantInput(
                email=email, display_name=email_display_name(email, from_name),
                locale=turn_context.activity.locale or self._default_locale))
        paragraphs = [
            _("I match you with colleagues for short, regular coaching conversations: you help each other with "
              "real work questions, then tell me briefly how it went."),
            _("What I store: your profile (department, time zone, working hours, languages, skills, goals), your "
              "matches and your check-ins. You can pause, or leave and have your data erased, at any time."),
        ]
        links = [(program, self._links.link(person.id, TwinCard.CONSENT, program.id)) for program in targets]
        if all(url for _program, url in links):
            paragraphs.append(_("To take part, open the link, confirm that you want to take part and fill in your "
                                "profile. I enroll you once you have done both."))
            paragraphs.append("\n".join(
                f"- [{_('Join {program}').format(program=program.name)}]({url})" +
                (f": {program.description}" if program.description else "") for program, url in links))
        else:
            paragraphs.append(_("Joining by email needs web links, which are not switched on here: open peer "
                                "coaching in Teams and say 'join', or ask your program administrator to enroll "
                                "you."))
        subject = _("Join {program}").format(program=targets[0].name) if len(targets) == 1 else \
            _("Join peer coaching")
        await self._say(turn_context, "\n\n".join(paragraphs), subject=subject)

    async def profile(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        if is_email(turn_context):
            await self.profile_by_email(turn_context, person, _)
            return
        await self._say(turn_context, _("Your profile"), cards.profile_card(
            _, cards.profile_values(person.profile), enrolling=False))

    async def profile_by_email(self, turn_context: TurnContext, person: Participant, _: Translate) -> None:
        programs = await enrolled_programs(self._service, person)
        if not programs:  # registered by a 'join' email, but not enrolled yet
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        values = cards.profile_values(person.profile)
        labels = ((_("Department"), "department"), (_("Your time zone"), "time_zone"),
                  (_("Working hours"), "working_hours"), (_("Languages you can coach in"), "languages"),
                  (_("Skills you can offer"), "skills_offered"), (_("Skills you want to grow"), "skills_wanted"),
                  (_("Your goals"), "goals"))
        lines = "\n".join(f"- {label}: {values.get(key) or '–'}" for label, key in labels)
        url = self._links.link(person.id, TwinCard.PROFILE, programs[0].id)
        change = f"[{_('Change your profile')}]({url})" if url else _(
            "To change it, open peer coaching in Teams and say 'profile'.")
        await self._say(turn_context, "\n\n".join([_("Your profile"), lines, change]), subject=_("Your profile"))

    async def enrollment(self, turn_context: TurnContext, name: str, person: Participant | None,
                         args: tuple[str, ...], _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        until: date | None = None
        if name == "pause":
            dates = [a for a in args if a[:1].isdigit()]
            try:
                until = pause_until(tuple(dates))
            except ValueError:
                await self._say(turn_context, _("Write the date as YYYY-MM-DD, e.g. 'pause until 2026-12-01'."))
                return
            args = tuple(a for a in args if a not in dates and a.lower() != "until")
        erase = False
        if name == "leave":
            erase = any(a.lower() == "erase" for a in args)
            args = tuple(a for a in args if a.lower() not in ("erase", "keep"))
        enrolled = await enrolled_programs(self._service, person)
        if name == "leave" and erase and not enrolled:
            # In no program (registered by a 'join' email, or left keeping their data): erasing is still theirs.
            await self._service.erase(person.email, requested_by="participant")
            await self._say(turn_context, _("Your personal data has been erased."))
            return
        program = choose(enrolled, args)
        if program is None:
            names = ", ".join(p.name for p in await enrolled_programs(self._service, person))
            await self._say(turn_context, _("Which program? Add its name, one of: {names}").format(names=names)
                            if names else _("You are not taking part in any program: say 'join'."))
            return
        if name == "pause":
            await self._service.pause(program.id, person.id, until)
            text = _("Paused until {date}.").format(date=until.isoformat()) if until else _(
                "Paused. Say 'resume' when you want matches again.")
            await self._say(turn_context, text)
        elif name == "resume":
            await self._service.resume(program.id, person.id)
            await self._say(turn_context, _("Welcome back: you will be matched in the next round."))
        elif is_email(turn_context):
            await self._service.leave(program.id, person.id, erase=erase)
            await self._say(turn_context, _("You have left {program}.").format(program=program.name) + " " + (
                _("Your personal data has been erased.") if erase else _("Your data is kept; write 'leave erase' "
                                                                       "to have it erased.")))
        else:
            await self._say(turn_context, _("Leave?"), cards.leave_card(_, program.id, program.name))

    async def my_matches(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        views = await self._service.my_matches(person.id) if person else []
        if not views:
            await self._say(turn_context, _("You have no matches yet."))
            return
        lines = []
        for view in views:
            names = ", ".join(f"{p.display_name} ({_(role)})" for p, role in view.partners)
            meeting = _("not booked")
            if view.meeting and view.meeting.start and view.meeting.status is MeetingStatus.SCHEDULED:
                when = format_when(view.meeting.start, person.profile.time_zone if person else "UTC",
                                   turn_context.activity.locale or (person.locale if person else "en"))
                meeting = when if view.meeting.booked else _("proposed for {when}").format(when=when)
            state = _("checked in") if view.checked_in else _("check-in open")
            lines.append(_("{program}, round {number}: {names}; meeting: {meeting}; {state}").format(
                program=view.program.name, number=view.round.number, names=names, meeting=meeting, state=state))
        await self._say(turn_context, "\n\n".join(lines))

    async def progress(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        stats = await self._service.progress(person.id)
        average = stats.average_usefulness
        text = _("Matches: {matches}. Sessions you met: {met}. Different partners: {partners}.").format(
            matches=stats.matches, met=stats.sessions_met, partners=stats.distinct_partners)
        if average is not None:
            text += " " + _("Average usefulness: {average} of 5.").format(average=f"{average:.1f}")
        else:
            text += " " + _("No usefulness ratings yet.")
        await self._say(turn_context, text)
