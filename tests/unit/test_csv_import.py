"""CSV parsing: every bad row is reported with its line number and field; good rows come back typed."""

from __future__ import annotations

from teams_app.adapters.csv_import import parse_participants

HEADER = "email,name,department,time_zone,languages,skills_offered\n"


def test_good_rows_are_parsed() -> None:
    rows, problems = parse_participants([HEADER, "ana@example.com,Ana,Sales,Europe/Berlin,en;de,SQL\n"])
    assert problems == []
    assert rows[0].email == "ana@example.com" and rows[0].profile.languages == ("en", "de")


def test_each_bad_row_is_named_with_line_and_field() -> None:
    text = [HEADER,
            "ana@example.com,Ana,Sales,Europe/Berlin,en,SQL\n",  # line 2: fine
            ",Bob,Sales,Europe/Berlin,en,\n",  # line 3: missing email
            "cy@example.com,Cy,IT,Mars/Base,en,\n",  # line 4: unknown time zone
            "ANA@example.com,Ana again,IT,UTC,en,\n"]  # line 5: duplicate person
    rows, problems = parse_participants(text)
    assert [str(p) for p in problems] == [
        "line 3: email: is missing",
        "line 4: time_zone: 'Mars/Base' is not an IANA time zone such as Europe/Berlin",
        "line 5: email: duplicate person: ana@example.com is already on line 2",
    ]
    assert len(rows) == 1


def test_missing_required_column_is_reported_on_the_header() -> None:
    rows, problems = parse_participants(["email,name\n", "a@b.co,A\n"])
    assert rows == [] and str(problems[0]) == "line 1: time_zone: required column missing from the header"


def test_unknown_column_and_extra_cells_are_reported() -> None:
    _, problems = parse_participants(["email,time_zone,shoe_size\n"])
    assert "unknown column" in str(problems[0])
    _, problems = parse_participants(["email,time_zone\n", "a@b.co,UTC,surplus\n"])
    assert str(problems[0]) == "line 2: row: more values than columns in the header"
