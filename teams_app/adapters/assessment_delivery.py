"""Peer assessment to people: events -> notices in the notification outbox, in the same transaction.

Register with :meth:`AssessmentDelivery.register` on the message bus (in-transaction handlers, like every other
notification): a reminder recorded as sent is committed together with its notice, so a failed delivery is
retried by the sender and never lost. Payloads carry what the channels render: the ids of the thing shown,
the Adaptive Card under ``card`` (built from the state in this transaction, and for review cards built again
from the current review when the notice is sent: :meth:`AssessmentDelivery.render`, which the outbox runs on
the rows it claims) and, where an email makes sense, ``email`` = {subject, html, text}. The sender chooses
Teams or email.

Emails are completed when the notice is sent (:meth:`AssessmentDelivery.render`, in the process that sends):
review requests and reminders get their whole email there (the person's language, the deadline in their time
zone, the link to the review card's web twin), and feedback emails get the link to the feedback's twin. Links
are made then, so they are fresh when they arrive, and only the sending process needs the signing key.

The feedback payload is built from :class:`FeedbackView` only, so it carries no reviewer identity.
"""

from __future__ import annotations

import html
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
from teams_app.domain.notifications import Notice, NotificationKind, TwinCard
from teams_app.i18n import Translate, format_when, translator
from teams_app.service.assessment import AssessmentUnitOfWork, ReviewTask, load_feedback_view, load_review_task
from teams_app.service.messagebus import MessageBus
from teams_app.service.ports import CardLinks, NoCardLinks, UnitOfWork

logger = logging.getLogger(__name__)

_EVENTS = (aev.ReviewAssigned, aev.ReviewReminderDue, aev.FeedbackReleased, aev.FeedbackWithheld,
           aev.ReviewerThanked)


# Kinds whose card shows a review: re-rendered from the review as it is when the notice is sent.
REVIEW_KINDS = frozenset({NotificationKind.REVIEW_REQUESTED.value, NotificationKind.REVIEW_REMINDER.value})
# Kinds whose email gets the link to the feedback's web twin when sent.
FEEDBACK_KINDS = frozenset({NotificationKind.FEEDBACK.value, NotificationKind.FEEDBACK_WITHHELD.value})


def _paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)


def _button(url: str, label: str) -> str:
    return (f'<p><a href="{html.escape(url)}" style="display:inline-block;padding:10px 18px;background:#5b5fc7;'
            f'color:#ffffff;text-decoration:none;border-radius:4px">{html.escape(label)}</a></p>')


def review_email(kind: str, task: ReviewTask, reviewer: Participant, program_name: str, link: str | None,
                 _: Translate) -> dict[str, str]:
    """The email of a review request or reminder: {subject, html, text}, complete without Teams."""
    assessment, review = task.assessment, task.review
    self_review = review.kind is ReviewKind.SELF
    deadline = format_when(assessment.deadline, reviewer.profile.time_zone if reviewer.profile else "UTC",
                           reviewer.locale)
    rubric, name = assessment.rubric.name, task.reviewee_name
    reminder = kind == NotificationKind.REVIEW_REMINDER.value
    if self_review:
        subject = (_("Reminder: your self-assessment is due {deadline}") if reminder
                   else _("Your self-assessment: {rubric}")).format(deadline=deadline, rubric=rubric)
        ask = _("Please assess yourself in {program}, with the rubric \"{rubric}\".")
    else:
        subject = (_("Reminder: your review of {name} is due {deadline}") if reminder
                   else _("Please review {name}: {rubric}")).format(name=name, deadline=deadline, rubric=rubric)
        ask = _("Please review how {name} did in {program}, with the rubric \"{rubric}\".")
    lines = [_("Hello {name},").format(name=reviewer.display_name), ask.format(
        name=name, program=program_name, rubric=rubric),
        _("It takes a few minutes: choose a level for each criterion and, if you like, add an example. Please "
          "answer by {deadline}; you can change your answers until then.").format(deadline=deadline)]
    if not self_review:
        lines.append(_("{name} will see your name with your feedback.").format(name=name) if assessment.named_feedback
                     else _("Your name is not shown to {name}. Results are shared only once at least {k} reviews "
                            "arrived.").format(name=name, k=assessment.threshold))
    if link:
        action = _("Open the review")
        after = _("This link is for you only: please do not forward it. It works for a limited time; for a new "
                  "one, say 'help' to me.")
        text = "\n\n".join([*lines, f"{action}: {link}", after])
        body = _paragraphs(lines) + _button(link, action) + _paragraphs([after])
    else:
        after = _("Answer on the review card in your chat with me in Teams.")
        text = "\n\n".join([*lines, after])
        body = _paragraphs([*lines, after])
    return {"subject": subject, "text": text,
            "html": f"<html><body><h2>{html.escape(subject)}</h2>{body}</body></html>"}


def with_feedback_link(email: Mapping[str, Any], link: str, _: Translate) -> dict[str, str]:
    """A feedback email with the link to its web twin (the card, as released, in the browser)."""
    label = _("See your feedback as a card")
    page = str(email.get("html") or "")
    addition = _button(link, label)
    page = page.replace("</body>", addition + "</body>") if "</body>" in page else page + addition
    return {"subject": str(email.get("subject") or ""), "html": page,
            "text": f"{email.get('text') or ''}\n\n{label}: {link}"}


class AssessmentDelivery:
    def __init__(self, wake: Callable[[], None] | None = None,
                 uow_factory: Callable[[], AssessmentUnitOfWork] | None = None, *,
                 links: CardLinks | None = None) -> None:
        self._wake = wake
        self._uow = uow_factory
        self._links: CardLinks = links or NoCardLinks()

    async def render(self, notices: list[tuple[str, str, Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
        """Render review notices from the current review, reviewee and rubric (send time): the rubric card and
        the complete email with the link to the card's web twin; add the feedback twin's link to feedback emails.

        Other notices, and those whose review or person is gone, keep the payload they were queued with.
        """
        if self._uow is None or not any(kind in REVIEW_KINDS | FEEDBACK_KINDS for kind, _, _ in notices):
            return [payload for _, _, payload in notices]
        out: list[Mapping[str, Any]] = []
        async with self._uow() as uow:
            for kind, recipient, payload in notices:
                if kind in FEEDBACK_KINDS:
                    out.append(await self._feedback_payload(uow, recipient, payload))
                    continue
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
                link = self._links.link(reviewer.id, TwinCard.REVIEW, review_id)
                out.append({**payload, "card": cards.rubric_card(task.assessment, task.review, task.reviewee_name,
                                                                 _=_),
                            "email": review_email(kind, task, reviewer, program.name if program else "", link, _)})
        return out

    async def _feedback_payload(self, uow: AssessmentUnitOfWork, recipient: str,
                                payload: Mapping[str, Any]) -> Mapping[str, Any]:
        email, assessment_id = payload.get("email"), str(payload.get("assessment_id") or "")
        if not isinstance(email, Mapping) or not assessment_id:
            return payload
        person = await uow.participants.get(recipient)
        link = self._links.link(recipient, TwinCard.FEEDBACK, assessment_id) if person is not None else None
        if person is None or link is None:
            return payload
        return {**payload, "email": with_feedback_link(email, link, translator(person.locale))}

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
        return cards.rubric_card(task.assessment, task.review, task.reviewee_name, _=translator(reviewer.locale))

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
