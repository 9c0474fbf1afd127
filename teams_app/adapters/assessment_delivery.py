"""Peer assessment to people: events -> notices in the notification outbox, in the same transaction.

Register with :meth:`AssessmentDelivery.register` on the message bus (in-transaction handlers, like every other
notification): a reminder recorded as sent is committed together with its notice, so a failed delivery is
retried by the sender and never lost. Payloads carry what the channels render: the ids of the thing shown,
the Adaptive Card under ``card`` (built from the state in this transaction, and for review cards built again
from the current review when the notice is sent: :meth:`AssessmentDelivery.render`, which the outbox runs on
the rows it claims) and, where an email makes sense, ``email`` = {subject, html, text}. The sender chooses
Teams or email.

Review notices also get, when sent, the facts their email needs (``review``: who is reviewed, the program, the
rubric, whether names are shown and the anonymity threshold); the one email renderer
(:mod:`teams_app.adapters.bot.email_render`) writes the email from them, with the link to the card's web twin.

The feedback payload is built from :class:`FeedbackView` only, so it carries no reviewer identity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from teams_app.adapters.bot import assessment_cards as cards
from teams_app.domain import assessment_events as aev
from teams_app.domain.assessment.allocation import ReviewKind
from teams_app.domain.errors import DomainError
from teams_app.domain.events import Event
from teams_app.domain.model import Participant
from teams_app.domain.notifications import Notice, NotificationKind
from teams_app.i18n import translator
from teams_app.service.assessment import AssessmentUnitOfWork, ReviewTask, load_feedback_view, load_review_task
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import UnitOfWork

logger = logging.getLogger(__name__)

_EVENTS = (aev.ReviewAssigned, aev.ReviewReminderDue, aev.FeedbackReleased, aev.FeedbackWithheld,
           aev.ReviewerThanked)


# Kinds whose card shows a review: re-rendered from the review as it is when the notice is sent.
REVIEW_KINDS = frozenset({NotificationKind.REVIEW_REQUESTED.value, NotificationKind.REVIEW_REMINDER.value})


def review_facts(task: ReviewTask, program_name: str) -> dict[str, Any]:
    """What a review notice's email says beyond the card: who, where, with which rubric, and who sees names."""
    assessment = task.assessment
    return {"reviewee": task.reviewee_name, "program": program_name, "rubric": assessment.rubric.name,
            "self_assessment": task.review.kind is ReviewKind.SELF, "named_feedback": assessment.named_feedback,
            "threshold": assessment.threshold}


class AssessmentDelivery:
    def __init__(self, wake: Callable[[], None] | None = None,
                 uow_factory: Callable[[], AssessmentUnitOfWork] | None = None) -> None:
        self._wake = wake
        self._uow = uow_factory

    async def render(self, notices: list[tuple[str, str, Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
        """Render review notices from the current review, reviewee and rubric (send time): the rubric card and
        the facts their email is written from.

        Other notices, and those whose review or person is gone, keep the payload they were queued with.
        """
        if self._uow is None or not any(kind in REVIEW_KINDS for kind, _, _ in notices):
            return [payload for _, _, payload in notices]
        out: list[Mapping[str, Any]] = []
        async with self._uow() as uow:
            for kind, recipient, payload in notices:
                review_id = str(payload.get("review_id") or "")
                reviewer = await uow.participants.get(recipient) if kind in REVIEW_KINDS and review_id else None
                if reviewer is None:
                    out.append(payload)
                    continue
                _ = translator(reviewer.locale)
                try:
                    task = await load_review_task(cast(AssessmentUnitOfWork, uow), review_id, reviewer.id)
                except DomainError:  # the review is gone or no longer this person's
                    out.append(payload)
                    continue
                program = await uow.programs.get(task.assessment.program_id)
                out.append({**payload, "card": cards.rubric_card(task.assessment, task.review, task.reviewee_name,
                                                                 time_zone=reviewer.profile.time_zone, _=_),
                            "review": review_facts(task, program.name if program else "")})
        return out

    def register(self, bus: MessageBus) -> None:
        bus.in_transaction(aev.ReviewAssigned, self.review_requested)
        bus.in_transaction(aev.ReviewReminderDue, self.reminder)
        bus.in_transaction(aev.FeedbackReleased, self.feedback_released)
        bus.in_transaction(aev.FeedbackWithheld, self.feedback_withheld)
        bus.in_transaction(aev.ReviewerThanked, self.thanked)
        for event_type in _EVENTS:
            bus.after_commit(event_type, self._after_commit)

    async def _after_commit(self, _event: Event) -> None:
        if self._wake is not None:
            self._wake()

    @staticmethod
    async def _person(uow: UnitOfWork, participant_id: str) -> Participant | None:
        person = await uow.participants.get(participant_id)
        if person is None:
            logger.info("participant %s is gone (erased?): nothing queued", participant_id)
        return person

    @staticmethod
    async def _queue(uow: UnitOfWork, person: Participant, key: str, kind: NotificationKind,
                     payload: dict[str, Any], at: datetime) -> None:
        await uow.notifications.add([Notice.to(person, key, kind, payload)], at)

    @staticmethod
    async def _review_card(uow: UnitOfWork, reviewer: Participant, review_id: str) -> dict[str, Any]:
        task = await load_review_task(cast(AssessmentUnitOfWork, uow), review_id, reviewer.id)
        return cards.rubric_card(task.assessment, task.review, task.reviewee_name,
                                 time_zone=reviewer.profile.time_zone, _=translator(reviewer.locale))

    async def review_requested(self, event: aev.ReviewAssigned, uow: UnitOfWork) -> None:
        reviewer = await self._person(uow, event.reviewer_id)
        if reviewer is None:
            return
        await self._queue(uow, reviewer, event.key, NotificationKind.REVIEW_REQUESTED, {
            "card": await self._review_card(uow, reviewer, event.review_id), "assessment_id": event.assessment_id,
            "review_id": event.review_id, "deadline": event.deadline.isoformat(),
            "self_assessment": event.self_assessment}, event.at)

    async def reminder(self, event: aev.ReviewReminderDue, uow: UnitOfWork) -> None:
        reviewer = await self._person(uow, event.reviewer_id)
        if reviewer is None:
            return
        await self._queue(uow, reviewer, event.key, NotificationKind.REVIEW_REMINDER, {
            "card": await self._review_card(uow, reviewer, event.review_id), "assessment_id": event.assessment_id,
            "review_id": event.review_id, "deadline": event.deadline.isoformat(),
            "reminder_number": event.reminder_number}, event.at)

    async def _feedback(self, uow: UnitOfWork, key: str, kind: NotificationKind, assessment_id: str,
                        reviewee_id: str, at: datetime) -> None:
        person = await self._person(uow, reviewee_id)
        if person is None:
            return
        _ = translator(person.locale)
        view = await load_feedback_view(cast(AssessmentUnitOfWork, uow), assessment_id, reviewee_id)
        subject, html, text = cards.feedback_email(view, _=_)
        await self._queue(uow, person, key, kind, {
            "card": cards.feedback_card(view, _=_), "assessment_id": assessment_id,
            "email": {"subject": subject, "html": html, "text": text}}, at)

    async def feedback_released(self, event: aev.FeedbackReleased, uow: UnitOfWork) -> None:
        await self._feedback(uow, event.key, NotificationKind.FEEDBACK, event.assessment_id, event.reviewee_id,
                             event.at)

    async def feedback_withheld(self, event: aev.FeedbackWithheld, uow: UnitOfWork) -> None:
        await self._feedback(uow, event.key, NotificationKind.FEEDBACK_WITHHELD, event.assessment_id,
                             event.reviewee_id, event.at)

    async def thanked(self, event: aev.ReviewerThanked, uow: UnitOfWork) -> None:
        reviewer = await self._person(uow, event.reviewer_id)
        if reviewer is None:
            return
        program = await uow.programs.get(event.program_id)
        await self._queue(uow, reviewer, event.key, NotificationKind.THANKS, {
            "card": cards.thanks_card(program.name if program else "", event.reviews_in_assessment,
                                      event.reviews_in_program, _=translator(reviewer.locale)),
            "reviews_in_program": event.reviews_in_program}, event.at)
