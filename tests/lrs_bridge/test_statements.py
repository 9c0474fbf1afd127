"""Records -> statements: ids, actor identification, context shape, scores, language maps, strict validity."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement
from tincan import Result

from lrs_bridge.records import (
    ALL_RECORD_TYPES,
    Matched,
    Person,
    ProgramRef,
    Record,
    RecordError,
    Reflected,
    Registered,
    RoundRef,
    Scored,
    ScoreValue,
    TalkedWith,
    Voided,
)
from lrs_bridge.statements import ActorIdentification, StatementBuilder, serialize
from lrs_bridge.vocabulary import PROFILE_VERSION_IRI, STATEMENT_NAMESPACE, ActivityTypes, Extensions, Verbs
from tests.lrs_bridge.conftest import ALICE, BOB, CARA, PROGRAM, ROUND, sample_records

BASE = "https://coach.example.org/xapi"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def builder(mode: str = "mbox") -> StatementBuilder:
    return StatementBuilder(activity_base_iri=BASE, actor_identification=mode,
                            account_homepage="https://login.microsoftonline.com/tenant-1", platform="Teams")


def as_json(b: StatementBuilder, record: Record) -> dict:
    return json.loads(b.build_serialized(record).payload)


def test_sample_records_cover_every_record_type() -> None:
    assert {type(r) for r in sample_records()} == set(ALL_RECORD_TYPES)


@pytest.mark.parametrize("agent_objects", [True, False])
@pytest.mark.parametrize("mode", ["mbox", "mbox_sha1sum", "account"])
def test_every_statement_kind_passes_ralph_strict_model(mode: str, agent_objects: bool) -> None:
    b = builder(mode)
    b.agent_objects = agent_objects
    for record in sample_records():
        payload = as_json(b, record)
        BaseXapiStatement.model_validate(payload)  # raises on any violation


@pytest.mark.parametrize("agent_objects", [True, False])
@pytest.mark.parametrize("mode", ["mbox", "mbox_sha1sum", "account"])
def test_serialize_writes_what_tincans_own_as_version_writes(mode: str, agent_objects: bool) -> None:
    b = builder(mode)
    b.agent_objects = agent_objects
    for record in sample_records():
        statement = b.build(record)
        statement.result = statement.result or Result()
        statement.result.duration = timedelta(minutes=45, seconds=3)  # the one conversion records lack
        tincan = statement.as_version("1.0.3")
        tincan.pop("version")
        expected = json.dumps(tincan, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        assert serialize(statement) == expected, type(record).__name__


def test_statement_id_is_uuid5_of_event_key_and_stable() -> None:
    record = sample_records("fixed")[0]
    first = builder().build_serialized(record)
    second = builder().build_serialized(record)
    assert first.id == uuid.uuid5(STATEMENT_NAMESPACE, "fixed:registered")
    assert first == second  # same bytes every time: retries are byte-identical


def test_serialization_is_compact_sorted_and_utf8() -> None:
    record = Registered(event_key="k", timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                        actor=Person("zoe@example.org", "Zoë Ångström"), program=ProgramRef("p", "Prögram"))
    text = builder().build_serialized(record).payload
    assert "Zoë Ångström" in text and ", " not in text and ": " not in text
    assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def test_actor_identification_modes() -> None:
    record = sample_records()[0]
    assert as_json(builder("mbox"), record)["actor"] == {
        "mbox": "mailto:alice@example.org", "name": "Alice Adams", "objectType": "Agent"}
    sha = hashlib.sha1(b"mailto:alice@example.org").hexdigest()
    assert as_json(builder("mbox_sha1sum"), record)["actor"]["mbox_sha1sum"] == sha
    account = as_json(builder("account"), record)["actor"]["account"]
    assert account == {"homePage": "https://login.microsoftonline.com/tenant-1", "name": "aad-alice"}


def test_account_mode_falls_back_to_email_without_aad_id() -> None:
    assert builder("account").agent(CARA).account.name == "cara@example.org"


def test_account_mode_needs_homepage() -> None:
    with pytest.raises(ValueError, match="account_homepage"):
        StatementBuilder(activity_base_iri=BASE, actor_identification=ActorIdentification.ACCOUNT)


def test_builder_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="activity_base_iri"):
        StatementBuilder(activity_base_iri="coach.example.org")
    with pytest.raises(ValueError):
        StatementBuilder(activity_base_iri=BASE, actor_identification="openid")


def test_matched_has_round_object_team_group_and_registration() -> None:
    reg = uuid.uuid4()
    matched = next(r for r in sample_records(registration=reg) if isinstance(r, Matched))
    st = as_json(builder(), matched)
    assert st["verb"]["id"] == Verbs.MATCHED
    assert st["object"]["id"] == f"{BASE}/programs/pairs-2026/rounds/3"
    assert st["object"]["definition"]["type"] == ActivityTypes.ROUND
    ctx = st["context"]
    assert ctx["registration"] == str(reg)
    assert ctx["team"]["objectType"] == "Group"
    # The other members by pseudonym only: no email, no name.
    assert ctx["team"]["member"] == [
        {"objectType": "Agent", "account": {"homePage": f"{BASE}/pseudonym", "name": p.pseudonym}}
        for p in (BOB, CARA)]
    assert ctx["extensions"] == {Extensions.ROLE: "facilitator", Extensions.SKILLS: ["listening"],
                                 Extensions.PARTNER_DEPARTMENTS: ["Finance", "Sales"]}
    assert "parent" not in ctx["contextActivities"]  # the round is the object itself
    assert [a["id"] for a in ctx["contextActivities"]["grouping"]] == [
        f"{BASE}/programs/pairs-2026", f"{BASE}/programs/pairs-2026/cohorts/spring"]
    assert [a["id"] for a in ctx["contextActivities"]["category"]] == [PROFILE_VERSION_IRI]
    assert ctx["platform"] == "Teams"


def test_context_activities_parent_round_grouping_program_and_cohort() -> None:
    attended = next(r for r in sample_records() if type(r).__name__ == "Attended")
    ctx = as_json(builder(), attended)["context"]["contextActivities"]
    assert [a["id"] for a in ctx["parent"]] == [f"{BASE}/programs/pairs-2026/rounds/3"]
    assert [a["definition"]["type"] for a in ctx["grouping"]] == [ActivityTypes.PROGRAM, ActivityTypes.COHORT]
    assert ctx["category"][0]["definition"]["type"] == ActivityTypes.PROFILE


def test_reflection_usefulness_is_an_extension_not_a_score() -> None:
    reflected = next(r for r in sample_records() if isinstance(r, Reflected))
    st = as_json(builder(), reflected)
    assert st["verb"]["id"] == Verbs.REFLECTED
    assert st["verb"]["display"] == {"en": "reflected on"}
    assert "score" not in st["result"]
    assert st["result"]["response"] == "Ask before advising."
    assert st["result"]["extensions"] == {Extensions.MET: True, Extensions.USEFULNESS: 4,
                                          Extensions.NEXT_STEP: "Try GROW with my team."}
    assert st["context"]["language"] == "en-GB"
    # Names use the program's language tag, not the participant's.
    assert st["object"]["definition"]["name"] == {"en": "Peer coaching 2026, round 3: session mtg-42"}


def test_reviewer_statement_records_only_the_review_and_names_the_reviewee_by_pseudonym() -> None:
    reviewed = next(r for r in sample_records() if type(r).__name__ == "Reviewed")
    st = as_json(builder(), reviewed)
    assert st["actor"]["mbox"] == "mailto:bob@example.org"
    assert "result" not in st  # nothing about the reviewee's performance in the reviewer's statement
    assert st["context"]["extensions"][Extensions.REVIEWEE] == {
        "objectType": "Agent", "account": {"homePage": f"{BASE}/pseudonym", "name": ALICE.pseudonym}}
    assert "alice" not in json.dumps(st).lower()


def test_released_feedback_is_the_reviewees_own_scored_statement() -> None:
    scored = next(r for r in sample_records() if isinstance(r, Scored) and r.reviews)
    st = as_json(builder(), scored)
    assert st["verb"]["id"] == Verbs.SCORED
    assert st["actor"]["mbox"] == "mailto:alice@example.org"
    assert st["object"]["definition"]["type"] == ActivityTypes.ASSESSMENT
    assert st["result"]["score"] == {"raw": 13.5, "min": 4.0, "max": 16.0, "scaled": 0.7917}
    assert st["result"]["extensions"] == {Extensions.REVIEW_COUNT: 3, Extensions.SCORE_INTERVAL: [12.0, 15.0]}
    assert st["verb"]["display"] == {"en": "scored", "de-DE": "erzielte"}


def test_pause_and_resume_are_their_own_verbs_not_leaving() -> None:
    by_verb = {as_json(builder(), r)["verb"]["id"]: as_json(builder(), r) for r in sample_records()}
    paused = by_verb[Verbs.SUSPENDED]
    assert paused["object"]["definition"]["type"] == ActivityTypes.PROGRAM
    assert paused["context"]["extensions"] == {Extensions.PAUSED_UNTIL: "2026-05-01"}
    assert paused["context"]["platform"] == "email"  # the channel the person used
    assert by_verb[Verbs.RESUMED]["object"]["definition"]["type"] == ActivityTypes.PROGRAM
    assert "extensions" not in by_verb[Verbs.UNREGISTERED]["context"]


def test_completion_and_attendance_carry_completion_and_duration() -> None:
    statements = [as_json(builder(), r) for r in sample_records()]
    completed = [s for s in statements if s["verb"]["id"] == Verbs.COMPLETED]
    assert {(s["object"]["definition"]["type"], s["result"]["duration"]) for s in completed} == {
        (ActivityTypes.ROUND, "P7DT00H00M00S"), (ActivityTypes.PROGRAM, "P90DT00H00M00S")}
    assert all(s["result"]["completion"] is True for s in completed)
    attended = next(s for s in statements if s["verb"]["id"] == Verbs.ATTENDED)
    assert attended["result"] == {"duration": "PT30M00S"}


def test_round_and_meeting_activities_have_distinct_names_and_descriptions() -> None:
    statements = [as_json(builder(), r) for r in sample_records()]
    activities = {a["id"]: a["definition"] for s in statements
                  for a in [s["object"], *s.get("context", {}).get("contextActivities", {}).get("parent", [])]
                  if a.get("definition", {}).get("type") in (ActivityTypes.ROUND, ActivityTypes.MEETING)}
    names = [json.dumps(d["name"]) for d in activities.values()]
    descriptions = [json.dumps(d["description"]) for d in activities.values()]
    assert len(activities) == 2 and len(set(names)) == 2 and len(set(descriptions)) == 2


def test_no_statement_names_anyone_but_its_actor_by_email_or_name() -> None:
    for mode in ("mbox", "mbox_sha1sum", "account"):
        for record in sample_records():
            text = json.dumps(as_json(builder(mode), record)).lower()
            for person in (ALICE, BOB, CARA):
                if person != record.actor:
                    assert person.email not in text and person.name.lower() not in text, (mode, record)
                    assert hashlib.sha1(f"mailto:{person.email}".encode()).hexdigest() not in text


def test_another_person_without_pseudonym_is_refused() -> None:
    record = TalkedWith(event_key="t", timestamp=T0, actor=ALICE, program=PROGRAM,
                        peers=(Person("x@example.org", "X"),))
    with pytest.raises(RecordError, match="pseudonym"):
        builder().build(record)


def test_talked_with_one_peer_is_agent_several_are_group() -> None:
    one, many = [r for r in sample_records() if isinstance(r, TalkedWith)]
    assert as_json(builder(), one)["object"]["objectType"] == "Agent"
    group = as_json(builder(), many)
    assert group["object"]["objectType"] == "Group" and len(group["object"]["member"]) == 2
    assert group["context"]["contextActivities"]["other"][0]["definition"]["type"] == ActivityTypes.MEETING


def test_without_agent_objects_the_session_is_the_object_and_people_are_partners() -> None:
    b = StatementBuilder(activity_base_iri=BASE, agent_objects=False)
    one, many = [r for r in sample_records() if isinstance(r, TalkedWith)]
    st = as_json(b, one)  # no meeting: the round is the object
    assert st["object"]["id"] == f"{BASE}/programs/pairs-2026/rounds/3"
    assert "parent" not in st["context"]["contextActivities"]
    assert st["context"]["extensions"][Extensions.PARTNERS] == [
        {"account": {"homePage": f"{BASE}/pseudonym", "name": BOB.pseudonym}, "objectType": "Agent"}]
    st = as_json(b, many)
    assert st["object"]["id"] == f"{BASE}/meetings/mtg-42"
    assert len(st["context"]["extensions"][Extensions.PARTNERS]) == 2
    assert st["context"]["platform"] == "Microsoft Teams"


def test_voided_points_at_statement_of_voided_event() -> None:
    voided = next(r for r in sample_records("v") if isinstance(r, Voided))
    st = as_json(builder(), voided)
    voided_id = str(uuid.uuid5(STATEMENT_NAMESPACE, "v:earned"))
    assert st["object"] == {"objectType": "StatementRef", "id": voided_id}
    assert st["verb"]["id"] == Verbs.VOIDED


def test_timestamp_keeps_time_zone() -> None:
    ts = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    record = Registered(event_key="tz", timestamp=ts, actor=ALICE, program=PROGRAM)
    assert as_json(builder(), record)["timestamp"] == "2026-06-01T10:00:00+02:00"


def test_activity_ids_escape_unsafe_characters() -> None:
    record = Registered(event_key="x", timestamp=datetime(2026, 1, 1, tzinfo=UTC), actor=ALICE,
                        program=ProgramRef("sales team/emea 1", "Sales"))
    assert as_json(builder(), record)["object"]["id"] == f"{BASE}/programs/sales%20team%2Femea%201"


def test_unknown_record_type_is_refused() -> None:
    record = Record(event_key="k", timestamp=datetime(2026, 1, 1, tzinfo=UTC), actor=ALICE, program=PROGRAM)
    with pytest.raises(RecordError, match="no statement mapping"):
        builder().build(record)


def test_statements_carry_no_version_property() -> None:
    # xAPI 1.0.3 Data 2.4.10: a producer SHOULD NOT set "version" (and if set it must be "1.0.0").
    for record in sample_records():
        assert "version" not in as_json(builder(), record)


def fixed_clock(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def test_a_future_timestamp_is_stated_as_the_moment_of_building() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    b = StatementBuilder(activity_base_iri=BASE, clock=fixed_clock(now))
    future = Registered(event_key="f", timestamp=now + timedelta(days=14), actor=ALICE, program=PROGRAM)
    past = Registered(event_key="p", timestamp=now - timedelta(hours=1), actor=ALICE, program=PROGRAM)
    assert as_json(b, future)["timestamp"] == "2026-03-01T12:00:00+00:00"
    assert as_json(b, past)["timestamp"] == "2026-03-01T11:00:00+00:00"
    voiding = Voided(event_key="v", timestamp=now + timedelta(days=1), actor=ALICE, program=PROGRAM,
                     voided_event_key="p")
    assert as_json(b, voiding)["timestamp"] == "2026-03-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Registered(event_key="k", timestamp=datetime(2026, 1, 1), actor=ALICE, program=PROGRAM),
         "no time zone"),
        (lambda: Registered(event_key=" ", timestamp=T0, actor=ALICE,
                            program=PROGRAM), "event_key"),
        (lambda: Person("mailto:a@b.c"), "plain address"),
        (lambda: Person("nobody"), "plain address"),
        (lambda: ScoreValue(raw=6, min=1, max=5), "outside"),
        (lambda: ScoreValue(raw=1, min=5, max=1), "below max"),
        (lambda: ScoreValue(raw=float("nan"), min=1, max=5), "not finite"),
        (lambda: RoundRef("p", 0), "start at 1"),
        (lambda: Matched(event_key="m", timestamp=T0, actor=ALICE, program=PROGRAM,
                         round=ROUND, members=(BOB, CARA)), "actor must be one"),
        (lambda: Matched(event_key="m", timestamp=T0, actor=ALICE, program=PROGRAM,
                         members=(ALICE, BOB)), "belongs to a round"),
        (lambda: Matched(event_key="m", timestamp=T0, actor=ALICE,
                         program=ProgramRef("other", "O"), round=ROUND, members=(ALICE, BOB)),
         "round belongs"),
        (lambda: Reflected(event_key="r", timestamp=T0, actor=ALICE, program=PROGRAM,
                           round=ROUND, usefulness=6), "usefulness"),
        (lambda: Reflected(event_key="r", timestamp=T0, actor=ALICE,
                           program=PROGRAM), "meeting or a round"),
        (lambda: TalkedWith(event_key="t", timestamp=T0, actor=ALICE,
                            program=PROGRAM, peers=(ALICE,)), "own peer"),
        (lambda: Voided(event_key="v", timestamp=T0, actor=ALICE, program=PROGRAM,
                        voided_event_key="v"), "cannot void itself"),
    ],
)
def test_invalid_records_are_refused_with_a_clear_message(factory: object, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        factory()  # type: ignore[operator]
