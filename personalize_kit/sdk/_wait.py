"""Wait for a Personalize resource to reach a final state: backoff, timeout, progress, typed failure.

The states are told apart by botocore waiter acceptors (JMESPath matchers over the Describe response);
polling backs off exponentially from ``first_delay`` to ``max_delay``, so the local mirror answers in
seconds while a real training, which takes an hour, is polled every half minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.waiter import SingleWaiterConfig

from personalize_kit.exceptions import ResourceFailedError, WaitTimeoutError
from personalize_kit.kinds import FAILED, KINDS, Kind


def waiter_config(kind: Kind) -> SingleWaiterConfig:
    """botocore waiter acceptors over the kind's Describe response: done (ACTIVE) succeeds, a failed state fails."""
    argument = f"{kind.noun}.status"
    acceptors = [{"matcher": "path", "argument": argument, "expected": kind.done, "state": "success"}] + [
        {"matcher": "path", "argument": argument, "expected": s, "state": "failure"} for s in FAILED
    ]
    return SingleWaiterConfig({"operation": kind.describe, "delay": 1, "maxAttempts": 1, "acceptors": acceptors})


Progress = Callable[[str, str, str], None]
"""Called as ``progress(kind, arn, status)`` after every poll (a display shows the changes, or a ticking bar)."""


def wait(
    client: Any,
    kind: str,
    arn: str,
    *,
    timeout: float = 3600.0,
    first_delay: float = 0.2,
    max_delay: float = 30.0,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the resource is done, ACTIVE (returned as its description), or failed (ResourceFailedError).

    A campaign that is being updated counts as done once its ``latestCampaignUpdate`` is ACTIVE too.
    """
    resource = KINDS[kind]
    config = waiter_config(resource)
    describe = getattr(client, resource.snake(resource.describe))
    started, delay = clock(), first_delay
    while True:
        response = describe(**{resource.arn_param: arn})
        body = response[resource.noun]
        status = body.get("status", "")
        update = body.get(resource.update_member) if resource.update_member else None
        shown = f"{status} (update {update['status']})" if update and update.get("status") != "ACTIVE" else status
        if progress is not None:
            progress(kind, arn, shown)
        verdict = next((a.state for a in config.acceptors if a.matcher_func(response)), None)
        if update is not None and update.get("status") in FAILED:
            raise ResourceFailedError(arn, f"update {update['status']}", update.get("failureReason"))
        if verdict == "failure":
            raise ResourceFailedError(arn, status, body.get("failureReason"))
        if verdict == "success" and (update is None or update.get("status") in (None, "ACTIVE")):
            return body
        elapsed = clock() - started
        if elapsed >= timeout:
            raise WaitTimeoutError(arn, shown, elapsed)
        sleep(min(delay, max(timeout - elapsed, 0.0)))
        delay = min(delay * 1.6, max_delay)
