"""Circles as circles: kept for a term, a facilitator who rotates each session and is explained on the card,
circles of 3-8 by default, and circle posts only where every reader is a member (on the in-memory fakes)."""

from __future__ import annotations

import json
from typing import Any

from teams_app.adapters.bot import cards
from teams_app.domain.matching import Circle, MatchHistory, plan_circle_session
from teams_app.domain.matching.circles import JOINED, LEFT, MERGED, WAIT_FOR_TERM, rotation_order
from teams_app.domain.matching.groups import group_sizes
from teams_app.domain.model import MatchingPolicy, Program, ProgramKind, Role, Round, RoundStatus, stable_id
from teams_app.domain.notifications import NotificationKind
from teams_app.domain.reasons import Reason
from teams_app.i18n import translator
from teams_app.service.messagebus import MessageBus
from teams_app.service.notifications import NotificationPlanner
from teams_app.service.use_cases import CoachingService, ParticipantInput
from tests.unit.assessment_fakes import FakeClock, FakeNotifications, FakeUowFactory
from tests.unit.matching_helpers import TODAY, candidates, person, program

TENANT = "tenant-1"


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.uows = FakeUowFactory()
        self.bus = MessageBus()
        NotificationPlanner().register(self.bus)
        self.service = CoachingService(self.uows, self.bus, self.clock)

    @property
    def queued(self) -> FakeNotifications:
        return FakeNotifications(self.uows.store)

    async def circles(self, people: int, *, kind: str = "circle", **options: Any) -> tuple[Program, list[str]]:
        created = await self.service.create_program("Circles", kind, "weekly", tenant_id=TENANT, **options)
        ids = []
        for i in range(people):
            joined = await self.service.enroll(created.id, ParticipantInput(
                f"c{i}@example.com", f"Member {i}", aad_object_id=f"aad-{i}", tenant_id=TENANT), consent=True)
            ids.append(joined.id)
        return created, ids


def circle_sets(matches: Any) -> set[frozenset[str]]:
    return {frozenset(x.participant_id for x in m.members) for m in matches}


def said(match: Any) -> list[str]:
    """The match's reasons in English, as logs and the CLI print them."""
    return [str(r) for r in match.reasons]


def ids_of(match: Any) -> set[str]:
    return {x.participant_id for x in match.members}


def facilitator_of(match: Any) -> str:
    return next(m.participant_id for m in match.members if m.role is Role.FACILITATOR)


# -- sizes ----------------------------------------------------------------------------------------------
def test_circle_programs_default_to_circles_of_three_to_eight() -> None:
    policy = Program.create("c", "circle", "weekly").policy
    assert (policy.group_min, policy.group_max) == (3, 8)
    assert group_sizes(8, 3, 8) == [8] and group_sizes(9, 3, 8) == [5, 4] and group_sizes(2, 3, 8) == []
    assert Program.create("a", "action_learning", "monthly").sessions_per_term == 6


def test_a_term_needs_at_least_one_session_and_an_announcement_channel_is_one_id() -> None:
    import pytest

    from teams_app.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="sessions_per_term"):
        Program.create("c", "circle", "weekly", sessions_per_term=0)
    with pytest.raises(InvalidInput, match="announcement_channel"):
        Program.create("c", "circle", "weekly", announcement_channel="19:a b")


def test_the_round_after_a_terms_last_session_starts_a_new_term() -> None:
    def after(term: int, session: int) -> tuple[int, int]:
        return Round("r", "p", 1, FakeClock().now(), 1, RoundStatus.OPEN, {}, term, session).next_term_position(3)

    assert after(1, 1) == (1, 2)
    assert after(1, 3) == (2, 1)
    assert after(0, 0) == (1, 1)  # rounds from before terms existed
    assert after(2, 5) == (3, 1)  # the term was shortened since


# -- the facilitator rotates ------------------------------------------------------------------------------
def test_the_least_recently_facilitating_member_facilitates_next() -> None:
    history = MatchHistory(role_counts={"d": {"facilitator": 4}})
    previous = ("a", "b", "c", "d")
    # a facilitated session 1, b session 2: c and d never did this term; c comes first in the circle's order.
    assert rotation_order(["d", "c", "b", "a"], {"a": 1, "b": 2}, previous, history) == ["c", "d", "a", "b"]
    # a newcomer who never facilitated joins the never-facilitated, after the circle's own members.
    assert rotation_order(["a", "b", "new"], {"a": 1, "b": 2}, ("a", "b"), history) == ["new", "a", "b"]


# -- a term's rounds reuse the circles ----------------------------------------------------------------------
def _people(prefix: str, count: int) -> list[Any]:
    return [person(f"{prefix}{i}") for i in range(count)]


def test_members_who_left_drop_out_and_two_circles_that_became_too_small_are_merged() -> None:
    prog = program(ProgramKind.CIRCLE)
    a, b, c = _people("a", 5), _people("b", 3), _people("c", 3)
    circles = [Circle(tuple(p.id for p in group)) for group in (a, b, c)]
    present = a + b[:2] + c[:2]  # b2 and c2 left the program
    plan = plan_circle_session(prog, candidates(*present), MatchHistory(), 7, TODAY, circles, 2)
    assert circle_sets(plan.matches) == {frozenset(p.id for p in a), frozenset(p.id for p in b[:2] + c[:2])}
    merged = next(m for m in plan.matches if "b0" in ids_of(m))
    assert Reason.of(MERGED) in merged.reasons and Reason.of(LEFT, count=1) in merged.reasons
    assert {"Two circles that had become too small were merged.", "1 member left the circle."} <= set(said(merged))
    assert said(merged)[0] == "Your circle continues: session 2 of 6."
    assert not any(r.startswith("You met") for r in said(merged))  # meeting again is the point of a circle
    assert plan.quality["circles_merged"] == 1 and plan.unmatched == ()


def test_a_circle_below_the_minimum_is_refilled_from_newcomers_or_its_members_join_others() -> None:
    prog = program(ProgramKind.CIRCLE)
    a, b = _people("a", 4), _people("b", 3)
    circles = [Circle(tuple(p.id for p in a)), Circle(tuple(p.id for p in b))]
    newcomer = person("n0")
    plan = plan_circle_session(prog, candidates(*a, *b[:2], newcomer), MatchHistory(), 7, TODAY, circles, 3)
    assert frozenset(["b0", "b1", "n0"]) in circle_sets(plan.matches)
    assert plan.quality["circles_refilled"] == 1
    # Without a newcomer, the two left join the other circle (it has room for 8).
    plan = plan_circle_session(prog, candidates(*a, *b[:2]), MatchHistory(), 7, TODAY, circles, 3)
    assert circle_sets(plan.matches) == {frozenset(p.id for p in a + b[:2])}
    assert plan.quality["circles_dissolved"] == 1 and plan.unmatched == ()


def test_newcomers_join_a_circle_with_room_else_wait_for_the_next_term_and_are_told_why() -> None:
    prog = program(ProgramKind.CIRCLE, group_min=3, group_max=5)
    a = _people("a", 4)
    circles = [Circle(tuple(p.id for p in a))]
    plan = plan_circle_session(prog, candidates(*a, person("n0")), MatchHistory(), 7, TODAY, circles, 2)
    assert circle_sets(plan.matches) == {frozenset([*(p.id for p in a), "n0"])}
    assert Reason.of(JOINED, count=1) in plan.matches[0].reasons
    assert "1 new member joined the circle." in said(plan.matches[0])
    full = [Circle(tuple(p.id for p in _people("f", 5)))]
    everyone = [*_people("f", 5), person("n0"), person("n1")]
    plan = plan_circle_session(prog, candidates(*everyone), MatchHistory(), 7, TODAY, full, 2)
    assert dict(plan.unmatched) == {"n0": WAIT_FOR_TERM, "n1": WAIT_FOR_TERM}
    assert {"n0", "n1"} <= set(plan.needs_priority) and plan.quality["waiting_for_term"] == 2
    # Enough newcomers for a circle of their own: it forms now and ends with the term.
    plan = plan_circle_session(prog, candidates(*everyone, person("n2")), MatchHistory(), 7, TODAY, full, 2)
    assert frozenset(["n0", "n1", "n2"]) in circle_sets(plan.matches) and plan.unmatched == ()
    assert "A new circle for this term: session 2 of 6." in said(next(
        m for m in plan.matches if "n0" in ids_of(m)))


# -- the whole use case over sessions and terms -------------------------------------------------------------
async def test_a_circle_stays_together_for_three_sessions_with_three_different_facilitators() -> None:
    w = World()
    prog, _ids = await w.circles(10, sessions_per_term=3)
    results = [await w.service.run_round(prog.id) for _ in range(3)]
    first = circle_sets(results[0].matches)
    assert len(first) == 2 and all(3 <= len(c) <= 8 for c in first)
    assert all(circle_sets(r.matches) == first for r in results)
    assert [(r.round.term, r.round.session) for r in results] == [(1, 1), (1, 2), (1, 3)]
    for circle in first:
        sessions = [next(m for m in r.matches if frozenset(m.participant_ids) == circle) for r in results]
        facilitators = [facilitator_of(m) for m in sessions]
        assert len(set(facilitators)) == 3
        # Each intro names this session's facilitator, says what the role asks and who is next.
        for number, (match, facilitator) in enumerate(zip(sessions, facilitators, strict=True), start=1):
            intros = [n for n in w.queued.of_kind(NotificationKind.INTRO) if n.payload["match_id"] == match.id]
            assert len(intros) == len(circle)
            people = {p.id: p for p in w.uows.store.participants.values()}
            for notice in intros:
                payload = notice.payload
                assert payload["facilitator"] == {"id": facilitator, "name": people[facilitator].display_name}
                assert (payload["session"], payload["sessions_in_term"]) == (number, 3)
                text = json.dumps(cards.intro_card(translator("en"), payload))
                assert "keeps time, opens with the check-in question and makes sure everyone speaks" in text
                assert "Your role this round" not in text  # said once, by the facilitator line
                if notice.recipient_id == facilitator:
                    assert "You facilitate this session." in text
                else:
                    assert f"Facilitator this session: {people[facilitator].display_name}" in text
                if number < 3:
                    following = facilitators[number]
                    name = "you" if notice.recipient_id == following else people[following].display_name
                    assert f"The role rotates each session: next time {name}." in text
                else:
                    assert "This is the last session of the term: new circles form next time." in text
    german = json.dumps(cards.intro_card(translator("de"), w.queued.of_kind(NotificationKind.INTRO)[0].payload))
    assert "achtet auf die Zeit" in german and "Die Rolle wechselt jede Sitzung" in german


async def test_the_round_after_the_term_forms_new_circles() -> None:
    w = World()
    prog, _ = await w.circles(12, sessions_per_term=2)
    results = [await w.service.run_round(prog.id) for _ in range(3)]
    assert circle_sets(results[0].matches) == circle_sets(results[1].matches)
    assert (results[2].round.term, results[2].round.session) == (2, 1)
    assert circle_sets(results[2].matches) != circle_sets(results[1].matches)
    assert all(said(m)[0] == "A new circle for this term: session 1 of 2." for m in results[2].matches)


async def test_a_member_who_leaves_drops_out_and_the_circle_goes_on() -> None:
    w = World()
    prog, ids = await w.circles(4)
    first = await w.service.run_round(prog.id)
    leaver = facilitator_of(first.matches[0])
    await w.service.leave(prog.id, leaver, erase=False)
    second = await w.service.run_round(prog.id)
    assert circle_sets(second.matches) == {frozenset(ids) - {leaver}}
    assert "1 member left the circle." in said(second.matches[0])
    assert facilitator_of(second.matches[0]) != leaver


async def test_the_circle_notes_reach_a_german_reader_in_german_through_the_stored_payload() -> None:
    w = World()
    prog, _ids = await w.circles(4)
    first = await w.service.run_round(prog.id)
    await w.service.leave(prog.id, facilitator_of(first.matches[0]), erase=False)
    second = await w.service.run_round(prog.id)
    notice = next(n for n in w.queued.of_kind(NotificationKind.INTRO) if n.payload["match_id"] == second.matches[0].id)
    payload = json.loads(json.dumps(notice.payload))  # as the outbox stores it
    german = json.dumps(cards.intro_card(translator("de"), payload), ensure_ascii=False)
    text = cards.notification_text(translator("de"), NotificationKind.INTRO, payload)[1]
    for shown in (german, text):
        assert "Dein Kreis geht weiter: Sitzung 2 von 6." in shown
        assert "1 Mitglied hat den Kreis verlassen." in shown
        assert "circle continues" not in shown and "left the circle" not in shown
    english = json.dumps(cards.intro_card(translator("en"), payload))
    assert "Your circle continues: session 2 of 6." in english and "1 member left the circle." in english


async def test_a_member_back_from_a_pause_returns_to_their_own_circle() -> None:
    w = World()
    prog, _ids = await w.circles(10)
    first = await w.service.run_round(prog.id)
    away = first.matches[0].participant_ids[1]
    await w.service.pause(prog.id, away, None)
    second = await w.service.run_round(prog.id)
    assert all(away not in m.participant_ids for m in second.matches)
    await w.service.resume(prog.id, away)
    third = await w.service.run_round(prog.id)
    assert circle_sets(third.matches) == circle_sets(first.matches)
    back = next(m for m in third.matches if away in m.participant_ids)
    assert "1 member came back to the circle." in said(back)


def test_a_returning_member_whose_circle_is_full_joins_another_with_room() -> None:
    prog = program(ProgramKind.CIRCLE, group_min=3, group_max=4)
    full, other = _people("a", 4), _people("b", 3)
    circles = [Circle(tuple(p.id for p in full), returning=("r",)), Circle(tuple(p.id for p in other))]
    plan = plan_circle_session(prog, candidates(*full, *other, person("r")), MatchHistory(), 7, TODAY, circles, 3)
    assert circle_sets(plan.matches) == {frozenset(p.id for p in full), frozenset([*(p.id for p in other), "r"])}


# -- where circle posts go ----------------------------------------------------------------------------------
async def test_circle_posts_never_reach_a_team_channel_with_a_member_list() -> None:
    w = World()
    w.uows.store.channels["team-channel"] = TENANT
    w.uows.store.channel_ids["team-channel"] = "19:team@thread.tacv2"
    prog, _ = await w.circles(6)
    await w.service.run_round(prog.id)
    to_channels = [n for n, _ in w.uows.store.notices.values() if n.recipient_id == "team-channel"]
    assert to_channels == []
    assert w.queued.of_kind(NotificationKind.CIRCLE_THREAD) == []


async def test_the_circles_group_chat_gets_the_post_and_a_chat_with_an_outsider_does_not() -> None:
    w = World()
    prog, _ids = await w.circles(6)
    roster = frozenset(f"aad-{i}" for i in range(6))
    w.uows.store.group_chats["circle-chat"] = (TENANT, roster)
    w.uows.store.group_chats["bigger-chat"] = (TENANT, roster | {"aad-outsider"})
    result = await w.service.run_round(prog.id)
    posts = w.queued.of_kind(NotificationKind.CIRCLE_THREAD)
    assert [n.recipient_id for n in posts] == ["circle-chat"]
    payload = posts[0].payload
    assert payload["members"] == sorted(f"Member {i}" for i in range(6))
    assert payload["facilitator"]["id"] == facilitator_of(result.matches[0]) and payload["session"] == 1
    _subject, text = cards.notification_text(translator("en"), NotificationKind.CIRCLE_THREAD, payload)
    assert "Your learning circle in Circles" in text and "keeps time" in text


async def test_no_group_chat_post_when_a_member_has_no_teams_identity() -> None:
    w = World()
    prog, _ids = await w.circles(3)
    await w.service.enroll(prog.id, ParticipantInput("mail-only@example.com", "Mail Only", tenant_id=TENANT),
                           consent=True)
    w.uows.store.group_chats["chat"] = (TENANT, frozenset(f"aad-{i}" for i in range(3)))
    result = await w.service.run_round(prog.id)
    assert len(result.matches) == 1 and len(result.matches[0].members) == 4
    assert w.queued.of_kind(NotificationKind.CIRCLE_THREAD) == []  # the chat lacks one member: not the circle


async def test_an_announcement_channel_gets_the_round_without_member_names() -> None:
    w = World()
    named = stable_id("conversation", "msteams", "19:announce@thread.tacv2")
    for ref, channel in ((named, "19:announce@thread.tacv2"), ("team-channel", "19:team@thread.tacv2")):
        w.uows.store.channels[ref] = TENANT
        w.uows.store.channel_ids[ref] = channel
    prog, _ = await w.circles(6, announcement_channel="19:announce@thread.tacv2")
    await w.service.run_round(prog.id)
    announcements = w.queued.of_kind(NotificationKind.ANNOUNCEMENT)
    assert [n.recipient_id for n in announcements] == [named]
    rendered = json.dumps(announcements[0].payload) + "".join(cards.notification_text(
        translator("en"), NotificationKind.ANNOUNCEMENT, announcements[0].payload))
    assert "Round 1 of Circles has started" in rendered
    assert not any(f"Member {i}" in rendered or f"c{i}@example.com" in rendered for i in range(6))
    assert w.queued.of_kind(NotificationKind.CIRCLE_THREAD) == []


async def test_a_pairs_program_is_still_announced_in_team_channels() -> None:
    w = World()
    w.uows.store.channels["team-channel"] = TENANT
    created = await w.service.create_program("Pairs", "peer_pairs", "weekly", tenant_id=TENANT)
    for i in range(4):
        await w.service.enroll(created.id, ParticipantInput(f"p{i}@example.com", f"P {i}"), consent=True)
    await w.service.run_round(created.id)
    assert [n.recipient_id for n in w.queued.of_kind(NotificationKind.ANNOUNCEMENT)] == ["team-channel"]
    assert w.uows.store.rounds and all(r.term == 0 for r in w.uows.store.rounds.values())


def test_policy_defaults_are_the_documented_ones() -> None:
    assert MatchingPolicy().group_max == 8
