"""The coaching use cases, one class per area, composed into :class:`CoachingService`.

Each area lives in its own module: :mod:`programs`, :mod:`enrollment`, :mod:`rounds`, :mod:`meetings`,
:mod:`check_ins` and :mod:`queries` (typed read models). Peer assessment is :mod:`assessment`. The bot and
the CLI call :class:`CoachingService`, which offers every method of every area.
"""

from __future__ import annotations

from teams_app.service.check_ins import CheckIns
from teams_app.service.enrollment import Enrollments, ParticipantInput
from teams_app.service.meetings import Meetings
from teams_app.service.programs import Programs
from teams_app.service.queries import MatchView, Queries
from teams_app.service.rounds import RoundResult, Rounds

__all__ = ["CoachingService", "MatchView", "ParticipantInput", "RoundResult"]


class CoachingService(Programs, Enrollments, Rounds, Meetings, CheckIns, Queries):
    """Every coaching use case, by area (one unit of work factory, bus and clock shared by all)."""
