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
