"""The values that go into and come out of the matching engine.

``Candidate`` and ``MatchHistory`` are what the service layer knows about people and earlier rounds;
``MatchPlan`` is the engine's answer: the matches with their scores and reasons
(:class:`~teams_app.domain.reasons.Reason` values), the people
who could not be placed (with the reason told to them) and a flat quality report stored with the round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from teams_app.domain.model import MatchMember, Participant
from teams_app.domain.reasons import Reason

Pair = frozenset[str]


@dataclass(frozen=True)
class Candidate:
    participant: Participant
    priority: int = 0  # fairness credit from earlier rounds (trio, bye, weak match)

    @property
    def id(self) -> str:
        return self.participant.id


@dataclass(frozen=True)
class MatchHistory:
    """What earlier rounds and admins say about pairs."""

    rounds_ago: Mapping[Pair, int] = field(default_factory=dict)  # 1 = met in the previous round
    role_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # person -> role -> times
    blocked: frozenset[Pair] = frozenset()  # someone blocked the other, or an admin forbade the pair
    forced: tuple[Pair, ...] = ()  # admin locks: these pairs must be matched together


@dataclass(frozen=True)
class ProposedMatch:
    members: tuple[MatchMember, ...]
    score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class MatchPlan:
    matches: tuple[ProposedMatch, ...]
    unmatched: tuple[tuple[str, str], ...] = ()  # (participant id, reason told to the person)
    quality: Mapping[str, float] = field(default_factory=dict)
    # Who deserves priority next round: people in a trio, without a match, or with a weak match.
    needs_priority: tuple[str, ...] = ()
