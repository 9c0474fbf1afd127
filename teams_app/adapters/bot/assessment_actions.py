"""Handling the rubric card's ``Action.Execute`` verbs: returns the card that replaces the submitted one.

The bot's invoke handler (``adaptiveCard/action``) calls :func:`handle_assessment_action` with the verb, the
action ``data`` (inputs included) and the sender's participant id, and answers with the returned card. Bad
input comes back as the same card with each problem under its input and everything typed kept; a closed
window or a released assessment comes back as the card with the reason on top. No botbuilder here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from teams_app.adapters.bot.assessment_cards import (
    SUBMIT_VERB,
    UNTRANSLATED,
    WITHDRAW_VERB,
    field_errors,
    may_skip,
    message_card,
    parse_submission,
    rubric_card,
)
from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition, NotAllowed, NotFound
from teams_app.i18n import Translate
from teams_app.service.assessment import AssessmentService

logger = logging.getLogger(__name__)

VERBS = (SUBMIT_VERB, WITHDRAW_VERB)


async def handle_assessment_action(service: AssessmentService, verb: str, data: Mapping[str, Any],
                                   participant_id: str, *, time_zone: str = "UTC",
                                   _: Translate = UNTRANSLATED) -> dict[str, Any]:
    """Submit, edit or withdraw a review from its card; always returns a card to show."""
    if verb not in VERBS:
        raise ValueError(f"not an assessment verb: {verb!r}")
    review_id = data.get("review_id")
    if not isinstance(review_id, str) or not review_id:
        return message_card(_("This card is out of date: open the review again from your latest message."),
                            attention=True)
    try:
        task = await service.get_task(review_id, participant_id)
    except (NotFound, NotAllowed) as exc:
        logger.info("assessment action %s on review %s refused: %s", verb, review_id, exc)
        return message_card(_("This review is not available to you."), attention=True)
    stale = _("This card is out of date: open the review again from your latest message.")
    if data.get("assessment_id") not in (None, task.assessment.id):
        return message_card(stale, attention=True)
    try:
        if verb == WITHDRAW_VERB:
            review = await service.withdraw_review(review_id, participant_id)
            # The answers stay in the form (from the withdrawn review), so submitting again is one click.
            return rubric_card(task.assessment, review, task.reviewee_name,
                               notice=_("Your review was withdrawn. You can submit it again before the deadline."),
                               time_zone=time_zone, _=_)
        parsed = parse_submission(data, task.assessment.rubric, allow_cant_judge=may_skip(task.assessment, task.review))
        review = await service.submit_review(parsed.review_id, participant_id, parsed.submission.ratings,
                                             parsed.submission.comments, parsed.submission.comment)
    except (InvalidInput, InvalidInputs) as exc:
        return rubric_card(task.assessment, task.review, task.reviewee_name, errors=field_errors(exc), values=data,
                           time_zone=time_zone, _=_)
    except InvalidTransition as exc:
        return rubric_card(task.assessment, task.review, task.reviewee_name, errors={"review": str(exc)},
                           values=data, time_zone=time_zone, _=_)
    notice = _("Thank you: your review is saved. You can change it until the deadline.")
    return rubric_card(task.assessment, review, task.reviewee_name, notice=notice, time_zone=time_zone, _=_)
