"""Learning records -> tincan ``Statement`` objects, and their one-time serialization.

The statement id is ``uuid5(namespace, record.event_key)``: fixed when the event happens, identical on
every retry. :func:`serialize` produces the canonical compact JSON stored in the outbox; that string is
what the relay POSTs, byte for byte, however often it has to try.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from tincan import (
    Activity,
    ActivityDefinition,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Group,
    LanguageMap,
    Result,
    Score,
    Statement,
    StatementRef,
    Verb,
)
from tincan import Extensions as TincanExtensions
from tincan.conversions.iso8601 import jsonify_datetime, jsonify_timedelta
from tincan.serializable_base import SerializableBase

from lrs_bridge.records import (
    AssessmentRef,
    Attended,
    BadgeRef,
    CohortRef,
    Commented,
    Completed,
    CompletedScope,
    Earned,
    Matched,
    MeetingRef,
    MeetingScheduled,
    Mentored,
    Person,
    ProgramRef,
    Rated,
    Record,
    RecordError,
    Reflected,
    Registered,
    Reviewed,
    RoundRef,
    ScoreValue,
    TalkedWith,
    Unregistered,
    Voided,
)
from lrs_bridge.vocabulary import (
    PROFILE_VERSION_IRI,
    STATEMENT_NAMESPACE,
    VERB_DISPLAY,
    XAPI_VERSION,
    ActivityTypes,
    Extensions,
    Verbs,
)

logger = logging.getLogger(__name__)


class ActorIdentification(StrEnum):
    """How the LMS knows people: by email, by hashed email, or by an account on a home page."""

    MBOX = "mbox"
    MBOX_SHA1SUM = "mbox_sha1sum"
    ACCOUNT = "account"


@dataclass(frozen=True)
class SerializedStatement:
    """A statement id and the exact JSON text that will be sent for it."""

    id: uuid.UUID
    payload: str


def serialize(statement: Statement) -> str:
    """Canonical compact JSON of a statement (sorted keys, UTF-8 text, xAPI 1.0.3).

    The same JSON as ``statement.as_version("1.0.3")`` (a test holds them equal for every statement
    kind), built in one pass: this runs for every statement inside the business transaction.
    """
    return json.dumps(_plain(statement), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _plain(obj: SerializableBase) -> Any:
    """tincan's ``as_version`` in one pass: None dropped, property names corrected, a leading "_"
    removed, UUIDs, datetimes and durations as xAPI text, lists one level deep."""
    if isinstance(obj, list):
        return [_plain(item) if isinstance(item, SerializableBase) else item for item in obj]
    corrected = obj._props_corrected
    out: dict[str, Any] = {}
    for key, value in (obj.items() if isinstance(obj, dict) else vars(obj).items()):
        if value is None:
            continue
        key = corrected.get(key, key)
        if isinstance(value, SerializableBase):
            value = _plain(value)
        elif isinstance(value, list):
            value = [_plain(item) if isinstance(item, SerializableBase) else item for item in value]
        elif isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime.timedelta):
            value = jsonify_timedelta(value)
        elif isinstance(value, datetime.datetime):
            value = jsonify_datetime(value)
        out[key[1:] if key.startswith("_") else key] = value
    return out


def _lang_map(language: str, text: str) -> LanguageMap:
    return LanguageMap({language: text})


class StatementBuilder:
    """Builds statements for one deployment (actor identification, platform, activity IRIs)."""

    def __init__(
        self,
        *,
        activity_base_iri: str,
        actor_identification: ActorIdentification | str = ActorIdentification.MBOX,
        account_homepage: str = "",
        platform: str = "Microsoft Teams",
        namespace: uuid.UUID = STATEMENT_NAMESPACE,
        agent_objects: bool = True,
    ) -> None:
        """``agent_objects=False`` avoids Agent/Group statement objects (mentored, talked-with) for LRSs
        that refuse them although xAPI allows them (ralph 5.1 requires ``object.id``)."""
        if not activity_base_iri.startswith(("http://", "https://")):
            raise ValueError(f"activity_base_iri must be an http(s) IRI, got {activity_base_iri!r}")
        self.actor_identification = ActorIdentification(actor_identification)
        if self.actor_identification is ActorIdentification.ACCOUNT and not account_homepage.startswith(
            ("http://", "https://")
        ):
            raise ValueError("actor_identification=account needs account_homepage (an http(s) URL)")
        self.base = activity_base_iri.rstrip("/")
        self.account_homepage = account_homepage
        self.platform = platform
        self.namespace = namespace
        self.agent_objects = agent_objects

    # -- identities -------------------------------------------------------------------------------

    def statement_id(self, event_key: str) -> uuid.UUID:
        return uuid.uuid5(self.namespace, event_key)

    def agent(self, person: Person) -> Agent:
        name = person.name or None
        email = person.email.strip().lower()
        if self.actor_identification is ActorIdentification.MBOX:
            return Agent(name=name, mbox=f"mailto:{email}")
        if self.actor_identification is ActorIdentification.MBOX_SHA1SUM:
            digest = hashlib.sha1(f"mailto:{email}".encode()).hexdigest()
            return Agent(name=name, mbox_sha1sum=digest)
        # Account mode: the AAD object id is the stable key Teams and Entra use; email only as fallback.
        account_name = person.aad_object_id or email
        return Agent(name=name, account=AgentAccount(home_page=self.account_homepage, name=account_name))

    # -- activities -------------------------------------------------------------------------------

    def _iri(self, *parts: str) -> str:
        return "/".join([self.base, *(quote(p, safe="") for p in parts)])

    def program_activity(self, program: ProgramRef, language: str) -> Activity:
        return Activity(
            id=self._iri("programs", program.id),
            definition=ActivityDefinition(type=ActivityTypes.PROGRAM, name=_lang_map(language, program.name)),
        )

    def cohort_activity(self, program: ProgramRef, cohort: CohortRef, language: str) -> Activity:
        return Activity(
            id=self._iri("programs", program.id, "cohorts", cohort.id),
            definition=ActivityDefinition(
                type=ActivityTypes.COHORT, name=_lang_map(language, cohort.name or cohort.id)
            ),
        )

    def round_activity(self, program: ProgramRef, rnd: RoundRef, language: str) -> Activity:
        return Activity(
            id=self._iri("programs", rnd.program_id, "rounds", str(rnd.number)),
            definition=ActivityDefinition(
                type=ActivityTypes.ROUND, name=_lang_map(language, f"{program.name} #{rnd.number}")
            ),
        )

    def meeting_activity(self, meeting: MeetingRef, language: str) -> Activity:
        definition = ActivityDefinition(type=ActivityTypes.MEETING)
        if meeting.title:
            definition.name = _lang_map(language, meeting.title)
        return Activity(id=self._iri("meetings", meeting.id), definition=definition)

    def assessment_activity(self, assessment: AssessmentRef, language: str) -> Activity:
        definition = ActivityDefinition(type=ActivityTypes.REVIEW)
        if assessment.name:
            definition.name = _lang_map(language, assessment.name)
        return Activity(id=self._iri("assessments", assessment.id), definition=definition)

    def badge_activity(self, badge: BadgeRef, language: str) -> Activity:
        definition = ActivityDefinition(type=ActivityTypes.BADGE, name=_lang_map(language, badge.name))
        if badge.description:
            definition.description = _lang_map(language, badge.description)
        return Activity(id=self._iri("badges", badge.id), definition=definition)

    @staticmethod
    def profile_activity() -> Activity:
        return Activity(id=PROFILE_VERSION_IRI, definition=ActivityDefinition(type=ActivityTypes.PROFILE))

    # -- statements -------------------------------------------------------------------------------

    def _verb(self, iri: str, language: str) -> Verb:
        displays = VERB_DISPLAY[iri]
        display = {"en": displays["en"]}
        base_lang = language.split("-")[0].lower()
        if base_lang in displays and base_lang != "en":
            display[language] = displays[base_lang]
        return Verb(id=iri, display=LanguageMap(display))

    @staticmethod
    def _score(value: ScoreValue) -> Score:
        return Score(raw=value.raw, min=value.min, max=value.max, scaled=value.scaled)

    def build(self, record: Record) -> Statement:
        """The statement for ``record``; raises :class:`RecordError` for an unknown record type."""
        lang = record.language
        if isinstance(record, Voided):
            return Statement(
                id=self.statement_id(record.event_key),
                actor=self.agent(record.actor),
                verb=self._verb(Verbs.VOIDED, lang),
                object=StatementRef(id=self.statement_id(record.voided_event_key)),
                timestamp=record.timestamp,
            )

        program = self.program_activity(record.program, lang)
        rnd = self.round_activity(record.program, record.round, lang) if record.round else None
        ctx_ext: dict[str, Any] = {}
        res_ext: dict[str, Any] = {}
        other: list[Activity] = []
        team: Group | None = None
        result: Result | None = None
        obj: Activity | Agent | Group
        verb: str

        if isinstance(record, Registered):
            verb, obj = Verbs.REGISTERED, program
        elif isinstance(record, Unregistered):
            verb, obj = Verbs.UNREGISTERED, program
            ctx_ext[Extensions.LEAVE_KIND] = record.kind.value
            if record.paused_until is not None:
                ctx_ext[Extensions.PAUSED_UNTIL] = record.paused_until.isoformat()
        elif isinstance(record, Matched):
            assert rnd is not None  # Matched.__post_init__ guarantees a round
            verb, obj = Verbs.MATCHED, rnd
            team = Group(member=[self.agent(p) for p in record.members])
            if record.role is not None:
                ctx_ext[Extensions.ROLE] = record.role.value
            if record.skills:
                ctx_ext[Extensions.SKILLS] = list(record.skills)
        elif isinstance(record, MeetingScheduled):
            verb, obj = Verbs.SCHEDULED, self.meeting_activity(record.meeting, lang)
            if record.start is not None:
                ctx_ext[Extensions.MEETING_START] = record.start.isoformat()
        elif isinstance(record, Attended):
            verb, obj = Verbs.ATTENDED, self.meeting_activity(record.meeting, lang)
        elif isinstance(record, Mentored | TalkedWith):
            if isinstance(record, Mentored):
                verb, people = Verbs.MENTORED, [self.agent(record.mentee)]
            else:
                verb, people = Verbs.TALKED_WITH, [self.agent(p) for p in record.peers]
            meeting = self.meeting_activity(record.meeting, lang) if record.meeting is not None else None
            if self.agent_objects:
                obj = people[0] if len(people) == 1 else Group(member=people)
                if meeting is not None:
                    other.append(meeting)
            else:
                # For LRSs that require object.id: the session (or round, or program) is the object
                # and the people are named in the partners extension.
                obj = meeting or rnd or program
                ctx_ext[Extensions.PARTNERS] = [a.as_version(XAPI_VERSION) for a in people]
        elif isinstance(record, Reflected):
            verb = Verbs.REFLECTED
            if record.meeting is not None:
                obj = self.meeting_activity(record.meeting, lang)
            else:
                assert rnd is not None  # Reflected.__post_init__: meeting or round
                obj = rnd
            res_ext[Extensions.MET] = record.met
            if record.learned:
                ctx_ext[Extensions.REFLECTION] = record.learned
            result = Result(
                score=self._score(ScoreValue(raw=record.usefulness, min=1, max=5))
                if record.usefulness is not None else None,
                response=record.next_step or None,
            )
        elif isinstance(record, Reviewed):
            verb, obj = Verbs.REVIEWED, self.assessment_activity(record.assessment, lang)
            ctx_ext[Extensions.REVIEWEE] = self.agent(record.reviewee).as_version(XAPI_VERSION)
            if record.score is not None or record.comment:
                result = Result(
                    score=self._score(record.score) if record.score is not None else None,
                    response=record.comment or None,
                )
        elif isinstance(record, Rated):
            verb, obj = Verbs.RATED, self.assessment_activity(record.assessment, lang)
            ctx_ext[Extensions.REVIEWEE] = self.agent(record.reviewee).as_version(XAPI_VERSION)
            if record.criterion:
                res_ext[Extensions.CRITERION] = record.criterion
            result = Result(score=self._score(record.score))
        elif isinstance(record, Completed):
            verb = Verbs.COMPLETED
            if record.scope is CompletedScope.ROUND:
                assert rnd is not None  # Completed.__post_init__ guarantees a round
                obj = rnd
            else:
                obj = program
            result = Result(completion=True)
        elif isinstance(record, Commented):
            verb = Verbs.COMMENTED
            if record.meeting is not None:
                obj = self.meeting_activity(record.meeting, lang)
            elif record.assessment is not None:
                obj = self.assessment_activity(record.assessment, lang)
            else:
                obj = rnd or program
            result = Result(response=record.comment)
        elif isinstance(record, Earned):
            verb, obj = Verbs.EARNED, self.badge_activity(record.badge, lang)
            if record.reason:
                result = Result(response=record.reason)
        else:
            raise RecordError(f"no statement mapping for {type(record).__name__}")

        if res_ext:
            result = result or Result()
            result.extensions = TincanExtensions(res_ext)

        # parent = the round, grouping = program (+ cohort), minus whatever is already the object.
        obj_id = obj.id if isinstance(obj, Activity) else None
        parent = [rnd] if rnd is not None and rnd.id != obj_id else []
        grouping = [program] if program.id != obj_id else []
        if record.cohort is not None:
            grouping.append(self.cohort_activity(record.program, record.cohort, lang))
        context_activities = ContextActivities(category=[self.profile_activity()])
        if parent:
            context_activities.parent = parent
        if grouping:
            context_activities.grouping = grouping
        if other:
            context_activities.other = other
        context = Context(
            registration=record.registration,
            context_activities=context_activities,
            # xAPI allows context.platform only when the object is an Activity (not an Agent/Group).
            platform=(self.platform or None) if isinstance(obj, Activity) else None,
            language=lang,
        )
        if team is not None:
            context.team = team
        if ctx_ext:
            context.extensions = TincanExtensions(ctx_ext)
        statement = Statement(
            id=self.statement_id(record.event_key),
            actor=self.agent(record.actor),
            verb=self._verb(verb, lang),
            object=obj,
            context=context,
            timestamp=record.timestamp,
        )
        if result is not None:
            statement.result = result
        return statement

    def build_serialized(self, record: Record) -> SerializedStatement:
        statement = self.build(record)
        return SerializedStatement(id=self.statement_id(record.event_key), payload=serialize(statement))
