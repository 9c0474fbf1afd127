"""The peer-coaching conversation: a botbuilder Teams activity handler over :class:`CoachingService`.

Personal scope: welcome + consent on install, join (profile card), profile, pause [until DATE], resume, leave
(keep or erase), my matches, progress, help, admin commands; card actions come back as
``adaptiveCard/action`` invokes and are answered with a replacement card. Team scope: a welcome card in the
channel whose consent button opens a 1:1 chat with the person. The email channel gets HTML replies with a
subject and text commands. Every inbound activity refreshes the stored conversation reference.
"""

from __future__ import annotations

import contextlib
import html
import logging
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
    ConversationParameters,
)

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.assessment_actions import VERBS as ASSESSMENT_VERBS
from teams_app.adapters.bot.assessment_actions import handle_assessment_action
from teams_app.adapters.bot.commands import ADMIN_COMMANDS, Command, parse, pause_until
from teams_app.adapters.bot.store import ConversationStore
from teams_app.config import BotSettings
from teams_app.domain.errors import (
    AlreadyEnrolled,
    DomainError,
    InvalidInput,
    InvalidInputs,
    InvalidTransition,
    NotFound,
)
from teams_app.domain.model import Participant, Profile, Program
from teams_app.i18n import Translate, translator
from teams_app.service.assessment import AssessmentService
from teams_app.service.ports import Clock
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)

CARD_RESPONSE_TYPE = "application/vnd.microsoft.card.adaptive"
REFRESH_S = 3600.0
WELCOME_TTL_S = 120.0  # Teams sends conversationUpdate and installationUpdate for one install


class PeerCoachBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, service: CoachingService, conversations: ConversationStore, settings: BotSettings,
                 clock: Clock, *, default_locale: str = "en",
                 assessment: AssessmentService | None = None) -> None:
        super().__init__()
        self._service = service
        self._conversations = conversations
        self._settings = settings
        self._clock = clock
        self._default_locale = default_locale
        self._assessment = assessment
        self._admins = {a.strip().lower() for a in settings.admins if a.strip()}
        self._welcomed: dict[str, float] = {}
        self._saved: dict[str, tuple[tuple[Any, ...], float]] = {}  # conversation -> (what was stored, when)
        self._emails: dict[str, tuple[str, str]] = {}  # aad object id -> (email, name) from the roster

    # -- every turn ---------------------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context)
        await super().on_turn(turn_context)

    async def _remember(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not activity.service_url or activity.conversation is None or not activity.conversation.id:
            return
        reference = TurnContext.get_conversation_reference(activity).serialize()
        sender = activity.from_property or ChannelAccount()
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        conversation_type = activity.conversation.conversation_type or "personal"
        # Written when something a proactive send needs changed, or hourly; otherwise the stored one is current.
        fingerprint = (activity.service_url, activity.locale, sender.id, sender.aad_object_id, _tenant(activity))
        key = f"{activity.channel_id}/{activity.conversation.id}"
        seen = self._saved.get(key)
        if seen is not None and seen[0] == fingerprint and time.monotonic() - seen[1] < REFRESH_S:
            return
        user_key = (sender.id or "").lower() if activity.channel_id == "email" else (sender.id or "")
        await self._conversations.save(
            channel_id=activity.channel_id or "", conversation_id=activity.conversation.id,
            conversation_type=conversation_type, tenant_id=_tenant(activity),
            aad_object_id=sender.aad_object_id or "" if conversation_type == "personal" else "",
            user_key=user_key if conversation_type == "personal" else "",
            team_id=str((channel_data.get("team") or {}).get("id") or ""), service_url=activity.service_url,
            locale=activity.locale or "", reference=reference, now=self._clock.now())
        self._saved[key] = (fingerprint, time.monotonic())
        if len(self._saved) > 100_000:
            self._saved.clear()

    async def _refresh_reference(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.conversation is not None:
            self._saved.pop(f"{activity.channel_id}/{activity.conversation.id}", None)
        await self._remember(turn_context)

    # -- helpers ------------------------------------------------------------------------------------
    def _t(self, turn_context: TurnContext, person: Participant | None = None) -> Translate:
        return translator(turn_context.activity.locale or (person.locale if person else "") or self._default_locale)

    @staticmethod
    def _is_email(turn_context: TurnContext) -> bool:
        return turn_context.activity.channel_id == "email"

    async def _say(self, turn_context: TurnContext, text: str, card: dict[str, Any] | None = None,
                   subject: str = "") -> None:
        if self._is_email(turn_context):
            _ = self._t(turn_context)
            body = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n") if p.strip())
            reply = Activity(type=ActivityTypes.message, text=text, channel_data={
                "htmlBody": f"<html><body>{body}</body></html>", "subject": subject or _("Peer coaching"),
                "importance": "normal"})
        elif card is not None:
            reply = MessageFactory.attachment(CardFactory.adaptive_card(card))
        else:
            reply = MessageFactory.text(text)
        await turn_context.send_activity(reply)

    async def _identity(self, turn_context: TurnContext) -> tuple[str, str, str]:
        """(aad object id, email, display name) of the sender; email from the Teams roster when needed."""
        sender = turn_context.activity.from_property or ChannelAccount()
        if self._is_email(turn_context):
            return "", (sender.id or "").lower(), sender.name or ""
        aad = sender.aad_object_id or ""
        if aad in self._emails:
            email, name = self._emails[aad]
            return aad, email, name
        email, name = "", sender.name or ""
        try:
            member = await TeamsInfo.get_member(turn_context, sender.id)
            email = (member.email or member.user_principal_name or "").lower()
            name = member.name or name
        except Exception as exc:  # the roster is optional (e.g. a connector without it)
            logger.info("could not read the sender's roster entry: %s", type(exc).__name__)
        if "@" not in email:
            email = f"{aad or _safe(sender.id or 'someone')}@teams.invalid"  # never mailed: see sender
        if aad:
            self._emails[aad] = (email, name)
        return aad, email, name

    async def _person(self, turn_context: TurnContext) -> Participant | None:
        sender = turn_context.activity.from_property or ChannelAccount()
        if self._is_email(turn_context):
            return await self._service.find_participant(email=sender.id or "")
        person = None
        if sender.aad_object_id:
            person = await self._service.find_participant(aad_object_id=sender.aad_object_id)
        if person is None:
            aad, email, _name = await self._identity(turn_context)
            person = await self._service.find_participant(email=email)
            if person is not None and aad and not person.aad_object_id:
                # An imported person talks to the bot for the first time: link their Teams identity.
                person = await self._service.register(ParticipantInput(
                    email=person.email, display_name=person.display_name, profile=person.profile,
                    aad_object_id=aad, tenant_id=_tenant(turn_context.activity), locale=person.locale,
                    manager_email=person.manager_email))
        return person

    def _is_admin(self, turn_context: TurnContext, person: Participant | None) -> bool:
        sender = turn_context.activity.from_property or ChannelAccount()
        keys = {(sender.aad_object_id or "").lower()}
        if self._is_email(turn_context):
            keys.add((sender.id or "").lower())
        if person is not None:
            keys.add(person.email.lower())
        return bool(self._admins & (keys - {""}))

    async def _open_programs(self) -> list[Program]:
        return [p for p in await self._service.list_programs() if p.active]

    async def _enrolled_programs(self, person: Participant) -> list[Program]:
        ids = set((await self._service.progress(person.id)).programs)
        return [p for p in await self._service.list_programs() if p.id in ids]

    # -- install and welcome ------------------------------------------------------------------------
    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._mark_reachable(turn_context, True)
        await self._welcome(turn_context)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        # Uninstalled in personal scope: proactive messages would get 403 now, so use email from the start.
        await self._mark_reachable(turn_context, False)

    async def _mark_reachable(self, turn_context: TurnContext, reachable: bool,
                              person: Participant | None = None) -> None:
        activity = turn_context.activity
        if activity.channel_id != "msteams" or (activity.conversation.conversation_type or "personal") != "personal":
            return
        sender = activity.from_property or ChannelAccount()
        if person is None and sender.aad_object_id:
            person = await self._service.find_participant(aad_object_id=sender.aad_object_id)
        if person is not None and person.teams_reachable != reachable:
            await self._service.set_teams_reachable(person.id, reachable)

    async def on_members_added_activity(self, members_added: Sequence[ChannelAccount],
                                        turn_context: TurnContext) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else ""
        if any(m.id == bot_id for m in members_added) or turn_context.activity.conversation.conversation_type in (
                None, "personal"):
            await self._welcome(turn_context)

    async def _welcome(self, turn_context: TurnContext) -> None:
        key = turn_context.activity.conversation.id
        now = time.monotonic()
        if now - self._welcomed.get(key, -WELCOME_TTL_S) < WELCOME_TTL_S:
            return
        self._welcomed[key] = now
        _ = self._t(turn_context)
        programs = [(p.name, p.description) for p in await self._open_programs()]
        await self._say(turn_context, _("Welcome to peer coaching! Say 'join' to take part."),
                        cards.welcome_card(_, programs))

    # -- messages -----------------------------------------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        command = parse(turn_context.activity.text)
        person = await self._person(turn_context)
        if person is not None and not person.teams_reachable:
            await self._mark_reachable(turn_context, True, person)  # they wrote to us: Teams works again
        _ = self._t(turn_context, person)
        if command.name in ADMIN_COMMANDS and not self._is_admin(turn_context, person):
            await self._say(turn_context, _("Sorry, only program administrators can do that. Say 'help' to see "
                                            "what you can do."))
            return
        try:
            await self._dispatch(turn_context, command, person, _)
        except (InvalidInput, InvalidInputs) as exc:
            problems = cards.domain_errors(_, exc)
            await self._say(turn_context, "\n\n".join(f"{k}: {v}" for k, v in problems.items()) or _(str(exc)))
        except DomainError as exc:
            await self._say(turn_context, _(str(exc)))

    async def _dispatch(self, turn_context: TurnContext, command: Command, person: Participant | None,
                        _: Translate) -> None:
        name, args = command.name, command.args
        if name == "help":
            await self._say(turn_context, cards.help_text(_, self._is_admin(turn_context, person)))
        elif name == "join":
            await self._join(turn_context, person, args, _)
        elif name == "profile":
            await self._profile(turn_context, person, _)
        elif name in ("pause", "resume", "leave"):
            await self._enrollment_command(turn_context, name, person, args, _)
        elif name == "my matches":
            await self._my_matches(turn_context, person, _)
        elif name == "progress":
            await self._progress(turn_context, person, _)
        elif name in ADMIN_COMMANDS:
            await self._admin(turn_context, name, args, _)
        elif not command.text:
            await self._say(turn_context, cards.help_text(_, self._is_admin(turn_context, person)))
        else:
            await self._say(turn_context, _("I did not understand \"{text}\". I am a peer-coaching assistant: "
                                            "say 'join' to take part, 'my matches' to see your matches, or "
                                            "'help' for everything I can do.").format(text=command.text[:100]))

    async def _join(self, turn_context: TurnContext, person: Participant | None, args: tuple[str, ...],
                    _: Translate) -> None:
        programs = await self._open_programs()
        if not programs:
            await self._say(turn_context, _("No program is open yet; an administrator will announce one."))
            return
        enrolled = {p.id for p in await self._enrolled_programs(person)} if person else set()
        available = [p for p in programs if p.id not in enrolled]
        if not available:
            await self._say(turn_context, _("You are already taking part. Say 'profile' to change your profile."))
            return
        if self._is_email(turn_context):
            # Cards are not interactive by email: 'join' (an explicit opt-in) enrolls with a default profile.
            program = _choose(available, args)
            if program is None:
                await self._say(turn_context, _("Which program? Reply with 'join' and one of: {names}").format(
                    names=", ".join(p.name for p in available)))
                return
            _aad, email, name = await self._identity(turn_context)
            await self._service.enroll(program.id, ParticipantInput(
                email=email, display_name=name, profile=person.profile if person else Profile(),
                locale=turn_context.activity.locale or self._default_locale), consent=True)
            await self._say(turn_context, _("You have joined {program}. Open the peer coaching app in Teams to "
                                            "complete your profile.").format(program=program.name),
                            subject=_("Welcome to {program}").format(program=program.name))
            return
        await self._say(turn_context, _("Please confirm that you want to take part."),
                        cards.welcome_card(_, [(p.name, p.description) for p in available]))

    async def _profile(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        await self._say(turn_context, _("Your profile"), cards.profile_card(
            _, cards.profile_values(person.profile), enrolling=False))

    async def _enrollment_command(self, turn_context: TurnContext, name: str, person: Participant | None,
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
        program = _choose(await self._enrolled_programs(person), args)
        if program is None:
            names = ", ".join(p.name for p in await self._enrolled_programs(person))
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
        elif self._is_email(turn_context):
            await self._service.leave(program.id, person.id, erase=erase)
            await self._say(turn_context, _("You have left {program}.").format(program=program.name) + " " + (
                _("Your personal data has been erased.") if erase else _("Your data is kept; write 'leave erase' "
                                                                       "to have it erased.")))
        else:
            await self._say(turn_context, _("Leave?"), cards.leave_card(_, program.id, program.name))

    async def _my_matches(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        views = await self._service.my_matches(person.id) if person else []
        if not views:
            await self._say(turn_context, _("You have no matches yet."))
            return
        lines = []
        for view in views:
            names = ", ".join(f"{p.display_name} ({_(role)})" for p, role in view.partners)
            meeting = view.meeting.start.strftime("%Y-%m-%d %H:%M UTC") if view.meeting and view.meeting.start \
                else _("not booked")
            state = _("checked in") if view.checked_in else _("check-in open")
            lines.append(_("{program}, round {number}: {names}; meeting: {meeting}; {state}").format(
                program=view.program.name, number=view.round.number, names=names, meeting=meeting, state=state))
        await self._say(turn_context, "\n\n".join(lines))

    async def _progress(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> None:
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        stats = await self._service.progress(person.id)
        average = stats.average_usefulness
        await self._say(turn_context, _("Matches: {matches}. Sessions you met: {met}. Different partners: "
                                        "{partners}. Average usefulness: {average}.").format(
            matches=stats.matches, met=stats.sessions_met, partners=stats.distinct_partners,
            average=average if average is not None else "-"))

    async def _admin(self, turn_context: TurnContext, name: str, args: tuple[str, ...], _: Translate) -> None:
        if name == "program list":
            programs = await self._service.list_programs()
            await self._say(turn_context, "\n\n".join(
                f"{p.name} ({p.kind.value}, {p.cadence.value})" for p in programs) or _("No programs yet."))
        elif name == "program create":
            if len(args) < 3:
                await self._say(turn_context, _("Usage: program create NAME KIND CADENCE, e.g. program create "
                                                "\"Spring pairs\" peer_pairs fortnightly"))
                return
            program = await self._service.create_program(args[0], args[1], args[2])
            await self._say(turn_context, _("Created program {name}.").format(name=program.name))
        elif name == "round run":
            chosen = _choose(await self._service.list_programs(), args)
            if chosen is None:
                await self._say(turn_context, _("Which program? Usage: round run PROGRAM"))
                return
            result = await self._service.run_round(chosen.id)
            await self._say(turn_context, _("Round {number} of {program}: {matches} matches, {unmatched} "
                                            "unmatched. Everyone is being notified.").format(
                number=result.round.number, program=chosen.name, matches=len(result.matches),
                unmatched=len(result.unmatched)))
        elif name == "status":
            target = _choose(await self._service.list_programs(), args)
            if target is None:
                await self._say(turn_context, _("Which program? Usage: status PROGRAM"))
                return
            status = await self._service.status(target.id)
            await self._say(turn_context, _("{program}, round {round}: enrolled {enrolled}, active {active}, "
                                            "paused {paused}, matched {matched}, met {met}, checked in "
                                            "{checked_in}.").format(**status.as_dict()))

    # -- card actions -------------------------------------------------------------------------------
    async def on_adaptive_card_invoke(self, turn_context: TurnContext,
                                      invoke_value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse:
        action = invoke_value.action or {}
        verb = str(action.get("verb") or "")
        data = action.get("data") or {}
        person = await self._person(turn_context)
        _ = self._t(turn_context, person)
        try:
            content = await self._card_action(turn_context, verb, data if isinstance(data, dict) else {}, person, _)
        except DomainError as exc:
            content = cards.done_card(_("That did not work"), _(str(exc)))
        return AdaptiveCardInvokeResponse(status_code=200, type=CARD_RESPONSE_TYPE, value=content)

    async def _card_action(self, turn_context: TurnContext, verb: str, data: dict[str, Any],
                           person: Participant | None, _: Translate) -> dict[str, Any]:
        if verb in ASSESSMENT_VERBS:
            if person is None or self._assessment is None:
                return cards.done_card(_("That did not work"), _("You are not taking part yet: say 'join' first."))
            return await handle_assessment_action(self._assessment, verb, data, person.id, _=_)
        if verb == cards.VERB_CONSENT:
            return await self._consent(turn_context, person, _)
        if verb == cards.VERB_PROFILE:
            return await self._profile_submit(turn_context, data, person, _)
        if verb == cards.VERB_CHECKIN:
            if person is None:
                return cards.done_card(_("That did not work"), _("You are not taking part yet: say 'join' first."))
            try:
                submission = cards.parse_checkin(_, data)
                await self._service.record_check_in(submission.match_id, person.id, met=submission.met,
                                                    usefulness=submission.usefulness, learned=submission.learned,
                                                    next_step=submission.next_step)
            except cards.CardErrors as exc:
                return cards.checkin_card(_, str(data.get("match_id") or ""), values=exc.values, errors=exc.errors)
            except InvalidTransition:
                return cards.done_card(_("Already done"), _("You have already checked in for this match."))
            except (InvalidInput, InvalidInputs) as exc:
                return cards.checkin_card(_, str(data.get("match_id") or ""),
                                          values={k: str(data.get(k) or "") for k in cards.CHECKIN_FIELDS},
                                          errors=cards.domain_errors(_, exc))
            return cards.done_card(_("Thank you!"), _("Your check-in is saved. See you next round."))
        if verb == cards.VERB_MET:
            return cards.checkin_card(_, str(data.get("match_id") or ""), values={"met": "yes"})
        if verb in (cards.VERB_RESCHEDULE, cards.VERB_CANCEL):
            match_id = str(data.get("match_id") or "")
            told = 0
            if person is not None and match_id:
                use_case = (self._service.request_reschedule if verb == cards.VERB_RESCHEDULE
                            else self._service.cancel_attendance)
                with contextlib.suppress(NotFound, InvalidInput):  # an old card, or not this person's match
                    told = await use_case(match_id, person.id)
            if verb == cards.VERB_RESCHEDULE:
                return cards.done_card(_("Reschedule"), (_("Your partner has been told. ") if told else "") + _(
                    "Please agree a new time together; the check-in card comes after your meeting."))
            return cards.done_card(_("Noted"), (_("Your partner has been told. ") if told else "") + _(
                "You can't make it this time; say 'pause' if you need a break from matching."))
        if verb in (cards.VERB_LEAVE_KEEP, cards.VERB_LEAVE_ERASE):
            if person is None:
                return cards.done_card(_("That did not work"), _("You are not taking part yet: say 'join' first."))
            erase = verb == cards.VERB_LEAVE_ERASE
            await self._service.leave(str(data.get("program_id") or ""), person.id, erase=erase)
            return cards.done_card(_("You have left"), _("Your personal data has been erased.") if erase else _(
                "Your data is kept; say 'join' to come back any time."))
        return cards.done_card(_("That did not work"), _("This card is out of date. Say 'help' to start again."))

    async def _consent(self, turn_context: TurnContext, person: Participant | None, _: Translate) -> dict[str, Any]:
        programs = await self._open_programs()
        enrolled = {p.id for p in await self._enrolled_programs(person)} if person else set()
        choices = [(p.id, p.name) for p in programs if p.id not in enrolled]
        if not choices:
            return cards.done_card(_("Welcome"), _("You are already taking part in every open program."))
        values = cards.profile_values(person.profile) if person else {}
        form = cards.profile_card(_, values, programs=choices)
        if turn_context.activity.conversation.conversation_type == "channel":
            # A channel card is shared: the profile goes to the person's 1:1 chat instead.
            if await self._open_personal_chat(turn_context, form):
                return cards.done_card(_("Welcome to peer coaching"), _("Check your chat with me to finish joining."))
            return cards.done_card(_("Welcome to peer coaching"), _("Open a chat with me and say 'join'."))
        return form

    async def _open_personal_chat(self, turn_context: TurnContext, content: dict[str, Any]) -> bool:
        activity = turn_context.activity
        params = ConversationParameters(is_group=False, bot=activity.recipient, members=[activity.from_property],
                                        tenant_id=_tenant(activity), channel_data={"tenant": {"id": _tenant(activity)}})

        async def send_card(context: TurnContext) -> None:
            await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(content)))

        try:
            await turn_context.adapter.create_conversation(  # type: ignore[call-arg]
                self._settings.app_id, send_card, params, activity.channel_id, activity.service_url, None)
        except Exception as exc:
            logger.warning("could not open a 1:1 chat from a channel: %s", type(exc).__name__)
            return False
        return True

    async def _profile_submit(self, turn_context: TurnContext, data: dict[str, Any], person: Participant | None,
                              _: Translate) -> dict[str, Any]:
        enrolling = bool(data.get("enrolling", True))
        programs = await self._open_programs()
        enrolled = {p.id for p in await self._enrolled_programs(person)} if person else set()
        choices = [(p.id, p.name) for p in programs if p.id not in enrolled] if enrolling else []
        try:
            submission = cards.parse_profile(_, data, [pid for pid, _name in choices] if enrolling else [])
        except cards.CardErrors as exc:
            return cards.profile_card(_, exc.values, programs=choices, errors=exc.errors, enrolling=enrolling)
        if not enrolling:
            if person is None:
                return cards.done_card(_("That did not work"), _("You are not taking part yet: say 'join' first."))
            await self._service.update_profile(person.id, submission.profile)
            return cards.done_card(_("Profile saved"), _("Your profile is up to date."))
        aad, email, name = await self._identity(turn_context)
        await self._refresh_reference(turn_context)  # e.g. after an erasure: proactive messages need it again
        try:
            await self._service.enroll(submission.program_id, ParticipantInput(
                email=person.email if person else email, display_name=person.display_name if person else name,
                profile=submission.profile, aad_object_id=aad, tenant_id=_tenant(turn_context.activity),
                locale=turn_context.activity.locale or self._default_locale,
                manager_email=person.manager_email if person else ""), consent=True)
        except AlreadyEnrolled:
            return cards.done_card(_("Already done"), _("You are already taking part. Say 'profile' to change it."))
        name_of = {p.id: p.name for p in programs}
        return cards.done_card(_("You're in!"), _("You have joined {program}. I will introduce you to your match "
                                                  "when the next round starts.").format(
            program=name_of.get(submission.program_id, "")))


def _tenant(activity: Activity) -> str:
    if activity.conversation is not None and activity.conversation.tenant_id:
        return str(activity.conversation.tenant_id)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return str((data.get("tenant") or {}).get("id") or "")


def _safe(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum())[:40] or "someone"


def _choose(programs: Sequence[Program], args: tuple[str, ...]) -> Program | None:
    """The program named in ``args`` (name or id), or the only one."""
    wanted = " ".join(args).strip().lower()
    if wanted:
        for program in programs:
            if wanted in (program.name.lower(), program.id):
                return program
        return None
    return programs[0] if len(programs) == 1 else None

