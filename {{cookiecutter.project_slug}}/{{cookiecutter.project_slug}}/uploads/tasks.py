"""Task entry points. The work itself is in jobs.py; these only name it for the queue."""

from django.tasks import task

from . import jobs


@task()
def process_upload(upload_id: str) -> None:
    """Inspect one uploaded file and record what it holds."""
    jobs.process(upload_id)
