"""A circuit breaker: stop calling a dependency that keeps failing, and probe it now and then."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls fail at once, until the cool-down has passed
    HALF_OPEN = "half-open"  # one probe call goes through; its result closes or reopens


class CircuitOpenError(Exception):
    """The dependency is failing; the call was not made."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"{name} is failing; calls resume in {retry_after:.1f}s at the latest")
        self.name = name
        self.retry_after = retry_after  # seconds


class CircuitBreaker:
    """Closed, then open after `failure_threshold` failures in a row, then one probe after `cooldown` seconds.

    State lives in the process and changes only between awaits, so an event loop needs no
    lock. Exceptions that ``is_failure`` rejects (a bug, a cancelled request) count neither
    way, but give up a probe's turn.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        cooldown: float,
        is_failure: Callable[[BaseException], bool] = lambda error: isinstance(error, Exception),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown  # seconds
        self.is_failure = is_failure
        self.clock = clock
        self.failures = 0  # in a row
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return State.CLOSED
        if self.clock() - self.opened_at < self.cooldown:
            return State.OPEN
        return State.HALF_OPEN

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Guard one call: raises CircuitOpenError instead of letting it through, records how it went."""
        self._admit()
        try:
            yield
        except BaseException as error:
            if self.is_failure(error):
                self._record_failure()
            else:
                self.probing = False
            raise
        self._record_success()

    def _admit(self) -> None:
        if self.opened_at is None:
            return
        waited = self.clock() - self.opened_at
        if waited >= self.cooldown and not self.probing:
            self.probing = True  # half-open: this call is the probe
            return
        raise CircuitOpenError(self.name, max(0.0, self.cooldown - waited))

    def _record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def _record_failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
        self.probing = False
