"""An S3-compatible server for the object storage tests: moto's, in a process of its own.

moto answers S3's HTTP API (real requests, signed and presigned as for a real service),
storing objects in memory: a stand-in for AWS S3, MinIO or R2 that needs no account and
no network. What it does not model is not tested here: it does not check signatures
(a tampered presigned URL would pass), bucket policies or anonymous access.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import httpx

from config.env import object_storage

from .processes import free_port, wait_for

REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "test-access-key", "test-secret-key"


@dataclass
class ObjectStorage:
    endpoint_url: str
    bucket: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def storage_settings(self, **options: object) -> dict[str, Any]:
        """STORAGES["default"] as config/settings.py builds it, for this server and bucket."""
        storage = object_storage(self.bucket, self.endpoint_url, REGION)
        storage["OPTIONS"] |= {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, **options}
        return storage

    def keys(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its endpoint URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(endpoint, timeout=1).status_code < 500
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=30)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def new_bucket(endpoint_url: str) -> ObjectStorage:
    storage = ObjectStorage(endpoint_url, f"uploads-{uuid.uuid4().hex[:12]}")
    storage.client().create_bucket(Bucket=storage.bucket)
    return storage
