"""The manager report aggregates statements as the LMS would (voided ones left out) and renders a page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from teams_app.reporting import VERB_ATTENDED, VERB_REGISTERED, VERB_VOIDED, build_report, render_html, write_csv

BASE = "https://peercoach.example/xapi"


def statement(sid: str, verb: str, who: str, when: str, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "verb": {"id": verb}, "actor": {"mbox": f"mailto:{who}"}, "timestamp": when,
            "object": {"id": f"{BASE}/programs/p"},
            "context": {"registration": extra.pop("registration", ""),
                        "contextActivities": {"parent": [{"id": f"{BASE}/programs/p/rounds/{extra.pop('round', 1)}"}]},
                        "extensions": extra.pop("context_ext", {})},
            "result": extra.pop("result", {})}


def sample() -> list[dict[str, Any]]:
    reflected = f"{BASE}/profile/verbs/reflected"
    useful = f"{BASE}/profile/extensions/usefulness"
    meeting = {"id": f"{BASE}/meetings/m1"}
    return [
        statement("1", VERB_REGISTERED, "ana@x.com", "2026-11-02T09:00:00Z"),
        statement("2", VERB_REGISTERED, "bo@x.com", "2026-11-02T09:05:00Z"),
        {**statement("3", VERB_ATTENDED, "ana@x.com", "2026-11-04T10:00:00Z", registration="r-ana"),
         "object": meeting},
        {**statement("4", VERB_ATTENDED, "bo@x.com", "2026-11-04T10:00:00Z", registration="r-bo"),
         "object": meeting},
        statement("5", reflected, "ana@x.com", "2026-11-04T11:00:00Z",
                  result={"response": "asked better questions", "extensions": {useful: 4}}),
        statement("6", reflected, "bo@x.com", "2026-11-11T11:00:00Z", round=2,
                  result={"extensions": {useful: 2}}),
        {"id": "7", "verb": {"id": VERB_VOIDED}, "actor": {"mbox": "mailto:admin@x.com"},
         "timestamp": "2026-11-12T00:00:00Z", "object": {"objectType": "StatementRef", "id": "6"}},
    ]


def test_report_counts_meetings_usefulness_and_leaves_voided_out(tmp_path: Path) -> None:
    report = build_report(sample(), "Pairs", departments={"ana@x.com": "Sales", "bo@x.com": "IT"})
    assert report.statements == 5 and report.voided == 1
    assert report.meetings_by_round == {"1": 1}  # two attended statements, one meeting
    assert dict(report.usefulness) == {4: 1}
    assert report.departments == {"Sales": 1, "IT": 1}
    assert list(report.active_by_week.values()) == [2]
    write_csv(report, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().count("\n") == 6


def test_since_filters_and_html_has_every_chart() -> None:
    report = build_report(sample(), "Pairs <script>", since=date(2026, 11, 4))
    assert report.statements == 3
    page = render_html(report)
    assert page.count("data:image/png;base64,") == 5
    assert "<script>" not in page and "Pairs &lt;script&gt;" in page
