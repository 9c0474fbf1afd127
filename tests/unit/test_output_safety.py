"""What the project prints or writes for others: formula-safe CSV cells, URLs without secrets, no escapes."""

from __future__ import annotations

import csv
import io
import logging

import pytest

from teams_app.adapters.csv_safe import safe_cell, safe_rows, safe_values
from teams_app.adapters.redaction import RedactingFilter, redact_text, redact_url
from teams_app.adapters.text_safety import printable


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")'])
def test_cells_a_spreadsheet_would_evaluate_get_a_quote(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Ana", "", "1+1", "a=b", "ana@example.com", -3, 2.5, None])
def test_ordinary_cells_and_numbers_are_unchanged(cell: object) -> None:
    assert safe_cell(cell) == cell


def test_csv_round_trip_keeps_the_escaped_text() -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["name", "department"])
    writer.writeheader()
    writer.writerows(safe_rows([{"name": '=HYPERLINK("http://evil","click")', "department": "=1+1"}]))
    csv.writer(buffer).writerow(safe_values(["-5", 5]))
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[1] == ["'=HYPERLINK(\"http://evil\",\"click\")", "'=1+1"]
    assert rows[2] == ["'-5", "5"]


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:s3cret@lrs.example/xapi/", "https://user:***@lrs.example/xapi/"),
    ("postgresql+asyncpg://bob:p@ss/w:rd@db:5432/x", "postgresql+asyncpg://bob:***@db:5432/x"),
    ("https://ghp_token@github.com/x", "https://***@github.com/x"),
    ("https://lrs.example/xapi/?token=abc&page=2", "https://lrs.example/xapi/?token=***&page=2"),
    ("https://lrs.example/x?sig=1&client_secret=2", "https://lrs.example/x?sig=***&client_secret=***"),
    ("sqlite+aiosqlite:///./peercoach.db", "sqlite+aiosqlite:///./peercoach.db"),
    ("http://lrs/xapi/agents/a@b.c", "http://lrs/xapi/agents/a@b.c"),
])
def test_redact_url_hides_passwords_tokens_and_secret_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_hides_secrets_of_every_url_in_a_message() -> None:
    text = "cannot reach https://u:pw1@a.example/xAPI/about: see http://v:pw2@b.example/ too"
    cleaned = redact_text(text)
    assert "pw1" not in cleaned and "pw2" not in cleaned
    assert "https://u:***@a.example/xAPI/about" in cleaned


def test_log_records_lose_the_password_of_urls_they_mention() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "posting to %s", ("https://u:hunter2@lrs/x",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "posting to https://u:***@lrs/x"


@pytest.mark.parametrize(("text", "shown"), [
    ("\x1b]0;pwned\x07Ana", "Ana"),
    ("\x1b[31mred\x1b[0m", "red"),
    ("Bell\x07 and NUL\x00", "Bell and NUL"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("\x9b2JC1", "C1"),
])
def test_printable_strips_terminal_escapes_and_controls(text: str, shown: str) -> None:
    assert printable(text) == shown
