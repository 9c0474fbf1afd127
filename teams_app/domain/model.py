"""The peer-coaching domain: programs, participants, enrollment, rounds, matches, meetings, check-ins.

Plain Python, no I/O. Constructors validate and raise :class:`InvalidInput` naming the field, so the
same rules hold for the bot's profile card, the CSV import and the CLI.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from time import time_ns
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from teams_app.domain.errors import InvalidInput, InvalidInputs, InvalidTransition
from teams_app.domain.reasons import MatchReason

MAX_TEXT = 2000  # longest free text we store from a person (cards, check-ins)
MAX_NAME = 200
DEFAULT_SESSIONS_PER_TERM = 6  # a learning circle's usual run: about six meetings before people regroup
MAX_SESSIONS_PER_TERM = 52
_LIST_SEPARATORS = re.compile(r"[;,]")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A fixed namespace so ids derived from stable keys are the same on every machine.
PEERCOACH_NS = uuid.UUID("6f1c7f5e-3b0a-5d8e-9a52-2f0d6c1b7a40")


_V7_CLEAR = ~(0xF << 76 | 0x3 << 62)
_V7_SET = 7 << 76 | 0x2 << 62


def new_id() -> str:
    """A new random id whose leading 48 bits are the current time in ms (the UUIDv7 layout of RFC 9562).

    Still a uuid with 74 random bits and no personal data. Time-ordered, so a batch of new rows lands at the
    end of every index keyed by these ids instead of on pages all over it (an import of 100,000 people wrote
    and fsynced about half the pages with them as with uuid4). Ids made by :func:`stable_id` stay as they are.
    """
    value = (time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & _V7_CLEAR | _V7_SET  # version 7, RFC 9562 variant
    text = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, without building the UUID (an import makes 100,000)
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def stable_id(*parts: object) -> str:
    """A deterministic id from stable parts (a retried event gets the same id)."""
    return str(uuid.uuid5(PEERCOACH_NS, "/".join(str(p) for p in parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)


class ProgramKind(StrEnum):
    PEER_PAIRS = "peer_pairs"
    MENTORING = "mentoring"
    BUDDY = "buddy"
    CIRCLE = "circle"
    ACTION_LEARNING = "action_learning"

    @property
    def is_group(self) -> bool:
        return self in (ProgramKind.CIRCLE, ProgramKind.ACTION_LEARNING)


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"

    def next_after(self, moment: datetime) -> datetime:
        if self is Cadence.WEEKLY:
            return moment + timedelta(days=7)
        if self is Cadence.FORTNIGHTLY:
            return moment + timedelta(days=14)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        day = min(moment.day, 28)  # every month has a 28th; keeps the schedule stable
        return moment.replace(year=year, month=month, day=day)


class Role(StrEnum):
    PEER = "peer"
    MENTOR = "mentor"
    MENTEE = "mentee"
    BUDDY = "buddy"
    NEW_HIRE = "new_hire"
    FACILITATOR = "facilitator"
    MEMBER = "member"


class RolePreference(StrEnum):
    EITHER = "either"
    MENTOR = "mentor"
    MENTEE = "mentee"


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    LEFT = "left"


@dataclass(frozen=True)
class PromptStage:
    name: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class CoachingFramework:
    name: str
    stages: tuple[PromptStage, ...]

    def prompts(self) -> list[str]:
        return [p for stage in self.stages for p in stage.prompts]


GROW = CoachingFramework(
    name="GROW",
    stages=(
        PromptStage("Goal", ("What would you like to improve?", "What would a good outcome look like?")),
        PromptStage("Reality", ("What approach have you tried so far?", "What is getting in the way?")),
        PromptStage("Options", ("What else could you try?", "Who has solved something similar?")),
        PromptStage("Way forward", ("What will you do before we next meet?", "How will you know it worked?")),
    ),
)


@dataclass(frozen=True)
class MatchingPolicy:
    """How a program scores and constrains matches; weights are documented in the matching module."""

    history_rounds: int = 6  # K: no repeat within the last K rounds when an alternative exists
    min_overlap_hours: float = 1.0  # H: shared working time across time zones
    require_shared_language: bool = True
    group_min: int = 3
    group_max: int = 8  # learning circles and action-learning sets: 3-8 people, as even as possible
    mentor_capacity: int = 1
    weight_skills: float = 3.0
    weight_cross_department: float = 2.0
    weight_cross_location: float = 1.0
    weight_seniority_gap: float = 1.0
    weight_shared_goals: float = 1.0
    new_hire_days: int = 90  # buddy programs: someone who started within this many days is a new hire

    def validate(self) -> MatchingPolicy:
        problems: list[InvalidInput] = []
        if not 0 <= self.history_rounds <= 52:
            problems.append(InvalidInput("history_rounds", "must be between 0 and 52"))
        if not 0 <= self.min_overlap_hours <= 12:
            problems.append(InvalidInput("min_overlap_hours", "must be between 0 and 12"))
        if not 3 <= self.group_min <= self.group_max <= 8:
            problems.append(InvalidInput("group_min/group_max", "need 3 <= group_min <= group_max <= 8"))
        if not 1 <= self.mentor_capacity <= 10:
            problems.append(InvalidInput("mentor_capacity", "must be between 1 and 10"))
        if not 1 <= self.new_hire_days <= 730:
            problems.append(InvalidInput("new_hire_days", "must be between 1 and 730"))
        for name in ("weight_skills", "weight_cross_department", "weight_cross_location",
                     "weight_seniority_gap", "weight_shared_goals"):
            if not 0 <= getattr(self, name) <= 100:
                problems.append(InvalidInput(name, "must be between 0 and 100"))
        if problems:
            raise InvalidInputs(problems)
        return self


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    kind: ProgramKind
    cadence: Cadence
    tenant_id: str = ""
    cohort: str = ""
    description: str = ""
    policy: MatchingPolicy = field(default_factory=MatchingPolicy)
    framework: CoachingFramework = GROW
    rubric: str = "coaching-skills"
    activity_iri: str = ""
    named_feedback: bool = False  # partner feedback shown with names (otherwise anonymous)
    min_reviews: int = 3  # k: results released only after k reviews
    meeting_minutes: int = 30
    buffer_minutes: int = 0  # free time each person keeps before and after the meeting
    preferred_days: tuple[int, ...] = ()  # weekdays (Monday = 0) in each person's zone; () = any working day
    preferred_hours: str = ""  # 'HH:MM-HH:MM' in each person's zone, tried first; '' = whole working day
    # Circle programs: circles stay together for this many sessions (rounds), then new circles form.
    sessions_per_term: int = DEFAULT_SESSIONS_PER_TERM
    # Circle programs: the Teams channel id (19:...@thread...) where rounds are announced, without names;
    # '' = no channel announcements. Circle posts never go to every team the bot is in.
    announcement_channel: str = ""
    next_round_at: datetime | None = None
    active: bool = True
    created_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        # Stored programs come back from JSON with a list here; keep it a tuple (hashable, comparable).
        if not isinstance(self.preferred_days, tuple):
            object.__setattr__(self, "preferred_days", tuple(self.preferred_days))

    @staticmethod
    def create(
        name: str,
        kind: ProgramKind | str,
        cadence: Cadence | str,
        *,
        program_id: str | None = None,
        **options: object,
    ) -> Program:
        name = (name or "").strip()
        problems: list[InvalidInput] = []
        if not name:
            problems.append(InvalidInput("name", "a program needs a name"))
        elif len(name) > MAX_NAME:
            problems.append(InvalidInput("name", f"at most {MAX_NAME} characters"))
        try:
            kind = ProgramKind(kind)
        except ValueError:
            problems.append(InvalidInput("kind", f"must be one of {', '.join(k.value for k in ProgramKind)}"))
        try:
            cadence = Cadence(cadence)
        except ValueError:
            problems.append(InvalidInput("cadence", f"must be one of {', '.join(c.value for c in Cadence)}"))
        if problems:
            raise InvalidInputs(problems)
        program = Program(
            id=program_id or new_id(), name=name, kind=ProgramKind(kind), cadence=Cadence(cadence),
            **options,  # type: ignore[arg-type]
        )
        return program.validated()

    def validated(self) -> Program:
        self.policy.validate()
        if not 1 <= self.min_reviews <= 20:
            raise InvalidInput("min_reviews", "must be between 1 and 20")
        if not 10 <= self.meeting_minutes <= 240:
            raise InvalidInput("meeting_minutes", "must be between 10 and 240")
        if not 0 <= self.buffer_minutes <= 120:
            raise InvalidInput("buffer_minutes", "must be between 0 and 120")
        if not 1 <= self.sessions_per_term <= MAX_SESSIONS_PER_TERM:
            raise InvalidInput("sessions_per_term", f"must be between 1 and {MAX_SESSIONS_PER_TERM}")
        if len(self.announcement_channel) > 512 or any(c.isspace() for c in self.announcement_channel):
            raise InvalidInput("announcement_channel", "a Teams channel id such as 19:abc@thread.tacv2")
        if any(not 0 <= d <= 6 for d in self.preferred_days):
            raise InvalidInput("preferred_days", "weekdays are numbered 0 (Monday) to 6 (Sunday)")
        if self.preferred_hours:
            try:
                WorkingHours.parse(self.preferred_hours)
            except InvalidInput as exc:
                raise InvalidInput("preferred_hours", exc.problem) from None
        return self

    def with_changes(self, **changes: object) -> Program:
        return replace(self, **changes).validated()  # type: ignore[arg-type]


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0

    @staticmethod
    def parse(text: str) -> WorkingHours:
        """'09:00-17:00' (Monday to Friday)."""
        return _parse_working_hours(text)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def hours(self) -> float:
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return ((end - start) % (24 * 60)) / 60


@functools.lru_cache(maxsize=1024)
def _parse_working_hours(text: str) -> WorkingHours:
    # Cached: an import's rows mostly say the same hours, and the result is immutable.
    try:
        start_s, end_s = (part.strip() for part in text.split("-", 1))
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError:
        raise InvalidInput("working_hours", "write it as HH:MM-HH:MM, e.g. 09:00-17:00") from None
    if start == end:
        raise InvalidInput("working_hours", "start and end must differ")
    return WorkingHours(start=start, end=end)


_ZONES: frozenset[str] | None = None


def check_time_zone(name: str) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    name = (name or "").strip()
    if name not in _ZONES:
        try:  # zoneinfo also knows a few aliases not in available_timezones()
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("time_zone", f"'{name}' is not an IANA time zone such as Europe/Berlin") from None
    return name


def _clean_list(field_name: str, values: Iterable[str] | str | None, limit: int = 30) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return _clean_text_list(field_name, values, limit)
    return _clean_items(field_name, values, limit)


@functools.lru_cache(maxsize=4096)
def _clean_text_list(field_name: str, text: str, limit: int) -> tuple[str, ...]:
    # An import's rows repeat the same few lists ("en", "SQL;Python"): each is split and checked once.
    return _clean_items(field_name, _LIST_SEPARATORS.split(text), limit)


def _clean_items(field_name: str, values: Iterable[str], limit: int) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        item = value.strip()
        if not item:
            continue
        if len(item) > 80:
            raise InvalidInput(field_name, f"'{item[:20]}...' is longer than 80 characters")
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    if len(out) > limit:
        raise InvalidInput(field_name, f"at most {limit} entries")
    return tuple(out)


@dataclass(frozen=True)
class Profile:
    department: str = ""
    location: str = ""
    time_zone: str = "UTC"
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    languages: tuple[str, ...] = ("en",)
    seniority: int = 2  # 1 (junior) .. 5 (executive)
    skills_offered: tuple[str, ...] = ()
    skills_wanted: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    start_date: date | None = None
    role_preference: RolePreference = RolePreference.EITHER

    @staticmethod
    def build(
        *,
        department: str = "",
        location: str = "",
        time_zone: str = "UTC",
        working_hours: str | WorkingHours = "09:00-17:00",
        languages: Iterable[str] | str = ("en",),
        seniority: int | str = 2,
        skills_offered: Iterable[str] | str = (),
        skills_wanted: Iterable[str] | str = (),
        goals: Iterable[str] | str = (),
        start_date: date | str | None = None,
        role_preference: RolePreference | str = RolePreference.EITHER,
    ) -> Profile:
        """Validate every field; all problems are reported at once."""
        problems: list[InvalidInput] = []

        def attempt(fn, *args):  # type: ignore[no-untyped-def]
            try:
                return fn(*args)
            except InvalidInput as exc:
                problems.append(exc)
                return None

        tz = attempt(check_time_zone, time_zone)
        hours = working_hours if isinstance(working_hours, WorkingHours) else attempt(
            WorkingHours.parse, working_hours)
        langs = attempt(_clean_list, "languages", languages, 10)
        if langs is not None and not langs:
            problems.append(InvalidInput("languages", "name at least one language"))
        offered = attempt(_clean_list, "skills_offered", skills_offered)
        wanted = attempt(_clean_list, "skills_wanted", skills_wanted)
        goal_list = attempt(_clean_list, "goals", goals, 10)
        level: int | None = None
        try:
            level = int(seniority)
            if not 1 <= level <= 5:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(InvalidInput("seniority", "a whole number from 1 (junior) to 5 (executive)"))
        start: date | None = None
        if isinstance(start_date, str) and start_date.strip():
            try:
                start = date.fromisoformat(start_date.strip())
            except ValueError:
                problems.append(InvalidInput("start_date", "write it as YYYY-MM-DD"))
        elif isinstance(start_date, date):
            start = start_date
        try:
            preference = RolePreference(role_preference or RolePreference.EITHER)
        except ValueError:
            problems.append(InvalidInput("role_preference", "must be either, mentor or mentee"))
            preference = RolePreference.EITHER
        for name, value in (("department", department), ("location", location)):
            if len(value or "") > MAX_NAME:
                problems.append(InvalidInput(name, f"at most {MAX_NAME} characters"))
        if problems:
            raise InvalidInputs(problems)
        assert tz is not None and hours is not None and level is not None
        return Profile(
            department=(department or "").strip(), location=(location or "").strip(), time_zone=tz,
            working_hours=hours, languages=tuple(lang.lower() for lang in langs or ()), seniority=level,
            skills_offered=offered or (), skills_wanted=wanted or (), goals=goal_list or (),
            start_date=start, role_preference=preference,
        )


@dataclass(frozen=True)
class Participant:
    id: str
    email: str
    display_name: str
    tenant_id: str = ""
    aad_object_id: str = ""
    locale: str = "en"
    profile: Profile = field(default_factory=Profile)
    manager_email: str = ""
    teams_reachable: bool = True

    @staticmethod
    def field_problems(email: str, display_name: str, manager_email: str = "") -> list[InvalidInput]:
        """What :meth:`create` would refuse in these fields (none: it would accept them)."""
        problems: list[InvalidInput] = []
        email = (email or "").strip()
        if not email:
            problems.append(InvalidInput("email", "is missing"))
        elif not EMAIL_RE.match(email) or len(email) > 254:
            problems.append(InvalidInput("email", f"'{email}' is not an email address"))
        if len((display_name or "").strip()) > MAX_NAME:
            problems.append(InvalidInput("display_name", f"at most {MAX_NAME} characters"))
        manager = (manager_email or "").strip()
        if manager and not EMAIL_RE.match(manager):
            problems.append(InvalidInput("manager_email", f"'{manager}' is not an email address"))
        return problems

    @staticmethod
    def create(email: str, display_name: str, *, participant_id: str | None = None, **options: object) -> Participant:
        manager = str(options.get("manager_email") or "").strip()
        problems = Participant.field_problems(email, display_name, manager)
        if problems:
            raise InvalidInputs(problems)
        email, name = (email or "").strip(), (display_name or "").strip()
        options["manager_email"] = manager.lower()
        return Participant(
            id=participant_id or new_id(), email=email.lower(), display_name=name or email.split("@")[0],
            **options,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Enrollment:
    program_id: str
    participant_id: str
    status: EnrollmentStatus
    consent_at: datetime
    joined_at: datetime
    paused_until: date | None = None
    priority: int = 0  # fairness credit: a trio, a bye or a weak match raises it

    def is_active_on(self, day: date) -> bool:
        if self.status is EnrollmentStatus.ACTIVE:
            return True
        return (self.status is EnrollmentStatus.PAUSED and self.paused_until is not None
                and self.paused_until <= day)

    def pause(self, until: date | None, today: date) -> Enrollment:
        if self.status is EnrollmentStatus.LEFT:
            raise InvalidTransition("you have left this program: say 'join' to take part again")
        if until is not None and until <= today:
            raise InvalidInput("until", "the pause must end after today")
        return replace(self, status=EnrollmentStatus.PAUSED, paused_until=until)

    def resume(self) -> Enrollment:
        if self.status is not EnrollmentStatus.PAUSED:
            raise InvalidTransition("you are not paused")
        return replace(self, status=EnrollmentStatus.ACTIVE, paused_until=None)

    def leave(self) -> Enrollment:
        if self.status is EnrollmentStatus.LEFT:
            raise InvalidTransition("you have already left this program")
        return replace(self, status=EnrollmentStatus.LEFT, paused_until=None)

    def after_round(self, needs_priority: bool) -> Enrollment:
        """An active member once a round is formed: priority carries over (+1 for a trio, a bye or a weak
        match; spent by a normal match), and a pause that has ended is over."""
        status, paused_until = self.status, self.paused_until
        if status is EnrollmentStatus.PAUSED:
            status, paused_until = EnrollmentStatus.ACTIVE, None
        return replace(self, priority=self.priority + 1 if needs_priority else 0, status=status,
                       paused_until=paused_until)


@dataclass(frozen=True)
class MatchMember:
    participant_id: str
    role: Role


@dataclass(frozen=True)
class Match:
    id: str
    round_id: str
    program_id: str
    members: tuple[MatchMember, ...]
    score: float = 0.0
    reasons: tuple[MatchReason, ...] = ()  # Reason values; plain English strings in rows stored before
    registration: str = ""  # xAPI context.registration: one UUID per round per match

    @property
    def participant_ids(self) -> tuple[str, ...]:
        return tuple(m.participant_id for m in self.members)

    def role_of(self, participant_id: str) -> Role:
        for member in self.members:
            if member.participant_id == participant_id:
                return member.role
        raise KeyError(participant_id)

    def require_member(self, participant_id: str) -> None:
        if participant_id not in self.participant_ids:
            raise InvalidInput("match", "you are not part of this match")

    @property
    def facilitator_id(self) -> str | None:
        """A circle's facilitator this session (circle members are stored in rotation order)."""
        return next((m.participant_id for m in self.members if m.role is Role.FACILITATOR), None)

    def next_facilitator_id(self, session: int, sessions_in_term: int) -> str | None:
        """Who facilitates the circle's next session if it stays as it is: the next member in rotation order
        (None for pairs, and after the term's last session, when new circles form)."""
        if self.facilitator_id is None or len(self.members) < 2 or not 1 <= session < sessions_in_term:
            return None
        at = self.participant_ids.index(self.facilitator_id)
        return self.members[(at + 1) % len(self.members)].participant_id

    @property
    def absence_calls_off_meeting(self) -> bool:
        """A pair cannot meet without one of the two; a circle meets with the others."""
        return len(self.members) <= 2


class RoundStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Round:
    id: str
    program_id: str
    number: int
    started_at: datetime
    seed: int
    status: RoundStatus = RoundStatus.OPEN
    quality: dict[str, float] = field(default_factory=dict)
    # Circle programs: the term (1, 2, ...) and the session within it (1..sessions_per_term); 0 otherwise.
    term: int = 0
    session: int = 0

    def next_term_position(self, sessions_per_term: int) -> tuple[int, int]:
        """(term, session) of the round after this one in a circle program: the next session of this term,
        or session 1 of a new term once this one has had its sessions (or had none: a program that became a
        circle program, or rounds from before terms existed)."""
        if self.term < 1 or self.session < 1 or self.session >= sessions_per_term:
            return self.term + 1 if self.term >= 1 else 1, 1
        return self.term, self.session + 1


# The UID suffix of an invitation peercoach made itself (no calendar access): a proposal, not a booking.
PROPOSAL_UID_SUFFIX = "@peercoach"


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    NO_COMMON_SLOT = "no_common_slot"
    FAILED = "failed"
    HELD = "held"  # the members said they met before anything was booked: nothing to book any more


@dataclass(frozen=True)
class Meeting:
    match_id: str
    status: MeetingStatus
    start: datetime | None = None
    end: datetime | None = None
    join_url: str = ""
    external_id: str = ""  # the Graph event id
    organizer: str = ""
    detail: str = ""

    @property
    def booked(self) -> bool:
        """A calendar event with invitations exists (Graph); a time peercoach only proposed is not booked."""
        return self.status is MeetingStatus.SCHEDULED and bool(self.external_id) \
            and not self.external_id.endswith(PROPOSAL_UID_SUFFIX)

    @property
    def settled(self) -> bool:
        """Held or called off: a booking arriving now must not bring the meeting back."""
        return self.status in (MeetingStatus.HELD, MeetingStatus.CANCELLED)

    def call_off(self, reason: str) -> Meeting:
        """A pair's session is off when one of the two can't make it (the round goes on)."""
        return Meeting(self.match_id, MeetingStatus.CANCELLED, self.start, self.end, self.join_url,
                       self.external_id, self.organizer, reason)


@dataclass(frozen=True)
class CheckIn:
    match_id: str
    participant_id: str
    met: bool
    usefulness: int | None
    learned: str
    next_step: str
    at: datetime

    @staticmethod
    def create(match_id: str, participant_id: str, *, met: bool, usefulness: int | str | None,
               learned: str = "", next_step: str = "", at: datetime) -> CheckIn:
        problems: list[InvalidInput] = []
        score: int | None = None
        if usefulness not in (None, ""):
            try:
                score = int(usefulness)  # type: ignore[arg-type]
                if not 1 <= score <= 5:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(InvalidInput("usefulness", "choose a number from 1 to 5"))
        elif met:
            problems.append(InvalidInput("usefulness", "tell us how useful it was, from 1 to 5"))
        for name, text in (("learned", learned), ("next_step", next_step)):
            if len(text or "") > MAX_TEXT:
                problems.append(InvalidInput(name, f"at most {MAX_TEXT} characters (you wrote {len(text)})"))
        if problems:
            raise InvalidInputs(problems)
        return CheckIn(match_id, participant_id, bool(met), score if met else None,
                       (learned or "").strip(), (next_step or "").strip(), at)
