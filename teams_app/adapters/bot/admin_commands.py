"""Commands for program administrators (settings ``admins``): program list/create, round run, status."""

from __future__ import annotations

from botbuilder.core import TurnContext

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.turns import choose, say
from teams_app.i18n import Translate
from teams_app.service.use_cases import CoachingService


class AdminCommands:
    def __init__(self, service: CoachingService, *, default_locale: str = "en") -> None:
        self._service = service
        self._default_locale = default_locale

    async def _say(self, turn_context: TurnContext, text: str) -> None:
        await say(turn_context, text, default_locale=self._default_locale)

    async def run(self, turn_context: TurnContext, name: str, args: tuple[str, ...], _: Translate) -> None:
        if name == "program list":
            await self.program_list(turn_context, _)
        elif name == "program create":
            await self.program_create(turn_context, args, _)
        elif name == "round run":
            await self.round_run(turn_context, args, _)
        elif name == "status":
            await self.status(turn_context, args, _)

    async def program_list(self, turn_context: TurnContext, _: Translate) -> None:
        programs = await self._service.list_programs()
        await self._say(turn_context, "\n\n".join(
            f"{p.name} ({cards.program_words(_, p.kind.value, p.cadence.value)})" for p in programs)
            or _("No programs yet."))

    async def program_create(self, turn_context: TurnContext, args: tuple[str, ...], _: Translate) -> None:
        if len(args) < 3:
            await self._say(turn_context, _("Usage: program create NAME KIND CADENCE, e.g. program create "
                                            "\"Spring pairs\" peer_pairs fortnightly"))
            return
        program = await self._service.create_program(args[0], args[1], args[2])
        await self._say(turn_context, _("Created program {name}.").format(name=program.name))

    async def round_run(self, turn_context: TurnContext, args: tuple[str, ...], _: Translate) -> None:
        chosen = choose(await self._service.list_programs(), args)
        if chosen is None:
            await self._say(turn_context, _("Which program? Usage: round run PROGRAM"))
            return
        result = await self._service.run_round(chosen.id)
        if result.round.session:  # a circle program: the admin reads circles and where the term is, not matches
            await self._say(turn_context, _.ngettext(
                "{program}, term {term}, session {session} of {total}: {circles} circle, {unmatched} unmatched. "
                "Everyone is being notified.",
                "{program}, term {term}, session {session} of {total}: {circles} circles, {unmatched} unmatched. "
                "Everyone is being notified.", len(result.matches)).format(
                program=chosen.name, term=result.round.term, session=result.round.session,
                total=result.program.sessions_per_term, circles=len(result.matches),
                unmatched=len(result.unmatched)))
            return
        await self._say(turn_context, _.ngettext(
            "Round {number} of {program}: {matches} match, {unmatched} unmatched. Everyone is being notified.",
            "Round {number} of {program}: {matches} matches, {unmatched} unmatched. Everyone is being notified.",
            len(result.matches)).format(
            number=result.round.number, program=chosen.name, matches=len(result.matches),
            unmatched=len(result.unmatched)))

    async def status(self, turn_context: TurnContext, args: tuple[str, ...], _: Translate) -> None:
        target = choose(await self._service.list_programs(), args)
        if target is None:
            await self._say(turn_context, _("Which program? Usage: status PROGRAM"))
            return
        status = await self._service.status(target.id)
        if not status.as_dict().get("round"):
            await self._say(turn_context, _("{program}: no round yet. Enrolled {enrolled}, active {active}, paused "
                                            "{paused}.").format(**status.as_dict()))
            return
        await self._say(turn_context, _("{program}, round {round}: enrolled {enrolled}, active {active}, "
                                        "paused {paused}, matched {matched}, met {met}, checked in "
                                        "{checked_in}.").format(**status.as_dict()))
