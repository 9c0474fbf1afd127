"""The demo a fresh `peercoach dev` sets up, so the Agents Playground journey reaches a match at once.

One clearly labelled program and a few colleagues: the Agents Playground's own mock users (the names its
roster shows), with profiles that give the matcher something to explain. A demo colleague answers their own
check-in once the real people of their match have answered theirs (they met together), so `peercoach report`
has something to show after the first round. Nothing here runs
unless `peercoach dev` asks for it (``--no-demo`` skips it), and only on a database with no program yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from teams_app.domain.model import Participant, Profile, RoundStatus
from teams_app.service.use_cases import CoachingService, ParticipantInput

logger = logging.getLogger(__name__)

DEMO_PROGRAM = "Demo: coaching pairs"
DEMO_DESCRIPTION = "A demo program made by `peercoach dev` with a few made-up colleagues. Try it, then delete it."
# The Playground's default user; `peercoach dev` treats them as an admin (dev mode only).
PLAYGROUND_USER_EMAIL = "alexw@example.com"


@dataclass(frozen=True)
class DemoColleague:
    email: str
    name: str
    department: str
    time_zone: str
    offers: tuple[str, ...]
    wants: tuple[str, ...]
    usefulness: int
    learned: str
    next_step: str

    def as_input(self) -> ParticipantInput:
        profile = Profile.build(department=self.department, time_zone=self.time_zone, working_hours="08:00-18:00",
                                languages=("en", "de"), skills_offered=self.offers, skills_wanted=self.wants,
                                goals=(f"get better at {self.wants[0]}",))
        return ParticipantInput(email=self.email, display_name=self.name, profile=profile)


# The Playground's mock users (its default configuration), so its roster and our cards name the same people.
DEMO_COLLEAGUES = (
    DemoColleague("meganb@example.com", "Megan Bowen", "Marketing", "Europe/Berlin", ("storytelling",),
                  ("negotiation",), 4, "Start with the outcome the other side needs.", "Try it in Friday's review."),
    DemoColleague("adelev@example.com", "Adele Vance", "Engineering", "Europe/London", ("code review", "SQL"),
                  ("public speaking",), 5, "Rehearse the first minute out loud.", "Present at the next demo day."),
    DemoColleague("isaiahl@example.com", "Isaiah Langer", "Sales", "America/New_York", ("negotiation",),
                  ("data analysis",), 3, "A pivot table answers most of my weekly questions.",
                  "Build the pipeline report myself."),
)


async def seed_demo(service: CoachingService) -> bool:
    """Create the demo program and enroll the demo colleagues, on a database that has no program yet."""
    if await service.list_programs():
        return False
    await service.create_program(DEMO_PROGRAM, "peer_pairs", "weekly", description=DEMO_DESCRIPTION)
    for colleague in DEMO_COLLEAGUES:
        await service.enroll(DEMO_PROGRAM, colleague.as_input(), consent=True)
    logger.info("demo: created program %r with %s demo colleagues", DEMO_PROGRAM, len(DEMO_COLLEAGUES))
    return True


async def answer_demo_check_ins(service: CoachingService) -> int:
    """Demo colleagues check in on open matches once every real member has (they met together)."""
    demo = {c.email: c for c in DEMO_COLLEAGUES}
    answered = 0
    for colleague in DEMO_COLLEAGUES:
        person = await service.find_participant(email=colleague.email)
        if person is None:
            continue
        for view in await service.my_matches(person.id):
            if view.checked_in or view.round.status is not RoundStatus.OPEN:
                continue
            if not await _real_members_checked_in(service, view.match.id,
                                                  [p for p, _ in view.partners if p.email not in demo]):
                continue
            await service.record_check_in(view.match.id, person.id, met=True, usefulness=colleague.usefulness,
                                          learned=colleague.learned, next_step=colleague.next_step)
            answered += 1
    return answered


async def _real_members_checked_in(service: CoachingService, match_id: str, people: list[Participant]) -> bool:
    for member in people:
        views = [v for v in await service.my_matches(member.id) if v.match.id == match_id]
        if not views or not views[0].checked_in:
            return False
    return True
