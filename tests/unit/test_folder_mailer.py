"""The dev stack's mailer writes complete .eml files a mail client can open."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from teams_app.adapters.email.folder import FolderMailer


async def test_folder_mailer_writes_a_readable_message_with_its_attachment(tmp_path: Path) -> None:
    mailer = FolderMailer(tmp_path / "mail")
    await mailer.send(["meganb@example.com"], "Demo: meet Alex", "<p>Hi Megan</p>", "Hi Megan",
                      [("invite.ics", "text/calendar; method=REQUEST; charset=utf-8", b"BEGIN:VCALENDAR\r\n")])
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1 and "Demo-meet-Alex" in files[0].name
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "meganb@example.com" and message["Subject"] == "Demo: meet Alex"
    assert message.get_body(("plain",)).get_content().strip() == "Hi Megan"  # type: ignore[union-attr]
    assert [part.get_filename() for part in message.iter_attachments()] == ["invite.ics"]
    assert not list((tmp_path / "mail").glob("*.part"))


async def test_folder_mailer_refuses_a_message_without_recipients(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no recipients"):
        await FolderMailer(tmp_path).send([], "s", "", "t")
