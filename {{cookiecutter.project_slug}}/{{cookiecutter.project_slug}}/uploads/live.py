"""Live status: every change of an upload's state, pushed to its owner's open pages as Server-Sent Events.

A change is announced per owner (``changed()``, after commit) through the toolkit's
Broadcast: Redis publish/subscribe when configured, a poll of ``updated_at`` by each
web process otherwise. A stream then reads what changed since the last event it sent:
the event id is that ``updated_at``, so a browser that reconnects (Last-Event-ID)
gets what it missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils import timezone
from django.views import View

from ..toolkit import AsyncLoginRequiredMixin
from ..toolkit.broadcast import Broadcast
from ..toolkit.event_stream import Event, EventStreamMixin, in_shared_thread
from . import status_counts
from .models import Upload

# How far before the last event a stream looks again: a change stamped a little earlier
# but committed a little later (or by a process whose clock is behind) is still sent.
LOOKBACK = timedelta(seconds=2)
BATCH = 100  # changed uploads read at a time


def changes_since(topics: frozenset[str], since: datetime) -> Iterable[tuple[str, str]]:
    """The Broadcast's poll: (owner id, change) for the uploads of these owners changed since ``since``."""
    owners: Any = list(topics)  # user ids, as strings: Django converts them
    rows = Upload.objects.filter(owner_id__in=owners, updated_at__gte=since).values_list("owner_id", "pk", "updated_at")
    return [(str(owner_id), f"{pk}@{updated_at.isoformat()}") for owner_id, pk, updated_at in rows]


BROADCAST = Broadcast("uploads", changes_since)


def _announce(owner_id: Any) -> None:
    status_counts.forget(owner_id)
    BROADCAST.publish(str(owner_id))


def changed(owner_id: Any) -> None:
    """An upload of ``owner_id`` changed: forget the cached counts and tell open pages, once committed."""
    transaction.on_commit(partial(_announce, owner_id), robust=True)


def event_id(moment: datetime) -> str:
    """A stream's position: microseconds since the epoch of the last change it sent."""
    return str(round(moment.timestamp() * 1_000_000))


def position(value: str) -> datetime | None:
    """The moment an event id (or a page's ?since=) names; None if it names none."""
    if not value.isdigit() or len(value) > 20:
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def as_event_data(upload: Upload) -> dict[str, object]:
    return {
        "id": str(upload.pk),
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "finished": upload.finished,
        "name": upload.original_name,
        "url": upload.get_absolute_url(),
    }


def read_changes(owner_id: Any, upload_id: UUID | None, since: datetime) -> tuple[list[Upload], dict[str, int] | None]:
    """The owner's uploads changed since ``since``, oldest change first, with the counts; or the one upload, as is."""
    uploads = Upload.objects.filter(owner_id=owner_id).only("pk", "status", "original_name", "updated_at")
    if upload_id is not None:
        return list(uploads.filter(pk=upload_id)), None
    changed = list(uploads.filter(updated_at__gte=since).order_by("updated_at")[:BATCH])
    return changed, status_counts.get(owner_id) if changed else None


class UploadEventsView(EventStreamMixin, AsyncLoginRequiredMixin, View):
    """The state changes of the user's uploads (the list), or of one upload (its page), as they happen."""

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.heartbeat = settings.LIVE_STATUS_HEARTBEAT
        self.max_life = settings.LIVE_STATUS_MAX_LIFE
        self.idle_timeout = settings.LIVE_STATUS_IDLE_TIMEOUT
        self.max_streams = settings.LIVE_STATUS_MAX_STREAMS_PER_USER

    async def get(self, request: HttpRequest, *args: Any, pk: UUID | None = None, **kwargs: Any) -> HttpResponseBase:
        if pk is not None and not await Upload.objects.owned_by(self.user).filter(pk=pk).aexists():
            raise Http404("No such upload.")
        return await super().get(request, *args, **kwargs)

    async def events(self, last_event_id: str) -> AsyncIterator[Event]:
        upload_id: UUID | None = self.kwargs.get("pk")
        owner_id = self.user.pk
        cursor = position(last_event_id) or position(self.request.GET.get("since", "")) or timezone.now()
        sent: dict[UUID, datetime] = {}  # upload -> the updated_at last sent for it
        # Listening starts before the first read: a change in between wakes the loop again.
        async with BROADCAST.listen(str(owner_id)) as waiter:
            while True:
                uploads, counts = await in_shared_thread(read_changes, owner_id, upload_id, cursor - LOOKBACK)
                for upload in uploads:
                    if upload.updated_at >= cursor - LOOKBACK and sent.get(upload.pk) != upload.updated_at:
                        sent[upload.pk] = upload.updated_at
                        cursor = max(cursor, upload.updated_at)
                        data = as_event_data(upload)
                        if counts is not None:
                            data["counts"] = counts
                        yield Event(data, event="status", id=event_id(cursor))
                    if upload_id is not None and upload.finished:
                        return  # one upload, finished: nothing more will change
                if upload_id is not None and not uploads:
                    return  # deleted meanwhile
                if len(uploads) == BATCH:
                    continue  # more changes than one read takes
                sent = {pk: moment for pk, moment in sent.items() if moment >= cursor - LOOKBACK}
                await waiter.wait()
