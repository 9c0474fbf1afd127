"""The direct ``registered`` path (one statement per imported person) gives the very text tincan's path gives.

``StatementBuilder.build_serialized`` skips tincan for ``Registered``; these tests hold its JSON equal, byte for
byte, to ``serialize(build(record))`` across actor identification modes, names, languages, cohorts, platforms,
time zones, simulated builders and clamped future timestamps.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ralph.models.xapi.base.statements import BaseXapiStatement

from lrs_bridge.records import CohortRef, Person, ProgramRef, Registered, RoundRef, registration_for
from lrs_bridge.statements import ActorIdentification, StatementBuilder, serialize

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def builder(mode: str, *, platform: str = "Microsoft Teams", simulated: bool = False) -> StatementBuilder:
    return StatementBuilder(activity_base_iri="https://coach.example.org/xapi/", actor_identification=mode,
                            account_homepage="https://login.microsoftonline.com/tenant-1", platform=platform,
                            clock=lambda: NOW, simulated=simulated)


def tincan_text(b: StatementBuilder, record: Registered) -> str:
    return serialize(b.build(record))


PEOPLE = [Person(email="ana@example.com"), Person(email=" Ana.Lopez@Example.COM ", name="Ana López"),
          Person(email="bo@example.com", name='Bo "the \\ boss" <b>', aad_object_id="aad-1234"),
          Person(email="z@example.com", name="\u6771\u4eac \U0001f600", aad_object_id="")]
PROGRAMS = [ProgramRef("p-1", "Pairs"), ProgramRef("prog/with space?&", "Coaching für alle", "de"),
            ProgramRef("0b7e", "Mentoring", "pt-BR")]
STAMPS = [NOW - timedelta(days=3), datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1))),
          datetime(2026, 7, 1, 23, 59, tzinfo=timezone(timedelta(hours=-9, minutes=-30))), NOW + timedelta(days=2)]


@pytest.mark.parametrize("mode", list(ActorIdentification))
@pytest.mark.parametrize("simulated", [False, True])
@pytest.mark.parametrize("builder_platform", ["Microsoft Teams", ""])
def test_registered_fast_path_matches_tincan_byte_for_byte(mode: ActorIdentification, simulated: bool,
                                                           builder_platform: str) -> None:
    b = builder(mode, platform=builder_platform, simulated=simulated)
    cases = itertools.product(PEOPLE, PROGRAMS, STAMPS, ["en", "de", "de-AT", "fr-CA", "es"],
                              [None, CohortRef("c-1", "Spring"), CohortRef("c 2/x", "")], ["", "email"],
                              [True, False])
    compared = 0
    for person, program, stamp, language, cohort, platform, with_registration in cases:
        record = Registered(event_key=f"enrolled/{program.id}/{person.email}/{stamp.isoformat()}", timestamp=stamp,
                            actor=person, program=program, cohort=cohort, language=language, platform=platform,
                            registration=registration_for(program.id, person.email) if with_registration else None)
        fast = b.build_serialized(record)
        assert fast.payload == tincan_text(b, record), record
        assert fast.id == uuid.uuid5(b.namespace, record.event_key)
        compared += 1
    assert compared == 4 * 3 * 4 * 5 * 3 * 2 * 2


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40), local=st.from_regex(r"[A-Za-z0-9._%+-]{1,20}", fullmatch=True),
       aad=st.text(alphabet="abcdef0123456789-", max_size=36), program_name=st.text(min_size=1, max_size=40),
       program_id=st.text(min_size=1, max_size=20), language=st.sampled_from(["en", "de", "fr", "nl-BE", "en-GB"]),
       offset_min=st.integers(-720, 840), micro=st.integers(0, 999_999),
       mode=st.sampled_from(list(ActorIdentification)))
def test_registered_fast_path_matches_tincan_for_generated_records(
        name: str, local: str, aad: str, program_name: str, program_id: str, language: str, offset_min: int,
        micro: int, mode: ActorIdentification) -> None:
    b = builder(mode)
    stamp = datetime(2026, 5, 4, 3, 2, 1, micro, tzinfo=timezone(timedelta(minutes=offset_min)))
    record = Registered(event_key=f"k/{program_id}/{local}", timestamp=stamp,
                        actor=Person(email=f"{local}@example.org", name=name, aad_object_id=aad),
                        program=ProgramRef(program_id, program_name, language), language=language,
                        registration=registration_for(program_id, local))
    assert b.build_serialized(record).payload == tincan_text(b, record)


def test_registered_with_a_round_takes_the_tincan_path_and_stays_valid() -> None:
    b = builder(ActorIdentification.MBOX)
    program = ProgramRef("p-1", "Pairs")
    record = Registered(event_key="r", timestamp=NOW, actor=PEOPLE[1], program=program, round=RoundRef("p-1", 2))
    payload = b.build_serialized(record).payload
    assert payload == tincan_text(b, record) and '"parent"' in payload


@pytest.mark.parametrize("mode", list(ActorIdentification))
def test_fast_path_registered_statements_pass_ralph_strict_model(mode: ActorIdentification) -> None:
    import json

    b = builder(mode, simulated=True)
    record = Registered(event_key="strict", timestamp=NOW, actor=PEOPLE[2], program=PROGRAMS[1],
                        cohort=CohortRef("c-1", "Spring"), language="de-AT", platform="email",
                        registration=registration_for("p", "x"))
    BaseXapiStatement.model_validate(json.loads(b.build_serialized(record).payload))


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=80), namespace=st.uuids())
def test_name_uuid_is_uuid5(name: str, namespace: uuid.UUID) -> None:
    from lrs_bridge.records import name_uuid

    made = name_uuid(namespace.bytes, name)
    assert made == uuid.uuid5(namespace, name) and made.version == 5 and str(made) == str(uuid.uuid5(namespace, name))
