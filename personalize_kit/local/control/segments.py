"""Batch segment jobs: the user segments of a USER_SEGMENTATION solution version, JSON Lines in S3 ->
``<input>.out`` in S3 (run by :func:`personalize_kit.local.batch.run_batch_segment_job`)."""

from __future__ import annotations

from typing import Any

from personalize_kit.kinds import PENDING
from personalize_kit.local import access, batch, lifecycle
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create, operation, register_reads
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.local.resources import Resource, Resources
from personalize_kit.recipes import RECIPES

#: The recipe type whose solution versions make user segments (and nothing else).
SEGMENTATION = "USER_SEGMENTATION"
DEFAULT_NUM_RESULTS = 25
#: The most users a segment holds (CreateBatchSegmentJob's ``numResults``).
MAX_NUM_RESULTS = 5_000_000


def is_segmentation(recipe_arn: str) -> bool:
    """Whether a recipe makes user segments (its versions serve batch segment jobs only)."""
    info = RECIPES.get(recipe_arn)
    return info is not None and info.recipe_type == SEGMENTATION


def _prepared(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    num_results = int(params.get("numResults", DEFAULT_NUM_RESULTS))
    if not 1 <= num_results <= MAX_NUM_RESULTS:
        raise InvalidInputException(f"numResults must be between 1 and {MAX_NUM_RESULTS:,}: {num_results}.")
    access.check_role(params["roleArn"], backend.region, source_arn=backend.arn("batch_segment_job", params["jobName"]))


def _checked(resources: Resources, params: dict[str, Any], version: Resource | None) -> None:
    assert version is not None
    recipe_arn = version.attrs["recipeArn"]
    if not is_segmentation(recipe_arn):
        raise InvalidInputException(
            f"Batch segment jobs need a solution version of a {SEGMENTATION} recipe (aws-item-affinity, "
            f"aws-item-attribute-affinity); {version.arn} uses {RECIPES[recipe_arn].name}: "
            "use CreateBatchInferenceJob for its batch recommendations."
        )
    if params.get("filterArn"):
        record = resources.find(params["filterArn"], "filter")
        record.require_active()
        if record.attrs["datasetGroupArn"] != version.attrs["datasetGroupArn"]:
            raise InvalidInputException(
                f"Filter {record.arn} belongs to another dataset group than the solution version's "
                f"({version.attrs['datasetGroupArn']})."
            )
        # the filters the mirror makes are all ItemID filters (CreateFilter refuses UserID ones for now)
        raise InvalidInputException(
            f"Filter {record.arn} filters items ({record.attrs['filterExpression'][:100]}); a batch segment job "
            "takes a filter of users (INCLUDE UserID WHERE Users.FIELD IN (...))."
        )


def _attrs(resources: Resources, params: dict[str, Any], version: Resource | None) -> dict[str, Any]:
    attrs = {
        "jobName": params["jobName"],
        "solutionVersionArn": params["solutionVersionArn"],
        "numResults": int(params.get("numResults", DEFAULT_NUM_RESULTS)),
        "jobInput": params["jobInput"],
        "jobOutput": params["jobOutput"],
        "roleArn": params["roleArn"],
    }
    if params.get("filterArn"):
        attrs["filterArn"] = params["filterArn"]
    return attrs


_BATCH_SEGMENT_JOB = Create(
    "batch_segment_job",
    arn=lambda backend, params: backend.arn("batch_segment_job", params["jobName"]),
    parent_param="solutionVersionArn",
    prepare=_prepared,
    check=_checked,
    attrs=_attrs,
    status=PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, batch.run_batch_segment_job),
)


@operation
def create_batch_segment_job(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_BATCH_SEGMENT_JOB, backend, params)


register_reads("batch_segment_job")
