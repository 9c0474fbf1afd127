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
from botbuilder.schema import ConversationParameters

from teams_app.adapters.bot import cards
from teams_app.adapters.bot.assessment_actions import VERBS as ASSESSMENT_VERBS
from teams_app.adapters.bot.assessment_actions import handle_assessment_action
from teams_app.adapters.bot.identity import Identity, tenant_of
from teams_app.adapters.bot.turns import enrolled_programs, open_programs
from teams_app.config import BotSettings
from teams_app.domain.errors import AlreadyEnrolled, InvalidInput, InvalidInputs, InvalidTransition, NotFound
from teams_app.domain.model import Participant
from teams_app.i18n import Translate
from teams_app.service.assessment import AssessmentService
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)

Card = dict[str, Any]
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
                 default_locale: str = "en",
                 assessment: AssessmentService | None = None) -> None:
        self._service = service
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
            return await handle_assessment_action(self._assessment, verb, data, person.id, _=_)
        action = self._verbs.get(verb)
        if action is None:
            return cards.done_card(_("That did not work"), _("This card is out of date. Say 'help' to start again."))
        return await action(turn_context, verb, data, person, _)

    async def check_in(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                       _: Translate) -> Card:
        if person is None:
            return not_yet(_)
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

    async def met(self, turn_context: TurnContext, verb: str, data: dict[str, Any], person: Participant | None,
                  _: Translate) -> Card:
        return cards.checkin_card(_, str(data.get("match_id") or ""), values={"met": "yes"})

    async def match_change(self, turn_context: TurnContext, verb: str, data: dict[str, Any],
                           person: Participant | None, _: Translate) -> Card:
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
        form = cards.profile_card(_, values, programs=choices)
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
            return cards.profile_card(_, exc.values, programs=choices, errors=exc.errors, enrolling=enrolling)
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
