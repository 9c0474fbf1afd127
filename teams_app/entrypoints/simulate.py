"""A whole program with generated people, run through the real services and adapters before going live.

The bot is served over HTTP and people act on it with real Teams activities (install, consent and profile
cards, "we met", check-in cards); its replies and proactive cards go to a local Bot Connector; meetings
are booked by the Graph adapter on a local Graph server with generated calendars; people who blocked the
bot get email through a local SMTP server. Besides rounds and check-ins it plays the rest of a program's
life through the same use cases: peer assessments whose feedback is released, pauses (open-ended and dated)
and resumes, people leaving, erasure requests, and the program's end.

Safe for an LMS: statements go only to the LRS given explicitly (``lrs``), otherwise to a local ralph LRS
the simulation starts itself, never to the configured one. Every statement carries the profile's
``simulated`` context extension and names its actor by an account on :data:`SIMULATED_HOMEPAGE`, so an LMS
can filter them. Simulated time runs backwards from the present: the program starts ``rounds + 1`` weeks
ago and ends now, so no timestamp is in the future. The summary counts statements the LRS refused and those
dead-lettered or left undelivered; the CLI exits non-zero when there are any.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from lrs_bridge.relay import Relay
from teams_app.adapters.clock import RunningClock
from teams_app.bootstrap import Application, bootstrap, lrs_client
from teams_app.config import ActorIdentification, Settings
from teams_app.reporting import build_report, write_csv, write_html
from teams_app.service.round_periods import close_ended_rounds
from teams_app.simulation.connector import LocalConnector
from teams_app.simulation.graph_server import GraphServer
from teams_app.simulation.smtp_server import MailSink

TENANT = "00000000-0000-4000-8000-00000000c0de"
SIMULATED_HOMEPAGE = "https://simulated.peercoach.example/people"  # account homePage of generated people
DEPARTMENTS = [("Engineering", 30), ("Sales", 18), ("Operations", 12), ("Customer Success", 10), ("Marketing", 8),
               ("Finance", 6), ("Product", 5), ("People", 4), ("Legal", 3), ("Design", 2), ("Data", 2)]
OFFICES = [("New York", "America/New_York", 14, "en"), ("Chicago", "America/Chicago", 6, "en"),
           ("London", "Europe/London", 14, "en"), ("Berlin", "Europe/Berlin", 10, "en, de"),
           ("Madrid", "Europe/Madrid", 6, "en, es"), ("Bangalore", "Asia/Kolkata", 8, "en"),
           ("Singapore", "Asia/Singapore", 4, "en")]
SKILLS = ["SQL", "Python", "Excel", "negotiation", "public speaking", "storytelling", "product discovery",
          "stakeholder management", "budgeting", "hiring", "giving feedback", "coaching", "UX research",
          "data visualisation", "contract law", "cloud costs", "incident response", "forecasting"]
GOALS = ["lead a team", "speak at the all-hands", "move into product", "write better proposals",
         "grow my network", "manage my time", "become a mentor"]


@dataclass(frozen=True)
class SimPerson:
    n: int
    name: str
    email: str
    profile: dict[str, str]
    blocks_teams: bool  # uninstalled or blocked the bot: reached by email

    @property
    def teams_id(self) -> str:
        return f"29:sim-{self.n}"

    @property
    def aad(self) -> str:
        return f"00000000-0000-4000-9000-{self.n:012d}"

    @property
    def conversation_id(self) -> str:
        return f"a:sim-personal-{self.n}"


def generate_people(count: int, seed: int) -> list[SimPerson]:
    """A plausible workforce: uneven departments, offices on three continents, a shared skills vocabulary."""
    rng = random.Random(seed)
    people = []
    for n in range(count):
        department = rng.choices([d for d, _ in DEPARTMENTS], [w for _, w in DEPARTMENTS])[0]
        city, zone, _, languages = rng.choices(OFFICES, [o[2] for o in OFFICES])[0]
        offered = rng.sample(SKILLS, rng.randint(1, 3))
        wanted = rng.sample([s for s in SKILLS if s not in offered], rng.randint(1, 2))
        start = rng.choice(["08:00", "09:00", "09:00", "10:00"])
        end = {"08:00": "16:00", "09:00": "17:00", "10:00": "18:00"}[start]
        profile = {"department": department, "location": city, "time_zone": zone,
                   "working_hours": f"{start}-{end}", "languages": languages, "skills_offered": ", ".join(offered),
                   "skills_wanted": ", ".join(wanted), "goals": rng.choice(GOALS)}
        # Fixed-width numbers: no name or address is a prefix of another (erasure checks search for them).
        people.append(SimPerson(n, f"Sim Person {n:05d}", f"sim{n:05d}@contoso.example", profile, rng.random() < 0.03))
    return people


@dataclass(frozen=True)
class LrsTarget:
    """An LRS given explicitly on the command line (the only way the simulation reaches a real one)."""

    endpoint: str
    username: str
    password: str
    agent_objects: bool = False  # ralph refuses Agent/Group statement objects


@dataclass
class Delivery:
    """What the relay did over the whole simulation."""

    posts: int = 0
    delivered: int = 0
    refused: int = 0  # answered 4xx by the LRS and isolated by the relay
    dead_lettered: int = 0  # in the outbox's dead letters at the end
    undelivered: int = 0  # still queued at the end


@dataclass
class Simulation:
    settings: Settings
    participants: int
    rounds: int
    seed: int
    workdir: Path
    say: Callable[[str], None] = print
    lrs: LrsTarget | None = None  # None: a local ralph LRS in workdir/lrs, started and stopped here
    assessments: bool = True
    pause_share: float = 0.03  # of the roster, each round
    leave_share: float = 0.02  # of the roster, once, before the last round
    erasures: int = 2
    summary: dict[str, Any] = field(default_factory=dict)
    delivery: Delivery = field(default_factory=Delivery)
    start: datetime = field(init=False)  # simulated time's first Monday, set by run()

    def _settings(self, graph: GraphServer, smtp: MailSink, lrs: LrsTarget) -> Settings:
        s = self.settings
        return s.model_copy(update={
            "db": s.db.model_copy(update={"url": f"sqlite+aiosqlite:///{self.workdir / 'simulation.db'}"}),
            "bot": s.bot.model_copy(update={"dev_mode": True, "app_id": "", "allowed_tenants": [TENANT],
                                            "per_conversation_rps": 20.0, "per_tenant_rps": 2000.0}),
            "graph": s.graph.model_copy(update={
                "tenant_id": "contoso", "client_id": "simulation", "client_secret": SecretStr(graph.client_secret),
                "base_url": graph.base_url, "token_url": graph.token_url(), "organizer": "first",
                "sender_mailbox": ""}),
            "smtp": s.smtp.model_copy(update={"host": "127.0.0.1", "port": smtp.port, "starttls": False,
                                              "use_tls": False, "username": "", "sender": "coach@contoso.example"}),
            "scheduler": s.scheduler.model_copy(update={"enabled": False}),
            # Never the configured LRS: only the one given here. Generated people get their own account
            # homePage and every statement the `simulated` extension, so an LMS can tell them apart.
            "lrs": s.lrs.model_copy(update={
                "endpoint": lrs.endpoint, "username": lrs.username, "password": SecretStr(lrs.password),
                "auth": "basic", "agent_objects": lrs.agent_objects,
                "actor_identification": ActorIdentification.ACCOUNT, "account_homepage": SIMULATED_HOMEPAGE,
                "simulated": True}),
        })

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "simulation.db").unlink(missing_ok=True)
        local = None
        if self.lrs is None:
            from teams_app.devstack import start_local_lrs

            # A fresh one each run: the audit and the report see only this simulation's statements.
            shutil.rmtree(self.workdir / "lrs" / "data", ignore_errors=True)
            local = await asyncio.to_thread(start_local_lrs, self.workdir / "lrs")
            target = LrsTarget(local.endpoint, local.username, local.password)
            self.say(f"local LRS (ralph) at {local.endpoint}, statements in {local.statements_file}")
        else:
            target = self.lrs
        try:
            return await self._run(target, started)
        finally:
            if local is not None:
                await asyncio.to_thread(local.stop)

    async def _run(self, target: LrsTarget, started: float) -> dict[str, Any]:
        people = generate_people(self.participants, self.seed)
        self.start = self._start()
        graph = await GraphServer(seed=self.seed).start()
        connector = await LocalConnector().start()
        smtp = MailSink()
        smtp.start()
        runner: web.AppRunner | None = None
        app: Application | None = None
        try:
            self._calendars(graph, people)
            for person in people:
                connector.roster[person.teams_id] = {"id": person.teams_id, "name": person.name, "email": person.email,
                                                     "aadObjectId": person.aad, "userPrincipalName": person.email}
                if person.blocks_teams:
                    connector.forbidden.add(person.conversation_id)
            clock = RunningClock(self.start)
            app = bootstrap(self._settings(graph, smtp, target), clock=clock)
            from teams_app.adapters.graph.calendar import GraphCalendar

            if isinstance(app.calendar, GraphCalendar):
                # The composition root builds the calendar on real time; simulated rounds lie in the past,
                # so slots must be sought from the simulated present or none is ever found.
                app.calendar._now = clock.now
            from teams_app.bootstrap.bot import BOT_KEY, bot_installer
            from teams_app.entrypoints.web import create_web_app

            web_app = create_web_app(app, installers=(bot_installer(sender_options={
                "base_backoff_s": 0.05, "max_backoff_s": 0.5, "poll_interval_s": 0.1, "concurrency": 32}),),
                run_background=False)
            runner = web.AppRunner(web_app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            bot = f"http://127.0.0.1:{port}/api/messages"
            sender = web_app[BOT_KEY]["sender"]
            program = await app.service.create_program(f"Simulation {self.seed}", "peer_pairs", "weekly",
                                                       cohort="simulation")
            rng = random.Random(self.seed)
            async with aiohttp.ClientSession() as http, lrs_client(app.settings) as client:
                relay = Relay(app.engine, client, batch_size=app.settings.lrs.batch_size)
                turn = _Turns(http, bot, connector.url)
                joined = await self._join_everyone(turn, people)
                self.say(f"{joined} of {len(people)} people joined through the consent and profile cards")
                await sender.drain(timeout_s=120)
                by_aad_id = await self._participants(app, people)
                ids = sorted(by_aad_id)
                rounds: list[dict[str, Any]] = []
                life: Counter[str] = Counter()
                open_pauses: list[str] = []
                left: set[str] = set()
                pending: list[str] = []  # assessments waiting for their deadline
                for number in range(1, self.rounds + 1):
                    life["released"] += await self._release_due(app, pending)
                    result = await app.service.run_round(program.id)
                    await app.service.book_open_matches(app.calendar)
                    status = await app.service.status(program.id)
                    booked, unbooked = status.meetings_scheduled, status.meetings_unscheduled
                    await sender.drain(timeout_s=120)
                    met, checked_in = await self._check_in(turn, by_aad_id, result.matches, rng)
                    await sender.drain(timeout_s=120)
                    if self.assessments and number % 2 == 0 and result.matches:
                        reviews = await self._assess(app, program.id, clock, rng, pending)
                        life["reviews_submitted"] += reviews
                    for pid in open_pauses[: (len(open_pauses) + 1) // 2]:  # half the open-ended pauses resume
                        if pid not in left:
                            await app.service.resume(program.id, pid)
                            life["resumed"] += 1
                    open_pauses = await self._pause(app, program.id, clock, rng, ids, left, life)
                    if number == max(1, self.rounds - 1):
                        for pid in rng.sample(ids, max(1, round(len(ids) * self.leave_share))):
                            if pid not in left:
                                await app.service.leave(program.id, pid, erase=False)
                                left.add(pid)
                    rounds.append({"round": number, "matches": len(result.matches),
                                   "trios": sum(1 for m in result.matches if len(m.members) == 3),
                                   "unmatched": len(result.unmatched), "meetings_booked": booked,
                                   "no_common_slot": unbooked,
                                   "checked_in": checked_in, "met": met})
                    self.say(f"round {number}: {len(result.matches)} matches, {booked} meetings booked "
                             f"({unbooked} without a common slot), {checked_in} check-ins ({met} met)")
                    await self._deliver(relay)  # the relay runs all along in `serve`
                    clock.advance(timedelta(days=7))
                life["left"] = len(left)
                clock.advance(self._end() - clock.now())  # the program's last week ends at the present
                life["released"] += await self._release_due(app, pending)
                await self._deliver(relay)
                # Erasure requests come after their statements reached the LRS: erasure must void them there.
                erased = [by_aad_id[pid] for pid in ids[len(ids) - self.erasures:]]
                for person in erased:
                    await app.service.erase(person.email)
                await app.service.update_program(program.id, active=False)  # the program ends: completions
                await close_ended_rounds(app.uow_factory, app.bus, clock)  # the last round completes too
                await self._deliver(relay, final=True)
            statements = await self._statements(app)
            # Statements name simulated actors by account (their AAD object id); email kept for other settings.
            departments = {key: p.profile["department"] for p in people for key in (p.aad, p.email)}
            report = build_report(statements, program.name, departments=departments,
                source="the simulation's statements (what the LMS will receive)")
            (self.workdir / "report").mkdir(exist_ok=True)
            write_csv(report, self.workdir / "report" / "report.csv")
            write_html(report, self.workdir / "report" / "report.html")
            usefulness = [k for k, v in report.usefulness.items() for _ in range(v)]
            self.summary = {
                "participants": len(people), "joined": joined, "rounds": rounds,
                "lifecycle": {"paused": life["paused"], "resumed": life["resumed"], "left": life["left"],
                              "erased": len(erased), "reviews_submitted": life["reviews_submitted"],
                              "feedback_released": life["released"]},
                "erased_people": [{"name": p.name, "email": p.email} for p in erased],
                "graph_events": len(graph.all_events()), "teams_messages": len(connector.sent),
                "teams_card_updates": len(connector.updates), "emails": len(smtp.messages),
                "reached_by_email_only": sum(p.blocks_teams for p in people),
                "average_usefulness": round(sum(usefulness) / len(usefulness), 2) if usefulness else None,
                "statements": dict(Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in statements)),
                "lrs": {"endpoint": target.endpoint, "local": self.lrs is None},
                "statements_delivered_to_lrs": self.delivery.delivered, "posts": self.delivery.posts,
                "refused": self.delivery.refused, "dead_lettered": self.delivery.dead_lettered,
                "undelivered": self.delivery.undelivered,
                "simulated_from": self.start.isoformat(), "simulated_to": clock.now().isoformat(),
                "report": str(self.workdir / "report" / "report.html"),
                "elapsed_s": round(time.monotonic() - started, 1),
            }
            return self.summary
        finally:
            if runner is not None:
                await runner.cleanup()  # also closes the application
            elif app is not None:
                await app.close()
            smtp.stop()
            await connector.close()
            await graph.stop()

    @property
    def ok(self) -> bool:
        """Everything reached the LRS: nothing refused, dead-lettered or left behind."""
        d = self.delivery
        return d.refused == 0 and d.dead_lettered == 0 and d.undelivered == 0

    def _start(self) -> datetime:
        """A Monday morning ``rounds + 1`` weeks before the end, so the program ends at the present."""
        end = self._end()
        monday = end - timedelta(days=7 * (self.rounds + 1))
        return monday - timedelta(days=monday.weekday())

    @staticmethod
    def _end() -> datetime:
        """A minute before now: simulated time must never pass the real one (the run itself takes time)."""
        return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)

    def _calendars(self, graph: GraphServer, people: list[SimPerson]) -> None:
        """Busy calendars: about 60% of every hour taken, in one-hour blocks."""
        rng = random.Random(self.seed + 1)
        first = self.start.replace(hour=0, minute=0, second=0)
        for person in people:
            busy = []
            for day in range(7 * (self.rounds + 2)):
                for hour in range(24):
                    if rng.random() < 0.6:
                        start = first + timedelta(days=day, hours=hour)
                        busy.append((start, start + timedelta(hours=1)))
            graph.add_mailbox(person.email, busy)

    async def _join_everyone(self, turn: _Turns, people: list[SimPerson]) -> int:
        gate = asyncio.Semaphore(16)

        async def join(person: SimPerson) -> bool:
            async with gate:
                await turn.post(person, {"type": "installationUpdate", "action": "add"})
                await turn.action(person, "consent.accept", {"consent": True})
                body = await turn.action(person, "profile.submit", {**person.profile, "enrolling": True})
                return "Attention" not in str(body)

        return sum(await asyncio.gather(*(join(p) for p in people)))

    @staticmethod
    async def _participants(app: Application, people: list[SimPerson]) -> dict[str, SimPerson]:
        by_id = {}
        for person in people:
            found = await app.service.find_participant(aad_object_id=person.aad)
            if found is not None:
                by_id[found.id] = person
        return by_id

    async def _check_in(self, turn: _Turns, by_id: dict[str, SimPerson], matches: list[Any],
                        rng: random.Random) -> tuple[int, int]:
        plans = []
        for match in matches:
            meets = rng.random() < 0.8
            for pid in match.participant_ids:
                if pid in by_id and rng.random() < 0.85:  # some never check in
                    plans.append((by_id[pid], match.id, meets, rng.choice([3, 4, 4, 5, 5, 2])))
        gate = asyncio.Semaphore(16)

        async def check_in(person: SimPerson, match_id: str, met: bool, usefulness: int) -> None:
            async with gate:
                if met:
                    await turn.action(person, "match.met", {"match_id": match_id})
                await turn.action(person, "checkin.submit", {
                    "match_id": match_id, "met": "yes" if met else "no", "usefulness": str(usefulness) if met else "",
                    "learned": "asking before advising" if met else "", "next_step": "try it this week" if met else ""})

        await asyncio.gather(*(check_in(*plan) for plan in plans))
        return sum(1 for plan in plans if plan[2]), len(plans)

    @staticmethod
    async def _assess(app: Application, program_id: str, clock: RunningClock, rng: random.Random,
                      pending: list[str]) -> int:
        """A peer assessment of the round: three reviewers each, most of whom submit before the deadline."""
        opened = await app.assessment.open_assessment(program_id, deadline=clock.now() + timedelta(days=5),
                                                      mode="peers", reviewers_per_person=3, seed=rng.randint(0, 10**6))
        criteria = opened.assessment.rubric.criteria
        submitted = 0
        for review in opened.reviews:
            if rng.random() < 0.9:
                ratings = {c.id: rng.choice([lv.value for lv in c.levels][1:]) for c in criteria}
                await app.assessment.submit_review(review.id, review.reviewer_id, ratings,
                                                   comment="clear goals, good questions")
                submitted += 1
        pending.append(opened.assessment.id)
        return submitted

    @staticmethod
    async def _release_due(app: Application, pending: list[str]) -> int:
        """Release the feedback of assessments past their deadline; returns how many people received it."""
        if not pending:
            return 0
        summaries = await app.assessment.release_due()
        released = {s.assessment.id for s in summaries}
        pending[:] = [a for a in pending if a not in released]
        return sum(len(s.released) for s in summaries)

    def _pause_count(self, roster: int) -> int:
        return max(1, round(roster * self.pause_share))

    async def _pause(self, app: Application, program_id: str, clock: RunningClock, rng: random.Random,
                     ids: list[str], left: set[str], life: Counter[str]) -> list[str]:
        """Some people pause: half until a date a week on (they come back by themselves), half open-ended."""
        from teams_app.domain.errors import DomainError

        open_ended = []
        for i, pid in enumerate(rng.sample(ids, self._pause_count(len(ids)))):
            if pid in left:
                continue
            until = (clock.now() + timedelta(days=7)).date() if i % 2 else None
            try:
                await app.service.pause(program_id, pid, until)
            except DomainError:  # paused already: the use case refuses and records nothing
                continue
            life["paused"] += 1
            if until is None:
                open_ended.append(pid)
        return open_ended

    async def _deliver(self, relay: Relay, *, final: bool = False) -> None:
        from lrs_bridge.outbox import status

        for _ in range(1000):
            report = await relay.run_once()
            self.delivery.posts += report.posts
            self.delivery.delivered += report.delivered
            self.delivery.refused += report.dead
            queued = (await status(relay.engine)).queued
            if queued == 0 or not report.posts:
                break
        if final:
            now = await status(relay.engine)
            self.delivery.dead_lettered, self.delivery.undelivered = now.dead, now.queued
            self.say(f"delivered {self.delivery.delivered} statements in {self.delivery.posts} POSTs; "
                     f"{self.delivery.refused} refused, {now.dead} dead-lettered, {now.queued} undelivered")

    @staticmethod
    async def _statements(app: Application) -> list[dict[str, Any]]:
        """What the LMS receives: the outbox's statements, as serialized once."""
        import json

        import sqlalchemy as sa

        from lrs_bridge.outbox import outbox_table

        async with app.engine.connect() as conn:
            rows = await conn.execute(sa.select(outbox_table.c.payload).where(outbox_table.c.status != "dead"))
            return [json.loads(r.payload) for r in rows]


@dataclass
class _Turns:
    """Posting Teams activities for simulated people, as Teams would."""

    http: aiohttp.ClientSession
    bot_url: str
    service_url: str

    def activity(self, person: SimPerson, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"sim-{time.monotonic_ns()}", "timestamp": datetime.now(UTC).isoformat(),
            "serviceUrl": self.service_url, "channelId": "msteams",
            "from": {"id": person.teams_id, "name": person.name, "aadObjectId": person.aad},
            "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": person.conversation_id},
            "recipient": {"id": "28:peercoach", "name": "peercoach"}, "channelData": {"tenant": {"id": TENANT}},
            "locale": "en-US", **extra,
        }

    async def post(self, person: SimPerson, extra: dict[str, Any]) -> Any:
        async with self.http.post(self.bot_url, json=self.activity(person, extra)) as response:
            if response.status >= 400:
                raise RuntimeError(f"the bot answered {response.status} to {extra.get('type')}")
            return await response.json() if response.content_type == "application/json" else None

    async def action(self, person: SimPerson, verb: str, data: dict[str, Any]) -> Any:
        return await self.post(person, {"type": "invoke", "name": "adaptiveCard/action",
                                        "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}}})
