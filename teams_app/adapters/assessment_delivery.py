"""Delivering peer assessment to people: events -> cards (and email parts) through the ``Notifier`` port.

Register with :meth:`AssessmentDelivery.register` on the message bus (after-commit handlers). Payloads carry the
Adaptive Card under ``card`` and, where an email makes sense, ``email`` = {subject, html, text}; the Notifier
implementation chooses Teams or email. Kinds: ``assessment.review_requested``, ``assessment.reminder``,
``assessment.feedback``, ``assessment.feedback_withheld``, ``assessment.thanks``.

The feedback payload is built from :class:`FeedbackView` only, so it carries no reviewer identity.
"""

from __future__ import annotations

import logging
from typing import Any

from teams_app.adapters.bot import assessment_cards as cards
from teams_app.domain import assessment_events as aev
from teams_app.domain.model import Participant
from teams_app.i18n import translator
from teams_app.service.assessment import AssessmentService
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import Notifier

logger = logging.getLogger(__name__)


class AssessmentDelivery:
    def __init__(self, service: AssessmentService, notifier: Notifier) -> None:
        self._service = service
        self._notifier = notifier

    def register(self, bus: MessageBus) -> None:
        bus.after_commit(aev.ReviewAssigned, self.review_requested)
        bus.after_commit(aev.ReviewReminderDue, self.reminder)
        bus.after_commit(aev.FeedbackReleased, self.feedback_released)
        bus.after_commit(aev.FeedbackWithheld, self.feedback_withheld)
        bus.after_commit(aev.ReviewerThanked, self.thanked)

    async def _person(self, participant_id: str) -> Participant | None:
        person = await self._service.participant(participant_id)
        if person is None:
            logger.info("participant %s is gone (erased?): nothing delivered", participant_id)
        return person

    async def _send(self, person: Participant, kind: str, payload: dict[str, Any]) -> None:
        await self._notifier.notify(person, kind, payload)

    async def _review_card(self, reviewer: Participant, review_id: str) -> dict[str, Any]:
        task = await self._service.get_task(review_id, reviewer.id)
        return cards.rubric_card(task.assessment, task.review, task.reviewee_name, _=translator(reviewer.locale))

    async def review_requested(self, event: aev.ReviewAssigned) -> None:
        reviewer = await self._person(event.reviewer_id)
        if reviewer is None:
            return
        await self._send(reviewer, "assessment.review_requested", {
            "card": await self._review_card(reviewer, event.review_id), "assessment_id": event.assessment_id,
            "review_id": event.review_id, "deadline": event.deadline.isoformat(),
            "self_assessment": event.self_assessment})

    async def reminder(self, event: aev.ReviewReminderDue) -> None:
        reviewer = await self._person(event.reviewer_id)
        if reviewer is None:
            return
        await self._send(reviewer, "assessment.reminder", {
            "card": await self._review_card(reviewer, event.review_id), "assessment_id": event.assessment_id,
            "review_id": event.review_id, "deadline": event.deadline.isoformat(),
            "reminder_number": event.reminder_number})

    async def _feedback(self, kind: str, assessment_id: str, reviewee_id: str) -> None:
        person = await self._person(reviewee_id)
        if person is None:
            return
        _ = translator(person.locale)
        view = await self._service.feedback_view(assessment_id, reviewee_id)
        subject, html, text = cards.feedback_email(view, _=_)
        await self._send(person, kind, {"card": cards.feedback_card(view, _=_), "assessment_id": assessment_id,
                                        "email": {"subject": subject, "html": html, "text": text}})

    async def feedback_released(self, event: aev.FeedbackReleased) -> None:
        await self._feedback("assessment.feedback", event.assessment_id, event.reviewee_id)

    async def feedback_withheld(self, event: aev.FeedbackWithheld) -> None:
        await self._feedback("assessment.feedback_withheld", event.assessment_id, event.reviewee_id)

    async def thanked(self, event: aev.ReviewerThanked) -> None:
        reviewer = await self._person(event.reviewer_id)
        if reviewer is None:
            return
        program = await self._service.program(event.program_id)
        await self._send(reviewer, "assessment.thanks", {
            "card": cards.thanks_card(program.name if program else "", event.reviews_in_assessment,
                                      event.reviews_in_program, _=translator(reviewer.locale)),
            "reviews_in_program": event.reviews_in_program})
