"""Data deletion jobs: remove users' data (Interactions and Users datasets, event streams) from a dataset group.

The job reads a CSV with a ``USER_ID`` column from S3 and, in a thread of the process that created it,
removes every row of those users: PENDING -> IN_PROGRESS -> COMPLETED (``numDeleted`` rows) or FAILED.
Models already trained keep what they learnt, as in the service, until the next training.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from personalize_kit.kinds import PENDING
from personalize_kit.local import access, imports, lifecycle, store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create, operation, register_reads
from personalize_kit.local.exceptions import InvalidInputException

#: How many user IDs a data deletion job's file may list (the service's quota).
MAX_USERS = 1_000_000


def _user_ids(payload: bytes, url: str) -> set[str]:
    """The ``USER_ID`` values of a CSV (raises ``ValueError`` naming what is wrong)."""
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{url} is not UTF-8") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "USER_ID" not in [name.strip() for name in reader.fieldnames]:
        raise ValueError(f"{url} has no USER_ID column in its header")
    users = {(row.get("USER_ID") or "").strip() for row in reader} - {""}
    if len(users) > MAX_USERS:
        raise ValueError(f"{url} lists {len(users)} users, more than the {MAX_USERS} a job may delete")
    return users


def run_data_deletion_job(backend: PersonalizeBackend, arn: str) -> str | None:
    """Delete the listed users' data and record ``numDeleted``; the failure reason, or None."""
    job = backend.read().find(arn, "data_deletion_job").attrs
    location = job["dataSource"]["dataLocation"]
    try:
        access.check_s3_access(job["roleArn"], "read", location, backend.region, source_arn=arn)
    except InvalidInputException as exc:
        return exc.message
    try:
        users: set[str] = set()
        for url, payload in imports.fetch(location, backend.region):
            users |= _user_ids(payload, url)
    except imports.ImportFailed as exc:
        return str(exc)
    except ValueError as exc:
        return f"Input data at {location} could not be read: {exc}."
    removed = store.delete_users(backend.state, job["datasetGroupArn"].split("/")[1], users) if users else 0
    with backend.transaction() as resources:
        record = resources.get(arn)
        if record is not None:
            record.attrs["numDeleted"] = removed
    return None


_DATA_DELETION_JOB = Create(
    "data_deletion_job",
    arn=lambda backend, params: backend.arn("data_deletion_job", params["jobName"]),
    parent_param="datasetGroupArn",
    attrs=lambda resources, params, group: {
        "jobName": params["jobName"],
        "datasetGroupArn": params["datasetGroupArn"],
        "dataSource": params["dataSource"],
        "roleArn": params["roleArn"],
    },
    prepare=lambda backend, params: access.check_role(
        params["roleArn"], backend.region, source_arn=backend.arn("data_deletion_job", params["jobName"])
    ),
    status=PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, run_data_deletion_job),
)


@operation
def create_data_deletion_job(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    return create(_DATA_DELETION_JOB, backend, params)


register_reads("data_deletion_job")
