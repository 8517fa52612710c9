"""Automatic training: a solution with ``performAutoTraining`` gets a new version on its schedule.

As the service does ("Configuring automatic training" in the developer guide): the first automatic
training is due one hour after the solution is created (skipped when a version is created by hand within
that hour), then every ``solutionConfig.autoTrainingConfig.schedulingExpression`` (``rate(N days)``, N in
1..30, default ``rate(7 days)``); a training happens only if interaction data was imported (or recorded
with PutEvents) since the solution's last training, else that interval is skipped. An automatic version
has ``trainingType`` AUTOMATIC and ``trainingMode`` AUTOTRAIN and is created through CreateSolutionVersion's
path (its checks and the quota of versions in flight); one that cannot start yet (a version of the solution
is training, the quota is reached, the solution is not ACTIVE) is tried again :data:`RETRY_SECONDS` later.

The next due time is the solution's ``internal["autoTraining"]["due"]``, read against the mirror's clock
(:data:`~personalize_kit.local.resources.CLOCK`); the read path learns the earliest one once per
generation of the resources table (:class:`~personalize_kit.local.lifecycle.Timer`).
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from personalize_kit.kinds import ACTIVE
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create_in
from personalize_kit.local.exceptions import (
    InvalidInputException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from personalize_kit.local.resources import Resource, Resources, now

logger = logging.getLogger(__name__)

DAY = 86400.0
#: The service's default schedule.
DEFAULT_EXPRESSION = "rate(7 days)"
#: Days a rate may name.
MIN_DAYS, MAX_DAYS = 1, 30
#: The first automatic training is due this long after the solution is created.
FIRST_SECONDS = 3600.0
#: A due training that cannot start yet is tried again this long later.
RETRY_SECONDS = 60.0
#: The earliest due time of any solution (a :class:`~personalize_kit.local.lifecycle.Timer`'s query).
EARLIEST_SQL = "SELECT MIN(json_extract(internal, '$.autoTraining.due')) FROM resources WHERE kind = 'solution'"
_RATE = re.compile(r"rate\((\d+) days?\)")


def interval(solution_config: dict[str, Any] | None) -> float:
    """Seconds between automatic trainings, from ``solutionConfig`` (refused when the rate is not valid).

    >>> interval({"autoTrainingConfig": {"schedulingExpression": "rate(1 day)"}}), interval({})
    (86400.0, 604800.0)
    """
    config = (solution_config or {}).get("autoTrainingConfig") or {}
    expression = config.get("schedulingExpression") or DEFAULT_EXPRESSION
    match = _RATE.fullmatch(expression)
    if match is None or not MIN_DAYS <= int(match.group(1)) <= MAX_DAYS:
        raise InvalidInputException(
            f"autoTrainingConfig.schedulingExpression {expression!r} is not valid: use rate(N days) "
            f"with N from {MIN_DAYS} to {MAX_DAYS}, e.g. {DEFAULT_EXPRESSION}."
        )
    return int(match.group(1)) * DAY


def start_schedule(solution: Resource) -> None:
    """Schedule a solution's first automatic training (if it trains automatically), or clear its schedule."""
    if solution.attrs.get("performAutoTraining"):
        solution.internal["autoTraining"] = {"due": now() + FIRST_SECONDS, "first": True, "dataKey": None}
    else:
        solution.internal.pop("autoTraining", None)


def rescheduled(solution: Resource, was_on: bool) -> None:
    """After UpdateSolution: a schedule turned on starts again; a new rate applies from now."""
    schedule = solution.internal.get("autoTraining")
    if not solution.attrs.get("performAutoTraining") or not was_on or schedule is None:
        data_key = (schedule or {}).get("dataKey")
        start_schedule(solution)
        if "autoTraining" in solution.internal:
            solution.internal["autoTraining"]["dataKey"] = data_key
    elif not schedule["first"]:
        schedule["due"] = now() + interval(solution.attrs.get("solutionConfig"))


def data_key(resources: Resources, group_arn: str) -> list[Any]:
    """What the interaction data of a dataset group is now: its newest finished import and newest event."""
    dataset = group_arn.replace(":dataset-group/", ":dataset/", 1) + "/INTERACTIONS"
    imports = [
        float(job.attrs.get("lastUpdatedDateTime") or 0)
        for job in resources.all("dataset_import_job", datasetArn=dataset)
        if job.status == ACTIVE
    ]
    group = group_arn.rsplit("/", 1)[-1]
    newest_event = resources.conn.execute("SELECT MAX(seq) FROM events WHERE dataset_group = ?", (group,)).fetchone()
    return [max(imports, default=None), newest_event[0] if newest_event else None]


def version_created(resources: Resources, solution: Resource) -> None:
    """A version of the solution is being created: remember the data it trains on; one made by hand before
    the first automatic training skips that training."""
    schedule = solution.internal.get("autoTraining")
    if schedule is None:
        return
    schedule["dataKey"] = data_key(resources, solution.attrs["datasetGroupArn"])
    if schedule["first"]:
        schedule["first"] = False
        schedule["due"] = float(schedule["due"]) + interval(solution.attrs.get("solutionConfig"))


def _due_solutions(resources: Resources, moment: float) -> list[Resource]:
    rows = resources.conn.execute(
        "SELECT arn FROM resources WHERE kind = 'solution' AND json_extract(internal, '$.autoTraining.due') <= ?",
        (moment,),
    ).fetchall()
    found = [resources.get(arn) for (arn,) in rows]
    return [solution for solution in found if solution is not None]


def fire(backend: PersonalizeBackend, resources: Resources, moment: float, spec: Create) -> None:
    """Start the automatic trainings due at ``moment`` (``spec``: CreateSolutionVersion's)."""
    for solution in _due_solutions(resources, moment):
        schedule = solution.internal["autoTraining"]
        if not solution.attrs.get("performAutoTraining"):
            solution.internal.pop("autoTraining")
            continue
        every = interval(solution.attrs.get("solutionConfig"))
        current = data_key(resources, solution.attrs["datasetGroupArn"])
        if current == schedule.get("dataKey") or current == [None, None]:
            logger.info("automatic training of %s skipped: no new interaction data", solution.arn)
        elif not _start_version(backend, resources, solution, spec):
            schedule["due"] = moment + RETRY_SECONDS
            continue
        schedule["first"] = False
        due = float(schedule["due"])
        while due <= moment:
            due += every
        schedule["due"] = due


def _start_version(backend: PersonalizeBackend, resources: Resources, solution: Resource, spec: Create) -> bool:
    params = {
        "solutionArn": solution.arn,
        "trainingMode": "AUTOTRAIN",
        "_versionId": secrets.token_hex(4),
        "_trainingType": "AUTOMATIC",
    }
    arn = spec.arn(backend, params)
    try:
        create_in(spec, backend, resources, params, arn)
    except (ResourceInUseException, LimitExceededException, ResourceNotFoundException) as exc:
        logger.info("automatic training of %s postponed: %s", solution.arn, exc)
        return False
    after = spec.after
    if after is not None:
        resources.after_commit.append(lambda: after(backend, arn))
    logger.info("automatic training of %s started: %s", solution.arn, arn)
    return True


__all__ = ["DEFAULT_EXPRESSION", "EARLIEST_SQL", "data_key", "fire", "interval", "rescheduled", "start_schedule"]
