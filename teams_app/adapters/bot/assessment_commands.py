"""What a participant can type about peer assessment: ``my reviews`` (the reviews still to write, as rubric
cards) and ``my feedback`` (released feedback, or why it is withheld), in chat and by email.

German aliases (``meine bewertungen``, ``mein feedback``) are parsed in :mod:`commands`. By email, where
cards are not interactive, the answer is text: what is due and when, and the feedback itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botbuilder.core import TurnContext

from teams_app.adapters.bot import assessment_cards as cards
from teams_app.adapters.bot.turns import is_email, say
from teams_app.domain.assessment import ReviewKind, ReviewStatus
from teams_app.domain.model import Participant
from teams_app.domain.notifications import TwinCard
from teams_app.i18n import Translate, format_when
from teams_app.service.assessment import AssessmentService
from teams_app.service.ports import CardLinks, NoCardLinks

logger = logging.getLogger(__name__)

MAX_CARDS = 5  # cards sent for one command; the text says how many more there are


def help_lines(_: Translate) -> list[str]:
    return [_("- **my reviews**: the peer reviews you still have to write (or can still change)"),
            _("- **my feedback**: the feedback your peers gave you, once it is released")]


def with_assessment_help(help_text: Callable[[Translate, bool], str], _: Translate, admin: bool) -> str:
    """The help text with the assessment commands among the member commands, before any admin section."""
    member = help_text(_, False)
    return "\n\n".join([member, *help_lines(_)]) + help_text(_, admin)[len(member):]


class AssessmentCommands:
    NAMES = frozenset({"my reviews", "my feedback"})

    def __init__(self, service: AssessmentService | None, *, default_locale: str = "en",
                 card_links: CardLinks | None = None) -> None:
        self._service = service
        self._default_locale = default_locale
        self._links = card_links or NoCardLinks()

    async def _say(self, turn_context: TurnContext, text: str, card: dict[str, object] | None = None,
                   subject: str = "") -> None:
        await say(turn_context, text, card, subject, default_locale=self._default_locale)

    async def run(self, turn_context: TurnContext, name: str, person: Participant | None, _: Translate) -> None:
        if self._service is None:
            await self._say(turn_context, _("Peer assessment is not switched on here."))
            return
        if person is None:
            await self._say(turn_context, _("You are not taking part yet: say 'join' first."))
            return
        if name == "my reviews":
            await self.my_reviews(turn_context, self._service, person, _)
        elif name == "my feedback":
            await self.my_feedback(turn_context, self._service, person, _)

    async def my_reviews(self, turn_context: TurnContext, service: AssessmentService, person: Participant,
                         _: Translate) -> None:
        tasks = await service.my_reviews(person.id)
        if not tasks:
            await self._say(turn_context, _("You have no reviews to write right now."))
            return
        todo = sum(1 for t in tasks if t.review.status is not ReviewStatus.SUBMITTED)
        intro = _.ngettext("You have {n} review to write.", "You have {n} reviews to write.",
                           todo).format(n=todo) if todo else _("All your reviews are submitted.")
        if is_email(turn_context):
            lines = [intro]
            linked = True
            for task in tasks:
                who = _("yourself") if task.review.kind is ReviewKind.SELF else task.reviewee_name
                state = _("submitted") if task.review.status is ReviewStatus.SUBMITTED else _("not yet submitted")
                line = _("{who}: {state}, due {deadline}").format(
                    who=who, state=state, deadline=format_when(task.assessment.deadline,
                                                               person.profile.time_zone, _.language))
                url = self._links.link(person.id, TwinCard.REVIEW, task.review.id)
                linked = linked and bool(url)
                lines.append(f"{line} · [{_('Write your review')}]({url})" if url else line)
            if not linked:
                lines.append(_("Open peer coaching in Teams to write or change a review."))
            await self._say(turn_context, "\n\n".join(lines), subject=_("Your peer reviews"))
            return
        await self._say(turn_context, intro)
        for task in tasks[:MAX_CARDS]:
            await self._say(turn_context, "", cards.rubric_card(task.assessment, task.review, task.reviewee_name,
                                                                   time_zone=person.profile.time_zone, _=_))
        if len(tasks) > MAX_CARDS:
            await self._say(turn_context, _("{n} more: say 'my reviews' again after submitting these.").format(
                n=len(tasks) - MAX_CARDS))

    async def my_feedback(self, turn_context: TurnContext, service: AssessmentService, person: Participant,
                          _: Translate) -> None:
        views = await service.my_feedback(person.id)
        if not views:
            await self._say(turn_context, _("No feedback has been released for you yet."))
            return
        if is_email(turn_context):
            parts = []
            for view in views[:MAX_CARDS]:
                subject, _html, text = cards.feedback_email(view, _=_)
                url = self._links.link(person.id, TwinCard.FEEDBACK, view.assessment_id)
                parts.append(f"**{subject}**\n\n{text}" + (f"\n\n[{_('Open your feedback')}]({url})" if url else ""))
            await self._say(turn_context, "\n\n".join(parts), subject=_("Your peer feedback"))
            return
        for view in views[:MAX_CARDS]:
            await self._say(turn_context, cards.withheld_text(view, _) if not view.released else
                            _("Your peer feedback: {rubric}").format(rubric=view.rubric_name),
                            cards.feedback_card(view, _=_))
