"""Adaptive Cards (1.5) for peer assessment, as plain dicts: the rubric card, the feedback card, the thank-you
card, plus the parser for a submitted rubric card and the feedback email parts. No botbuilder here.

The rubric card submits with ``Action.Execute`` verb ``assessment.submit`` (``assessment.withdraw`` to withdraw);
its ``data`` carries ``assessment_id`` and ``review_id``, and the inputs arrive beside them as ``ratings.<criterion>``,
``comments.<criterion>`` and ``comment``. When a submission is refused, render the card again with
``errors=field_errors(exc)`` and ``values=data``: every problem shows under its own input, and nothing typed is lost.

Anonymity: the feedback card and email are built from a :class:`FeedbackView` only, which holds no reviewer id;
reviewer names appear only when the view is named.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from teams_app.domain.assessment import (
    CANT_JUDGE,
    AllocationMode,
    Assessment,
    AssessmentStatus,
    Band,
    FeedbackView,
    Review,
    ReviewKind,
    ReviewStatus,
    ReviewSubmission,
    Rubric,
    WithheldReason,
)
from teams_app.domain.errors import InvalidInput, InvalidInputs
from teams_app.domain.model import MAX_TEXT
from teams_app.i18n import Translate, format_when

logger = logging.getLogger(__name__)

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
SUBMIT_VERB = "assessment.submit"
WITHDRAW_VERB = "assessment.withdraw"



def _when(moment: datetime, time_zone: str, _: Translate) -> str:
    """A moment in the reader's zone and language (the zone is named, so nobody converts by hand)."""
    return format_when(moment, time_zone or "UTC", _.language)


class _Untranslated:
    """English as written: the default when a caller passes no translator."""

    language = "en"

    def __call__(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


UNTRANSLATED = _Untranslated()


def may_skip(assessment: Assessment, review: Review) -> bool:
    """Peers from outside the person's team may answer "can't judge" on a criterion."""
    return assessment.mode is AllocationMode.PEERS and review.kind is ReviewKind.PEER


def _card(body: list[dict[str, Any] | None], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": _present(body)}
    if actions:
        card["actions"] = actions
    return card


def _present(items: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [item for item in items if item is not None]


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _error(text: str, field: str) -> dict[str, Any]:
    return _text(text, color="Attention", size="Small", id=f"error.{field}")


# -- the rubric card -------------------------------------------------------------------------------------------
def rubric_card(assessment: Assessment, review: Review, reviewee_name: str, *,
                errors: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None,
                notice: str = "", time_zone: str = "UTC", _: Translate = UNTRANSLATED) -> dict[str, Any]:
    """The review form for one review. ``values`` pre-fill the inputs (the submitted data, or the stored review);
    ``notice`` is a confirmation shown on top (e.g. after saving); times are said in the reader's ``time_zone``."""
    rubric = assessment.rubric
    errors = dict(errors or {})
    current = dict(values) if values is not None else _stored_values(review)
    self_review = review.kind is ReviewKind.SELF
    title = _("Self-assessment: {rubric}").format(rubric=rubric.name) if self_review else \
        _("Peer review of {name}: {rubric}").format(name=reviewee_name, rubric=rubric.name)
    if self_review:
        description = rubric.self_description or _("How well did you do on each criterion this round? Rate "
                                                    "yourself as honestly as you would rate a peer.")
    else:
        description = rubric.description
    if assessment.status is AssessmentStatus.RELEASED:
        return _read_only_card(assessment, review, title, description, time_zone, _)
    body: list[dict[str, Any] | None] = [
        _text(title, size="Medium", weight="Bolder", style="heading"),
        _text(description, isSubtle=True) if description else None,
        _text(_("Due {deadline}. You can change your answers until then.").format(
            deadline=_when(assessment.deadline, time_zone, _)), size="Small", id="due"),
    ]
    if notice:
        body.append(_text(notice, color="Good", weight="Bolder", id="notice"))
    if errors:
        body.append(_text(_("Please check the fields marked below."), color="Attention", weight="Bolder"))
    for general in ("review_id", "assessment_id", "review"):
        if general in errors:
            body.append(_error(errors[general], general))
    skippable = may_skip(assessment, review)
    for criterion in rubric.criteria:
        rating_id, comment_id = f"ratings.{criterion.id}", f"comments.{criterion.id}"
        body.append({"type": "Container", "separator": True, "spacing": "Medium", "items": _present([
            _text(criterion.name, weight="Bolder"),
            _text(criterion.description, isSubtle=True, size="Small") if criterion.description else None,
        ])})
        body.append({
            "type": "Input.ChoiceSet", "id": rating_id, "style": "expanded", "isRequired": True,
            "label": _("Level for {criterion}").format(criterion=criterion.name),
            "errorMessage": _("Choose a level"),
            "choices": [{"title": f"{lv.value} · {lv.label}" + (f" — {lv.descriptor}" if lv.descriptor else ""),
                         "value": str(lv.value)} for lv in criterion.levels]
            + ([{"title": _("Can't judge: I did not see this"), "value": CANT_JUDGE}] if skippable else []),
            **({"value": str(current[rating_id])} if current.get(rating_id) not in (None, "") else {}),
        })
        if rating_id in errors:
            body.append(_error(errors[rating_id], rating_id))
        body.append({
            "type": "Input.Text", "id": comment_id, "isMultiline": True, "maxLength": MAX_TEXT,
            "label": _("An example that shows it (optional)"), "value": str(current.get(comment_id) or ""),
        })
        if comment_id in errors:
            body.append(_error(errors[comment_id], comment_id))
    body.append({"type": "Input.Text", "id": "comment", "isMultiline": True, "maxLength": MAX_TEXT,
                 "separator": True, "label": _("Anything else you want to say?"),
                 "value": str(current.get("comment") or "")})
    if "comment" in errors:
        body.append(_error(errors["comment"], "comment"))
    if not self_review:
        if assessment.named_feedback:
            note = _("{name} will see your name with your feedback.").format(name=reviewee_name)
        else:
            note = _("Your name is not shown to {name}. Results are shared only once at least {k} reviews "
                     "arrived.").format(name=reviewee_name, k=assessment.threshold)
        body.append(_text(note, size="Small", isSubtle=True))
    data = {"assessment_id": assessment.id, "review_id": review.id}
    actions: list[dict[str, Any]] = [{
        "type": "Action.Execute", "title": _("Update review") if review.status is ReviewStatus.SUBMITTED
        else _("Submit review"), "verb": SUBMIT_VERB, "data": data, "associatedInputs": "auto", "style": "positive",
    }]
    if review.status is ReviewStatus.SUBMITTED:
        actions.append({"type": "Action.Execute", "title": _("Withdraw review"), "verb": WITHDRAW_VERB,
                        "data": data, "associatedInputs": "none", "style": "destructive"})
    return _card(body, actions)


def _read_only_card(assessment: Assessment, review: Review, title: str, description: str, time_zone: str,
                    _: Translate) -> dict[str, Any]:
    """After release a review cannot change: the answers as text, no inputs, no buttons, and why."""
    when = _when(assessment.released_at or assessment.deadline, time_zone, _)
    body: list[dict[str, Any] | None] = [
        _text(title, size="Medium", weight="Bolder", style="heading"),
        _text(description, isSubtle=True) if description else None,
        _text(_("Results were released on {date}, so this review is closed and can no longer be "
                "changed.").format(date=when), weight="Bolder", id="notice"),
    ]
    if review.status is not ReviewStatus.SUBMITTED:
        body.append(_text(_("You did not submit this review.")))
    else:
        for criterion in assessment.rubric.criteria:
            level = review.ratings.get(criterion.id)
            answer = f"{level} · {criterion.level(level).label}" if level is not None else _("Can't judge")
            body.append(_text(f"{criterion.name}: {answer}"))
            if review.comments.get(criterion.id):
                body.append(_text(f"“{review.comments[criterion.id]}”", isSubtle=True))
        if review.comment:
            body.append(_text(f"“{review.comment}”", isSubtle=True, separator=True))
    return _card(body)


def _stored_values(review: Review) -> dict[str, Any]:
    values: dict[str, Any] = {f"ratings.{k}": v for k, v in review.ratings.items()}
    values.update({f"comments.{k}": v for k, v in review.comments.items()})
    values["comment"] = review.comment
    return values


# -- parsing a submitted card ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardSubmission:
    assessment_id: str
    review_id: str
    submission: ReviewSubmission


def parse_submission(data: Mapping[str, Any], rubric: Rubric, *, allow_cant_judge: bool = False) -> CardSubmission:
    """Validate an ``assessment.submit`` payload. Raises InvalidInputs with one problem per field (input id)."""
    problems: list[InvalidInput] = []
    ids: dict[str, str] = {}
    for key in ("assessment_id", "review_id"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(InvalidInput(key, "is missing: open the review again from your latest message"))
        else:
            ids[key] = value.strip()
    ratings = {k.removeprefix("ratings."): v for k, v in data.items() if k.startswith("ratings.")}
    comments = {k.removeprefix("comments."): v for k, v in data.items() if k.startswith("comments.")}
    submission: ReviewSubmission | None = None
    try:
        submission = rubric.validate_submission(ratings, comments, data.get("comment", ""),
                                                allow_cant_judge=allow_cant_judge)
    except InvalidInputs as exc:
        problems.extend(exc.problems)
    if problems or submission is None:
        raise InvalidInputs(problems)
    return CardSubmission(ids["assessment_id"], ids["review_id"], submission)


def field_errors(error: InvalidInput | InvalidInputs) -> dict[str, str]:
    """Map an error to card input ids, for re-rendering the card with each problem under its input."""
    problems = error.problems if isinstance(error, InvalidInputs) else [error]
    out: dict[str, str] = {}
    for problem in problems:
        out.setdefault(problem.field, problem.problem[:1].upper() + problem.problem[1:])
    return out


# -- feedback and thanks -----------------------------------------------------------------------------------------
def _band_label(band: Band, _: Translate) -> str:
    return {Band.STRENGTH: _("strength"), Band.GROWTH: _("growth area"), Band.STEADY: _("steady")}[band]


def feedback_card(view: FeedbackView, *, _: Translate = UNTRANSLATED) -> dict[str, Any]:
    """The assessed person's feedback card; when not (yet) released it only says why."""
    title = _("Your peer feedback: {rubric}").format(rubric=view.rubric_name)
    if not view.released:
        return _card([_text(title, size="Medium", weight="Bolder", style="heading"),
                      _text(withheld_text(view, _), id="withheld")])
    body: list[dict[str, Any] | None] = [
        _text(title, size="Medium", weight="Bolder", style="heading"),
        _text(_.ngettext("Based on {n} peer review, adjusted for how lenient or strict the reviewer is.",
                         "Based on {n} peer reviews, adjusted for how lenient or strict each reviewer is.",
                         view.n_reviews).format(n=view.n_reviews), isSubtle=True, size="Small"),
    ]
    if view.strengths:
        body.append(_text(_("Strengths: {list}").format(list=", ".join(view.strengths)), color="Good"))
    if view.growth_areas:
        body.append(_text(_("Growth areas: {list}").format(list=", ".join(view.growth_areas)), color="Warning"))
    has_self = any(c.self_level is not None for c in view.criteria)
    header = [_("Criterion"), _("Peers"), *([_("You")] if has_self else [])]
    rows: list[dict[str, Any]] = [_row(header, bold=True)]
    for c in view.criteria:
        peers = f"{c.level_label} ({c.peer_score:.1f}/{c.max_level}) · {_band_label(c.band, _)}"
        cells = [c.name, peers, *([f"{c.self_label} ({c.self_level})" if c.self_level is not None else "–"]
                                  if has_self else [])]
        rows.append(_row(cells))
    body.append({"type": "Container", "separator": True, "items": rows})
    gaps = [c for c in view.criteria if c.gap is not None and abs(c.gap) >= 1]
    for c in gaps:
        key = _("You rated yourself higher than your peers on {criterion}.") if (c.gap or 0) > 0 else \
            _("Your peers rated you higher than you did on {criterion}.")
        body.append(_text(key.format(criterion=c.name), size="Small", isSubtle=True))
    if view.comments:
        body.append(_text(_("What your peers wrote"), weight="Bolder", separator=True))
        names = {c.criterion_id: c.name for c in view.criteria}
        for comment in view.comments:
            prefix = f"**{names.get(comment.criterion_id, '')}:** " if comment.criterion_id else ""
            suffix = f" — {comment.author}" if view.named and comment.author else ""
            body.append(_text(f"{prefix}“{comment.text}”{suffix}"))
    if view.next_steps:
        body.append(_text(_("Next steps"), weight="Bolder", separator=True))
        body.append(_text("\n".join(f"- {step}" for step in view.next_steps)))
    return _card(body)


def withheld_text(view: FeedbackView, _: Translate) -> str:
    """Why a person sees no results, as a full sentence from the catalog in their language."""
    if view.why is WithheldReason.NOT_YET:
        return _("Your feedback will be shared after the deadline.")
    if view.why is WithheldReason.NO_REVIEWS:
        return _("No feedback was submitted for you this time.")
    arrived = _.ngettext("{n} review arrived this time.", "{n} reviews arrived this time.",
                         view.n_reviews).format(n=view.n_reviews)
    return _("Your feedback stays anonymous, so it is shared only once at least {k} reviews have arrived.").format(
        k=view.needed) + " " + arrived


def _row(cells: list[str], *, bold: bool = False) -> dict[str, Any]:
    widths = ["stretch", "auto", "auto"]
    return {"type": "ColumnSet", "columns": [
        {"type": "Column", "width": widths[min(i, 2)],
         "items": [_text(cell, **({"weight": "Bolder"} if bold else {}))]} for i, cell in enumerate(cells)]}


def message_card(text: str, *, attention: bool = False) -> dict[str, Any]:
    """A one-line card (e.g. to replace a card whose review no longer exists)."""
    return _card([_text(text, **({"color": "Attention"} if attention else {}))])


def thanks_card(program_name: str, reviews_in_assessment: int, reviews_in_program: int, *,
                _: Translate = UNTRANSLATED) -> dict[str, Any]:
    return _card([
        _text(_("Thank you for your reviews!"), size="Medium", weight="Bolder", style="heading"),
        _text(_.ngettext("You wrote {n} review this round.", "You wrote {n} reviews this round.",
                         reviews_in_assessment).format(n=reviews_in_assessment) + " "
              + _.ngettext("{total} review in {program} so far.", "{total} reviews in {program} so far.",
                           reviews_in_program).format(total=reviews_in_program, program=program_name) + " "
              + _("Thoughtful feedback is how your peers grow.")),
    ])


def feedback_email(view: FeedbackView, *, _: Translate = UNTRANSLATED) -> tuple[str, str, str]:
    """(subject, html, text) of the feedback email, from the same view as the card (no reviewer identities)."""
    subject = _("Your peer feedback: {rubric}").format(rubric=view.rubric_name)
    if not view.released:
        text = withheld_text(view, _)
        return subject, f"<html><body><h2>{html.escape(subject)}</h2><p>{html.escape(text)}</p></body></html>", text
    lines = [_.ngettext("Based on {n} peer review.", "Based on {n} peer reviews.", view.n_reviews).format(
        n=view.n_reviews)]
    if view.strengths:
        lines.append(_("Strengths: {list}").format(list=", ".join(view.strengths)))
    if view.growth_areas:
        lines.append(_("Growth areas: {list}").format(list=", ".join(view.growth_areas)))
    lines.append("")
    for c in view.criteria:
        mine = f"; {_('you')}: {c.self_label} ({c.self_level})" if c.self_level is not None else ""
        lines.append(f"- {c.name}: {c.level_label} ({c.peer_score:.1f}/{c.max_level}){mine}")
    if view.comments:
        lines += ["", _("What your peers wrote:")]
        lines += [f"- “{c.text}”" + (f" — {c.author}" if view.named and c.author else "") for c in view.comments]
    if view.next_steps:
        lines += ["", _("Next steps:")]
        lines += [f"- {step}" for step in view.next_steps]
    text = "\n".join(lines)
    body = "".join(f"<p>{html.escape(line)}</p>" if not line.startswith("- ") else
                   f"<li>{html.escape(line[2:])}</li>" for line in lines if line)
    return subject, f"<html><body><h2>{html.escape(subject)}</h2>{body}</body></html>", text
