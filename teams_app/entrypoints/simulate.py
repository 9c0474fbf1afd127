"""A whole program with generated people, run through the real services and adapters before going live.

The bot is served over HTTP and people act on it with real Teams activities (install, consent and profile
cards, "we met", check-in cards); its replies and proactive cards go to a local Bot Connector; meetings
are booked by the Graph adapter on a local Graph server with generated calendars; people who blocked the
bot get email through a local SMTP server. Simulated time moves a week per round. Statements go to the
configured LRS when there is one, and the report shows what the LMS will receive.
"""

from __future__ import annotations

import asyncio
import random
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

from teams_app.adapters.clock import RunningClock
from teams_app.bootstrap import Application, bootstrap, lrs_client
from teams_app.config import Settings
from teams_app.reporting import build_report, write_csv, write_html
from teams_app.simulation.connector import LocalConnector
from teams_app.simulation.graph_server import GraphServer
from teams_app.simulation.smtp_server import MailSink

TENANT = "00000000-0000-4000-8000-00000000c0de"
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
        people.append(SimPerson(n, f"Sim Person {n}", f"sim{n}@contoso.example", profile, rng.random() < 0.03))
    return people


@dataclass
class Simulation:
    settings: Settings
    participants: int
    rounds: int
    seed: int
    workdir: Path
    say: Callable[[str], None] = print
    summary: dict[str, Any] = field(default_factory=dict)

    def _settings(self, graph: GraphServer, smtp: MailSink) -> Settings:
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
        })

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "simulation.db").unlink(missing_ok=True)
        people = generate_people(self.participants, self.seed)
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
            clock = RunningClock(self._next_monday())
            app = bootstrap(self._settings(graph, smtp), clock=clock)
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
            async with aiohttp.ClientSession() as http:
                turn = _Turns(http, bot, connector.url)
                joined = await self._join_everyone(turn, people)
                self.say(f"{joined} of {len(people)} people joined through the consent and profile cards")
                await sender.drain(timeout_s=120)
                rounds = []
                rng = random.Random(self.seed)
                for number in range(1, self.rounds + 1):
                    result = await app.service.run_round(program.id)
                    await app.service.book_open_matches(app.calendar)
                    status = await app.service.status(program.id)
                    booked, unbooked = status.meetings_scheduled, status.meetings_unscheduled
                    await sender.drain(timeout_s=120)
                    met, checked_in = await self._check_in(turn, people, app, result.matches, rng)
                    await sender.drain(timeout_s=120)
                    rounds.append({"round": number, "matches": len(result.matches),
                                   "trios": sum(1 for m in result.matches if len(m.members) == 3),
                                   "unmatched": len(result.unmatched), "meetings_booked": booked,
                                   "no_common_slot": unbooked,
                                   "checked_in": checked_in, "met": met})
                    self.say(f"round {number}: {len(result.matches)} matches, {booked} meetings booked "
                             f"({unbooked} without a common slot), {checked_in} check-ins ({met} met)")
                    clock.advance(timedelta(days=7))
            delivered = await self._deliver(app)
            statements = await self._statements(app)
            report = build_report(statements, program.name, departments={
                p.email: p.profile["department"] for p in people},
                source="the simulation's statements (what the LMS will receive)")
            (self.workdir / "report").mkdir(exist_ok=True)
            write_csv(report, self.workdir / "report" / "report.csv")
            write_html(report, self.workdir / "report" / "report.html")
            usefulness = [k for k, v in report.usefulness.items() for _ in range(v)]
            self.summary = {
                "participants": len(people), "joined": joined, "rounds": rounds,
                "graph_events": len(graph.all_events()), "teams_messages": len(connector.sent),
                "teams_card_updates": len(connector.updates), "emails": len(smtp.messages),
                "reached_by_email_only": sum(p.blocks_teams for p in people),
                "average_usefulness": round(sum(usefulness) / len(usefulness), 2) if usefulness else None,
                "statements": dict(Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in statements)),
                "statements_delivered_to_lrs": delivered,
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

    @staticmethod
    def _next_monday() -> datetime:
        today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        return today + timedelta(days=7 - today.weekday())

    def _calendars(self, graph: GraphServer, people: list[SimPerson]) -> None:
        """Busy calendars: about 60% of every hour taken, in one-hour blocks."""
        rng = random.Random(self.seed + 1)
        first = self._next_monday().replace(hour=0)
        for person in people:
            busy = []
            for day in range(7 * (self.rounds + 1)):
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

    async def _check_in(self, turn: _Turns, people: list[SimPerson], app: Application, matches: list[Any],
                        rng: random.Random) -> tuple[int, int]:
        by_aad_id = {}
        for person in people:
            found = await app.service.find_participant(aad_object_id=person.aad)
            if found is not None:
                by_aad_id[found.id] = person
        plans = []
        for match in matches:
            meets = rng.random() < 0.8
            for pid in match.participant_ids:
                if pid in by_aad_id and rng.random() < 0.85:  # some never check in
                    plans.append((by_aad_id[pid], match.id, meets, rng.choice([3, 4, 4, 5, 5, 2])))
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

    async def _deliver(self, app: Application) -> int:
        if not app.settings.lrs.configured:
            self.say("no LRS configured: statements stay in the simulation's outbox")
            return 0
        from lrs_bridge.outbox import status
        from lrs_bridge.relay import Relay

        async with lrs_client(app.settings) as client:
            relay = Relay(app.engine, client, batch_size=app.settings.lrs.batch_size)
            delivered = 0
            for _ in range(100):
                report = await relay.run_once()
                delivered += report.delivered
                if (await status(app.engine)).queued == 0 or not report.posts:
                    break
        self.say(f"delivered {delivered} statements to {app.settings.lrs.endpoint}")
        return delivered

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
