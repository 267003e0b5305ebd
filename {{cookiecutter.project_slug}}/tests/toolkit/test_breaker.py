"""CircuitBreaker, on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from {{ cookiecutter.project_slug }}.toolkit.breaker import CircuitBreaker, CircuitOpenError, State


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> State:
    """The state as of now (a call, so the type checker does not carry it over from the line before)."""
    return breaker.state


def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(ConnectionError), breaker.attempt():
        raise ConnectionError


def succeed(breaker: CircuitBreaker) -> None:
    with breaker.attempt():
        pass


def test_breaker_opens_after_failures_in_a_row() -> None:
    breaker = CircuitBreaker("api", failure_threshold=3, cooldown=30, clock=Clock())
    fail(breaker)
    fail(breaker)
    succeed(breaker)  # a success resets the count
    fail(breaker)
    fail(breaker)
    assert state(breaker) is State.CLOSED
    fail(breaker)
    assert state(breaker) is State.OPEN
    with pytest.raises(CircuitOpenError) as refused:
        succeed(breaker)
    assert refused.value.retry_after == 30


def test_breaker_lets_one_probe_through_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=1, cooldown=30, clock=clock)
    fail(breaker)
    clock.now = 30
    assert state(breaker) is State.HALF_OPEN
    with breaker.attempt():
        with pytest.raises(CircuitOpenError):  # a second caller while the probe is out
            succeed(breaker)
    assert state(breaker) is State.CLOSED


def test_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("api", failure_threshold=5, cooldown=30, clock=clock)
    for _ in range(5):
        fail(breaker)
    clock.now = 31
    fail(breaker)  # the probe
    assert state(breaker) is State.OPEN
    clock.now = 60
    assert state(breaker) is State.OPEN
    clock.now = 61
    assert state(breaker) is State.HALF_OPEN


def test_errors_that_are_not_failures_count_neither_way() -> None:
    clock = Clock()
    breaker = CircuitBreaker(
        "api", failure_threshold=1, cooldown=30, clock=clock, is_failure=lambda e: isinstance(e, ConnectionError)
    )
    with pytest.raises(ValueError, match="bug"), breaker.attempt():
        raise ValueError("bug")
    assert state(breaker) is State.CLOSED
    fail(breaker)
    clock.now = 30
    with pytest.raises(asyncio.CancelledError), breaker.attempt():  # the probe's request was cancelled
        raise asyncio.CancelledError
    assert state(breaker) is State.HALF_OPEN
    succeed(breaker)  # the next caller may probe
    assert state(breaker) is State.CLOSED
