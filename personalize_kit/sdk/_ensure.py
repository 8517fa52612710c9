"""What every ensure step shares: an answer in plan mode, create-or-adopt, and the replacement of failed resources.

- **Plan mode** (``Options(plan=True)``): a step makes only Describe and List calls and answers what it would
  do, as :class:`Outcome` with a verb of :data:`PLAN_VERBS` (``create``, ``adopt``, ``update``, ``replace``,
  ``conflict``, ``keep``); ``plan`` is the pipeline run in this mode, never a second copy of its decisions.
- **Races**: a create answered ``ResourceAlreadyExistsException`` means a run racing this one created the
  resource first: it is described and adopted.
- **Recovery**: a resource found ``CREATE FAILED`` (its process died, or any reason the service lets you
  retry) is deleted and made again where the kind can be deleted, or made again under the next attempt's
  name where it cannot (jobs: ``NAME``, ``NAME-2``, ``NAME-3`` ...); the failed one is reported in the
  outcome's ``replaced``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personalize_kit.exceptions import ResourceConflictError, ResourceFailedError, WaitTimeoutError
from personalize_kit.kinds import DELETING, FAILED, KINDS
from personalize_kit.sdk._wait import Progress, wait

logger = logging.getLogger(__name__)

#: What a step answers in plan mode, by what it would have done.
PLAN_VERBS = {"created": "create", "adopted": "adopt", "updated": "update", "replaced": "replace", "kept": "keep"}
#: Most attempts at a job of one name (``NAME``, ``NAME-2`` ... ``NAME-20``) before the run gives up.
MAX_ATTEMPTS = 20


@dataclass
class Outcome:
    """What a step did: ``created``, ``adopted`` (existed already), ``updated``, ``replaced`` (made again in
    place of a failed one) or ``kept`` (left as it was); in plan mode, what it would do (:data:`PLAN_VERBS`,
    or ``conflict``). ``replaced`` lists ``(arn, status, failureReason)`` of the failed resources replaced."""

    kind: str
    name: str
    arn: str
    action: str
    detail: str = ""
    description: dict[str, Any] = field(default_factory=dict, repr=False)
    replaced: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Options:
    """Waiting behaviour shared by the steps, and plan mode (Describe and List calls only)."""

    wait: bool = True
    timeout: float = 3 * 3600.0
    progress: Progress | None = None
    plan: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.timeout, (int, float)) or not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ValueError(f"timeout must be a finite number of seconds above 0, not {self.timeout!r}")


def describe(personalize: Any, kind: str, target: str) -> dict[str, Any] | None:
    """The resource's description, or ``None`` when there is no such resource."""
    k = KINDS[kind]
    try:
        return getattr(personalize, k.snake(k.describe))(**{k.arn_param: target})[k.noun]
    except personalize.exceptions.ResourceNotFoundException:
        return None


def settle(personalize: Any, kind: str, target: str, options: Options) -> dict[str, Any]:
    """Wait for the resource to be ACTIVE (when the options say to wait)."""
    return wait(personalize, kind, target, timeout=options.timeout, progress=options.progress) if options.wait else {}


def outcome(
    options: Options, kind: str, name: str, target: str, action: str, detail: str = "", body: dict | None = None
) -> Outcome:
    """An outcome in the mode of the run: ``created`` when applying, ``create`` when planning."""
    verb = PLAN_VERBS.get(action, action) if options.plan else action
    return Outcome(kind, name, target, verb, detail, body or {})


def adopt(
    personalize: Any, kind: str, name: str, target: str, found: dict, options: Options, detail: str = ""
) -> Outcome:
    """Take over an existing resource: waited for if it is still being made; failed is an error."""
    status = found.get("status", "ACTIVE")
    if status in FAILED:
        raise ResourceFailedError(target, status, found.get("failureReason"))
    if options.plan:
        return outcome(options, kind, name, target, "adopted", detail or "exists already", found)
    body = settle(personalize, kind, target, options) if status != "ACTIVE" else found
    return Outcome(kind, name, target, "adopted", detail or "exists already", body or found)


def create(
    personalize: Any,
    kind: str,
    name: str,
    target: str | None,
    call: Callable[[], str],
    options: Options,
    detail: str = "",
) -> Outcome:
    """``call()`` creates the resource and returns its ARN; when a racing run created it first
    (``ResourceAlreadyExistsException``), the one it made is adopted instead."""
    if options.plan:
        return outcome(options, kind, name, target or "", "created", detail)
    try:
        created = call()
    except personalize.exceptions.ResourceAlreadyExistsException:
        found = describe(personalize, kind, target) if target else None
        if found is None:
            raise
        logger.info("%s %s was created by another run: adopting it", kind, name)
        return adopt(personalize, kind, name, target, found, options, "created by a run racing this one")  # type: ignore[arg-type]
    return Outcome(kind, name, created, "created", detail, settle(personalize, kind, created, options))


def existing(
    personalize: Any, kind: str, target: str, options: Options
) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """The resource at ``target``; a failed one is deleted (so its name is free) and reported instead."""
    found = describe(personalize, kind, target)
    if found is not None and found.get("status") in FAILED:
        remove_failed(personalize, kind, target, found, options)
        return None, [failure(found, target)]
    return found, []


def with_replaced(result: Outcome, replaced: list[tuple[str, str, str]], options: Options) -> Outcome:
    """Mark an outcome that stands in for failed resources: ``replaced`` (plan: ``replace``), with the reasons."""
    if replaced:
        result.replaced = replaced
        result.action = "replace" if options.plan else "replaced"
        result.detail = "; ".join(d for d in (result.detail, replaced_detail(replaced)) if d)
    return result


def conflict(options: Options, kind: str, name: str, target: str, message: str, found: dict) -> Outcome:
    """A setting the service cannot change in place: an error, or in plan mode the answer ``conflict``."""
    if options.plan:
        return Outcome(kind, name, target, "conflict", message, found)
    raise ResourceConflictError(message)


def versions_of(personalize: Any, solution_arn: str) -> list[dict[str, Any]]:
    """Every version of the solution, newest first (all pages); none when the solution does not exist yet."""
    versions: list[dict[str, Any]] = []
    try:
        for page in personalize.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn):
            versions.extend(page["solutionVersions"])
    except personalize.exceptions.ResourceNotFoundException:
        return []
    return sorted(versions, key=lambda v: v["creationDateTime"], reverse=True)


def failure(found: dict[str, Any], target: str) -> tuple[str, str, str]:
    return target, found.get("status", ""), found.get("failureReason") or "the service gave no reason"


def replaced_detail(replaced: list[tuple[str, str, str]]) -> str:
    """``replaces X (CREATE FAILED: reason)`` for the outcome's detail."""
    return "; ".join(f"replaces {arn.rsplit('/', 1)[-1]} ({status}: {reason})" for arn, status, reason in replaced)


def remove_failed(personalize: Any, kind: str, target: str, found: dict[str, Any], options: Options) -> None:
    """Delete a failed resource of a deletable kind and wait until it is gone, so its name is free again."""
    k = KINDS[kind]
    if options.plan:
        return
    if found.get("status") not in DELETING:
        getattr(personalize, k.snake(k.delete))(**{k.arn_param: target})  # type: ignore[arg-type]
    started, delay = time.monotonic(), 0.1
    while describe(personalize, kind, target) is not None:
        elapsed = time.monotonic() - started
        if elapsed >= options.timeout:
            raise WaitTimeoutError(target, "DELETE PENDING", elapsed)
        time.sleep(delay)
        delay = min(delay * 1.6, 10.0)


def attempts(name: str) -> list[str]:
    """The names a job's attempts take: ``NAME``, then ``NAME-2`` ... (each at most 63 characters)."""
    return [name] + [f"{name[: 63 - len(str(n)) - 1]}-{n}" for n in range(2, MAX_ATTEMPTS + 1)]


def current_attempt(
    personalize: Any, kind: str, name: str, arn_of: Callable[[str], str]
) -> tuple[str, str, dict[str, Any] | None, list[tuple[str, str, str]]]:
    """The job attempt to use: the first of :func:`attempts` that did not fail (found or free), with the
    failed ones before it, as ``(name, arn, description or None, failures)``."""
    failures: list[tuple[str, str, str]] = []
    for attempt in attempts(name):
        target = arn_of(attempt)
        found = describe(personalize, kind, target)
        if found is None or found.get("status") not in FAILED:
            return attempt, target, found, failures
        failures.append(failure(found, target))
    raise ResourceFailedError(
        arn_of(name),
        "CREATE FAILED",
        f"{MAX_ATTEMPTS} attempts failed (last: {failures[-1][2]}); fix the cause, then clean up the dataset group",
    )
