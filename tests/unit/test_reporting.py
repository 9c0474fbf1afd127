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
    assert page.count("data:image/png;base64,") == 7  # the funnel, usefulness per round and five more
    assert "<script>" not in page and "Pairs &lt;script&gt;" in page


def funnel_sample() -> list[dict[str, Any]]:
    from lrs_bridge.vocabulary import Extensions, Verbs

    def st(sid: str, verb: str, who: str, when: str, *, obj: str = f"{BASE}/programs/p",
           **extra: Any) -> dict[str, Any]:
        base = statement(sid, verb, who, when, **extra)
        base["object"] = {"id": obj}
        return base

    round1 = f"{BASE}/programs/p/rounds/1"
    useful = Extensions.USEFULNESS
    return [
        st("r1", VERB_REGISTERED, "ana@x.com", "2026-11-02T09:00:00Z"),
        st("r2", VERB_REGISTERED, "bo@x.com", "2026-11-02T09:00:00Z"),
        st("r3", VERB_REGISTERED, "cy@x.com", "2026-11-02T09:00:00Z"),
        st("m1", Verbs.MATCHED, "ana@x.com", "2026-11-03T09:00:00Z", obj=round1,
           context_ext={Extensions.ROLE: "mentor", Extensions.PARTNER_DEPARTMENTS: ["IT"]}),
        st("m2", Verbs.MATCHED, "bo@x.com", "2026-11-03T09:00:00Z", obj=round1,
           context_ext={Extensions.ROLE: "mentee", Extensions.PARTNER_DEPARTMENTS: ["IT"]}),
        st("a1", VERB_ATTENDED, "ana@x.com", "2026-11-04T10:00:00Z"),
        st("c1", Verbs.REFLECTED, "ana@x.com", "2026-11-04T11:00:00Z", result={"extensions": {useful: 4}}),
        st("c2", Verbs.REFLECTED, "bo@x.com", "2026-11-04T11:00:00Z", result={"extensions": {useful: 2}}),
        st("d1", Verbs.COMPLETED, "ana@x.com", "2026-11-10T09:00:00Z", obj=round1),
        st("p1", Verbs.SUSPENDED, "cy@x.com", "2026-11-05T09:00:00Z"),
        st("l1", Verbs.UNREGISTERED, "bo@x.com", "2026-11-11T09:00:00Z"),
        st("s1", Verbs.SCORED, "ana@x.com", "2026-11-12T09:00:00Z", context_ext={Extensions.SCORE_SOURCE: "peers"},
           result={"score": {"raw": 12, "min": 4, "max": 16, "scaled": 0.6667}}),
    ]


def test_report_leads_with_the_round_funnel_check_in_rate_and_paused_vs_left() -> None:
    report = build_report(funnel_sample(), "Pairs")
    funnel = report.rounds["1"]
    assert (funnel.enrolled, funnel.matched, funnel.met, funnel.checked_in, funnel.completed) == (3, 2, 1, 2, 1)
    assert funnel.check_in_rate == 1.0 and funnel.average_usefulness == 3.0
    assert (report.paused, report.left, report.assessments_released) == (1, 1, 1)
    assert report.roles == {"mentor": 1, "mentee": 1}


def test_report_shows_cross_department_reach() -> None:
    # ana (Sales) was matched with someone in IT; bo (IT) with someone in IT: one of two matches spans.
    report = build_report(funnel_sample(), "Pairs", departments={"ana@x.com": "Sales", "bo@x.com": "IT"})
    assert (report.matches_seen, report.matches_across, report.cross_department_share) == (2, 1, 0.5)
    assert report.departments_met == {"ana@x.com": 1, "bo@x.com": 0}
    assert "50% of matches span departments; people met 0.5 other department(s) on average" in render_html(report)
    page = render_html(report)
    assert "Rounds: from enrolled to completed" in page and "Period 02 Nov 2026 to 12 Nov 2026" in page
    assert "Made " in page and "Paused / left" in page


def test_every_chart_says_what_it_shows_and_every_table_is_also_a_csv(tmp_path: Path) -> None:
    report = build_report(funnel_sample(), "Pairs")
    page = render_html(report)
    assert 'alt="chart"' not in page
    assert 'alt="How useful were the sessions? (check-ins): 1: 0, 2: 1, 3: 0, 4: 1, 5: 0"' in page
    write_csv(report, tmp_path / "report.csv")
    rounds = (tmp_path / "report-rounds.csv").read_text().splitlines()
    assert rounds[0].startswith("round,enrolled,matched,met,checked_in,completed")
    assert rounds[1] == "1,3,2,1,2,1,1.0,3.0"
    verbs = (tmp_path / "report-verbs.csv").read_text().splitlines()
    assert verbs[0] == "verb,count" and "registered,3" in verbs


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    hostile = statement("x", VERB_REGISTERED, "=HYPERLINK(\"http://evil\")@x.com", "2026-11-02T09:00:00Z")
    hostile["actor"] = {"account": {"homePage": "https://x", "name": "=cmd|' /C calc'!A0"}}
    report = build_report([hostile], "Pairs")
    write_csv(report, tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text()
    assert "'=cmd" in text and ",=cmd" not in text


def test_the_page_renders_in_headless_chromium_with_every_image_and_the_text(tmp_path: Path) -> None:
    import re
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert chromium, "the report test renders the page in a real browser: install chromium"
    page = render_html(build_report(funnel_sample(), "Pairs"))
    # After load, the page notes how many images it has and how many decoded; --dump-dom prints it.
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images];"
             " document.body.dataset.images = imgs.length + ':' +"
             " imgs.filter(i => i.complete && i.naturalWidth > 0).length; });</script>")
    (tmp_path / "report.html").write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", (tmp_path / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert re.search(r'data-images="7:7"', dom), "every chart image decodes"
    assert "Rounds: from enrolled to completed" in dom and "Paused / left" in dom


def test_reach_skills_and_roles_are_tables_and_csvs_and_the_funnel_chart_says_its_numbers(tmp_path: Path) -> None:
    from lrs_bridge.vocabulary import Extensions

    statements = funnel_sample()
    statements[3]["context"]["extensions"][Extensions.SKILLS] = ["SQL", "=1+1"]
    report = build_report(statements, "Pairs", departments={"ana@x.com": "Sales", "bo@x.com": "IT"})
    page = render_html(report)
    assert ('alt="People per step of each round (enrolled, matched, met, checked in, completed): '
            'round 1: 3, 2, 1, 2, 1"') in page
    assert "Skills exchanged and mentoring roles" in page and "<td>SQL</td>" in page
    write_csv(report, tmp_path / "report.csv")
    assert (tmp_path / "report-reach.csv").read_text().splitlines() == ["other_departments_met,people", "0,1", "1,1"]
    skills = (tmp_path / "report-skills.csv").read_text().splitlines()
    assert skills[0] == "skill,matches" and "SQL,1" in skills and "'=1+1,1" in skills  # escaped, not a formula
    assert (tmp_path / "report-roles.csv").read_text().splitlines() == ["role,matches", "mentor,1", "mentee,1"]
