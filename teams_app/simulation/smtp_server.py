"""A local SMTP server (aiosmtpd) for tests and the rollout simulation: it keeps what it receives."""

from __future__ import annotations

import socket
from typing import Any

from aiosmtpd.controller import Controller


class MailSink:
    """A local SMTP server (aiosmtpd) that counts what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
