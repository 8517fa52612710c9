"""Delete everything in a dataset group, in dependency order, and wait until each resource is gone.

Order: campaigns and recommenders; batch inference jobs are kept (the service has no delete: they stay as history);
filters; the event tracker; solutions (with their versions; a training still running is stopped first);
datasets (with their import jobs); the dataset group; then the schemas its datasets used, unless a dataset
of another group uses them too. Deletions go ``DELETE PENDING`` (-> ``DELETE IN_PROGRESS``) on the service
and then the resource disappears: each is polled until Describe answers ResourceNotFoundException.

A dry run (the default) only lists what would happen. A cleanup that was interrupted finishes when run
again: resources already ``DELETE PENDING`` are waited for, not deleted twice.

>>> from personalize_kit.sdk.cleanup import cleanup
>>> for kind, arn, action in cleanup("movielens", session=session):     # doctest: +SKIP
...     print(kind, action)
campaign would delete
...
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import boto3

from personalize_kit.exceptions import ResourceFailedError, WaitTimeoutError
from personalize_kit.kinds import (
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPING,
    DELETE_FAILED,
    DELETING,
    KINDS,
    UPDATE_IN_PROGRESS,
    UPDATE_PENDING,
)
from personalize_kit.sdk._clients import client
from personalize_kit.sdk.resources import arn as resource_arn
from personalize_kit.sdk.status import list_kind

Say = Callable[[str], None]

#: States in which the service refuses a delete: the resource is waited for first.
BUSY = (CREATE_PENDING, CREATE_IN_PROGRESS, UPDATE_PENDING, UPDATE_IN_PROGRESS)
TRAINING = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING)
#: Schema names the pipeline gives a group's datasets: still cleaned up when the group itself is gone.
PIPELINE_SCHEMAS = ("{}-interactions", "{}-items", "{}-users")


class Poller:
    """Describe a resource until a condition holds, backing off from ``first_delay`` to ``max_delay``."""

    def __init__(self, personalize: Any, timeout: float, sleep: Callable[[float], None]) -> None:
        self.personalize, self.timeout, self.sleep = personalize, timeout, sleep

    def describe(self, kind: str, target: str) -> dict[str, Any] | None:
        found = KINDS[kind]
        try:
            return getattr(self.personalize, found.snake(found.describe))(**{found.arn_param: target})[found.noun]
        except self.personalize.exceptions.ResourceNotFoundException:
            return None

    def until(self, kind: str, target: str, done: Callable[[dict[str, Any] | None], bool]) -> dict[str, Any] | None:
        started, delay = time.monotonic(), 0.2
        while True:
            found = self.describe(kind, target)
            if done(found):
                return found
            status = (found or {}).get("status", "")
            if status == DELETE_FAILED:
                raise ResourceFailedError(target, status, (found or {}).get("failureReason"))
            elapsed = time.monotonic() - started
            if elapsed >= self.timeout:
                raise WaitTimeoutError(target, status, elapsed)
            self.sleep(delay)
            delay = min(delay * 1.6, 30.0)


def _not_busy(found: dict[str, Any] | None) -> bool:
    if found is None:
        return True
    update = (found.get("latestCampaignUpdate") or {}).get("status")
    return found.get("status") not in BUSY and update not in BUSY


def _stop_training(personalize: Any, poller: Poller, solution_arn: str, say: Say | None) -> None:
    """Stop the solution's versions still training and wait until they are CREATE STOPPED (or finished)."""
    versions = list_kind(personalize, "solution_version", solutionArn=solution_arn)
    for version in versions:
        if version.get("status") in (CREATE_PENDING, CREATE_IN_PROGRESS):
            if say is not None:
                say(f"stopping  solution version {version['solutionVersionArn'].rsplit('/', 1)[-1]}")
            personalize.stop_solution_version_creation(solutionVersionArn=version["solutionVersionArn"])
    for version in versions:
        poller.until(
            "solution_version",
            version["solutionVersionArn"],
            lambda found: found is None or found.get("status") not in TRAINING,
        )


def _schemas_in_use_elsewhere(personalize: Any, group_arn: str) -> dict[str, str]:
    """Schema ARN -> a dataset of another dataset group that uses it."""
    used: dict[str, str] = {}
    for dataset in list_kind(personalize, "dataset"):
        if dataset["datasetArn"].startswith(group_arn.replace(":dataset-group/", ":dataset/") + "/"):
            continue
        try:
            detail = personalize.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]
        except personalize.exceptions.ResourceNotFoundException:
            continue
        used.setdefault(detail["schemaArn"], dataset["datasetArn"])
    return used


def plan_cleanup(dataset_group_name: str, *, session: boto3.Session | None = None) -> list[tuple[str, str, str]]:
    """What :func:`cleanup` would do, in order, as ``(kind, arn, action)``; ``action`` is ``delete``,
    ``wait`` (being deleted already), ``stop training, then delete`` or ``keep: <why>``. Describe and List
    calls only.

    >>> plan_cleanup("movielens", session=session)[0]                      # doctest: +SKIP
    ('campaign', 'arn:aws:personalize:us-east-1:123456789012:campaign/movielens-user-personalization', 'delete')
    """
    personalize = client("personalize", session)
    group_arn = resource_arn("dataset-group", dataset_group_name, session=session)
    poller = Poller(personalize, 0, time.sleep)
    group = poller.describe("dataset_group", group_arn)
    rows: list[tuple[str, str, str]] = []

    def add(kind: str, target: str, status: str | None) -> None:
        rows.append((kind, target, "wait" if status in DELETING else "delete"))

    schemas: list[str] = []
    if group is not None:
        solutions = list_kind(personalize, "solution", datasetGroupArn=group_arn)
        versions = {
            s["solutionArn"]: list_kind(personalize, "solution_version", solutionArn=s["solutionArn"])
            for s in solutions
        }
        for solution in solutions:
            for campaign in list_kind(personalize, "campaign", solutionArn=solution["solutionArn"]):
                add("campaign", campaign["campaignArn"], campaign.get("status"))
        for recommender in list_kind(personalize, "recommender", datasetGroupArn=group_arn):
            add("recommender", recommender["recommenderArn"], recommender.get("status"))
        for solution in solutions:
            for version in versions[solution["solutionArn"]]:
                for job in list_kind(
                    personalize,
                    "batch_inference_job",
                    solutionVersionArn=version["solutionVersionArn"],
                ):
                    rows.append(("batch_inference_job", job["batchInferenceJobArn"], "keep: jobs stay as history"))
        for flt in list_kind(personalize, "filter", datasetGroupArn=group_arn):
            add("filter", flt["filterArn"], flt.get("status"))
        for tracker in list_kind(personalize, "event_tracker", datasetGroupArn=group_arn):
            add("event_tracker", tracker["eventTrackerArn"], tracker.get("status"))
        for found in list_kind(personalize, "metric_attribution", datasetGroupArn=group_arn):
            add("metric_attribution", found["metricAttributionArn"], found.get("status"))
        for solution in solutions:
            training = [v for v in versions[solution["solutionArn"]] if v.get("status") in TRAINING]
            if training and solution.get("status") not in DELETING:
                rows.append(("solution", solution["solutionArn"], "stop training, then delete"))
            else:
                add("solution", solution["solutionArn"], solution.get("status"))
        for dataset in list_kind(personalize, "dataset", datasetGroupArn=group_arn):
            detail = personalize.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]
            if detail.get("schemaArn") and detail["schemaArn"] not in schemas:
                schemas.append(detail["schemaArn"])
            add("dataset", dataset["datasetArn"], dataset.get("status"))
        add("dataset_group", group_arn, group.get("status"))
    for pattern in PIPELINE_SCHEMAS:
        target = resource_arn("schema", pattern.format(dataset_group_name), session=session)
        if target not in schemas and poller.describe("schema", target) is not None:
            schemas.append(target)
    elsewhere = _schemas_in_use_elsewhere(personalize, group_arn) if schemas else {}
    for target in schemas:
        if target in elsewhere:
            rows.append(("schema", target, f"keep: used by {elsewhere[target]}"))
        else:
            rows.append(("schema", target, "delete"))
    return rows


def cleanup(
    dataset_group_name: str,
    *,
    session: boto3.Session | None = None,
    dry_run: bool = True,
    say: Say | None = None,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[tuple[str, str, str]]:
    """Delete everything in the dataset group, in dependency order (see the module docstring).

    Returns ``(kind, arn, action)`` rows: with ``dry_run`` (the default) the plan, where ``action`` is
    ``delete``, ``wait``, ``stop training, then delete`` or ``keep: <why>``; otherwise what was done:
    ``deleted`` or ``keep: <why>``. ``say`` is told each step as it happens.

    >>> cleanup("movielens", session=session, dry_run=False)[-1]           # doctest: +SKIP
    ('schema', 'arn:aws:personalize:us-east-1:123456789012:schema/movielens-users', 'deleted')
    """
    rows = plan_cleanup(dataset_group_name, session=session)
    if dry_run:
        return rows
    personalize = client("personalize", session)
    poller = Poller(personalize, timeout, sleep)
    done: list[tuple[str, str, str]] = []
    for kind, target, action in rows:
        if action.startswith("keep"):
            done.append((kind, target, action))
            continue
        if action.startswith("stop"):
            _stop_training(personalize, poller, target, say)
        if kind != "schema" and action != "wait":
            found = poller.until(kind, target, _not_busy)
            if found is not None and found.get("status") not in DELETING:
                found_kind = KINDS[kind]
                assert found_kind.delete is not None, kind
                getattr(personalize, found_kind.snake(found_kind.delete))(**{found_kind.arn_param: target})
        if kind == "schema":
            with contextlib.suppress(personalize.exceptions.ResourceNotFoundException):
                personalize.delete_schema(schemaArn=target)
        poller.until(kind, target, lambda found: found is None)
        if say is not None:
            say(f" deleted  {kind.replace('_', ' '):<18} {target.split('/', 1)[-1]}")
        done.append((kind, target, "deleted"))
    return done
