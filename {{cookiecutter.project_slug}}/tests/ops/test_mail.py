"""ops/mail.py: pages queue their mail, the task worker sends it and retries what fails."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from smtplib import SMTPDataError, SMTPRecipientsRefused
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives, send_mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings

from {{ cookiecutter.project_slug }}.ops.mail import (
    ConsoleBackend,
    MailNotSentError,
    deliver,
    describe,
    forget_sent,
    retry_delay,
)

from tests.support.mail import SmtpServer
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

QUEUED = {"BACKEND": "{{ cookiecutter.project_slug }}.ops.mail.QueuedEmailBackend"}


def queued_deliveries() -> list[DBTaskResult[Any, Any]]:
    return list(DBTaskResult.objects.filter(task_path__endswith="ops.mail.deliver").order_by("enqueued_at"))


def smtp_mailer(port: int) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 2},
    }


def run(result: DBTaskResult[Any, Any]) -> None:
    """What the worker does with a queued delivery."""
    deliver.call(*result.args_kwargs["args"], **result.args_kwargs["kwargs"])


def test_a_page_queues_its_mail_and_the_worker_sends_it_whole(settings: Settings) -> None:
    settings.MAILERS = {"default": QUEUED, "delivery": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    message = EmailMultiAlternatives(
        "Your report", "See attached.", "noreply@example.com", ["ada@example.com"], cc=["grace@example.com"]
    )
    message.attach_alternative("<p>See attached.</p>", "text/html")
    message.attach("report.csv", "city,people\nParis,2100000\n", "text/csv")
    message.attach("logo.bin", b"\x00\xff\x10", "application/octet-stream")
    assert message.send() == 1
    assert mail.outbox == []  # nothing sent from the page

    [queued] = queued_deliveries()
    run(queued)
    [sent] = mail.outbox
    assert isinstance(sent, EmailMultiAlternatives)
    assert (sent.subject, sent.body, sent.from_email) == ("Your report", "See attached.", "noreply@example.com")
    assert (sent.to, sent.cc) == (["ada@example.com"], ["grace@example.com"])
    assert [tuple(alternative) for alternative in sent.alternatives] == [("<p>See attached.</p>", "text/html")]
    assert [tuple(attachment) for attachment in sent.attachments] == [
        ("report.csv", "city,people\nParis,2100000\n", "text/csv"),
        ("logo.bin", b"\x00\xff\x10", "application/octet-stream"),
    ]


def test_mail_reaches_a_real_smtp_server(settings: Settings, smtp_server: SmtpServer) -> None:
    settings.MAILERS = {"default": QUEUED, "delivery": smtp_mailer(smtp_server.port)}
    send_mail("Hello", "Over SMTP.", "noreply@example.com", ["ada@example.com"])
    run(queued_deliveries()[0])
    received = smtp_server.wait_for("ada@example.com", "Hello")
    assert received.get_content().strip() == "Over SMTP."


def test_a_failed_delivery_is_queued_again_later(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    dead_port = free_port()  # nothing listens there
    settings.MAILERS = {"default": QUEUED, "delivery": smtp_mailer(dead_port)}
    settings.MAIL_RETRY_DELAY = 30.0
    send_mail("Hello", "Later.", "noreply@example.com", ["ada@example.com"])
    [first] = queued_deliveries()
    with caplog.at_level(logging.WARNING, logger="{{ cookiecutter.project_slug }}.ops.mail"):
        run(first)
    [retry] = [result for result in queued_deliveries() if result.pk != first.pk]
    assert retry.args_kwargs["args"] == [first.args_kwargs["args"][0], 2]
    assert timedelta(seconds=25) < retry.run_after - timezone.now() <= timedelta(seconds=30)
    [record] = caplog.records
    assert record.getMessage().startswith("mail 'Hello' to 1 recipient(s) failed (")
    assert "ada@example.com" not in record.getMessage()  # addresses stay out of the log

    # The server is back: the retry goes out.
    server = SmtpServer(dead_port)
    server.start()
    try:
        run(retry)
        server.wait_for("ada@example.com", "Hello")
    finally:
        server.stop()


def test_the_last_attempt_fails_loudly(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    settings.MAILERS = {"default": QUEUED, "delivery": smtp_mailer(free_port())}
    settings.MAIL_MAX_ATTEMPTS = 3
    send_mail("Hello", "Never.", "noreply@example.com", ["ada@example.com"])
    [queued] = queued_deliveries()
    with pytest.raises(MailNotSentError) as failure, caplog.at_level(logging.ERROR):
        deliver.call(queued.args_kwargs["args"][0], 3)
    expected = "mail 'Hello' to 1 recipient(s) not sent after 3 attempts: ConnectionRefusedError"
    assert [record.getMessage() for record in caplog.records] == [expected]
    assert str(failure.value) == expected  # what the task's row keeps as its error
    assert len(queued_deliveries()) == 1  # not queued again


def test_errors_that_quote_recipients_are_described_without_them() -> None:
    """An SMTP refusal names the refused addresses; log lines give the error's kind and code only."""
    refused = SMTPRecipientsRefused({"ada@example.com": (550, b"no such user ada@example.com")})
    assert describe(refused) == "SMTPRecipientsRefused"
    assert describe(SMTPDataError(554, "ada@example.com: rejected")) == "SMTPDataError 554"


def test_sent_messages_do_not_stay_in_the_queue(settings: Settings) -> None:
    """A delivery's arguments hold the message, reset links included: sent ones are deleted after a while."""
    settings.MAILERS = {"default": QUEUED, "delivery": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    for subject in ("sent long ago", "sent just now", "failed long ago", "waiting"):
        send_mail(subject, "…", "noreply@example.com", ["ada@example.com"])
    long_ago = timezone.now() - timedelta(minutes=11)
    rows = {row.args_kwargs["args"][0]["subject"]: row for row in queued_deliveries()}
    DBTaskResult.objects.filter(pk=rows["sent long ago"].pk).update(status="SUCCESSFUL", finished_at=long_ago)
    DBTaskResult.objects.filter(pk=rows["sent just now"].pk).update(status="SUCCESSFUL", finished_at=timezone.now())
    DBTaskResult.objects.filter(pk=rows["failed long ago"].pk).update(status="FAILED", finished_at=long_ago)
    assert forget_sent() == 1
    left = {row.args_kwargs["args"][0]["subject"] for row in queued_deliveries()}
    assert left == {"sent just now", "failed long ago", "waiting"}


def test_retries_back_off_up_to_an_hour(settings: Settings) -> None:
    settings.MAIL_RETRY_DELAY = 30.0
    assert [retry_delay(attempt) for attempt in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


def test_development_prints_mail_with_its_links_whole() -> None:
    """Django's console mailer prints quoted-printable lines, which split a long link; this one prints the text."""
    link = "http://127.0.0.1:8000/accounts/confirm-email/" + "x" * 80 + "/"
    printed = io.StringIO()
    ConsoleBackend(alias="delivery", stream=printed).send_messages(
        [EmailMultiAlternatives("Confirm", f"Go to {link}\n", "noreply@example.com", ["ada@example.com"])]
    )
    assert printed.getvalue().splitlines()[:5] == [
        "From: noreply@example.com",
        "To: ada@example.com",
        "Subject: Confirm",
        "",
        f"Go to {link}",
    ]
