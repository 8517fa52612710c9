"""How resources in flight move on when nobody is acting on them.

Run whenever resources are read (an index read of the few rows in flight):

- a resource created while ``create_seconds`` > 0 is CREATE PENDING until its due time, then ACTIVE;
- a job (import, export, batch inference) or a training whose owner process has ended, or whose training
  stopped beating, ends CREATE FAILED with a reason (a stopped training ends CREATE STOPPED), so a killed
  process never leaves a resource in progress forever.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from personalize_kit.kinds import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    IN_FLIGHT,
)
from personalize_kit.local.resources import Resource, Resources, now

if TYPE_CHECKING:
    from personalize_kit.local.backend import PersonalizeBackend

#: Jobs run by the process that created them.
JOB_KINDS = ("dataset_import_job", "dataset_export_job", "batch_inference_job")
JOB_KILLED_REASON = "the process running the job ended before the job finished"
KILLED_REASON = "training process ended before training finished"
TRAINING = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING)
HEARTBEAT_SECONDS = 5.0
#: A training whose heartbeat is older than this is abandoned even if its process is alive.
STALE_SECONDS = 120.0


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


def _settle(resource: Resource) -> bool:
    due = resource.internal.get("activeAt")
    if due is None or resource.status != CREATE_PENDING or now() < due:
        return False
    resource.attrs["status"] = ACTIVE
    resource.attrs["lastUpdatedDateTime"] = due
    del resource.internal["activeAt"]
    return True


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
    if resource.kind.name in JOB_KINDS and "activeAt" not in resource.internal and _owner_gone(resource):
        resource.update(status=CREATE_FAILED, failureReason=JOB_KILLED_REASON)
        return True
    return False


def reconcile(backend: PersonalizeBackend, resources: Resources) -> bool:
    """Move on the resources in flight whose time has come; return whether any changed."""
    changed = False
    for resource in resources.in_flight(IN_FLIGHT):
        changed |= _settle(resource) or _reap(resource)
    return changed


__all__ = ["HEARTBEAT_SECONDS", "JOB_KILLED_REASON", "KILLED_REASON", "claim", "pid_alive", "reconcile"]
