"""Benchmark: do the learning records mean what they say, in a real LRS?

Runs a program through the service layer (the same use cases the bot and the CLI call): N participants,
R weekly rounds with check-ins (most meet, some do not), pauses and resumes, people leaving and two
erasures, into a fresh local ralph LRS through the outbox and relay. Simulated time ends at the present,
so nothing may be dated in the future. Then it reads everything back and audits it (``lrs_bridge.audit``).
Until ``peercoach simulate`` plays the whole lifecycle (issue 15 item 6) this drives the use cases
directly; peer assessments are covered by the end-to-end test instead.

Run: python benchmarks/xapi_fidelity.py [--participants 300] [--rounds 4]
The last line printed is one JSON object: statements, template_conformance, pattern_conformance,
spec_violations, erased_people_named, future_timestamps, dead_lettered, posts_per_statement.
Targets: conformance 1.0, the counts 0, posts_per_statement <= 0.05.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


async def run(participants: int, rounds: int, workdir: Path) -> dict[str, Any]:
    from lrs_bridge.audit import audit_statements, read_statements, render
    from lrs_bridge.client import LrsClient
    from lrs_bridge.records import ProgramRef
    from lrs_bridge.relay import Relay
    from lrs_bridge.statements import StatementBuilder
    from lrs_bridge.vocabulary import Verbs
    from teams_app.adapters.clock import FixedClock
    from teams_app.adapters.db.migrate import upgrade
    from teams_app.adapters.db.uow import SqlUnitOfWorkFactory, make_engine
    from teams_app.adapters.xapi import XapiRecorder
    from teams_app.devstack import start_local_lrs
    from teams_app.domain.model import Profile
    from teams_app.service.messagebus import MessageBus
    from teams_app.service.round_periods import close_ended_rounds
    from teams_app.service.use_cases import CoachingService, ParticipantInput

    rng = random.Random(15)
    lrs = start_local_lrs(workdir / "lrs")
    engine = make_engine(f"sqlite+aiosqlite:///{workdir / 'app.db'}")
    try:
        await upgrade(engine)
        clock = FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=7 * (rounds + 1)))
        bus = MessageBus()
        # ralph refuses Agent statement objects: the session is the object, partners by pseudonym.
        builder = StatementBuilder(activity_base_iri="https://peercoach.example/xapi", agent_objects=False)
        XapiRecorder(builder, "system@peercoach.example").register(bus)
        uow = SqlUnitOfWorkFactory(engine)
        service = CoachingService(uow, bus, clock)
        program = await service.create_program("Fidelity", "peer_pairs", "weekly")
        people = [ParticipantInput(f"p{i}@fidelity.example", f"Person Fidelity{i:04d}",
                                   Profile.build(time_zone="Europe/Berlin", department=f"dept{i % 7}",
                                                 seniority=1 + i % 5))
                  for i in range(participants)]
        posts = delivered = dead = 0
        async with LrsClient(lrs.endpoint, username=lrs.username, password=lrs.password, timeout_s=60) as client:
            relay = Relay(engine, client, batch_size=500)

            async def deliver() -> None:  # the relay runs all along in `serve`; here after each step
                nonlocal posts, delivered, dead
                report = await relay.run_once()
                posts, delivered, dead = posts + report.posts, delivered + report.delivered, dead + report.dead

            await service.import_participants(program.name, people)
            roster = {p.email: p.id for p in await service.roster(program.name)}
            ids = list(roster.values())
            paused: list[str] = []
            for number in range(rounds):
                result = await service.run_round(program.name)
                for match in result.matches:
                    met = rng.random() < 0.8
                    for pid in match.participant_ids:
                        if rng.random() < 0.9:
                            await service.record_check_in(match.id, pid, met=met,
                                                          usefulness=rng.randint(1, 5) if met else None,
                                                          learned="listened more" if met else "")
                for pid in paused[: len(paused) // 2]:  # half of the open-ended pauses resume by hand
                    await service.resume(program.name, pid)
                paused = []
                for i, pid in enumerate(rng.sample(ids, max(2, participants // 30))):
                    until = (clock.now() + timedelta(days=7)).date() if i % 2 else None  # ends by date, or not
                    try:
                        await service.pause(program.name, pid, until)
                    except Exception:  # left or paused already: the use case refuses, nothing is recorded
                        continue
                    if until is None:
                        paused.append(pid)
                if number == rounds - 2:
                    for pid in rng.sample(ids, max(1, participants // 50)):
                        try:
                            await service.leave(program.name, pid, erase=False)
                        except Exception:
                            continue
                await deliver()
                clock.advance(timedelta(days=7))
            erased = [people[0], people[1]]  # their statements are in the LRS by now: erasure must void them
            for person in erased:
                await service.erase(person.email)
            await service.update_program(program.name, active=False)
            clock.advance(timedelta(days=7))
            await close_ended_rounds(uow, bus, clock)  # the last round completes with its period
            await deliver()
            statements = await read_statements(client)
        program_iri = builder.program_activity(ProgramRef(program.id, program.name)).id
        audit = audit_statements(statements, endpoint=lrs.endpoint, program=program_iri)
        voided = {s["object"]["id"] for s in statements if s["verb"]["id"] == Verbs.VOIDED}
        live = [json.dumps(s) for s in statements if s["id"] not in voided]
        named = sum(1 for text in live for person in erased
                    if person.email in text or person.display_name in text)
        print(render(audit))
        return {
            "participants": participants, "rounds": rounds, "statements": audit.statements,
            "template_conformance": round(audit.template_conformance, 4),
            "pattern_conformance": round(audit.pattern_conformance, 4),
            "spec_violations": audit.spec_violations, "erased_people_named": named,
            "future_timestamps": audit.future_timestamps, "dead_lettered": dead,
            "posts_per_statement": round(posts / max(delivered, 1), 4),
        }
    finally:
        await engine.dispose()
        lrs.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args.participants, args.rounds, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
