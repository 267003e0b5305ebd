"""A job carries the id of the request that queued it: the worker's log lines and error reports for it show that id.

django-tasks-db keeps a job's arguments in one JSON column (``{"args": ..., "kwargs": ...}``);
the id is stored next to them when the job is queued inside a request, and read back when
the worker starts the job. Jobs queued outside a request (the sweep, a shell) carry none.
Connected in ``OpsConfig.ready()``.
"""

from __future__ import annotations

from typing import Any

from django.tasks import TaskResult
from django.tasks.signals import task_enqueued, task_finished, task_started
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from .request_id import request_id

KEY = "request_id"


def from_database_backend(sender: object) -> bool:
    """Whether a task signal comes from django-tasks-db (its worker sends the backend, not its class, as sender)."""
    return issubclass(sender if isinstance(sender, type) else type(sender), DatabaseBackend)


def remember_request_id(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    current = request_id.get()
    if current is None or not from_database_backend(sender):
        return
    arguments = {"args": task_result.args, "kwargs": task_result.kwargs, KEY: current}
    DBTaskResult.objects.filter(pk=task_result.id).update(args_kwargs=arguments)


def adopt_request_id(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    if not from_database_backend(sender):
        return
    arguments = DBTaskResult.objects.filter(pk=task_result.id).values_list("args_kwargs", flat=True).first()
    request_id.set(arguments.get(KEY) if isinstance(arguments, dict) else None)


def forget_request_id(sender: object, task_result: TaskResult[Any, Any], **kwargs: Any) -> None:
    # Connected after django.tasks' own receiver, which logs the outcome: that line keeps the id.
    if from_database_backend(sender):
        request_id.set(None)


def connect() -> None:
    task_enqueued.connect(remember_request_id, dispatch_uid="ops.remember_request_id")
    task_started.connect(adopt_request_id, dispatch_uid="ops.adopt_request_id")
    task_finished.connect(forget_request_id, dispatch_uid="ops.forget_request_id")
