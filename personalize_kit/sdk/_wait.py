"""Wait for a Personalize resource to reach a final state: backoff, timeout, progress, typed failure.

The states are told apart by botocore waiter acceptors (JMESPath matchers over the Describe response);
polling backs off exponentially from ``first_delay`` to ``max_delay``, so the local mirror answers in
seconds while a real training, which takes an hour, is polled every half minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.waiter import SingleWaiterConfig

from personalize_kit.exceptions import ResourceFailedError, WaitTimeoutError

FAILED = ("CREATE FAILED", "CREATE STOPPED", "DELETE FAILED", "UPDATE FAILED")


@dataclass(frozen=True)
class Resource:
    """How to describe one kind of resource: the Describe operation, its ARN parameter and response key."""

    operation: str
    arn_param: str
    key: str
    success: tuple[str, ...] = ("ACTIVE",)

    def waiter(self) -> SingleWaiterConfig:
        acceptors = [
            {"matcher": "path", "argument": f"{self.key}.status", "expected": s, "state": "success"}
            for s in self.success
        ] + [{"matcher": "path", "argument": f"{self.key}.status", "expected": s, "state": "failure"} for s in FAILED]
        return SingleWaiterConfig({"operation": self.operation, "delay": 1, "maxAttempts": 1, "acceptors": acceptors})


RESOURCES = {
    "dataset_group": Resource("DescribeDatasetGroup", "datasetGroupArn", "datasetGroup"),
    "dataset": Resource("DescribeDataset", "datasetArn", "dataset"),
    "dataset_import_job": Resource("DescribeDatasetImportJob", "datasetImportJobArn", "datasetImportJob"),
    "solution": Resource("DescribeSolution", "solutionArn", "solution"),
    "solution_version": Resource("DescribeSolutionVersion", "solutionVersionArn", "solutionVersion"),
    "campaign": Resource("DescribeCampaign", "campaignArn", "campaign"),
    "event_tracker": Resource("DescribeEventTracker", "eventTrackerArn", "eventTracker"),
    "filter": Resource("DescribeFilter", "filterArn", "filter"),
    "batch_inference_job": Resource("DescribeBatchInferenceJob", "batchInferenceJobArn", "batchInferenceJob"),
}

Progress = Callable[[str, str, str], None]
"""Called as ``progress(kind, arn, status)`` after every poll (a display shows the changes, or a ticking bar)."""


def _snake(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


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
    """Poll until the resource is ACTIVE (returned as its description) or failed (ResourceFailedError).

    A campaign that is being updated counts as done once its ``latestCampaignUpdate`` is ACTIVE too.
    """
    resource = RESOURCES[kind]
    config = resource.waiter()
    describe = getattr(client, _snake(resource.operation))
    started, delay = clock(), first_delay
    while True:
        response = describe(**{resource.arn_param: arn})
        body = response[resource.key]
        status = body.get("status", "")
        update = body.get("latestCampaignUpdate") if kind == "campaign" else None
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
