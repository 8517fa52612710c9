"""How resources in flight move on: the mirror's pace, due times settled when read, dead owners.

The service answers a Create at once and the resource becomes usable minutes later; the mirror does the
same at a :class:`Pace` (``instant``, ``fast`` the default, ``realistic``). A resource in flight carries its
next steps with their due times (``internal["steps"]``: ``[status, due]`` pairs); whenever resources are
read (an index read of the few rows in flight), every step whose time has come is taken, so any process
reading the state moves it on:

- a new resource: CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE;
- a deleted one: DELETE PENDING -> DELETE IN_PROGRESS -> gone (its kind's finalizer removes what goes
  with it: a dataset group's data, a solution's versions ...);
- an update (``latestCampaignUpdate``): UPDATE PENDING -> UPDATE IN_PROGRESS -> ACTIVE, the new values
  applied only then (``internal["update"]``);
- a job (import, export, batch inference) runs in a thread of the process that created it
  (:func:`run_job`), which records its outcome as a final step due once the job has lasted the pace's time.

A job or a training whose owner process has ended, or whose training stopped beating, ends CREATE FAILED
with a reason (a stopped training ends CREATE STOPPED), so a killed process never leaves a resource in
progress forever.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from personalize_kit.kinds import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    CREATING,
    DELETE_IN_PROGRESS,
    DELETE_PENDING,
    DELETING,
    IN_FLIGHT,
    UPDATE_FAILED,
    UPDATE_IN_PROGRESS,
    UPDATE_PENDING,
)
from personalize_kit.local import cpus
from personalize_kit.local.exceptions import ResourceInUseException
from personalize_kit.local.resources import Resource, Resources, now

if TYPE_CHECKING:
    from personalize_kit.local.backend import PersonalizeBackend

logger = logging.getLogger(__name__)

#: Jobs run by the process that created them (a recommender's first training is one).
JOB_KINDS = ("dataset_import_job", "dataset_export_job", "batch_inference_job", "data_deletion_job", "recommender")
JOB_KILLED_REASON = "the process running the job ended before the job finished"
KILLED_REASON = "training process ended before training finished"
TRAINING = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING)
HEARTBEAT_SECONDS = 5.0
#: A training whose heartbeat is older than this is abandoned even if its process is alive.
STALE_SECONDS = 120.0
#: The step that removes a deleted resource.
GONE = "GONE"
#: Environment variable naming the pace (``instant``, ``fast``, ``realistic``).
PACE_ENV = "PERSONALIZE_KIT_PACE"


@dataclass(frozen=True)
class Pace:
    """How long each state lasts, in seconds (the service's minutes, scaled down)."""

    name: str
    #: CREATE PENDING of a resource or a job, UPDATE PENDING of an update.
    pending: float
    #: CREATE IN_PROGRESS of a resource (dataset group, dataset, solution, campaign, tracker, filter).
    creating: float
    #: Least time a job (import, export, batch inference) is in progress.
    job: float
    #: DELETE PENDING plus DELETE IN_PROGRESS.
    deleting: float
    #: UPDATE IN_PROGRESS of an update.
    updating: float
    #: Least time a training takes (``training_seconds`` overrides it).
    training: float


INSTANT = Pace("instant", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
FAST = Pace("fast", 0.5, 0.5, 1.0, 1.0, 1.0, 0.0)
REALISTIC = Pace("realistic", 3.0, 12.0, 20.0, 8.0, 10.0, 30.0)
PACES = {pace.name: pace for pace in (INSTANT, FAST, REALISTIC)}
DEFAULT_PACE = FAST


def resolve_pace(pace: str | Pace | None, create_seconds: float | None = None) -> Pace:
    """The pace named (else ``$PERSONALIZE_KIT_PACE``, else ``fast``); ``create_seconds`` is a pace of its own.

    ``create_seconds`` alone keeps new resources CREATE PENDING that long with everything else instant
    (the mirror's first way to show the states); with a pace, it replaces the pace's pending time.

    >>> resolve_pace("realistic").creating, resolve_pace(None, 2.0).name, resolve_pace(None, 2.0).pending
    (12.0, 'create_seconds=2.0', 2.0)
    """
    if isinstance(pace, Pace):
        chosen = pace
    elif pace is None and create_seconds is not None and not os.environ.get(PACE_ENV):
        return replace(INSTANT, name=f"create_seconds={create_seconds}", pending=float(create_seconds))
    else:
        name = (pace or os.environ.get(PACE_ENV) or DEFAULT_PACE.name).strip().lower()
        if name not in PACES:
            raise ValueError(f"Unknown pace {name!r}: use one of {', '.join(PACES)} (argument or ${PACE_ENV}).")
        chosen = PACES[name]
    return chosen if create_seconds is None else replace(chosen, pending=float(create_seconds))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(resource: Resource) -> None:
    """Mark a job or training as run by this process."""
    resource.internal.update({"ownerPid": os.getpid(), "heartbeat": now()})


def _owner_gone(resource: Resource) -> bool:
    pid = resource.internal.get("ownerPid")
    return pid is None or not pid_alive(int(pid))


# ----------------------------------------------------------------------------- steps


def _timeline(start: float, steps: list[tuple[str, float]]) -> list[list]:
    """``[status, due]`` pairs from ``(status, seconds after the previous step)``."""
    out, due = [], start
    for status, seconds in steps:
        due += max(0.0, seconds)
        out.append([status, due])
    return out


def schedule(resource: Resource, first: str, steps: list[tuple[str, float]], start: float | None = None) -> None:
    """Put ``resource`` in status ``first``, then through ``steps`` as their times come."""
    resource.attrs["status"] = first
    resource.internal["steps"] = _timeline(now() if start is None else start, steps)


def start_create(resource: Resource, pace: Pace) -> None:
    """A new resource: CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE at the pace (ACTIVE at once if instant)."""
    if pace.pending <= 0 and pace.creating <= 0:
        resource.attrs["status"] = ACTIVE
        return
    steps = (
        [(CREATE_IN_PROGRESS, pace.pending), (ACTIVE, pace.creating)] if pace.creating > 0 else [(ACTIVE, pace.pending)]
    )
    schedule(resource, CREATE_PENDING, steps, resource.attrs["creationDateTime"])


#: What goes when a resource of a kind is gone: ``finalizer(backend, resources, resource)``.
FINALIZERS: dict[str, Callable[[PersonalizeBackend, Resources, Resource], None]] = {}


def check_deletable(resource: Resource) -> None:
    """Refuse to delete a resource still being created, updated or already being deleted, as the service does."""
    update = _update_member(resource)
    if resource.status in CREATING or resource.status in DELETING or update in (UPDATE_PENDING, UPDATE_IN_PROGRESS):
        state = update if update in (UPDATE_PENDING, UPDATE_IN_PROGRESS) else resource.status
        raise ResourceInUseException(
            f"The resource {resource.arn} is in {state} state: it can be deleted once it is ACTIVE or failed."
        )


def start_delete(backend: PersonalizeBackend, resources: Resources, resource: Resource) -> None:
    """DELETE PENDING -> DELETE IN_PROGRESS -> gone at the pace (gone at once if instant)."""
    check_deletable(resource)
    seconds = backend.settings.pace.deleting
    if seconds <= 0:
        _finalize(backend, resources, resource)
        return
    resource.internal.pop("steps", None)
    schedule(resource, DELETE_PENDING, [(DELETE_IN_PROGRESS, seconds / 2), (GONE, seconds / 2)])
    resource.attrs["lastUpdatedDateTime"] = now()


def _finalize(backend: PersonalizeBackend, resources: Resources, resource: Resource) -> None:
    finalizer = FINALIZERS.get(resource.kind.name)
    if finalizer is not None:
        finalizer(backend, resources, resource)
    resources.delete(resource.arn)


def _update_member(resource: Resource) -> str | None:
    member = resource.kind.update_member
    return (resource.attrs.get(member) or {}).get("status") if member else None


def start_update(resource: Resource, pace: Pace, summary: dict, apply: dict) -> None:
    """An update: ``summary`` (the ``latest...Update`` member) UPDATE PENDING -> UPDATE IN_PROGRESS -> ACTIVE,
    then ``apply`` set on the resource (which keeps serving its old values until then)."""
    member = resource.kind.update_member
    assert member is not None
    stamp = now()
    summary = {**summary, "creationDateTime": stamp, "lastUpdatedDateTime": stamp}
    if pace.pending <= 0 and pace.updating <= 0:
        resource.update(**apply)
        resource.attrs[member] = {**summary, "status": ACTIVE}
        return
    resource.attrs[member] = {**summary, "status": UPDATE_PENDING}
    resource.internal["update"] = {
        "steps": _timeline(stamp, [(UPDATE_IN_PROGRESS, pace.pending), (ACTIVE, pace.updating)]),
        "apply": apply,
    }


def update_in_flight(resource: Resource) -> bool:
    return _update_member(resource) in (UPDATE_PENDING, UPDATE_IN_PROGRESS)


def _take_update_steps(resource: Resource, moment: float) -> bool:
    update = resource.internal.get("update")
    member = resource.kind.update_member
    if not update or member is None:
        return False
    changed = False
    while update["steps"] and update["steps"][0][1] <= moment:
        status, due = update["steps"].pop(0)
        summary = resource.attrs[member]
        summary.update(status=status, lastUpdatedDateTime=due)
        if status in (ACTIVE, UPDATE_FAILED):
            if status == ACTIVE:
                resource.attrs.update(update["apply"])
            resource.attrs["lastUpdatedDateTime"] = due
            del resource.internal["update"]
            return True
        changed = True
    return changed


def _take_steps(
    backend: PersonalizeBackend, resources: Resources, resource: Resource, moment: float, dry: bool
) -> bool:
    steps = resource.internal.get("steps")
    changed = False
    while steps and steps[0][1] <= moment:
        status, due = steps.pop(0)
        if status == GONE:
            if not dry:
                _finalize(backend, resources, resource)
            return True
        resource.attrs["status"] = status
        resource.attrs["lastUpdatedDateTime"] = due
        changed = True
    if steps == []:
        del resource.internal["steps"]
    return changed


def _reap(resource: Resource) -> bool:
    if resource.kind.name == "solution_version":
        if resource.status not in TRAINING:
            return False
        stale = now() - float(resource.internal.get("heartbeat", 0)) > STALE_SECONDS
        if not (_owner_gone(resource) or stale):
            return False
        if resource.status == CREATE_STOPPING:
            resource.update(status=CREATE_STOPPED)
        else:
            resource.update(status=CREATE_FAILED, failureReason=KILLED_REASON)
        return True
    if (
        resource.kind.name in JOB_KINDS
        and resource.status in CREATING
        and "steps" not in resource.internal
        and _owner_gone(resource)
    ):
        resource.update(status=resource.kind.statuses[3], failureReason=JOB_KILLED_REASON)
        return True
    return False


@dataclass(frozen=True)
class Timer:
    """Work the mirror starts when its clock reaches a time recorded on a resource (an automatic training)."""

    #: One value: the earliest due time over all resources (NULL when nothing is ever due); read once per
    #: generation of the resources table on the read path, so a read when nothing is due costs no query.
    earliest_sql: str
    #: Start what is due at ``moment``, inside the write transaction; it must move every due time it saw
    #: past ``moment`` (done, skipped or postponed), else every read would open a transaction.
    fire: Callable[[PersonalizeBackend, Resources, float], None]


#: The mirror's timers by name (registered by the modules that own them).
TIMERS: dict[str, Timer] = {}


def reconcile(backend: PersonalizeBackend, resources: Resources, *, dry: bool = False) -> bool:
    """Move on the resources in flight whose time has come, start what timers have due; return whether
    anything changed (a dry read that finds a timer due answers True, so the caller opens a transaction).

    ``dry`` (a read outside a transaction) changes only the records in memory and removes nothing.
    """
    changed = False
    moment = now()
    for resource in resources.in_flight(IN_FLIGHT):
        changed |= _take_update_steps(resource, moment)
        if resources.get(resource.arn) is None:
            continue  # removed by the finalizer of a resource settled before it
        changed |= _take_steps(backend, resources, resource, moment, dry) or _reap(resource)
    for timer in TIMERS.values():
        due = resources.value(timer.earliest_sql)
        if due is not None and float(due) <= moment:
            if not dry:
                timer.fire(backend, resources, moment)
            changed = True
    return changed


# ----------------------------------------------------------------------------- jobs

#: A job's work: the backend and the job's ARN in, a failure reason (or None when it succeeded) out.
Work = Callable[["PersonalizeBackend", str], "str | None"]


def run_job(backend: PersonalizeBackend, arn: str, work: Work) -> threading.Thread:
    """Run a job in a (non-daemon) thread of this process, so the Create call answers at once and the
    process finishes the job before it exits; at the ``instant`` pace the job is done when the call answers."""
    thread = threading.Thread(target=_job, args=(backend, arn, work), name=f"job {arn}")
    pace = backend.settings.pace
    if pace.pending <= 0 and pace.job <= 0:
        thread.run()
    else:
        thread.start()
    return thread


def _start_job(backend: PersonalizeBackend, arn: str) -> bool:
    """From the kind's waiting status to its running one (a job kind's statuses: waiting, running, done, failed)."""
    with backend.transaction() as resources:
        job = resources.get(arn)
        if job is None or job.status not in CREATING:
            return False  # deleted with its dataset, or failed by a reader that found its owner gone
        job.update(status=job.kind.statuses[1])
    return True


def _job(backend: PersonalizeBackend, arn: str, work: Work) -> None:
    with cpus.every():  # started by (or run in) a request thread of a server, which keeps to one CPU
        _run_job(backend, arn, work)


def _run_job(backend: PersonalizeBackend, arn: str, work: Work) -> None:
    pace = backend.settings.pace
    time.sleep(pace.pending)
    started = time.monotonic()
    if not _start_job(backend, arn):
        return
    try:
        reason = work(backend, arn)
    except Exception as exc:  # a bug or bad data must still end the job, never leave it in progress
        logger.exception("job %s failed", arn)
        reason = f"The job failed: {type(exc).__name__}: {str(exc)[:200]}"
    remaining = max(0.0, pace.job - (time.monotonic() - started))
    with backend.transaction() as resources:
        job = resources.get(arn)
        if job is None or job.status not in CREATING:
            return
        final = job.kind.statuses[2 if reason is None else 3]
        if reason is not None:
            job.attrs["failureReason"] = reason
        if remaining <= 0:
            job.update(status=final)
        else:
            job.internal["steps"] = _timeline(now(), [(final, remaining)])


__all__ = [
    "FAST",
    "FINALIZERS",
    "HEARTBEAT_SECONDS",
    "INSTANT",
    "JOB_KILLED_REASON",
    "KILLED_REASON",
    "PACES",
    "PACE_ENV",
    "REALISTIC",
    "TIMERS",
    "Pace",
    "Timer",
    "check_deletable",
    "claim",
    "pid_alive",
    "reconcile",
    "resolve_pace",
    "run_job",
    "schedule",
    "start_create",
    "start_delete",
    "start_update",
    "update_in_flight",
]
