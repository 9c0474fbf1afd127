"""Card actions (``adaptiveCard/action`` invokes): each verb answered with a replacement card.

Consent (the welcome card; from a channel it opens a 1:1 chat), profile submit (join or update), check-in,
"we met", reschedule / cancel (the partner is told), leave (keep or erase), and the assessment verbs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationParameters

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.assessment_actions import VERBS as ASSESSMENT_VERBS
from teams_app.adapters.bot.assessment_actions import handle_assessment_action
from teams_app.adapters.bot.identity import Identity, tenant_of
from teams_app.adapters.bot.store import MatchCard, MatchCards
from teams_app.adapters.bot.turns import enrolled_programs, open_programs
from teams_app.config import BotSettings
from teams_app.domain.errors import AlreadyEnrolled, InvalidInput, InvalidInputs, InvalidTransition, NotFound
from teams_app.domain.model import Participant
from teams_app.domain.notifications import CardState
from teams_app.i18n import Translate
from teams_app.service.assessment import AssessmentService
from teams_app.service.ports import Clock
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)

Card = dict[str, Any]
MATCHES_LOOKED_UP = 50  # a person's newest matches searched for the one a card is about
Action = Callable[[TurnContext, str, dict[str, Any], Participant | None, Translate], Awaitable[Card]]


def strict_bool(value: Any, default: bool) -> bool | None:
    """A card's boolean: true/false (or their strings); None for anything else (a string is not truthy here)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def not_yet(_: Translate) -> Card:
    return cards.done_card(_("That did not work"), _("You are not taking part yet: say 'join' first."))


class CardActions:
    def __init__(self, service: CoachingService, identity: Identity, settings: BotSettings, *,
                 default_locale: str = "en", assessment: AssessmentService | None = None,
                 match_cards: MatchCards | None = None, clock: Clock | None = None) -> None:
        self._service = service
        self._cards = match_cards
        self._clock = clock
        self._identity = identity
        self._settings = settings
        self._default_locale = default_locale
        self._assessment = assessment
        self._verbs: dict[str, Action] = {
            cards.VERB_CONSENT: self.consent, cards.VERB_PROFILE: self.profile_submit,
            cards.VERB_CHECKIN: self.check_in, cards.VERB_MET: self.met,
            cards.VERB_RESCHEDULE: self.match_change, cards.VERB_CANCEL: self.match_change,
            cards.VERB_LEAVE_KEEP: self.leave, cards.VERB_LEAVE_ERASE: self.leave,
        }

    async def handle(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                     _: Translate) -> Card:
        if verb in ASSESSMENT_VERBS:
            if person is None or self._assessment is None:
                return not_yet(_)
            return await handle_assessment_action(self._assessment, verb, data, person.id,
                                                  time_zone=person.profile.time_zone, _=_)
        action = self._verbs.get(verb)
        if action is None:
            return cards.done_card(_("That did not work"), _("This card is out of date. Say 'help' to start again."))
        return await action(turn_context, verb, data, person, _)

    async def _advance(self, turn_context: TurnContext, person: Participant, match_id: str, state: CardState,
                       _: Translate, *, from_intro: bool) -> CardState:
        """Move the person's match card forward (never back); returns the state it shows now.

        When the button was pressed on another message than the match card (the separate check-in card),
        the match card is edited to the new state too, so no older card stays active in the chat.
        """
        if self._cards is None or self._clock is None or not match_id:
            return state
        pressed_on = str(turn_context.activity.reply_to_id or "")
        before = await self._cards.get(person.id, match_id)
        now = await self._cards.advance(person.id, match_id, state, self._clock.now(),
                                        activity_id=pressed_on if from_intro else "")
        if before is not None and now.version != before.version and now.activity_id \
                and now.activity_id != pressed_on:
            await self._show_elsewhere(turn_context, now, _, await self._match_payload(person, match_id))
        return now.state

    async def _show_elsewhere(self, turn_context: TurnContext, card: MatchCard, _: Translate,
                              payload: dict[str, Any]) -> None:
        content = cards.state_card(_, card.state, payload)
        activity = Activity(type=ActivityTypes.message, id=card.activity_id,
                            attachments=[CardFactory.adaptive_card(content)])
        try:
            await turn_context.update_activity(activity)
        except Exception as exc:  # an old or deleted message: the answer to the click is what matters
            logger.info("could not update match card %s: %s", card.activity_id, type(exc).__name__)

    async def _match_payload(self, person: Participant, match_id: str) -> dict[str, Any]:
        """What a check-in card names about its match: the others in it and, for a circle, the session, so a
        person with several open cards (a circle's weekly sessions) sees which one they answer."""
        payload: dict[str, Any] = {"match_id": match_id}
        with contextlib.suppress(NotFound):
            for view in await self._service.my_matches(person.id, limit=MATCHES_LOOKED_UP):
                if view.match.id == match_id:
                    payload["partners"] = [{"name": other.display_name} for other, _role in view.partners]
                    payload["program"] = view.program.name
                    if view.round.session:
                        payload.update(session=view.round.session,
                                       sessions_in_term=view.program.sessions_per_term)
                    break
        return payload

    async def check_in(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                       _: Translate) -> Card:
        if person is None:
            return not_yet(_)
        match_id = str(data.get("match_id") or "")
        try:
            submission = cards.parse_checkin(_, data)
            await self._service.record_check_in(submission.match_id, person.id, met=submission.met,
                                                usefulness=submission.usefulness, learned=submission.learned,
                                                next_step=submission.next_step)
        except cards.CardErrors as exc:
            return cards.checkin_card(_, match_id, values=exc.values, errors=exc.errors,
                                      **cards.checkin_context(await self._match_payload(person, match_id)))
        except InvalidTransition:
            await self._advance(turn_context, person, match_id, CardState.CHECKED_IN, _, from_intro=False)
            return cards.done_card(_("Already done"), _("You have already checked in for this match."))
        except (InvalidInput, InvalidInputs) as exc:
            return cards.checkin_card(_, match_id,
                                      values={k: str(data.get(k) or "") for k in cards.CHECKIN_FIELDS},
                                      errors=cards.domain_errors(_, exc),
                                      **cards.checkin_context(await self._match_payload(person, match_id)))
        state = await self._advance(turn_context, person, match_id, CardState.CHECKED_IN, _, from_intro=False)
        return cards.state_card(_, state, {"match_id": match_id})

    async def met(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                  _: Translate) -> Card:
        match_id = str(data.get("match_id") or "")
        if person is None:
            return not_yet(_)
        with contextlib.suppress(NotFound, InvalidInput):  # an old card, or not this person's match
            await self._service.note_met(match_id, person.id)
        state = await self._advance(turn_context, person, match_id, CardState.CHECKIN_OPEN, _, from_intro=True)
        return cards.state_card(_, state, await self._match_payload(person, match_id))

    async def match_change(self, turn_context: TurnContext, verb: str, data: dict[str, Any],
                           person: Participant | None, _: Translate) -> Card:
        match_id = str(data.get("match_id") or "")
        wanted = CardState.RESCHEDULING if verb == cards.VERB_RESCHEDULE else CardState.CANCELLED
        if person is None or not match_id:
            return cards.state_card(_, wanted, {"match_id": match_id})
        current = await self._cards.get(person.id, match_id) if self._cards is not None else None
        if current is not None and current.state.rank >= wanted.rank and current.state is not wanted:
            return cards.state_card(_, current.state, {"match_id": match_id})  # a stale button: the card moved on
        told = 0
        use_case = (self._service.request_reschedule if verb == cards.VERB_RESCHEDULE
                    else self._service.cancel_attendance)
        with contextlib.suppress(NotFound, InvalidInput):  # an old card, or not this person's match
            told = await use_case(match_id, person.id)
        state = await self._advance(turn_context, person, match_id, wanted, _, from_intro=True)
        return cards.state_card(_, state, {"match_id": match_id}, partner_told=bool(told))

    async def leave(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                    _: Translate) -> Card:
        if person is None:
            return not_yet(_)
        erase = verb == cards.VERB_LEAVE_ERASE
        await self._service.leave(str(data.get("program_id") or ""), person.id, erase=erase)
        return cards.done_card(_("You have left"), _("Your personal data has been erased.") if erase else _(
            "Your data is kept; say 'join' to come back any time."))

    async def consent(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                      _: Translate) -> Card:
        programs = await open_programs(self._service)
        enrolled = {p.id for p in await enrolled_programs(self._service, person)} if person else set()
        choices = [(p.id, p.name) for p in programs if p.id not in enrolled]
        if not choices:
            return cards.done_card(_("Welcome"), _("You are already taking part in every open program."))
        values = cards.profile_values(person.profile) if person else {}
        form = cards.profile_card(_, values, programs=choices,
                                  local_time_zone=turn_context.activity.local_timezone or "")
        if turn_context.activity.conversation.conversation_type == "channel":
            # A channel card is shared: the profile goes to the person's 1:1 chat instead.
            if await self._open_personal_chat(turn_context, form):
                return cards.done_card(_("Welcome to peer coaching"), _("Check your chat with me to finish joining."))
            return cards.done_card(_("Welcome to peer coaching"), _("Open a chat with me and say 'join'."))
        return form

    async def _open_personal_chat(self, turn_context: TurnContext, content: Card) -> bool:
        activity = turn_context.activity
        params = ConversationParameters(is_group=False, bot=activity.recipient, members=[activity.from_property],
                                        tenant_id=tenant_of(activity),
                                        channel_data={"tenant": {"id": tenant_of(activity)}})

        async def send_card(context: TurnContext) -> None:
            await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(content)))

        try:
            await turn_context.adapter.create_conversation(  # type: ignore[call-arg]
                self._settings.app_id, send_card, params, activity.channel_id, activity.service_url, None)
        except Exception as exc:
            logger.warning("could not open a 1:1 chat from a channel: %s", type(exc).__name__)
            return False
        return True

    async def profile_submit(self, turn_context: TurnContext, verb: str, data: dict[str, Any],
                             person: Participant | None, _: Translate) -> Card:
        enrolling = strict_bool(data.get("enrolling"), True)
        if enrolling is None:
            return cards.done_card(_("That did not work"), _("This card is out of date. Say 'help' to start again."))
        programs = await open_programs(self._service)
        enrolled = {p.id for p in await enrolled_programs(self._service, person)} if person else set()
        choices = [(p.id, p.name) for p in programs if p.id not in enrolled] if enrolling else []
        try:
            submission = cards.parse_profile(_, data, [pid for pid, _name in choices] if enrolling else [])
        except cards.CardErrors as exc:
            return cards.profile_card(_, exc.values, programs=choices, errors=exc.errors, enrolling=enrolling,
                                      local_time_zone=turn_context.activity.local_timezone or "")
        if not enrolling:
            if person is None:
                return not_yet(_)
            await self._service.update_profile(person.id, submission.profile)
            return cards.done_card(_("Profile saved"), _("Your profile is up to date."))
        aad, email, name = await self._identity.identity(turn_context)
        await self._identity.refresh_reference(turn_context)  # e.g. after an erasure: proactive sends need it
        try:
            await self._service.enroll(submission.program_id, ParticipantInput(
                email=person.email if person else email, display_name=person.display_name if person else name,
                profile=submission.profile, aad_object_id=aad, tenant_id=tenant_of(turn_context.activity),
                locale=turn_context.activity.locale or self._default_locale,
                manager_email=person.manager_email if person else ""), consent=True)
        except AlreadyEnrolled:
            return cards.done_card(_("Already done"), _("You are already taking part. Say 'profile' to change it."))
        name_of = {p.id: p.name for p in programs}
        return cards.done_card(_("You're in!"), _("You have joined {program}. I will introduce you to your match "
                                                  "when the next round starts.").format(
            program=name_of.get(submission.program_id, "")))
