"""Waiting: botocore acceptors decide the state; backoff, timeout and progress are ours."""

from __future__ import annotations

import pytest

from personalize_kit.exceptions import ResourceFailedError, WaitTimeoutError
from personalize_kit.sdk._wait import wait


class FakeClient:
    def __init__(self, statuses, key="solutionVersion", extra=None):
        self.statuses, self.key, self.extra, self.calls = list(statuses), key, extra or {}, 0

    def describe_solution_version(self, solutionVersionArn):  # noqa: N803 - the API's name
        self.calls += 1
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {self.key: {"status": status, **self.extra}}

    describe_campaign = None


class Clock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_with_growing_delays_and_reports_every_poll():
    clock, seen = Clock(), []
    fake = FakeClient(["CREATE PENDING", "CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "ACTIVE"])
    body = wait(
        fake,
        "solution_version",
        "arn:sv",
        sleep=clock.sleep,
        clock=lambda: clock.now,
        progress=lambda kind, arn, status: seen.append(status),
    )
    assert body["status"] == "ACTIVE"
    assert seen == ["CREATE PENDING", "CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "ACTIVE"]
    assert clock.sleeps == pytest.approx([0.2, 0.32, 0.512, 0.8192])


def test_failure_carries_the_service_reason():
    fake = FakeClient(["CREATE FAILED"], extra={"failureReason": "Dataset has fewer than 25 users"})
    with pytest.raises(ResourceFailedError) as err:
        wait(fake, "solution_version", "arn:sv", sleep=lambda s: None)
    assert err.value.failure_reason == "Dataset has fewer than 25 users"
    assert str(err.value) == "arn:sv ended CREATE FAILED: Dataset has fewer than 25 users"


def test_timeout_says_it_may_still_finish():
    clock = Clock()
    with pytest.raises(WaitTimeoutError, match="still CREATE IN_PROGRESS after 10s"):
        wait(
            FakeClient(["CREATE IN_PROGRESS"]),
            "solution_version",
            "arn:sv",
            timeout=10,
            max_delay=3,
            sleep=clock.sleep,
            clock=lambda: clock.now,
        )
    assert max(clock.sleeps) == 3 and sum(clock.sleeps) == pytest.approx(10)
