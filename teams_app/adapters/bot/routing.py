"""The peer-coaching conversation: a botbuilder Teams activity handler that routes each activity.

Personal scope: welcome + consent on install, member commands (``member_commands``), admin commands
(``admin_commands``), card actions (``card_actions``, ``adaptiveCard/action`` invokes answered with a
replacement card). Team scope: a welcome card in the channel whose consent button opens a 1:1 chat. The
email channel gets HTML replies with a subject and text commands. Every inbound activity refreshes the
stored conversation reference (``identity``).

One person's activities are handled one at a time (two profile submissions at once enroll once); a unique
constraint hit by another process doing the same thing at the same moment is retried once, by which time
the other's write is visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue, ChannelAccount
from sqlalchemy.exc import IntegrityError

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.admin_commands import AdminCommands
from teams_app.adapters.bot.assessment_commands import AssessmentCommands, with_assessment_help
from teams_app.adapters.bot.card_actions import CardActions
from teams_app.adapters.bot.commands import ADMIN_COMMANDS, parse
from teams_app.adapters.bot.delivery.retry import DeliveryError
from teams_app.adapters.bot.identity import Identity
from teams_app.adapters.bot.member_commands import MemberCommands
from teams_app.adapters.bot.store import ConversationStore, MatchCards, Welcomes
from teams_app.adapters.bot.turns import is_email, open_programs, say, translate
from teams_app.config import BotSettings
from teams_app.domain.errors import DomainError, InvalidInput, InvalidInputs
from teams_app.domain.model import Participant
from teams_app.i18n import Translate
from teams_app.service.assessment import AssessmentService
from teams_app.service.ports import CardLinks, Clock, NoCardLinks
from teams_app.service.use_cases import CoachingService

logger = logging.getLogger(__name__)

CARD_RESPONSE_TYPE = "application/vnd.microsoft.card.adaptive"


class KeyedLocks:
    """An asyncio lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class PeerCoachBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, service: CoachingService, conversations: ConversationStore, settings: BotSettings,
                 clock: Clock, *, default_locale: str = "en",
                 assessment: AssessmentService | None = None, card_links: CardLinks | None = None) -> None:
        super().__init__()
        self._service = service
        self._default_locale = default_locale
        self.identity = Identity(service, conversations, settings, clock)
        self._links = card_links or NoCardLinks()
        self.members = MemberCommands(service, self.identity, default_locale=default_locale, card_links=self._links)
        self.admin = AdminCommands(service, default_locale=default_locale)
        self.assessment_commands = AssessmentCommands(assessment, default_locale=default_locale,
                                                      card_links=self._links)
        self.card_actions = CardActions(service, self.identity, settings, default_locale=default_locale,
                                        assessment=assessment, match_cards=MatchCards(conversations.engine),
                                        clock=clock)
        self._welcomes = Welcomes(conversations.engine)
        self._clock = clock
        self._senders = KeyedLocks()

    # -- every turn ---------------------------------------------------------------------------------
    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        sender = activity.from_property or ChannelAccount()
        key = f"{(activity.channel_id or '').lower()}/{(sender.id or '').lower()}" if sender.id else ""
        async with self._senders.hold(key) if key else contextlib.nullcontext():
            await self.identity.remember(turn_context)
            try:
                try:
                    await super().on_turn(turn_context)
                except IntegrityError:
                    # Another process wrote the same person at the same moment; now it is visible: once more.
                    logger.info("a concurrent write for the same person; handling the activity again")
                    await super().on_turn(turn_context)
            except DeliveryError as exc:
                # The conversation's connector did not take our reply; an apology would not get through either.
                logger.warning("could not answer a %s activity: %s", activity.type, exc)

    async def _say(self, turn_context: TurnContext, text: str, card: dict[str, object] | None = None,
                   subject: str = "") -> None:
        await say(turn_context, text, card, subject, default_locale=self._default_locale)

    def _t(self, turn_context: TurnContext, person: Participant | None = None) -> Translate:
        return translate(turn_context, person, self._default_locale)

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
        await self.identity.remember_roster(turn_context)  # a group chat's roster changed
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else ""
        if any(m.id == bot_id for m in members_added) or turn_context.activity.conversation.conversation_type in (
                None, "personal"):
            await self._welcome(turn_context)

    async def on_members_removed_activity(self, members_removed: Sequence[ChannelAccount],
                                          turn_context: TurnContext) -> None:
        await self.identity.remember_roster(turn_context)  # someone left the group chat: it may no longer be a circle

    async def _welcome(self, turn_context: TurnContext) -> None:
        # Once per person and conversation, remembered in the database: Teams sends both conversationUpdate
        # and installationUpdate for one install, and a restart or a second instance must not welcome again.
        activity = turn_context.activity
        sender = activity.from_property or ChannelAccount()
        user_key = sender.aad_object_id or sender.id or ""
        if not await self._welcomes.first_time(activity.conversation.id or "", user_key, self._clock.now()):
            return
        _ = self._t(turn_context)
        programs = [(p.name, p.description) for p in await open_programs(self._service)]
        await self._say(turn_context, _("Welcome to peer coaching! Say 'join' to take part."),
                        cards.welcome_card(_, programs))

    # -- messages -----------------------------------------------------------------------------------
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        command = parse(turn_context.activity.text)
        person = await self.identity.person(turn_context)
        if person is not None and not person.teams_reachable:
            await self._mark_reachable(turn_context, True, person)  # they wrote to us: Teams works again
        _ = self._t(turn_context, person)
        is_admin = self.identity.is_admin(turn_context, person)
        if command.name in ADMIN_COMMANDS and not is_admin:
            await self._say(turn_context, _("Sorry, only program administrators can do that. Say 'help' to see "
                                            "what you can do."))
            return
        try:
            if command.name in MemberCommands.NAMES:
                await self.members.run(turn_context, command.name, person, command.args, _)
            elif command.name in ADMIN_COMMANDS:
                await self.admin.run(turn_context, command.name, command.args, _)
            elif command.name in AssessmentCommands.NAMES:
                await self.assessment_commands.run(turn_context, command.name, person, _)
            elif command.name == "help" or not command.text:
                text = with_assessment_help(cards.help_text, _, is_admin)
                if is_email(turn_context):
                    text = self.members.email_help(text, _)
                await self._say(turn_context, text, subject=_("What I understand") if is_email(turn_context) else "")
            else:
                await self._say(turn_context, _("I did not understand \"{text}\". I am a peer-coaching assistant: "
                                                "say 'join' to take part, 'my matches' to see your matches, or "
                                                "'help' for everything I can do.").format(text=command.text[:100]))
        except (InvalidInput, InvalidInputs) as exc:
            problems = cards.domain_errors(_, exc)
            await self._say(turn_context, "\n\n".join(f"{k}: {v}" for k, v in problems.items()) or _(str(exc)))
        except DomainError as exc:
            await self._say(turn_context, _(str(exc)))

    # -- card actions -------------------------------------------------------------------------------
    async def on_adaptive_card_invoke(self, turn_context: TurnContext,
                                      invoke_value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse:
        action = invoke_value.action if isinstance(invoke_value.action, dict) else {}
        verb = str(action.get("verb") or "")
        data = action.get("data")
        person = await self.identity.person(turn_context)
        _ = self._t(turn_context, person)
        try:
            content = await self.card_actions.handle(turn_context, verb, data if isinstance(data, dict) else {},
                                                     person, _)
        except DomainError as exc:
            content = cards.done_card(_("That did not work"), _(str(exc)))
        return AdaptiveCardInvokeResponse(status_code=200, type=CARD_RESPONSE_TYPE, value=content)
