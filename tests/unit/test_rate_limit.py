from __future__ import annotations

from bot.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_minute_window_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") is None  # other keys are not affected
    clock.now += 45
    assert limiter.retry_after("a") == 15
    clock.now += 15
    assert limiter.retry_after("a") is None


def test_keys_idle_for_a_minute_are_forgotten() -> None:
    # A gateway sees thousands of conversations an hour: each one's window must not stay in
    # memory once the minute it counts has passed.
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    for number in range(1000):
        limiter.retry_after(f"conversation-{number}")
    assert len(limiter) == 1000
    clock.now += 30
    limiter.retry_after("still-talking")
    clock.now += 31  # the first thousand have been quiet for over a minute
    limiter.retry_after("still-talking")
    assert len(limiter) == 1
    assert [limiter.retry_after("still-talking") for _ in range(2)] == [None, 60 - 31]
