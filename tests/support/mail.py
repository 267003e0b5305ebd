"""A real SMTP server (aiosmtpd) on 127.0.0.1, for the stacks' mail: it keeps what it receives."""

from __future__ import annotations

import re
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from .http import free_port

LINK = re.compile(r"https?://[^\s\"'<>]+")


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """EMAIL_URL for it: plain SMTP, which production allows to a server on the same machine."""
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    def link_mailed_to(self, to: str, path_part: str, timeout: float = 30.0) -> str:
        """The link containing ``path_part`` in the first mail to ``to`` that has one; waits for the mail."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self.messages:
                    body = message.get_body(preferencelist=("plain",))
                    text = str(body.get_content()) if body else ""
                    links = [link for link in LINK.findall(text) if path_part in link]
                    if to in message["To"] and links:
                        return links[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no mail to {to} with a link to {path_part} in {timeout} s")
                self._arrived.wait(remaining)
