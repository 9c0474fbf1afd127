"""Delivery: assessment events become rubric, reminder, feedback and thank-you notices in the outbox.

They are queued in the same transaction as the change (the fake unit of work's notification queue), so a
rolled-back change queues nothing and a committed one cannot lose its notice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from teams_app.adapters.assessment_delivery import AssessmentDelivery
from teams_app.domain.model import Participant
from tests.unit.test_assessment_service import Harness, peer_assessment, submit_all


class Queued:
    """Reads the committed notices of a harness's fake store."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def kinds(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(n.recipient_id, dict(n.payload)) for n, _ in self.h.uow.store.notices.values() if n.kind == kind]


def wired(**options: Any) -> tuple[Harness, Queued]:
    h = Harness(**options)
    woken: list[int] = []
    AssessmentDelivery(wake=lambda: woken.append(1)).register(h.bus)
    return h, Queued(h)


async def test_reviewers_get_a_rubric_card_per_review_and_reminders() -> None:
    h, notifier = wired()
    assessment_id = await peer_assessment(h)
    requested = notifier.kinds("assessment.review_requested")
    assert len(requested) == 24
    pid, payload = requested[0]
    assert payload["card"]["actions"][0]["data"]["review_id"] == payload["review_id"]
    assert h.uow.store.reviews[payload["review_id"]].reviewer_id == pid
    h.clock.advance(days=6, hours=1)
    await h.service.send_reminders()
    assert len(notifier.kinds("assessment.reminder")) == 24
    assert all(p["reminder_number"] == 2 for _, p in notifier.kinds("assessment.reminder"))
    assert assessment_id


async def test_release_sends_feedback_withheld_notes_and_thanks_without_reviewer_names() -> None:
    h, notifier = wired()
    assessment_id = await peer_assessment(h)
    missing = next(r for r in h.uow.store.reviews.values() if r.reviewee_id == "p5")
    await submit_all(h, assessment_id, skip=frozenset({missing.id}))
    h.clock.advance(days=8)
    await h.service.release_results(assessment_id)
    feedback = dict(notifier.kinds("assessment.feedback"))
    assert sorted(feedback) == [f"p{i}" for i in range(8) if i != 5]
    for reviewee, payload in feedback.items():
        dumped = json.dumps(payload, ensure_ascii=False)
        assert payload["email"]["subject"] == "Your peer feedback: Coaching skills"
        for review in h.uow.store.reviews.values():
            if review.reviewee_id == reviewee:
                reviewer = h.uow.store.participants[review.reviewer_id]
                assert reviewer.display_name not in dumped and reviewer.email not in dumped
                assert f'"{reviewer.id}"' not in dumped and review.id not in dumped
    (withheld,) = notifier.kinds("assessment.feedback_withheld")
    assert withheld[0] == "p5" and "at least 3" in withheld[1]["email"]["text"]
    thanks = dict(notifier.kinds("assessment.thanks"))
    assert len(thanks) == 8
    assert "in Coaching so far" in json.dumps(thanks[missing.reviewer_id]["card"])


async def test_german_speakers_get_the_same_cards_without_errors() -> None:
    h, notifier = wired()
    h.add_people(2)
    h.uow.store.participants["p0"] = Participant.create("p0@example.com", "Person 0", participant_id="p0",
                                                        locale="de")
    h.add_match("p0", "p1")
    await h.service.open_assessment("prog", deadline=h.deadline)
    assert {pid for pid, _ in notifier.kinds("assessment.review_requested")} == {"p0", "p1"}


async def test_an_erased_person_gets_nothing_and_nothing_breaks() -> None:
    h, notifier = wired()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    del h.uow.store.participants["p1"]
    review = next(r for r in opened.reviews if r.reviewer_id == "p1")
    h.clock.advance(days=6, hours=1)
    await h.service.send_reminders()
    assert all(pid != "p1" for pid, _ in notifier.kinds("assessment.reminder"))
    assert review.id in h.uow.store.reviews


async def test_a_failing_change_queues_no_notice_and_a_reminder_is_queued_once() -> None:
    h, notifier = wired()
    h.add_people(2)
    h.add_match("p0", "p1")
    opened = await h.service.open_assessment("prog", deadline=h.deadline)
    assert len(notifier.kinds("assessment.review_requested")) == 2

    failing = [True]

    async def broken(event: object, uow: object) -> None:
        if failing:
            raise ConnectionError("database gone mid-transaction")

    from teams_app.domain import assessment_events as aev

    h.bus.in_transaction(aev.ReviewReminderDue, broken)
    h.clock.advance(days=6, hours=1)
    with pytest.raises(ConnectionError):
        await h.service.send_reminders()
    # Rolled back together: no reminder marked as sent, no notice queued.
    assert notifier.kinds("assessment.reminder") == []
    assert all(r.reminders_sent == 0 for r in h.uow.store.reviews.values())
    failing.clear()
    await h.service.send_reminders()
    await h.service.send_reminders()  # nothing is due twice
    assert len(notifier.kinds("assessment.reminder")) == 2
    assert opened.assessment.id in h.uow.store.assessments
