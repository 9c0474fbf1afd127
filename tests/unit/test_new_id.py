"""New ids: random uuids whose leading bits are the creation time, so new rows append to their indexes."""

from __future__ import annotations

import time
import uuid

from teams_app.domain.model import new_id, stable_id


def test_new_ids_are_version_7_uuids_ordered_by_creation_time() -> None:
    before_ms = time.time_ns() // 1_000_000
    first = [new_id() for _ in range(1000)]
    time.sleep(0.002)
    later = new_id()
    parsed = [uuid.UUID(i) for i in first]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == first
    assert len(set(first)) == 1000  # 74 random bits besides the time
    assert all(before_ms <= u.int >> 80 <= time.time_ns() // 1_000_000 for u in parsed)
    assert max(first) < later  # a later millisecond sorts after, as text too


def test_stable_ids_stay_name_based_and_deterministic() -> None:
    assert stable_id("event", 1) == stable_id("event", 1)
    assert uuid.UUID(stable_id("event", 1)).version == 5
