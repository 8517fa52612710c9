"""The mirror's backend: resources keyed by ARN, stored in the state directory.

Every resource is a record ``{"kind", "arn", "attrs", "tags", "internal"}`` in ``state.json``: ``attrs`` holds the
API's camelCase fields (timestamps as epoch seconds) exactly as a Describe call returns them, ``internal``
what only the mirror needs (training owner, heartbeat ...). :class:`PersonalizeBackend` gives the control
plane, runtime and events modules one place to find, add, list and page through resources.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from personalize_kit.local.exceptions import (
    InvalidNextTokenException,
    ResourceNotFoundException,
    TooManyTagsException,
)
from personalize_kit.local.state import StateStore

#: The account of every ARN the mirror makes (moto's default account, so S3 and STS agree).
ACCOUNT_ID = "123456789012"

#: ARN resource type of each kind of resource.
ARN_TYPES = {
    "schema": "schema",
    "dataset_group": "dataset-group",
    "dataset": "dataset",
    "dataset_import_job": "dataset-import-job",
    "dataset_export_job": "dataset-export-job",
    "solution": "solution",
    "solution_version": "solution",
    "campaign": "campaign",
    "event_tracker": "event-tracker",
    "filter": "filter",
    "batch_inference_job": "batch-inference-job",
}

#: Resource states that mean "still being created".
IN_PROGRESS_STATES = ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING", "PENDING", "IN PROGRESS")

MAX_TAGS = 200


def now() -> float:
    """The current time in epoch seconds (how the state stores timestamps)."""
    return time.time()


class PersonalizeBackend:
    """The resources of one state directory as seen from one region.

    >>> backend = PersonalizeBackend(StateStore("/tmp/doctest-backend"), "us-east-1")
    >>> backend.arn("schema", "ratings")
    'arn:aws:personalize:us-east-1:123456789012:schema/ratings'
    """

    def __init__(
        self,
        store: StateStore,
        region: str,
        *,
        training_seconds: float = 0.0,
        create_seconds: float = 0.0,
        models: dict[str, Any] | None = None,
        recipe_options: dict[str, dict[str, Any]] | None = None,
        event_logs: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.region = region
        #: Minimum seconds a training lasts (see ``mock_personalize(training_seconds=...)``).
        self.training_seconds = training_seconds
        #: Seconds a dataset group, dataset, solution, campaign, event tracker or filter stays CREATE PENDING.
        self.create_seconds = create_seconds
        #: Trained models loaded by this process, keyed by solution version ARN.
        self.models: dict[str, Any] = {} if models is None else models
        #: Recorded events by dataset group, read incrementally by this process (``store.EventLog``).
        self.event_logs: dict[str, Any] = {} if event_logs is None else event_logs
        #: Keyword arguments of each recipe class (by recipe name), e.g. ``{"aws-sims": {...}}``.
        self.recipe_options: dict[str, dict[str, Any]] = dict(recipe_options or {})
        #: Hooks run on every read of the state (see :mod:`personalize_kit.local.training`).
        self.reconcilers: list[Callable[[PersonalizeBackend, dict[str, Any]], bool]] = []

    # ---------------------------------------------------------------- ARNs

    def arn(self, kind: str, *path: str) -> str:
        return f"arn:aws:personalize:{self.region}:{ACCOUNT_ID}:{ARN_TYPES[kind]}/" + "/".join(path)

    def in_region(self, arn: str) -> bool:
        return arn.split(":")[3:4] == [self.region]

    # ---------------------------------------------------------------- state access

    def state(self) -> dict[str, Any]:
        """Read the state, first settling resources whose owner process has gone."""
        state = self.store.read()
        if any(reconcile(self, state) for reconcile in self.reconcilers):
            with self.store.transaction() as fresh:
                for reconcile in self.reconcilers:
                    reconcile(self, fresh)
                state = fresh
        return state

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock the state directory and yield the state to change; it is saved when the block ends."""
        with self.store.transaction() as state:
            for reconcile in self.reconcilers:
                reconcile(self, state)
            yield state

    @staticmethod
    def find(state: dict[str, Any], arn: str, kind: str, *, status: int | None = None) -> dict[str, Any]:
        """The record of ``arn`` of the given kind, or :class:`ResourceNotFoundException`."""
        record = state["resources"].get(arn)
        if record is None or record["kind"] != kind:
            raise ResourceNotFoundException.for_arn(arn, **({"status": status} if status else {}))
        return record

    def get(self, arn: str, kind: str) -> dict[str, Any]:
        return self.find(self.state(), arn, kind)

    @staticmethod
    def records(state: dict[str, Any], kind: str, **where: Any) -> list[dict[str, Any]]:
        """Records of ``kind`` whose attrs equal every ``where`` value, oldest first."""
        found = [
            record
            for record in state["resources"].values()
            if record["kind"] == kind and all(record["attrs"].get(k) == v for k, v in where.items())
        ]
        return sorted(found, key=lambda r: (r["attrs"].get("creationDateTime", 0), json.dumps(r["attrs"])))

    def add(
        self, state: dict[str, Any], arn: str, kind: str, attrs: dict[str, Any], tags: list | None = None
    ) -> dict[str, Any]:
        """Add a resource; one created ``ACTIVE`` starts ``CREATE PENDING`` when ``create_seconds`` > 0."""
        if tags is not None and len(tags) > MAX_TAGS:
            raise TooManyTagsException(f"Tags must not exceed {MAX_TAGS}: {len(tags)} were given.")
        stamp = now()
        attrs.setdefault("creationDateTime", stamp)
        attrs.setdefault("lastUpdatedDateTime", stamp)
        record: dict[str, Any] = {"kind": kind, "arn": arn, "attrs": attrs, "tags": list(tags or []), "internal": {}}
        if attrs.get("status") == "ACTIVE" and self.create_seconds > 0:
            attrs["status"] = "CREATE PENDING"
            record["internal"]["activeAt"] = stamp + self.create_seconds
        state["resources"][arn] = record
        return record

    @staticmethod
    def update(record: dict[str, Any], **attrs: Any) -> None:
        for key, value in attrs.items():
            if value is None:
                record["attrs"].pop(key, None)
            else:
                record["attrs"][key] = value
        record["attrs"]["lastUpdatedDateTime"] = now()


def paginate(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of ``items`` under ``key``, with ``nextToken`` when more remain (``maxResults`` default 100).

    >>> page = paginate([{"a": 1}, {"a": 2}, {"a": 3}], {"maxResults": 2}, "things")
    >>> page["things"], paginate([{"a": 1}, {"a": 2}, {"a": 3}], {"nextToken": page["nextToken"]}, "things")
    ([{'a': 1}, {'a': 2}], {'things': [{'a': 3}]})
    """
    size = int(params.get("maxResults") or 100)
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
            start = int(decoded["offset"])
            if decoded.get("key") != key or start < 0:
                raise ValueError(token)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidNextTokenException("The nextToken is not valid.") from exc
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        raw = json.dumps({"offset": start + size, "key": key}).encode()
        page["nextToken"] = base64.urlsafe_b64encode(raw).decode()
    return page


def settle(backend: PersonalizeBackend, state: dict[str, Any]) -> bool:
    """Make ``CREATE PENDING`` resources whose time has come ``ACTIVE``; return whether any changed."""
    changed = False
    for record in state["resources"].values():
        due = record["internal"].get("activeAt")
        if due is not None and record["attrs"].get("status") == "CREATE PENDING" and now() >= due:
            record["attrs"]["status"] = "ACTIVE"
            record["attrs"]["lastUpdatedDateTime"] = due
            del record["internal"]["activeAt"]
            changed = True
    return changed


#: Jobs run by the process that created them (while it answers the request).
JOB_KINDS = ("dataset_import_job", "dataset_export_job", "batch_inference_job")
JOB_KILLED_REASON = "the process running the job ended before the job finished"


def claim_job(record: dict[str, Any]) -> None:
    """Mark a job record as run by this process."""
    record["internal"]["ownerPid"] = os.getpid()


def reap_jobs(backend: PersonalizeBackend, state: dict[str, Any]) -> bool:
    """Fail jobs left in progress by a process that has ended; return whether any changed."""
    changed = False
    for record in state["resources"].values():
        if record["kind"] not in JOB_KINDS or record["attrs"].get("status") not in IN_PROGRESS_STATES:
            continue
        pid = record["internal"].get("ownerPid")
        if pid is None or not pid_alive(int(pid)):
            record["attrs"]["status"] = "CREATE FAILED"
            record["attrs"]["failureReason"] = JOB_KILLED_REASON
            record["attrs"]["lastUpdatedDateTime"] = now()
            changed = True
    return changed


#: An operation of the mirror: the backend and the request's parameters in, the response dict out.
Operation = Callable[["PersonalizeBackend", dict[str, Any]], dict[str, Any]]


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
