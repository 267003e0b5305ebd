"""Mail servers for the tests, and what a person does with a mail: follow its link, type a code.

``SmtpServer`` is a real SMTP server (aiosmtpd). ``MailServer`` is what the project's
delivery mailer talks to: {% if cookiecutter.mail_service == "smtp" %}that SMTP server{% else %}a stand-in for {{ cookiecutter._mail_providers[cookiecutter.mail_service].name }}'s HTTP API (the real service
cannot be reached from tests){% endif %}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
{%- if cookiecutter.mail_service != "smtp" %}
import json
{%- endif %}
import re
import threading
import time
{%- if cookiecutter.mail_service != "smtp" %}
from collections.abc import Iterator
{%- endif %}
from email import message_from_bytes, policy
from email.message import EmailMessage
{%- if cookiecutter.mail_service != "smtp" %}
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
{%- endif %}
from typing import Any
{%- if cookiecutter.mail_service != "smtp" %}
from urllib.parse import parse_qsl
{%- endif %}

from aiosmtpd.controller import Controller

from tests.support.processes import free_port

LINK = re.compile(r"https?://[^\s\"'<>\\]+")


class SmtpServer:
    """An SMTP server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """EMAIL_URL for it: plain SMTP, allowed to a server on this machine."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    @property
    def env(self) -> dict[str, str]:
        """The project's settings for sending here."""
        return {"EMAIL_URL": self.url}

    def wait_for_text(self, to: str, subject_part: str = "", timeout: float = 30.0) -> str:
        return text_of(self.wait_for(to, subject_part, timeout))

    def wait_for(self, to: str, subject_part: str = "", timeout: float = 30.0) -> EmailMessage:
        """The first message to ``to`` whose subject contains ``subject_part``; waits for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self.messages:
                    if to in message["To"] and subject_part in message["Subject"]:
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [(message["To"], message["Subject"]) for message in self.messages]
                    raise AssertionError(f"no mail to {to} about {subject_part!r} in {timeout} s; got {subjects}")
                self._arrived.wait(remaining)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def link_in(text: object, path_part: str) -> str:
    """The one link in ``text`` whose URL contains ``path_part``."""
    links: list[str] = [link for link in LINK.findall(str(text)) if path_part in link]
    assert len(links) == 1, text
    return links[0]


def totp_code(secret: str, at: float | None = None) -> str:
    """An authenticator app's six-digit code (RFC 6238: HMAC-SHA1, 30-second steps), computed without allauth."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"

{%- if cookiecutter.mail_service == "smtp" %}


MailServer = SmtpServer
{%- else %}
{%- set provider = cookiecutter._mail_providers[cookiecutter.mail_service] %}


class _ApiServer(ThreadingHTTPServer):
    stand_in: ProviderStandIn


class _ApiHandler(BaseHTTPRequestHandler):
    server: _ApiServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.stand_in.record(self.headers.get("Content-Type", ""), body)
        # One answer that each provider's client (django-anymail) reads as "accepted".
        answer: dict[str, object] = {"id": "<stand-in@localhost>", "message": "Queued", "messageId": "<stand-in>"}
        answer |= {"ErrorCode": 0, "Message": "OK", "MessageID": "stand-in"}
        data = json.dumps(answer).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ProviderStandIn:
    """{{ provider.name }}'s sending API, as far as a client can tell: it keeps each request and accepts it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.texts: list[str] = []
        self._arrived = threading.Condition()
        self._http: _ApiServer | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "{{ provider.variable }}": "a-test-key",
            "{{ provider.prefix }}_API_URL": f"http://127.0.0.1:{self.port}/{% if cookiecutter.mail_service == "mailgun" %}v3{% endif %}",
        }

    def start(self) -> None:
        self._http = _ApiServer(("127.0.0.1", self.port), _ApiHandler)
        self._http.stand_in = self
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def record(self, content_type: str, body: bytes) -> None:
        if content_type.startswith("application/json"):
            text = "\n".join(_strings(json.loads(body)))
        elif content_type.startswith("application/x-www-form-urlencoded"):
            text = "\n".join(value for _, value in parse_qsl(body.decode(), keep_blank_values=True))
        else:  # a multipart form: the fields' values, as sent
            text = body.decode("utf-8", errors="replace")
        with self._arrived:
            self.texts.append(text)
            self._arrived.notify_all()

    def wait_for_text(self, to: str, subject_part: str = "", timeout: float = 30.0) -> str:
        """The first request that sends ``to`` a mail whose subject contains ``subject_part``; waits for it."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for text in self.texts:
                    if to in text and subject_part in text:
                        return text
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no mail to {to} about {subject_part!r} in {timeout} s; got {self.texts}")
                self._arrived.wait(remaining)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


MailServer = ProviderStandIn
{%- endif %}
