"""A ``Mailer`` that writes each message as an ``.eml`` file into a folder: email for the local dev stack.

`peercoach dev` has no mail server, yet the demo colleagues are not in Teams, so their intros, check-in cards
and invitations go by email. Writing them where a developer can open them (any mail client reads ``.eml``)
keeps what the bot says true ("sent by email") without a server, like Django's file-based email backend.
Never for production: nobody reads the folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from teams_app.adapters.email.smtp import build_message

logger = logging.getLogger(__name__)


class FolderMailer:
    def __init__(self, folder: Path, *, sender: str = "peercoach@localhost") -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, to: Sequence[str], subject: str, html: str, text: str,
                   attachments: Sequence[tuple[str, str, bytes]] = ()) -> None:
        if not to:
            raise ValueError("no recipients")
        message = build_message(self.sender, to, subject, html, text, attachments)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-")[:60] or "message"
        path = self.folder / f"{uuid.uuid4().hex[:8]}-{slug}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes())
        logger.info("email to %s written to %s", ", ".join(to), path)

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # a reader never sees half a message
