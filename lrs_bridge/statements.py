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
from collections.abc import Callable
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
    Completed,
    CompletedScope,
    Earned,
    Matched,
    MeetingCancelled,
    MeetingRef,
    MeetingScheduled,
    Mentored,
    Person,
    ProgramRef,
    Record,
    RecordError,
    Reflected,
    Registered,
    RescheduleRequested,
    Resumed,
    Reviewed,
    RoundRef,
    Scored,
    ScoreValue,
    Suspended,
    TalkedWith,
    Unregistered,
    Voided,
    name_uuid,
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
    """Canonical compact JSON of a statement (sorted keys, UTF-8 text, xAPI 1.0.3, no ``version``).

    The same JSON as ``statement.as_version("1.0.3")`` without its ``version`` (a test holds them equal
    for every statement kind), built in one pass: this runs for every statement inside the business transaction.
    """
    plain = _plain(statement)
    # tincan fills in "version"; xAPI 1.0.3 Data 2.4.10: a producer SHOULD NOT set it (the LRS does).
    plain.pop("version", None)
    return _compact(plain)


_text: Callable[[str], str] = json.encoder.encode_basestring  # a JSON string as json.dumps(ensure_ascii=False)


def _compact(value: Any) -> str:
    """JSON text as :func:`serialize` writes it: compact, keys sorted, UTF-8 text."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


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


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class StatementBuilder:
    """Builds statements for one deployment (actor identification, platform, activity IRIs).

    Rules every statement follows: the actor is named the way the LMS knows them
    (``actor_identification``); everybody else only by an opaque account on ``pseudonym_homepage``
    whose name is the person's pseudonym; no ``version`` property; a timestamp never later than the
    moment of building (``clock``); ``result`` only ever describes the actor.
    """

    def __init__(
        self,
        *,
        activity_base_iri: str,
        actor_identification: ActorIdentification | str = ActorIdentification.MBOX,
        account_homepage: str = "",
        pseudonym_homepage: str = "",
        platform: str = "Microsoft Teams",
        namespace: uuid.UUID = STATEMENT_NAMESPACE,
        agent_objects: bool = True,
        clock: Callable[[], datetime.datetime] = _utcnow,
        simulated: bool = False,
    ) -> None:
        """``agent_objects=False`` avoids Agent/Group statement objects (mentored, talked-with) for LRSs
        that refuse them although xAPI allows them (ralph 5.1 requires ``object.id``). ``simulated`` marks
        every statement with the profile's ``simulated`` context extension (``peercoach simulate``)."""
        if not activity_base_iri.startswith(("http://", "https://")):
            raise ValueError(f"activity_base_iri must be an http(s) IRI, got {activity_base_iri!r}")
        self.actor_identification = ActorIdentification(actor_identification)
        if self.actor_identification is ActorIdentification.ACCOUNT and not account_homepage.startswith(
            ("http://", "https://")
        ):
            raise ValueError("actor_identification=account needs account_homepage (an http(s) URL)")
        self.base = activity_base_iri.rstrip("/")
        self.account_homepage = account_homepage
        self.pseudonym_homepage = pseudonym_homepage or f"{self.base}/pseudonym"
        if not self.pseudonym_homepage.startswith(("http://", "https://")):
            raise ValueError(f"pseudonym_homepage must be an http(s) URL, got {pseudonym_homepage!r}")
        self.platform = platform
        self.namespace = namespace
        self._namespace_bytes = namespace.bytes
        self.agent_objects = agent_objects
        self.clock = clock
        self.simulated = simulated
        self._future_warned = False
        self._registered_cache: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        self._stamp_text: tuple[datetime.datetime | None, str] = (None, "")

    # -- identities -------------------------------------------------------------------------------

    def statement_id(self, event_key: str) -> uuid.UUID:
        return name_uuid(self._namespace_bytes, event_key)

    def agent(self, person: Person) -> Agent:
        """The actor, identified the way the LMS knows them."""
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

    def other(self, person: Person) -> Agent:
        """Anyone but the actor: an opaque account, no email, no name."""
        if not person.pseudonym:
            raise RecordError("a person other than the actor needs a pseudonym (they are never named)")
        return Agent(account=AgentAccount(home_page=self.pseudonym_homepage, name=person.pseudonym))

    # -- activities -------------------------------------------------------------------------------

    def _iri(self, *parts: str) -> str:
        return "/".join([self.base, *(quote(p, safe="") for p in parts)])

    def program_activity(self, program: ProgramRef, language: str | None = None) -> Activity:
        """The program; its name tagged with ``language`` or else the program's own language."""
        return Activity(
            id=self._iri("programs", program.id),
            definition=ActivityDefinition(type=ActivityTypes.PROGRAM,
                                          name=_lang_map(language or program.language, program.name)),
        )

    def cohort_activity(self, program: ProgramRef, cohort: CohortRef) -> Activity:
        return Activity(
            id=self._iri("programs", program.id, "cohorts", cohort.id),
            definition=ActivityDefinition(
                type=ActivityTypes.COHORT, name=_lang_map(program.language, cohort.name or cohort.id)
            ),
        )

    def round_activity(self, program: ProgramRef, rnd: RoundRef) -> Activity:
        return Activity(
            id=self._iri("programs", rnd.program_id, "rounds", str(rnd.number)),
            definition=ActivityDefinition(
                type=ActivityTypes.ROUND,
                name=_lang_map(program.language, f"{program.name}, round {rnd.number}"),
                description=_lang_map(program.language,
                                      f"Round {rnd.number} of {program.name}: one matching cycle"),
            ),
        )

    def meeting_activity(self, program: ProgramRef, meeting: MeetingRef) -> Activity:
        definition = ActivityDefinition(type=ActivityTypes.MEETING)
        if meeting.title:
            definition.name = _lang_map(program.language, meeting.title)
        if meeting.description:
            definition.description = _lang_map(program.language, meeting.description)
        return Activity(id=self._iri("meetings", meeting.id), definition=definition)

    def review_activity(self, program: ProgramRef, assessment: AssessmentRef) -> Activity:
        """What a reviewer did: the peer review they wrote in an assessment."""
        name = f"Peer review: {assessment.name}" if assessment.name else "Peer review"
        return Activity(id=self._iri("assessments", assessment.id, "review"), definition=ActivityDefinition(
            type=ActivityTypes.REVIEW, name=_lang_map(program.language, name)))

    def assessment_activity(self, program: ProgramRef, assessment: AssessmentRef) -> Activity:
        """What a person is scored on: the assessment (its rubric)."""
        definition = ActivityDefinition(type=ActivityTypes.ASSESSMENT)
        if assessment.name:
            definition.name = _lang_map(program.language, assessment.name)
        return Activity(id=self._iri("assessments", assessment.id), definition=definition)

    def badge_activity(self, program: ProgramRef, badge: BadgeRef) -> Activity:
        definition = ActivityDefinition(type=ActivityTypes.BADGE, name=_lang_map(program.language, badge.name))
        if badge.description:
            definition.description = _lang_map(program.language, badge.description)
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

    def _timestamp(self, record: Record) -> datetime.datetime:
        """xAPI Data 2.4.7: a timestamp is never in the future. A record dated later than now (a clock
        ahead, a simulated date) is stated as happening now."""
        now = self.clock()
        if record.timestamp > now:
            # Once at WARNING (a clock ahead of ours, a simulated date), then quietly: it can be every record.
            log = logger.debug if self._future_warned else logger.warning
            self._future_warned = True
            log("record %s is dated %s, after now (%s): stated as now", record.event_key,
                record.timestamp.isoformat(), now.isoformat())
            return now
        return record.timestamp

    def build(self, record: Record) -> Statement:
        """The statement for ``record``; raises :class:`RecordError` for an unknown record type."""
        lang = record.language
        timestamp = self._timestamp(record)
        if isinstance(record, Voided):
            return Statement(
                id=self.statement_id(record.event_key),
                actor=self.agent(record.actor),
                verb=self._verb(Verbs.VOIDED, lang),
                object=StatementRef(id=self.statement_id(record.voided_event_key)),
                timestamp=timestamp,
            )

        prog = record.program
        program = self.program_activity(prog)
        rnd = self.round_activity(prog, record.round) if record.round else None
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
        elif isinstance(record, Suspended):
            verb, obj = Verbs.SUSPENDED, program
            if record.paused_until is not None:
                ctx_ext[Extensions.PAUSED_UNTIL] = record.paused_until.isoformat()
        elif isinstance(record, Resumed):
            verb, obj = Verbs.RESUMED, program
        elif isinstance(record, Matched):
            assert rnd is not None  # Matched.__post_init__ guarantees a round
            verb, obj = Verbs.MATCHED, rnd
            # The match's other members, by pseudonym (the actor is the actor).
            team = Group(member=[self.other(p) for p in record.members if p != record.actor])
            if record.role is not None:
                ctx_ext[Extensions.ROLE] = record.role.value
            if record.skills:
                ctx_ext[Extensions.SKILLS] = list(record.skills)
            if record.partner_departments:
                ctx_ext[Extensions.PARTNER_DEPARTMENTS] = sorted(set(record.partner_departments))
        elif isinstance(record, MeetingScheduled):
            verb, obj = Verbs.SCHEDULED, self.meeting_activity(prog, record.meeting)
            if record.start is not None:
                ctx_ext[Extensions.MEETING_START] = record.start.isoformat()
        elif isinstance(record, RescheduleRequested):
            # No result: asking for a new time says nothing about the actor's performance.
            verb, obj = Verbs.REQUESTED_RESCHEDULE, self.meeting_activity(prog, record.meeting)
        elif isinstance(record, MeetingCancelled):
            verb, obj = Verbs.CANCELLED, self.meeting_activity(prog, record.meeting)
            ctx_ext[Extensions.MEETING_CALLED_OFF] = record.called_off
        elif isinstance(record, Attended):
            verb, obj = Verbs.ATTENDED, self.meeting_activity(prog, record.meeting)
            if record.duration is not None:
                result = Result(duration=record.duration)
        elif isinstance(record, Mentored | TalkedWith):
            if isinstance(record, Mentored):
                verb, people = Verbs.MENTORED, [self.other(record.mentee)]
            else:
                verb, people = Verbs.TALKED_WITH, [self.other(p) for p in record.peers]
            meeting = self.meeting_activity(prog, record.meeting) if record.meeting is not None else None
            if self.agent_objects:
                obj = people[0] if len(people) == 1 else Group(member=people)
                if meeting is not None:
                    other.append(meeting)
            else:
                # For LRSs that require object.id: the session (or round, or program) is the object
                # and the people are named (by pseudonym) in the partners extension.
                obj = meeting or rnd or program
                ctx_ext[Extensions.PARTNERS] = [a.as_version(XAPI_VERSION) for a in people]
        elif isinstance(record, Reflected):
            verb = Verbs.REFLECTED
            if record.meeting is not None:
                obj = self.meeting_activity(prog, record.meeting)
            else:
                assert rnd is not None  # Reflected.__post_init__: meeting or round
                obj = rnd
            res_ext[Extensions.MET] = record.met
            if record.usefulness is not None:
                res_ext[Extensions.USEFULNESS] = record.usefulness
            if record.next_step:
                res_ext[Extensions.NEXT_STEP] = record.next_step
            result = Result(response=record.learned or None)
        elif isinstance(record, Reviewed):
            verb, obj = Verbs.REVIEWED, self.review_activity(prog, record.assessment)
            ctx_ext[Extensions.REVIEWEE] = self.other(record.reviewee).as_version(XAPI_VERSION)
        elif isinstance(record, Scored):
            verb, obj = Verbs.SCORED, self.assessment_activity(prog, record.assessment)
            ctx_ext[Extensions.SCORE_SOURCE] = record.source.value
            result = Result(score=self._score(record.score))
            if record.reviews is not None:
                res_ext[Extensions.REVIEW_COUNT] = record.reviews
            if record.interval is not None:
                res_ext[Extensions.SCORE_INTERVAL] = list(record.interval)
        elif isinstance(record, Completed):
            verb = Verbs.COMPLETED
            if record.scope is CompletedScope.ROUND:
                assert rnd is not None  # Completed.__post_init__ guarantees a round
                obj = rnd
            else:
                obj = program
            result = Result(completion=True, duration=record.duration)
        elif isinstance(record, Earned):
            verb, obj = Verbs.EARNED, self.badge_activity(prog, record.badge)
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
            grouping.append(self.cohort_activity(prog, record.cohort))
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
            # The channel the person used; xAPI allows context.platform only when the object is an
            # Activity (not an Agent/Group).
            platform=(record.platform or self.platform or None) if isinstance(obj, Activity) else None,
            language=lang,
        )
        if team is not None:
            context.team = team
        if self.simulated:
            ctx_ext[Extensions.SIMULATED] = True
        if ctx_ext:
            context.extensions = TincanExtensions(ctx_ext)
        statement = Statement(
            id=self.statement_id(record.event_key),
            actor=self.agent(record.actor),
            verb=self._verb(verb, lang),
            object=obj,
            context=context,
            timestamp=timestamp,
        )
        if result is not None:
            statement.result = result
        return statement

    def build_serialized(self, record: Record) -> SerializedStatement:
        """:meth:`build` and :func:`serialize` in one; ``registered`` (one per imported person) takes a
        direct path that yields the very same JSON text (a test compares both on varied records)."""
        if type(record) is Registered and record.round is None:
            statement_id = self.statement_id(record.event_key)
            return SerializedStatement(id=statement_id, payload=self._registered_payload(record, statement_id))
        statement = self.build(record)
        return SerializedStatement(id=self.statement_id(record.event_key), payload=serialize(statement))

    def _agent_text(self, person: Person) -> str:
        """The JSON text :func:`serialize` makes of :meth:`agent`, written out (keys in sorted order) for the one
        statement per person an import writes; tests hold both equal, byte for byte, in every identification mode."""
        email = person.email.strip().lower()
        if self.actor_identification is ActorIdentification.MBOX:
            head = f'"mbox":{_text(f"mailto:{email}")}'
        elif self.actor_identification is ActorIdentification.MBOX_SHA1SUM:
            head = f'"mbox_sha1sum":"{hashlib.sha1(f"mailto:{email}".encode()).hexdigest()}"'
        else:
            head = (f'"account":{{"homePage":{_text(self.account_homepage)},'
                    f'"name":{_text(person.aad_object_id or email)}}}')
        name = f',"name":{_text(person.name)}' if person.name else ""
        return f'{{{head}{name},"objectType":"Agent"}}'

    def _registered_payload(self, record: Registered, statement_id: uuid.UUID) -> str:
        """The serialized ``registered`` statement without tincan objects: :meth:`build` then :func:`serialize`
        cost ~150 µs a statement, an import writes one per person. The same dict as theirs, so the same JSON
        text; what all of a program's people share is encoded once (:meth:`_registered_parts`)."""
        context, activity, verb = self._registered_parts(record.program, record.cohort, record.language,
                                                         record.platform or self.platform)
        registration = "" if record.registration is None else f',"registration":"{record.registration}"'
        # Keys in sorted order, as sort_keys gives them: actor, context, id, object, timestamp, verb (and
        # "registration" sorts last in the context). A uuid needs no escaping.
        stamp = self._timestamp(record)
        if self._stamp_text[0] is not stamp:  # a batch's records share one datetime: converted once
            self._stamp_text = (stamp, _compact(jsonify_datetime(stamp)))
        timestamp = self._stamp_text[1]
        return (f'{{"actor":{self._agent_text(record.actor)},"context":{{{context}{registration}}},'
                f'"id":"{statement_id}","object":{activity},"timestamp":{timestamp},"verb":{verb}}}')

    def _registered_parts(self, prog: ProgramRef, cohort: CohortRef | None, lang: str, platform: str
                          ) -> tuple[str, str, str]:
        """The JSON of a ``registered`` statement's context (inside its braces, without the registration),
        object and verb: the same for everyone one program registers in one language and channel."""
        key = (prog, cohort, lang, platform)
        parts = self._registered_cache.get(key)
        if parts is not None:
            return parts
        program = {"definition": {"name": {prog.language: prog.name}, "type": ActivityTypes.PROGRAM},
                   "id": self._iri("programs", prog.id), "objectType": "Activity"}
        displays = VERB_DISPLAY[Verbs.REGISTERED]
        display = {"en": displays["en"]}
        base_lang = lang.split("-")[0].lower()
        if base_lang in displays and base_lang != "en":
            display[lang] = displays[base_lang]
        activities: dict[str, Any] = {"category": [{"definition": {"type": ActivityTypes.PROFILE},
                                                    "id": PROFILE_VERSION_IRI, "objectType": "Activity"}]}
        if cohort is not None:
            activities["grouping"] = [{
                "definition": {"name": {prog.language: cohort.name or cohort.id}, "type": ActivityTypes.COHORT},
                "id": self._iri("programs", prog.id, "cohorts", cohort.id), "objectType": "Activity"}]
        context: dict[str, Any] = {"contextActivities": activities, "language": lang}
        if platform:
            context["platform"] = platform
        if self.simulated:
            context["extensions"] = {Extensions.SIMULATED: True}
        parts = (_compact(context)[1:-1], _compact(program), _compact({"display": display, "id": Verbs.REGISTERED}))
        if len(self._registered_cache) >= 256:  # programs x languages x channels: a handful; never unbounded
            self._registered_cache.clear()
        self._registered_cache[key] = parts
        return parts
