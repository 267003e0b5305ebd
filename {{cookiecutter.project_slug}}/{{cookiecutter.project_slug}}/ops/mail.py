"""Mail through the task queue: a page queues its messages, the task worker sends them.

The default mailer (``MAILERS["default"]``) is :class:`QueuedEmailBackend`:
``send_mail()``, ``mail_admins()`` and allauth's messages become one ``deliver`` task
each. The worker sends with ``MAILERS["delivery"]`` (SMTP, a provider's API, or the
console) and, when that fails, queues the message again with a growing delay.
"""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, mailers
from django.core.mail.backends import console
from django.core.mail.backends.base import BaseEmailBackend
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = 3600.0  # seconds

type Payload = dict[str, Any]


def to_payload(message: EmailMessage) -> Payload:
    """The message as JSON for the task queue. Attachments must be files (name, content, type)."""
    attachments = []
    for attachment in message.attachments:
        if not isinstance(attachment, tuple):
            raise TypeError("queued mail takes attachments as (filename, content, mimetype), not MIME objects")
        filename, content, mimetype = attachment
        data = content.encode() if isinstance(content, str) else content
        attachments.append([filename, base64.b64encode(data).decode("ascii"), mimetype])
    return {
        "subject": message.subject,
        "body": message.body,
        "content_subtype": message.content_subtype,
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "alternatives": [list(alternative) for alternative in getattr(message, "alternatives", [])],
        "attachments": attachments,
    }


def from_payload(payload: Payload) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=payload["from_email"],
        to=payload["to"],
        cc=payload["cc"],
        bcc=payload["bcc"],
        reply_to=payload["reply_to"],
        headers=payload["headers"],
    )
    message.content_subtype = payload["content_subtype"]
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    for filename, data, mimetype in payload["attachments"]:
        message.attach(filename, base64.b64decode(data), mimetype)
    return message


def retry_delay(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: MAIL_RETRY_DELAY, doubled each time, at most an hour."""
    delay: float = settings.MAIL_RETRY_DELAY * 2 ** (attempt - 1)
    return min(delay, MAX_RETRY_DELAY)


class MailNotSentError(Exception):
    """A message the delivery mailer refused MAIL_MAX_ATTEMPTS times."""


def describe(error: Exception) -> str:
    """What went wrong, without the error's text: an SMTP or a provider's error can quote the recipients."""
    code = getattr(error, "smtp_code", None) or getattr(error, "status_code", None)
    return f"{type(error).__name__} {code}" if code else type(error).__name__


@task()
def deliver(payload: Payload, attempt: int = 1) -> None:
    """Send one message; queue it again after a failure, until MAIL_MAX_ATTEMPTS."""
    message = from_payload(payload)
    try:
        mailers["delivery"].send_messages([message])
    except Exception as error:  # the mail server's errors, the network's, a provider's: all worth a retry
        # Addresses stay out of the log; the task's row in the queue has them.
        what = f"mail {message.subject!r} to {len(message.recipients())} recipient(s)"
        if attempt >= settings.MAIL_MAX_ATTEMPTS:
            logger.error("%s not sent after %d attempts: %s", what, attempt, describe(error))
            # The task ends "failed", the message in its arguments, this (address-free) error in its traceback.
            raise MailNotSentError(f"{what} not sent after {attempt} attempts: {describe(error)}") from None
        delay = retry_delay(attempt)
        logger.warning("%s failed (%s); attempt %d in %.0f s", what, describe(error), attempt + 1, delay)
        deliver.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(payload, attempt + 1)


def forget_sent(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Delete the queue's rows of messages sent more than ``older_than`` ago; return how many.

    A delivery's arguments are the whole message, links to confirm an address or reset a
    password included: they must not stay readable in the database (or the admin) for
    as long as those links work. Unsent messages stay, to be retried or looked into.
    """
    sent = DBTaskResult.objects.filter(
        task_path=deliver.module_path,
        status=TaskResultStatus.SUCCESSFUL,
        finished_at__lt=timezone.now() - older_than,
    )
    deleted, _ = sent.delete()
    return deleted


class QueuedEmailBackend(BaseEmailBackend):
    """Queues each message for the task worker instead of sending it; returns how many were queued."""

    def send_messages(self, email_messages: Any) -> int:
        messages = list(email_messages)
        for message in messages:
            if message.recipients():
                deliver.enqueue(to_payload(message))
        return len(messages)


class ConsoleBackend(console.EmailBackend):
    """Prints each message as written, for development: Django's console mailer prints the
    encoded MIME message, whose quoted-printable lines split long links in two."""

    def write_message(self, message: EmailMessage) -> None:
        headers = [f"From: {message.from_email}", f"To: {', '.join(message.to)}", f"Subject: {message.subject}"]
        self.stream.write("\n".join([*headers, "", str(message.body), "-" * 79, ""]))
