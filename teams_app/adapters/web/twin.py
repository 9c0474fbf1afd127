"""A card's web twin: the card a person would see in Teams now, and its actions answered by the bot's handlers.

The card shown is built from the current state with the builders the bot uses (the welcome and profile cards,
the match card in its stored state, the rubric card of the review as it is, the feedback as released), so a
spent or older card never comes back. Actions go to :meth:`CardActions.handle`, the handler of Teams'
``adaptiveCard/action`` invokes, with the same validation and replacement cards; only verbs that belong to the
linked card, about the linked subject, are accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount, ResourceResponse

from teams_app.adapters.bot import assessment_cards, cards
from teams_app.adapters.bot.assessment_actions import VERBS as ASSESSMENT_VERBS
from teams_app.adapters.bot.card_actions import CardActions
from teams_app.adapters.bot.identity import Identity
from teams_app.adapters.bot.store import MatchCards
from teams_app.adapters.bot.turns import enrolled_programs, open_programs
from teams_app.domain.errors import DomainError, NotAllowed, NotFound
from teams_app.domain.model import Participant
from teams_app.domain.notifications import CardState, NotificationKind, TwinCard
from teams_app.i18n import Translate
from teams_app.service.assessment import AssessmentService
from teams_app.service.use_cases import CoachingService

logger = logging.getLogger(__name__)

Card = dict[str, Any]
WEB_CHANNEL = "webtwin"
Render = Callable[[list[tuple[str, str, Mapping[str, Any]]]], Awaitable[list[Mapping[str, Any]]]]

# The verbs each card's twin may send, and the data field that must name the linked subject.
ALLOWED_VERBS: dict[TwinCard, frozenset[str]] = {
    TwinCard.CONSENT: frozenset({cards.VERB_CONSENT, cards.VERB_PROFILE}),
    TwinCard.PROFILE: frozenset({cards.VERB_PROFILE}),
    TwinCard.INTRO: frozenset({cards.VERB_MET, cards.VERB_RESCHEDULE, cards.VERB_CANCEL, cards.VERB_CHECKIN}),
    TwinCard.CHECK_IN: frozenset({cards.VERB_CHECKIN}),
    TwinCard.REVIEW: frozenset(ASSESSMENT_VERBS),
    TwinCard.FEEDBACK: frozenset(),
}
SUBJECT_FIELD: dict[TwinCard, str] = {TwinCard.INTRO: "match_id", TwinCard.CHECK_IN: "match_id",
                                      TwinCard.REVIEW: "review_id"}


class _PageAdapter(BotAdapter):  # type: ignore[misc]
    """The web page is the only "conversation": nothing can be sent or edited elsewhere from it."""

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        raise RuntimeError("a web twin sends nothing to a conversation")

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        raise RuntimeError("a web twin edits no Teams message")

    async def delete_activity(self, context: TurnContext, reference: Any) -> None:
        raise RuntimeError("a web twin deletes no Teams message")


class WebIdentity(Identity):
    """Who acts on a web twin: the person the link was made for (never a roster lookup)."""

    async def identity(self, turn_context: TurnContext) -> tuple[str, str, str]:
        sender = turn_context.activity.from_property or ChannelAccount()
        data = turn_context.activity.channel_data if isinstance(turn_context.activity.channel_data, dict) else {}
        return sender.aad_object_id or "", str(data.get("email") or ""), sender.name or ""

    async def refresh_reference(self, turn_context: TurnContext) -> None:
        return None  # a web page is no conversation to send to later

    async def remember(self, turn_context: TurnContext) -> None:
        return None


def page_turn(person: Participant) -> TurnContext:
    """A turn for :class:`CardActions` that says: this person, on the web, in their language and time zone."""
    activity = Activity(
        type=ActivityTypes.invoke, name="adaptiveCard/action", channel_id=WEB_CHANNEL,
        from_property=ChannelAccount(id=person.id, name=person.display_name, aad_object_id=person.aad_object_id),
        recipient=ChannelAccount(id="peercoach", name="peercoach"),
        conversation=ConversationAccount(id=f"{WEB_CHANNEL}/{person.id}", conversation_type="personal"),
        locale=person.locale, local_timezone=person.profile.time_zone if person.profile else "",
        channel_data={"email": person.email})
    return TurnContext(_PageAdapter(), activity)


def out_of_date(_: Translate) -> Card:
    return cards.done_card(_("That did not work"), _("This card is out of date. Say 'help' to start again."))


class WebTwin:
    """Cards of the web twins: what a link shows now, and the answer to an action sent from it."""

    def __init__(self, service: CoachingService, actions: CardActions, match_cards: MatchCards, render: Render,
                 person_of: Callable[[str], Awaitable[Participant | None]], *,
                 assessment: AssessmentService | None = None) -> None:
        self._service = service
        self._actions = actions
        self._match_cards = match_cards
        self._render = render
        self._person_of = person_of
        self._assessment = assessment

    async def person(self, person_id: str) -> Participant | None:
        return await self._person_of(person_id)

    async def current(self, card: TwinCard, subject: str, person: Participant, _: Translate) -> Card | None:
        """The card as the person would see it now; None when it is not theirs (or gone)."""
        try:
            if card is TwinCard.CONSENT:
                return await self._consent(person, subject, _)
            if card is TwinCard.PROFILE:
                return cards.profile_card(_, cards.profile_values(person.profile), enrolling=False)
            if card in (TwinCard.INTRO, TwinCard.CHECK_IN):
                return await self._match(card, subject, person, _)
            if self._assessment is None:
                return None
            if card is TwinCard.REVIEW:
                task = await self._assessment.get_task(subject, person.id)
                return assessment_cards.rubric_card(task.assessment, task.review, task.reviewee_name,
                                                    time_zone=person.profile.time_zone, _=_)
            view = await self._assessment.feedback_view(subject, person.id)
            return assessment_cards.feedback_card(view, _=_)
        except (NotFound, NotAllowed) as exc:
            logger.info("web twin %s/%s is not available: %s", card.value, subject, type(exc).__name__)
            return None

    async def _consent(self, person: Participant, program_id: str, _: Translate) -> Card:
        programs = await open_programs(self._service)
        enrolled = {p.id for p in await enrolled_programs(self._service, person)}
        available = [(p.name, p.description) for p in programs if p.id not in enrolled]
        if not available or program_id in enrolled:
            return cards.done_card(_("Welcome"), _("You are already taking part in every open program.")
                                   if not available else _("You are already taking part. Say 'profile' to change it."))
        return cards.welcome_card(_, available)

    async def _match(self, card: TwinCard, match_id: str, person: Participant, _: Translate) -> Card | None:
        kind = NotificationKind.INTRO if card is TwinCard.INTRO else NotificationKind.CHECKIN
        rendered = await self._render([(kind.value, person.id, {"match_id": match_id})])
        payload = rendered[0] if rendered else {}
        if "partners" not in payload:  # the match is gone, or the person is not in it
            return None
        stored = await self._match_cards.get(person.id, match_id)
        state = stored.state if stored is not None else CardState.INTRO
        if card is TwinCard.CHECK_IN and state.rank < CardState.CHECKIN_OPEN.rank:
            state = CardState.CHECKIN_OPEN  # the check-in card itself, as the check-in notice shows it
        return cards.state_card(_, state, payload)

    async def act(self, card: TwinCard, subject: str, person: Participant, verb: str, data: Mapping[str, Any],
                  _: Translate) -> Card:
        """The answer to an action from the linked card: the handler's replacement card, or why not."""
        if verb not in ALLOWED_VERBS[card]:
            return out_of_date(_)
        field = SUBJECT_FIELD.get(card)
        if field is not None and str(data.get(field) or "") != subject:
            return out_of_date(_)
        try:
            return await self._actions.handle(page_turn(person), verb, dict(data), person, _)
        except DomainError as exc:  # as the bot's invoke handler answers it
            return cards.done_card(_("That did not work"), _(str(exc)))

