"""GraphCalendar and GraphMailer against the local Graph server, through the real msgraph-sdk client."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from teams_app.adapters.graph import (
    BookingRequest,
    ClientCredentialsTokenCredential,
    GraphCalendar,
    GraphError,
    GraphGateway,
    GraphMailer,
    RetryPolicy,
    build_graph_client,
    transaction_id,
)
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
from tests.fixtures.graph_server import GraphServer

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*")]

MONDAY = date(2026, 1, 12)
NOW = datetime(2026, 1, 10, tzinfo=UTC)


class SleepRecorder:
    """Records the waits the gateway asks for instead of sleeping through them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    server = await GraphServer().start()
    yield server
    await server.stop()


def gateway(server: GraphServer, *, attempts: int = 4, timeout_s: float = 10.0, secret: str = "s3cret",
            base_url: str | None = None) -> tuple[GraphGateway, SleepRecorder]:
    sleeper = SleepRecorder()
    credential = ClientCredentialsTokenCredential(server.token_url(), "app-id", secret)
    client = build_graph_client(credential, base_url or server.base_url, timeout_s=timeout_s)
    return GraphGateway(client, policy=RetryPolicy(max_attempts=attempts), sleep=sleeper), sleeper


def calendar(server: GraphServer, organizer: str = "mentor", **options: object) -> tuple[GraphCalendar, SleepRecorder]:
    gw, sleeper = gateway(server, **options)  # type: ignore[arg-type]
    return GraphCalendar(gw, organizer=organizer, now=lambda: NOW), sleeper


def person(email: str, zone: str = "UTC") -> Participant:
    return Participant.create(email, email.split("@")[0].title(), participant_id=email,
                              profile=Profile.build(time_zone=zone))


def pair(a: Participant, b: Participant, roles: tuple[Role, Role] = (Role.PEER, Role.PEER)) -> Match:
    return Match(stable_id("match", a.id, b.id), "r1", "p1", (MatchMember(a.id, roles[0]), MatchMember(b.id, roles[1])))


PROGRAM = Program.create("Pilot", "mentoring", "weekly", program_id="p1", meeting_minutes=45)


async def test_book_creates_teams_meeting_with_prompts_and_transaction_id(graph: GraphServer) -> None:
    cal, _ = calendar(graph)
    mentee, mentor = person("mentee@x.org"), person("mentor@x.org")
    graph.add_mailbox("mentee@x.org", [(datetime(2026, 1, 12, 9, tzinfo=UTC), datetime(2026, 1, 12, 10, tzinfo=UTC))])
    match = pair(mentee, mentor, (Role.MENTEE, Role.MENTOR))
    meeting = await cal.book(PROGRAM, match, [mentee, mentor], MONDAY, MONDAY + timedelta(days=4))
    assert meeting.status is MeetingStatus.SCHEDULED
    assert meeting.start == datetime(2026, 1, 12, 10, tzinfo=UTC)
    assert meeting.end == meeting.start + timedelta(minutes=45)
    assert meeting.organizer == "mentor@x.org" and meeting.join_url.startswith("https://teams.microsoft.com/")
    [event] = graph.all_events()
    assert event["id"] == meeting.external_id
    assert event["isOnlineMeeting"] is True and event["onlineMeetingProvider"] == "teamsForBusiness"
    assert event["transactionId"] == transaction_id(match.id)
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["mentee@x.org"]
    assert "What would you like to improve?" in event["body"]["content"]
    assert graph.requests["batch"] == 2 and graph.requests["getSchedule"] == 0  # both went inside $batch


async def test_program_mailbox_organizes_and_invites_both(graph: GraphServer) -> None:
    cal, _ = calendar(graph, organizer="Coaching@X.org")
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.organizer == "coaching@x.org"
    [event] = graph.events["coaching@x.org"].values()
    assert sorted(x["emailAddress"]["address"] for x in event["attendees"]) == ["a@x.org", "b@x.org"]


async def test_retry_after_commit_never_creates_a_second_event(graph: GraphServer) -> None:
    cal, sleeper = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    graph.fail("createEvent", 504, after_commit=True)
    first = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    again = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)  # e.g. the round job re-ran
    assert first.status is MeetingStatus.SCHEDULED and first.external_id == again.external_id
    assert again.start == first.start  # the event Exchange already had, not a new slot
    assert len(graph.all_events()) == 1
    assert graph.operations["createEvent"] == 3 and len(sleeper.waits) == 1


async def test_429_retry_after_on_the_batch_envelope_is_honoured(graph: GraphServer) -> None:
    cal, sleeper = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    graph.fail("batch", 429, retry_after="7")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.SCHEDULED
    assert sleeper.waits[0] == 7.0


async def test_429_inside_a_200_batch_is_retried_after_retry_after(graph: GraphServer) -> None:
    cal, sleeper = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    graph.fail("getSchedule", 429, retry_after="3")
    graph.fail("createEvent", 429, retry_after="5")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.SCHEDULED
    assert sleeper.waits == [3.0, 5.0]
    assert graph.requests["batch"] == 4 and len(graph.all_events()) == 1


async def test_persistent_503_ends_in_failed_meeting_with_admin_detail(graph: GraphServer) -> None:
    cal, sleeper = calendar(graph, attempts=3)
    a, b = person("a@x.org"), person("b@x.org")
    graph.fail("createEvent", 503, times=10)
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED
    assert "Could not book the Teams meeting" in meeting.detail and "503" in meeting.detail
    assert "after 3 attempts" in meeting.detail
    assert graph.operations["createEvent"] == 3 and len(sleeper.waits) == 2
    assert all(0 <= w <= 30 for w in sleeper.waits)  # jittered backoff without Retry-After
    assert graph.all_events() == []


async def test_pair_across_los_angeles_and_kolkata_gets_no_common_slot(graph: GraphServer) -> None:
    cal, _ = calendar(graph)
    a, b = person("ann@x.org", "America/Los_Angeles"), person("bala@x.org", "Asia/Kolkata")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY + timedelta(days=4))
    assert meeting.status is MeetingStatus.NO_COMMON_SLOT
    assert "never overlap" in meeting.detail
    assert "https://teams.microsoft.com/l/meeting/new?" in meeting.detail and "ann%40x.org" in meeting.detail
    assert graph.all_events() == [] and graph.operations["createEvent"] == 0


async def test_unknown_path_mailbox_rotates_and_unknown_attendee_is_noted(graph: GraphServer) -> None:
    graph.auto_create_mailboxes = False
    graph.add_mailbox("b@x.org")
    cal, _ = calendar(graph, organizer="first")
    ghost, b = person("a-ghost@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(b, ghost), [b, ghost], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.SCHEDULED
    assert "Ghost's calendar could not be read" in meeting.detail
    assert graph.operations["getSchedule"] == 2  # first path (a-ghost, sorted first) was not found


async def test_organizer_without_rest_mailbox_fails_clearly(graph: GraphServer) -> None:
    graph.add_mailbox("onprem@x.org", rest_enabled=False)
    cal, _ = calendar(graph, organizer="onprem@x.org")
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED
    assert "MailboxNotEnabledForRESTAPI" in meeting.detail and "404" in meeting.detail


async def test_round_batches_schedules_and_respects_mailbox_concurrency(graph: GraphServer) -> None:
    cal, _ = calendar(graph, organizer="coaching@x.org")
    people = [person(f"p{i:03}@x.org") for i in range(240)]
    requests = [BookingRequest(pair(people[i], people[i + 1]), [people[i], people[i + 1]]) for i in range(0, 240, 2)]
    meetings = await cal.book_many(PROGRAM, requests, MONDAY, MONDAY + timedelta(days=4))
    assert all(m.status is MeetingStatus.SCHEDULED for m in meetings)
    assert graph.operations["getSchedule"] == 3  # 240 addresses, 100 per call
    assert graph.max_in_flight["coaching@x.org"] <= 4
    assert graph.throttled["mailboxConcurrency"] == 0
    assert len(graph.events["coaching@x.org"]) == 120
    assert len({m.start for m in meetings}) > 10  # spread over the week, not all at 09:00 Monday


async def test_slow_graph_times_out_then_fails_with_no_response(graph: GraphServer) -> None:
    cal, _ = calendar(graph, attempts=2, timeout_s=0.2)
    graph.delay_s = 1.0
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED
    assert "no response" in meeting.detail and "Timeout" in meeting.detail


async def test_graph_down_fails_without_hanging(graph: GraphServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    cal, _ = calendar(graph, attempts=2, base_url=f"http://127.0.0.1:{dead_port}/v1.0")
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED and "ConnectError" in meeting.detail


async def test_unreachable_token_endpoint_is_retried_then_reported(graph: GraphServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    sleeper = SleepRecorder()
    credential = ClientCredentialsTokenCredential(f"http://127.0.0.1:{dead_port}/t/oauth2/v2.0/token", "a", "s")
    gw = GraphGateway(build_graph_client(credential, graph.base_url), policy=RetryPolicy(max_attempts=3),
                      sleep=sleeper)
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await GraphCalendar(gw, now=lambda: NOW).book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED and "TokenEndpointUnreachable" in meeting.detail
    assert len(sleeper.waits) == 2 and graph.requests["batch"] == 0


async def test_wrong_client_secret_is_reported_not_retried(graph: GraphServer) -> None:
    cal, sleeper = calendar(graph, secret="wrong")
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    assert meeting.status is MeetingStatus.FAILED
    assert "AADSTS7000215" in meeting.detail and sleeper.waits == []


async def test_reschedule_moves_the_same_event_and_cancel_cancels_it(graph: GraphServer) -> None:
    cal, _ = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    new_start = datetime(2026, 1, 13, 14, tzinfo=UTC)
    moved = await cal.reschedule(meeting, new_start, new_start + timedelta(minutes=45))
    [event] = graph.all_events()
    assert moved.external_id == meeting.external_id and moved.start == new_start
    assert event["start"]["dateTime"].startswith("2026-01-13T14:00:00")
    await cal.cancel(moved)
    assert event["isCancelled"] is True
    with pytest.raises(GraphError) as err:
        await cal.reschedule(moved, new_start, new_start + timedelta(minutes=30))
    assert err.value.status == 400


async def test_cancel_of_missing_event_raises_item_not_found(graph: GraphServer) -> None:
    cal, _ = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
    graph.events.clear()
    with pytest.raises(GraphError) as err:
        await cal.cancel(meeting)
    assert err.value.status == 404 and err.value.code == "ErrorItemNotFound"


async def test_send_mail_posts_html_and_attachment(graph: GraphServer) -> None:
    gw, _ = gateway(graph)
    mailer = GraphMailer(gw, "coaching@x.org")
    await mailer.send(["a@x.org", "b@x.org"], "You have a match", "<p>Hello</p>", "Hello",
                      [("invite.ics", "text/calendar", b"BEGIN:VCALENDAR")])
    [(sender, message)] = graph.sent_mail
    assert sender == "coaching@x.org" and message["subject"] == "You have a match"
    assert message["body"] == {"content": "<p>Hello</p>", "contentType": "html"}
    assert message["attachments"][0]["contentBytes"] == "QkVHSU46VkNBTEVOREFS"


async def test_send_mail_without_mail_send_permission_raises_403(graph: GraphServer) -> None:
    graph.roles = ["Calendars.ReadWrite"]
    gw, _ = gateway(graph)
    with pytest.raises(GraphError) as err:
        await GraphMailer(gw, "coaching@x.org").send(["a@x.org"], "s", "<p>h</p>", "h")
    assert err.value.status == 403 and "Mail.Send" in str(err.value) and err.value.permanent
    with pytest.raises(ValueError):
        GraphMailer(gw, "not-a-mailbox")


async def test_concurrent_book_calls_are_coalesced_into_one_round(graph: GraphServer) -> None:
    cal, _ = calendar(graph, organizer="first")
    people = [person(f"c{i:02}@x.org") for i in range(40)]
    pairs = [(people[i], people[i + 1]) for i in range(0, 40, 2)]
    meetings = await asyncio.gather(*(cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY) for a, b in pairs))
    assert all(m.status is MeetingStatus.SCHEDULED for m in meetings)
    assert graph.requests["batch"] == 2  # one getSchedule batch, one create batch for all 20 matches
    assert max(Counter(m.start for m in meetings).values()) <= 3  # 20 meetings over Monday's 8 hours


async def test_same_match_twice_in_one_round_is_booked_once(graph: GraphServer) -> None:
    cal, _ = calendar(graph)
    a, b = person("a@x.org"), person("b@x.org")
    first, second = await asyncio.gather(cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY),
                                         cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY))
    assert first == second and first.status is MeetingStatus.SCHEDULED
    assert len(graph.all_events()) == 1 and graph.operations["createEvent"] == 1


async def test_matches_booked_one_by_one_are_still_spread(graph: GraphServer) -> None:
    cal, _ = calendar(graph, organizer="first")
    starts = []
    for i in range(4):
        a, b = person(f"s{i}a@x.org"), person(f"s{i}b@x.org")
        meeting = await cal.book(PROGRAM, pair(a, b), [a, b], MONDAY, MONDAY)
        starts.append(meeting.start)
    assert len({s.hour for s in starts if s}) == 4


async def test_factory_builds_graph_or_ics_calendar_from_settings(graph: GraphServer) -> None:
    from teams_app.adapters.email import IcsCalendar, SmtpMailer
    from teams_app.adapters.graph.factory import build_calendar_and_mail
    from teams_app.config import GraphSettings, SmtpSettings

    settings = GraphSettings(tenant_id="contoso", client_id="app-id", client_secret="s3cret",  # type: ignore[arg-type]
                             base_url=graph.base_url, token_url=graph.token_url(), sender_mailbox="coach@x.org",
                             organizer="first")
    built = build_calendar_and_mail(settings, SmtpSettings())
    assert isinstance(built.calendar, GraphCalendar) and isinstance(built.mailer, GraphMailer)
    a, b = person("a@x.org"), person("b@x.org")
    soon = date.today() + timedelta(days=7)  # the factory's calendar uses the real clock
    meeting = await built.calendar.book(PROGRAM, pair(a, b), [a, b], soon, soon + timedelta(days=6))
    assert meeting.status is MeetingStatus.SCHEDULED
    await built.mailer.send(["a@x.org"], "s", "<p>h</p>", "h")
    assert len(graph.sent_mail) == 1
    await built.close()
    offline = build_calendar_and_mail(GraphSettings(), SmtpSettings(host="smtp.x.org", sender="c@x.org"))
    assert isinstance(offline.calendar, IcsCalendar) and isinstance(offline.mailer, SmtpMailer)
    assert build_calendar_and_mail(GraphSettings(), SmtpSettings()).mailer is None
