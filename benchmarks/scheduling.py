"""Benchmark: schedule 1,000 pairs against the local Graph server.

Every person's working week is 60% busy (random 30-minute blocks); 2% of all Graph operations answer
429 with Retry-After, and 1% of event creations commit but answer 504 (the response is lost), so a
client without a stable ``transactionId`` creates duplicates. Two clients run on identical data:

- baseline: one getSchedule per person and one POST per event, no transactionId (what a naive client does);
- peercoach: ``GraphCalendar.book_many`` (100 schedules per getSchedule, 20 requests per $batch, events
  batched, transactionId per match).

Run: ``python benchmarks/scheduling.py [--pairs N]``. The last line is JSON with availability_requests,
total_requests, booked, duplicates, elapsed_s (of the peercoach client).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from teams_app.adapters.graph import (
    BookingRequest,
    ClientCredentialsTokenCredential,
    GraphCalendar,
    GraphError,
    GraphGateway,
    RetryPolicy,
    build_graph_client,
)
from teams_app.adapters.graph.calendar import _dtz, busy_intervals
from teams_app.adapters.graph.client import ERROR_MAP
from teams_app.domain.model import (
    Match,
    MatchMember,
    MeetingStatus,
    Participant,
    Profile,
    Program,
    Role,
    stable_id,
)
from teams_app.domain.scheduling import (
    Slot,
    SlotPreferences,
    SlotRequest,
    plan_round,
    window_bounds,
    working_intervals,
)
from tests.fixtures.graph_server import GraphServer

logger = logging.getLogger(__name__)

WINDOW_START, WINDOW_END = date(2026, 1, 12), date(2026, 1, 23)  # two working weeks
NOW = datetime(2026, 1, 10, tzinfo=UTC)
ZONE_PAIRS = [("Europe/London", "Europe/Berlin"), ("America/New_York", "America/Chicago"),
              ("Asia/Kolkata", "Asia/Singapore"), ("UTC", "Europe/Lisbon")]
BUSY_SHARE, THROTTLE_RATE, LOST_RESPONSE_RATE = 0.6, 0.02, 0.01


Busy = dict[str, list[tuple[datetime, datetime]]]


def build_data(pairs: int, seed: int) -> tuple[Program, list[BookingRequest], Busy]:
    rng = random.Random(seed)
    program = Program.create("Benchmark", "peer_pairs", "weekly", program_id="bench", meeting_minutes=30)
    window = window_bounds(WINDOW_START, WINDOW_END)
    requests: list[BookingRequest] = []
    busy: Busy = {}
    for i in range(pairs):
        zones = ZONE_PAIRS[i % len(ZONE_PAIRS)]
        people = [Participant.create(f"p{i:04}{side}@bench.example", f"Person {i}{side}",
                                     participant_id=f"p{i}{side}", profile=Profile.build(time_zone=zone))
                  for side, zone in zip("ab", zones, strict=True)]
        for p in people:
            blocks = []
            for interval in working_intervals(p, window):
                start = interval.start
                while start < interval.end:
                    blocks.append((start, start + timedelta(minutes=30)))
                    start += timedelta(minutes=30)
            busy[p.email] = sorted(rng.sample(blocks, int(len(blocks) * BUSY_SHARE)))
        match = Match(stable_id("bench", i), "round-1", program.id,
                      (MatchMember(people[0].id, Role.PEER), MatchMember(people[1].id, Role.PEER)))
        requests.append(BookingRequest(match, people))
    return program, requests, busy


async def start_server(busy: Busy, seed: int) -> GraphServer:
    server = await GraphServer(seed=seed).start()
    for address, blocks in busy.items():
        server.add_mailbox(address, blocks)
    server.throttle_rate = THROTTLE_RATE
    server.lost_response_rate = LOST_RESPONSE_RATE
    server.retry_after = "1"
    return server


def duplicates(server: GraphServer) -> int:
    per_match = Counter(e.get("transactionId") or e["subject"] for e in server.all_events())
    return sum(n - 1 for n in per_match.values())


def gateway(server: GraphServer) -> GraphGateway:
    credential = ClientCredentialsTokenCredential(server.token_url(), "bench-app", "s3cret")
    return GraphGateway(build_graph_client(credential, server.base_url), policy=RetryPolicy(max_attempts=6),
                        rng=random.Random(1))


async def run_peercoach(program: Program, requests: list[BookingRequest], server: GraphServer) -> dict[str, Any]:
    calendar = GraphCalendar(gateway(server), organizer="first", now=lambda: NOW)
    started = time.perf_counter()
    meetings = await calendar.book_many(program, requests, WINDOW_START, WINDOW_END)
    elapsed = time.perf_counter() - started
    return {"elapsed_s": elapsed, "booked": sum(m.status is MeetingStatus.SCHEDULED for m in meetings),
            "statuses": Counter(m.status.value for m in meetings)}


async def run_baseline(program: Program, requests: list[BookingRequest], server: GraphServer) -> dict[str, Any]:
    """One getSchedule per person, one POST per event, no transactionId; same retry policy."""
    from msgraph.generated.models.attendee import Attendee
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
    from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
        GetSchedulePostRequestBody,
    )

    gw = gateway(server)
    window = window_bounds(WINDOW_START, WINDOW_END)
    gate = asyncio.Semaphore(16)
    started = time.perf_counter()

    adapter = gw.client.request_adapter

    async def send_raw(operation: str, mailbox: str, info: Any) -> dict[str, Any]:
        # Raw bytes instead of kiota models: both clients then pay the same (plain JSON) parsing cost.
        raw = await gw.call(operation, mailbox, lambda: adapter.send_primitive_async(info, "bytes", ERROR_MAP))
        return json.loads(raw) if raw else {}

    async def schedule(address: str) -> tuple[str, Any]:
        body = GetSchedulePostRequestBody(schedules=[address], start_time=_dtz(window.start),
                                          end_time=_dtz(window.end), availability_view_interval=15)
        info = gw.client.users.by_user_id(address).calendar.get_schedule.to_post_request_information(body)
        async with gate:
            response = await send_raw("getSchedule", address, info)
        return address, busy_intervals(response["value"][0]["scheduleItems"])

    addresses = [p.email for r in requests for p in r.participants]
    busy = dict(await asyncio.gather(*(schedule(a) for a in addresses)))
    slots = plan_round([SlotRequest(r.match.id, r.participants, {p.email: busy[p.email] for p in r.participants})
                        for r in requests], window, SlotPreferences.from_program(program), NOW)

    async def create(request: BookingRequest) -> bool:
        slot = slots[request.match.id]
        if not isinstance(slot, Slot):
            return False
        organizer, other = request.participants
        event = Event(subject=f"{program.name} {request.match.id}", start=_dtz(slot.start), end=_dtz(slot.end),
                      attendees=[Attendee(email_address=EmailAddress(address=other.email))], is_online_meeting=True,
                      online_meeting_provider=OnlineMeetingProviderType.TeamsForBusiness)
        info = gw.client.users.by_user_id(organizer.email).events.to_post_request_information(event)
        async with gate:
            try:
                await send_raw("createEvent", organizer.email, info)
            except GraphError:
                return False
        return True

    booked = sum(await asyncio.gather(*(create(r) for r in requests)))
    return {"elapsed_s": time.perf_counter() - started, "booked": booked, "statuses": Counter()}


async def measure(kind: str, pairs: int, seed: int) -> dict[str, Any]:
    program, requests, busy = build_data(pairs, seed)
    server = await start_server(busy, seed)
    try:
        run = run_peercoach if kind == "peercoach" else run_baseline
        result = await run(program, requests, server)
        result.update(
            availability_requests=server.requests["getSchedule"] + server.envelopes_with["getSchedule"],
            total_requests=sum(server.requests.values()),
            duplicates=duplicates(server),
            throttled=sum(server.throttled.values()),
            max_in_flight=max(server.max_in_flight.values(), default=0),
            events=len(server.all_events()),
        )
        return result
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    baseline = asyncio.run(measure("baseline", args.pairs, args.seed))
    ours = asyncio.run(measure("peercoach", args.pairs, args.seed))

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}x" if b else "-"

    rows = [("availability requests", "availability_requests", "{:.0f}"),
            ("total HTTP requests", "total_requests", "{:.0f}"),
            ("events booked", "booked", "{:.0f}"), ("events stored", "events", "{:.0f}"),
            ("duplicate events", "duplicates", "{:.0f}"), ("429s served", "throttled", "{:.0f}"),
            ("max in flight per mailbox", "max_in_flight", "{:.0f}"), ("elapsed (s)", "elapsed_s", "{:.2f}")]
    print(f"Scheduling {args.pairs} pairs, {BUSY_SHARE:.0%} busy calendars, {THROTTLE_RATE:.0%} injected 429s, "
          f"{LOST_RESPONSE_RATE:.0%} lost create responses")
    print(f"{'metric':<28}{'baseline':>12}{'peercoach':>12}{'ratio':>10}")
    for label, key, fmt in rows:
        print(f"{label:<28}{fmt.format(baseline[key]):>12}{fmt.format(ours[key]):>12}"
              f"{ratio(ours[key], baseline[key]):>10}")
    print(f"peercoach meeting statuses: {dict(ours['statuses'])}")
    target_ok = ours["availability_requests"] <= 60 and ours["booked"] == args.pairs and ours["duplicates"] == 0
    print(f"targets (<= 60 availability requests, all {args.pairs} booked once): {'met' if target_ok else 'MISSED'}")
    print(json.dumps({"availability_requests": ours["availability_requests"], "total_requests": ours["total_requests"],
                      "booked": ours["booked"], "duplicates": ours["duplicates"],
                      "elapsed_s": round(ours["elapsed_s"], 2)}))


if __name__ == "__main__":
    main()
