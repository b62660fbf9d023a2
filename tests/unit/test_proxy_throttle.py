"""Failed-login throttling: per address and endpoint, per endpoint, over a sliding window."""

from __future__ import annotations

from lampion.proxy.throttle import Throttle


def test_an_address_is_refused_over_its_limit_until_the_window_passes() -> None:
    now = [0.0]
    throttle = Throttle(per_address=2, per_endpoint=100, window=60, clock=lambda: now[0])
    throttle.failed("10.0.0.1", "ep-a")
    assert throttle.refusal("10.0.0.1", "ep-a") is None
    throttle.failed("10.0.0.1", "ep-a")
    assert "try again in 60 s" in (throttle.refusal("10.0.0.1", "ep-a") or "")
    assert throttle.refusal("10.0.0.2", "ep-a") is None
    assert throttle.refusal("10.0.0.1", "ep-b") is None
    now[0] = 60.5
    assert throttle.refusal("10.0.0.1", "ep-a") is None


def test_over_the_endpoint_limit_only_addresses_that_failed_are_refused() -> None:
    now = [0.0]
    throttle = Throttle(per_address=10, per_endpoint=3, window=60, clock=lambda: now[0])
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        throttle.failed(address, "ep-a")
    assert throttle.refusal("10.0.0.1", "ep-a") is not None
    assert throttle.refusal("10.0.0.9", "ep-a") is None  # never failed: a real user gets in
