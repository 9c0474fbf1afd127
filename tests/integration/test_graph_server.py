"""The local Graph server itself: it must refuse what real Graph refuses, or the other tests prove little."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fixtures.graph_server import GraphServer

WHEN = {"dateTime": "2026-01-12T09:00:00", "timeZone": "UTC"}
LATER = {"dateTime": "2026-01-12T10:00:00", "timeZone": "UTC"}


@pytest.fixture
async def session() -> AsyncIterator[tuple[GraphServer, aiohttp.ClientSession, dict[str, str]]]:
    server = await GraphServer().start()
    async with aiohttp.ClientSession() as http:
        async with http.post(server.token_url(), data={"grant_type": "client_credentials", "client_id": "a",
                                                       "client_secret": "s3cret",
                                                       "scope": "https://graph.microsoft.com/.default"}) as r:
            token = (await r.json())["access_token"]
        yield server, http, {"Authorization": f"Bearer {token}"}
    await server.stop()


async def call(ctx: tuple[GraphServer, aiohttp.ClientSession, dict[str, str]], method: str, path: str,
               body: Any = None) -> tuple[int, Any]:
    server, http, headers = ctx
    async with http.request(method, server.base_url + path, json=body, headers=headers) as response:
        return response.status, (await response.json() if response.content_length else None)


async def test_requests_without_a_token_get_401(session: Any) -> None:
    server, http, _ = session
    async with http.post(server.base_url + "/users/a@x.org/sendMail", json={}) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "InvalidAuthenticationToken"


async def test_get_schedule_shape_is_checked(session: Any) -> None:
    status, body = await call(session, "POST", "/users/a@x.org/calendar/getSchedule",
                              {"schedules": [f"p{i}@x.org" for i in range(101)], "startTime": WHEN, "endTime": LATER})
    assert status == 400 and body["error"]["code"] == "ErrorExceededMaxSchedules"
    status, body = await call(session, "POST", "/users/a@x.org/calendar/getSchedule",
                              {"schedules": ["b@x.org"], "startTime": {"dateTime": "monday"}, "endTime": LATER})
    assert status == 400 and "startTime" in body["error"]["message"]
    status, body = await call(session, "POST", "/users/a@x.org/calendar/getSchedule",
                              {"Schedules": ["b@x.org"], "StartTime": WHEN, "EndTime": LATER})
    assert status == 200 and body["value"][0]["scheduleId"] == "b@x.org"


async def test_event_shape_is_checked_and_transaction_id_deduplicates(session: Any) -> None:
    status, body = await call(session, "POST", "/users/a@x.org/events", {"subject": "x", "end": LATER})
    assert status == 400 and body["error"]["code"] == "ErrorInvalidRequest"
    event = {"subject": "x", "start": WHEN, "end": LATER, "attendees": [{"emailAddress": {}}]}
    status, body = await call(session, "POST", "/users/a@x.org/events", event)
    assert status == 400 and body["error"]["code"] == "ErrorInvalidRecipients"
    event = {"subject": "x", "start": WHEN, "end": LATER, "transactionId": "t-1", "isOnlineMeeting": True,
             "onlineMeetingProvider": "teamsForBusiness"}
    first = await call(session, "POST", "/users/a@x.org/events", event)
    second = await call(session, "POST", "/users/a@x.org/events", event)
    assert first[0] == second[0] == 201 and first[1]["id"] == second[1]["id"]
    assert first[1]["onlineMeeting"]["joinUrl"].startswith("https://teams.microsoft.com/")


async def test_batch_envelope_rules(session: Any) -> None:
    too_many = {"requests": [{"id": str(i), "method": "GET", "url": "/users/a@x.org"} for i in range(21)]}
    status, body = await call(session, "POST", "/$batch", too_many)
    assert status == 400 and "maximum of 20" in body["error"]["message"]
    absolute = {"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users/a"}]}
    assert (await call(session, "POST", "/$batch", absolute))[0] == 400
    duplicate = {"requests": [{"id": "1", "method": "GET", "url": "/users/a"}] * 2}
    assert (await call(session, "POST", "/$batch", duplicate))[0] == 400
    no_type = {"requests": [{"id": "1", "method": "POST", "url": "/users/a@x.org/sendMail", "body": {}}]}
    assert (await call(session, "POST", "/$batch", no_type))[0] == 400


async def test_batch_items_fail_independently_and_depends_on_propagates(session: Any) -> None:
    server, _, _ = session
    server.add_mailbox("onprem@x.org", rest_enabled=False)
    headers = {"Content-Type": "application/json"}
    good = {"subject": "x", "start": WHEN, "end": LATER}
    batch = {"requests": [
        {"id": "1", "method": "POST", "url": "/users/onprem@x.org/events", "headers": headers, "body": good},
        {"id": "2", "method": "POST", "url": "/users/a@x.org/events", "headers": headers, "body": good},
        {"id": "3", "method": "POST", "url": "/users/a@x.org/events", "headers": headers, "body": good,
         "dependsOn": ["1"]},
    ]}
    status, body = await call(session, "POST", "/$batch", batch)
    statuses = {r["id"]: r["status"] for r in body["responses"]}
    assert status == 200 and statuses == {"1": 404, "2": 201, "3": 424}
    assert body["responses"][0]["body"]["error"]["code"] == "MailboxNotEnabledForRESTAPI"


async def test_more_than_four_concurrent_requests_for_one_mailbox_are_throttled(session: Any) -> None:
    server, _, _ = session
    server.delay_s = 0.05
    headers = {"Content-Type": "application/json"}
    batch = {"requests": [{"id": str(i), "method": "POST", "url": "/users/a@x.org/events", "headers": headers,
                           "body": {"subject": "x", "start": WHEN, "end": LATER}} for i in range(6)]}
    _, body = await call(session, "POST", "/$batch", batch)
    throttled = [r for r in body["responses"] if r["status"] == 429]
    assert len(throttled) == 2 and throttled[0]["headers"]["Retry-After"] == "1"
