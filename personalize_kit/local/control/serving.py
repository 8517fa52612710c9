"""Campaigns, event trackers, filters and batch inference jobs: what serves a trained model."""

from __future__ import annotations

import json
import uuid
from typing import Any

from personalize_kit.filters import FilterSyntaxError, parse_filter
from personalize_kit.filters.language import ITEM_ID
from personalize_kit.kinds import ACTIVE, CREATE_FAILED, PENDING
from personalize_kit.local import access, batch, filtering, imports, lifecycle
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create, delete, list_of, operation, register_reads
from personalize_kit.local.control.segments import SEGMENTATION, is_segmentation
from personalize_kit.local.exceptions import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
)
from personalize_kit.local.resources import ACCOUNT_ID, Resource, Resources
from personalize_kit.recipes import RECIPES

MAX_NUM_RESULTS = 500
#: The service's ``itemExplorationConfig`` keys, with their ranges (the API takes them as strings).
EXPLORATION_KEYS = {"explorationWeight": (0.0, 1.0), "explorationItemAgeCutOff": (1.0, float("inf"))}
#: Dataset names of filter expressions -> dataset types.
_FILTER_DATASETS = {
    "items": "ITEMS",
    "interactions": "INTERACTIONS",
    "currentuser": "USERS",
    "users": "USERS",
    "currentitem": "ITEMS",
    "actions": "ACTIONS",
    "action_interactions": "ACTION_INTERACTIONS",
}


def check_campaign_config(config: dict | None, recipe_arn: str) -> None:
    if is_segmentation(recipe_arn):
        raise InvalidInputException(
            f"A campaign cannot deploy a solution version of {RECIPES[recipe_arn].name}, a {SEGMENTATION} recipe: "
            "get its user segments with CreateBatchSegmentJob."
        )
    exploration = (config or {}).get("itemExplorationConfig") or {}
    if exploration and not RECIPES[recipe_arn].explores:
        raise InvalidInputException(
            "itemExplorationConfig is supported only for the User-Personalization recipes that explore "
            f"(aws-user-personalization), not {RECIPES[recipe_arn].name}."
        )
    for key, value in exploration.items():
        if key not in EXPLORATION_KEYS:
            raise InvalidInputException(
                f"Unknown itemExplorationConfig key {key!r}: use {' or '.join(EXPLORATION_KEYS)}."
            )
        low, high = EXPLORATION_KEYS[key]
        try:
            number = float(value)
        except ValueError as exc:
            raise InvalidInputException(f"itemExplorationConfig {key} {value!r} is not a number.") from exc
        if not low <= number <= high:
            raise InvalidInputException(f"itemExplorationConfig {key} must be between {low} and {high}: {value}.")


# ----------------------------------------------------------------------------- campaigns


_CAMPAIGN = Create(
    "campaign",
    arn=lambda backend, params: backend.arn("campaign", params["name"]),
    parent_param="solutionVersionArn",
    check=lambda resources, params, version: check_campaign_config(
        params.get("campaignConfig"), version.attrs["recipeArn"] if version else ""
    ),
    attrs=lambda resources, params, version: {
        "name": params["name"],
        "solutionVersionArn": params["solutionVersionArn"],
        "minProvisionedTPS": int(params.get("minProvisionedTPS", 1)),
        "campaignConfig": params.get("campaignConfig") or {},
    },
)


@operation
def create_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_CAMPAIGN, backend, params)


@operation
def list_campaigns(backend: PersonalizeBackend, params: dict) -> dict:
    resources = backend.read()
    campaigns = resources.all("campaign", region=backend.region)
    if params.get("solutionArn"):
        prefix = params["solutionArn"] + "/"
        campaigns = [c for c in campaigns if c.attrs["solutionVersionArn"].startswith(prefix)]
    return list_of(backend, params, "campaign", campaigns)


@operation
def update_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["campaignArn"]
    with backend.transaction() as resources:
        campaign = resources.find(arn, "campaign")
        if campaign.status not in (ACTIVE, CREATE_FAILED) or lifecycle.update_in_flight(campaign):
            state = campaign.attrs.get("latestCampaignUpdate", {}).get("status") if campaign.status == ACTIVE else None
            raise ResourceInUseException(
                f"Campaign {arn} is {state or campaign.status}: it can be updated when ACTIVE or CREATE FAILED "
                "with no update in progress."
            )
        version_arn = params.get("solutionVersionArn", campaign.attrs["solutionVersionArn"])
        version = resources.find(version_arn, "solution_version")
        version.require_active()
        config = params.get("campaignConfig", campaign.attrs["campaignConfig"])
        check_campaign_config(config, version.attrs["recipeArn"])
        tps = int(params.get("minProvisionedTPS", campaign.attrs["minProvisionedTPS"]))
        new = {"solutionVersionArn": version_arn, "minProvisionedTPS": tps, "campaignConfig": config}
        # the campaign keeps serving its old version until the update is ACTIVE
        lifecycle.start_update(campaign, backend.settings.pace, new, new)
    return {"campaignArn": arn}


def _delete(kind: str) -> Any:
    return lambda backend, params: delete(backend, params, kind)


# ----------------------------------------------------------------------------- event trackers


def _one_tracker_per_group(resources: Resources, params: dict[str, Any], group: Resource | None) -> None:
    existing = resources.all("event_tracker", datasetGroupArn=params["datasetGroupArn"])
    if existing:
        raise ResourceAlreadyExistsException(
            f"Dataset group {params['datasetGroupArn']} already has an event tracker ({existing[0].arn})."
        )


_EVENT_TRACKER = Create(
    "event_tracker",
    arn=lambda backend, params: backend.arn("event_tracker", params["name"]),
    parent_param="datasetGroupArn",
    check=_one_tracker_per_group,
    attrs=lambda resources, params, group: {
        "name": params["name"],
        "accountId": ACCOUNT_ID,
        "trackingId": str(uuid.uuid4()),
        "datasetGroupArn": params["datasetGroupArn"],
    },
    response=lambda tracker: {"eventTrackerArn": tracker.arn, "trackingId": tracker.attrs["trackingId"]},
)


@operation
def create_event_tracker(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_EVENT_TRACKER, backend, params)


# ----------------------------------------------------------------------------- filters


def check_filter_expression(expression: str, fields: dict[str, set[str]] | None = None) -> None:
    """Refuse a malformed expression, or one using a field no schema of the dataset group declares.

    ``fields`` maps each dataset type of the dataset group (``ITEMS`` ...) to its schema's field names.
    """
    try:
        parsed = parse_filter(expression)
    except FilterSyntaxError as exc:
        raise InvalidInputException(f"Invalid filter expression: {exc}") from exc
    for dataset, field in sorted(parsed.fields) if fields is not None else ():
        dataset_type = _FILTER_DATASETS.get(dataset.lower())
        if dataset_type is None:
            continue
        if dataset_type not in fields:
            raise InvalidInputException(
                f"Invalid filter expression: it uses {dataset}.{field} but the dataset group has no "
                f"{dataset_type} dataset."
            )
        if field not in fields[dataset_type]:
            raise InvalidInputException(
                f"Invalid filter expression: {dataset}.{field} is not a field of the {dataset_type} dataset's "
                f"schema ({', '.join(sorted(fields[dataset_type]))})."
            )


def _filter_checked(resources: Resources, params: dict[str, Any], group: Resource | None) -> None:
    fields = {
        dataset.attrs["datasetType"]: {
            name
            for name, _ in imports.schema_fields(
                json.loads(resources.find(dataset.attrs["schemaArn"], "schema").attrs["schema"])
            )
        }
        for dataset in resources.all("dataset", datasetGroupArn=params["datasetGroupArn"])
    }
    check_filter_expression(params["filterExpression"], fields)


_FILTER = Create(
    "filter",
    arn=lambda backend, params: backend.arn("filter", params["name"]),
    parent_param="datasetGroupArn",
    prepare=lambda backend, params: check_filter_expression(params["filterExpression"]),
    check=_filter_checked,
    attrs=lambda resources, params, group: {
        "name": params["name"],
        "datasetGroupArn": params["datasetGroupArn"],
        "filterExpression": params["filterExpression"],
    },
)


@operation
def create_filter(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_FILTER, backend, params)


# ----------------------------------------------------------------------------- batch inference


def _batch_prepared(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    num_results = int(params.get("numResults", 25))
    if num_results > MAX_NUM_RESULTS:
        raise InvalidInputException(f"numResults must be at most {MAX_NUM_RESULTS}: {num_results}.")
    if params.get("batchInferenceJobMode", "BATCH_INFERENCE") != "BATCH_INFERENCE":
        raise InvalidInputException("batchInferenceJobMode THEME_GENERATION is not supported by the local mirror.")
    job_arn = backend.arn("batch_inference_job", params["jobName"])
    access.check_role(params["roleArn"], backend.region, source_arn=job_arn)


def _batch_attrs(resources: Resources, params: dict[str, Any], version: Resource | None) -> dict[str, Any]:
    if version is not None and is_segmentation(version.attrs["recipeArn"]):
        raise InvalidInputException(
            f"Solution version {version.arn} uses a {SEGMENTATION} recipe: get its user segments with "
            "CreateBatchSegmentJob, not CreateBatchInferenceJob."
        )
    recipe = RECIPES.get(version.attrs["recipeArn"]) if version is not None else None
    if recipe is not None and not recipe.batch_inference:
        raise InvalidInputException(
            f"Batch inference jobs are not supported for solution versions of recipe {recipe.name}."
        )
    if params.get("filterArn"):
        record = resources.find(params["filterArn"], "filter")
        record.require_active()
        filtering.checked(record, None, ITEM_ID, "batch inference jobs take")
    attrs = {
        "jobName": params["jobName"],
        "solutionVersionArn": params["solutionVersionArn"],
        "numResults": int(params.get("numResults", 25)),
        "jobInput": params["jobInput"],
        "jobOutput": params["jobOutput"],
        "roleArn": params["roleArn"],
        "batchInferenceJobMode": "BATCH_INFERENCE",
    }
    for key in ("filterArn", "batchInferenceJobConfig"):
        if params.get(key):
            attrs[key] = params[key]
    return attrs


_BATCH_INFERENCE_JOB = Create(
    "batch_inference_job",
    arn=lambda backend, params: backend.arn("batch_inference_job", params["jobName"]),
    parent_param="solutionVersionArn",
    prepare=_batch_prepared,
    attrs=_batch_attrs,
    status=PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, batch.run_batch_inference_job),
)


@operation
def create_batch_inference_job(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_BATCH_INFERENCE_JOB, backend, params)


OPERATIONS_DELETE = {
    "DeleteCampaign": _delete("campaign"),
    "DeleteEventTracker": _delete("event_tracker"),
    "DeleteFilter": _delete("filter"),
}
register_reads("campaign", "event_tracker", "filter", "batch_inference_job")
