"""The reviewer's learning record of a peer review, read from the LRS outbox as the LRS would receive it.

It says that the reviewer reviewed, and nothing of what they wrote or whom it was about: no comment text, no
rating, no reviewee name or email (the reviewee is only a pseudonymous account)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from lrs_bridge.outbox import outbox_table
from lrs_bridge.statements import StatementBuilder
from teams_app.adapters.clock import FixedClock
from teams_app.adapters.db.assessment_repo import SqlAssessmentUnitOfWorkFactory
from teams_app.adapters.db.uow import SqlUnitOfWorkFactory
from teams_app.adapters.rubric_files import builtin_rubrics
from teams_app.adapters.xapi import XapiRecorder
from teams_app.domain.model import Profile
from teams_app.service.assessment import AssessmentService
from teams_app.service.messagebus import MessageBus
from teams_app.service.use_cases import CoachingService, ParticipantInput

SECRET = "Zanzibar-comment: she rambled in the second half"


async def statements(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))
        return [json.loads(r.payload) for r in rows]


async def test_the_reviewers_record_holds_no_comment_rating_or_reviewee_identity(engine: AsyncEngine,
                                                                               clock: FixedClock) -> None:
    bus = MessageBus()
    builder = StatementBuilder(activity_base_iri="https://peercoach.example/xapi", clock=clock.now)
    XapiRecorder(builder, "system@peercoach.example").register(bus)
    service = CoachingService(SqlUnitOfWorkFactory(engine), bus, clock)
    assessments = AssessmentService(SqlAssessmentUnitOfWorkFactory(engine), bus, clock, builtin_rubrics())
    await service.create_program("Coaching", "peer_pairs", "weekly")
    for i in range(8):
        await service.enroll("Coaching", ParticipantInput(
            email=f"person{i}@example.com", display_name=f"Personname {i}",
            profile=Profile.build(department=f"dept{i % 4}", time_zone="Europe/Berlin")), consent=True)
    await service.run_round("Coaching", seed=1)
    opened = await assessments.open_assessment("Coaching", deadline=clock.now() + timedelta(days=7), mode="peers")
    review = opened.reviews[0]
    await assessments.submit_review(review.id, review.reviewer_id, {
        "active-listening": 1, "powerful-questions": 4, "goal-setting": 2, "giving-feedback": 3},
        comments={"goal-setting": SECRET}, comment=SECRET)
    reviewed = [s for s in await statements(engine) if s["verb"]["id"].endswith("/reviewed")]
    assert len(reviewed) == 1
    text = json.dumps(reviewed[0])
    assert "Zanzibar" not in text and "rambled" not in text
    assert "result" not in reviewed[0]  # no rating, no score
    async with SqlAssessmentUnitOfWorkFactory(engine)() as uow:
        about = await uow.participants.get(review.reviewee_id)
        author = await uow.participants.get(review.reviewer_id)
    assert about is not None and author is not None
    assert about.email not in text and about.display_name not in text
    assert author.email in text  # it is the reviewer's own record
