"""What a participant can type: join, profile, pause [until DATE], resume, leave [erase], my matches, progress."""

from __future__ import annotations

from datetime import date
from typing import Any

from botbuilder.core import TurnContext

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.commands import pause_until
from teams_app.adapters.bot.identity import Identity
from teams_app.adapters.bot.turns import choose, enrolled_programs, is_email, open_programs, say
from teams_app.domain.model import MeetingStatus, Participant, Profile
from teams_app.i18n import Translate, format_when
from teams_app.service.use_cases import CoachingService, ParticipantInput


class MemberCommands:
    NAMES = frozenset({"join", "profile", "pause", "resume", "leave", "my matches", "progress"})

    def __init__(self, service: CoachingService, identity: Identity, *, default_locale: str = "en") -> None:
        self._service = service
        self._identity = identity
        self._default_locale = default_locale

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
            # Cards are not interactive by email: 'join' (an explicit opt-in) enrolls with a default profile.
            program = choose(available, args)
            if program is None:
                await self._say(turn_context, _("Which program? Reply with 'join' and one of: {names}").format(
                    names=", ".join(p.name for p in available)))
                return
            _aad, email, name = await self._identity.identity(turn_context)
            await self._service.enroll(program.id, ParticipantInput(
                email=email, display_name=name, profile=person.profile if person else Profile(),
                locale=turn_context.activity.locale or self._default_locale), consent=True)
            await self._say(turn_context, _("You have joined {program}. Open the peer coaching app in Teams to "
                                            "complete your profile.").format(program=program.name),
                            subject=_("Welcome to {program}").format(program=program.name))
            return
        await self._say(turn_context, _("Please confirm that you want to take part."),
                        cards.welcome_card(_, [(p.name, p.description) for p in available]))

    async def profile(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        await self._say(turn_context, _("Your profile"), cards.profile_card(
            _, cards.profile_values(person.profile), enrolling=False))

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
        program = choose(await enrolled_programs(self._service, person), args)
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
