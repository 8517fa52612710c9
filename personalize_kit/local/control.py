"""The control plane (service id ``personalize``): one function per operation.

Each function takes the :class:`~personalize_kit.local.models.PersonalizeBackend` and the request's
parameters (already checked by botocore and by :func:`~personalize_kit.local._shapes.check_input`) and
returns the response dict; :mod:`personalize_kit.local._hooks` trims it to the model's output shape.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

from personalize_kit.exceptions import RecipeNotAvailableError
from personalize_kit.local import batch, imports, store, training
from personalize_kit.local.exceptions import (
    InvalidInputException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
    TooManyTagsException,
)
from personalize_kit.local.models import (
    ACCOUNT_ID,
    IN_PROGRESS_STATES,
    MAX_TAGS,
    Operation,
    PersonalizeBackend,
    claim_job,
    paginate,
)
from personalize_kit.recipes import RECIPES, recipe_class

#: Quotas the mirror enforces (from the service's quota page).
MAX_ACTIVE_DATASET_GROUPS = 5
MAX_SOLUTIONS_PER_DATASET_GROUP = 10
MAX_CAMPAIGNS_PER_DATASET_GROUP = 5
MAX_FILTERS_PER_DATASET_GROUP = 30
MAX_PENDING_SOLUTION_VERSIONS = 20
MAX_PENDING_IMPORT_JOBS = 5
MAX_NUM_RESULTS = 500

DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS")
#: The service's ``itemExplorationConfig`` keys, with their ranges (the API takes them as strings).
EXPLORATION_KEYS = {"explorationWeight": (0.0, 1.0), "explorationItemAgeCutOff": (1.0, float("inf"))}

OPERATIONS: dict[str, Operation] = {}


def operation(func: Operation) -> Operation:
    """Register ``func`` under its CamelCase operation name (``create_schema`` -> ``CreateSchema``)."""
    OPERATIONS["".join(part.title() for part in func.__name__.split("_"))] = func
    return func


def _camel(kind: str) -> str:
    """``dataset_import_job`` -> ``datasetImportJob``."""
    head, *rest = kind.split("_")
    return head + "".join(part.title() for part in rest)


def _name(arn: str) -> str:
    return arn.split("/")[1]


def _require_exists(state: dict, arn: str, kind: str) -> dict:
    return PersonalizeBackend.find(state, arn, kind)


def _require_active(record: dict, arn: str) -> None:
    status = record["attrs"].get("status")
    if status != "ACTIVE":
        raise ResourceInUseException(f"The resource {arn} is in {status} state. It must be ACTIVE.")


def _new(backend: PersonalizeBackend, state: dict, arn: str) -> None:
    if arn in state["resources"]:
        raise ResourceAlreadyExistsException.for_arn(arn)


def _check_tags(tags: list | None) -> None:
    if tags and len(tags) > MAX_TAGS:
        raise TooManyTagsException(f"The number of tags ({len(tags)}) exceeds the limit of {MAX_TAGS}.")


def _list(backend: PersonalizeBackend, params: dict, kind: str, key: str, **where: Any) -> dict[str, Any]:
    state = backend.state()
    where = {k: v for k, v in where.items() if v is not None}
    records = [r for r in backend.records(state, kind, **where) if backend.in_region(r["arn"])]
    return paginate([dict(r["attrs"]) for r in reversed(records)], params, key)


def _delete_blocked(arn: str, what: str, dependents: list[str]) -> ResourceInUseException:
    return ResourceInUseException(
        f"Cannot delete {arn}: it still has {len(dependents)} {what} ({', '.join(dependents[:3])}). Delete them first."
    )


# ----------------------------------------------------------------------------- schemas


@operation
def create_schema(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("schema", params["name"])
    problems = imports.schema_problems(params["schema"])
    if problems:
        raise InvalidInputException("Invalid schema: " + "; ".join(problems[:5]))
    with backend.transaction() as state:
        _new(backend, state, arn)
        attrs = {"name": params["name"], "schemaArn": arn, "schema": params["schema"]}
        if params.get("domain"):
            attrs["domain"] = params["domain"]
        backend.add(state, arn, "schema", attrs)
    return {"schemaArn": arn}


@operation
def describe_schema(backend: PersonalizeBackend, params: dict) -> dict:
    return {"schema": backend.get(params["schemaArn"], "schema")["attrs"]}


@operation
def list_schemas(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "schema", "schemas")


@operation
def delete_schema(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["schemaArn"]
    with backend.transaction() as state:
        _require_exists(state, arn, "schema")
        users = [r["attrs"]["datasetArn"] for r in backend.records(state, "dataset", schemaArn=arn)]
        if users:
            raise _delete_blocked(arn, "dataset(s) using it", users)
        del state["resources"][arn]
    return {}


# ----------------------------------------------------------------------------- dataset groups


@operation
def create_dataset_group(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("dataset_group", params["name"])
    _check_tags(params.get("tags"))
    if params.get("kmsKeyArn") and not params.get("roleArn"):
        raise InvalidInputException("A roleArn is required when a kmsKeyArn is specified.")
    with backend.transaction() as state:
        _new(backend, state, arn)
        active = [a for a, r in state["resources"].items() if r["kind"] == "dataset_group" and backend.in_region(a)]
        if len(active) >= MAX_ACTIVE_DATASET_GROUPS:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_ACTIVE_DATASET_GROUPS} dataset groups in this region. "
                "Delete a dataset group or request a quota increase."
            )
        attrs = {"name": params["name"], "datasetGroupArn": arn, "status": "ACTIVE"}
        for key in ("roleArn", "kmsKeyArn", "domain"):
            if params.get(key):
                attrs[key] = params[key]
        backend.add(state, arn, "dataset_group", attrs, params.get("tags"))
    response = {"datasetGroupArn": arn}
    if params.get("domain"):
        response["domain"] = params["domain"]
    return response


@operation
def describe_dataset_group(backend: PersonalizeBackend, params: dict) -> dict:
    return {"datasetGroup": backend.get(params["datasetGroupArn"], "dataset_group")["attrs"]}


@operation
def list_dataset_groups(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "dataset_group", "datasetGroups")


@operation
def delete_dataset_group(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["datasetGroupArn"]
    with backend.transaction() as state:
        _require_exists(state, arn, "dataset_group")
        for kind, what, key in (
            ("dataset", "dataset(s)", "datasetArn"),
            ("solution", "solution(s)", "solutionArn"),
            ("event_tracker", "event tracker(s)", "eventTrackerArn"),
        ):
            dependents = [r["attrs"][key] for r in backend.records(state, kind, datasetGroupArn=arn)]
            if dependents:
                raise _delete_blocked(arn, what, dependents)
        for filter_record in backend.records(state, "filter", datasetGroupArn=arn):
            del state["resources"][filter_record["attrs"]["filterArn"]]
        del state["resources"][arn]
        store.remove_dataset_group(backend.store, _name(arn))
    return {}


# ----------------------------------------------------------------------------- datasets


@operation
def create_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    dataset_type = params["datasetType"].upper()
    if dataset_type not in DATASET_TYPES:
        raise InvalidInputException(
            f"datasetType {params['datasetType']} is not supported by the local mirror: "
            f"use one of {', '.join(DATASET_TYPES)}."
        )
    _check_tags(params.get("tags"))
    group_arn = params["datasetGroupArn"]
    arn = backend.arn("dataset", _name(group_arn), dataset_type)
    with backend.transaction() as state:
        group = _require_exists(state, group_arn, "dataset_group")
        schema = _require_exists(state, params["schemaArn"], "schema")
        _require_active(group, group_arn)
        _new(backend, state, arn)
        problems = imports.schema_problems(json.loads(schema["attrs"]["schema"]), dataset_type)
        if problems:
            raise InvalidInputException(
                f"The schema {params['schemaArn']} does not fit a {dataset_type} dataset: " + "; ".join(problems[:5])
            )
        attrs = {
            "name": params["name"],
            "datasetArn": arn,
            "datasetGroupArn": group_arn,
            "datasetType": dataset_type,
            "schemaArn": params["schemaArn"],
            "status": "ACTIVE",
        }
        backend.add(state, arn, "dataset", attrs, params.get("tags"))
    return {"datasetArn": arn}


@operation
def describe_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    state = backend.state()
    record = backend.find(state, params["datasetArn"], "dataset")
    attrs = dict(record["attrs"])
    if attrs["datasetType"] == "INTERACTIONS":
        trackers = backend.records(state, "event_tracker", datasetGroupArn=attrs["datasetGroupArn"])
        if trackers:
            attrs["trackingId"] = trackers[0]["attrs"]["trackingId"]
    return {"dataset": attrs}


@operation
def list_datasets(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "dataset", "datasets", datasetGroupArn=params.get("datasetGroupArn"))


@operation
def update_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["datasetArn"]
    with backend.transaction() as state:
        record = _require_exists(state, arn, "dataset")
        schema = _require_exists(state, params["schemaArn"], "schema")
        _require_active(record, arn)
        problems = imports.schema_problems(json.loads(schema["attrs"]["schema"]), record["attrs"]["datasetType"])
        if problems:
            raise InvalidInputException("Invalid schema for this dataset: " + "; ".join(problems[:5]))
        backend.update(record, schemaArn=params["schemaArn"])
        stamp = record["attrs"]["lastUpdatedDateTime"]
        record["attrs"]["latestDatasetUpdate"] = {
            "schemaArn": params["schemaArn"],
            "status": "ACTIVE",
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
    return {"datasetArn": arn}


@operation
def delete_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["datasetArn"]
    with backend.transaction() as state:
        record = _require_exists(state, arn, "dataset")
        attrs = record["attrs"]
        if attrs["datasetType"] == "INTERACTIONS":
            trackers = [
                r["attrs"]["eventTrackerArn"]
                for r in backend.records(state, "event_tracker", datasetGroupArn=attrs["datasetGroupArn"])
            ]
            if trackers:
                raise _delete_blocked(arn, "event tracker(s) recording into it", trackers)
        for kind in ("dataset_import_job", "dataset_export_job"):
            for job in backend.records(state, kind, datasetArn=arn):
                del state["resources"][job["attrs"][f"{_camel(kind)}Arn"]]
        del state["resources"][arn]
        store.delete_dataset(backend.store, _name(attrs["datasetGroupArn"]), attrs["datasetType"])
    return {}


# ----------------------------------------------------------------------------- import and export jobs


@operation
def create_dataset_import_job(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("dataset_import_job", params["jobName"])
    _check_tags(params.get("tags"))
    with backend.transaction() as state:
        dataset = _require_exists(state, params["datasetArn"], "dataset")
        _require_active(dataset, params["datasetArn"])
        _new(backend, state, arn)
        pending = [
            r for r in backend.records(state, "dataset_import_job") if r["attrs"]["status"] in IN_PROGRESS_STATES
        ]
        if len(pending) >= MAX_PENDING_IMPORT_JOBS:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_PENDING_IMPORT_JOBS} dataset import jobs in progress."
            )
        attrs = {
            "jobName": params["jobName"],
            "datasetImportJobArn": arn,
            "datasetArn": params["datasetArn"],
            "dataSource": params["dataSource"],
            "status": "CREATE PENDING",
            "importMode": params.get("importMode", "FULL"),
            "publishAttributionMetricsToS3": bool(params.get("publishAttributionMetricsToS3", False)),
        }
        if params.get("roleArn"):
            attrs["roleArn"] = params["roleArn"]
        claim_job(backend.add(state, arn, "dataset_import_job", attrs, params.get("tags")))
    imports.run_import_job(backend, arn)
    return {"datasetImportJobArn": arn}


@operation
def describe_dataset_import_job(backend: PersonalizeBackend, params: dict) -> dict:
    return {"datasetImportJob": backend.get(params["datasetImportJobArn"], "dataset_import_job")["attrs"]}


@operation
def list_dataset_import_jobs(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "dataset_import_job", "datasetImportJobs", datasetArn=params.get("datasetArn"))


@operation
def create_dataset_export_job(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("dataset_export_job", params["jobName"])
    _check_tags(params.get("tags"))
    with backend.transaction() as state:
        dataset = _require_exists(state, params["datasetArn"], "dataset")
        _require_active(dataset, params["datasetArn"])
        _new(backend, state, arn)
        attrs = {
            "jobName": params["jobName"],
            "datasetExportJobArn": arn,
            "datasetArn": params["datasetArn"],
            "ingestionMode": params.get("ingestionMode", "PUT"),
            "roleArn": params["roleArn"],
            "jobOutput": params["jobOutput"],
            "status": "CREATE PENDING",
        }
        claim_job(backend.add(state, arn, "dataset_export_job", attrs, params.get("tags")))
    batch.run_export_job(backend, arn)
    return {"datasetExportJobArn": arn}


@operation
def describe_dataset_export_job(backend: PersonalizeBackend, params: dict) -> dict:
    return {"datasetExportJob": backend.get(params["datasetExportJobArn"], "dataset_export_job")["attrs"]}


@operation
def list_dataset_export_jobs(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "dataset_export_job", "datasetExportJobs", datasetArn=params.get("datasetArn"))


# ----------------------------------------------------------------------------- solutions and versions


def _check_hyperparameters(recipe_arn: str, hyperparameters: dict[str, str]) -> None:
    """Refuse hyperparameters the recipe does not take or whose values are out of range."""
    info = RECIPES[recipe_arn]
    known = info.hyperparameters
    unknown = sorted(set(hyperparameters) - set(known or ())) if known is not None else []
    if unknown:
        raise InvalidInputException(
            f"Unknown hyperparameters for recipe {info.name}: {', '.join(unknown)}. "
            f"It takes {', '.join(known or ()) or 'none'}."
        )
    try:
        recipe = recipe_class(recipe_arn)  # recipe modules import TensorFlow only when they fit
    except RecipeNotAvailableError:
        return
    problems = recipe.check_hyperparameters(hyperparameters)
    if problems:
        raise InvalidInputException(f"Invalid hyperparameters for recipe {info.name}: " + "; ".join(problems))


@operation
def create_solution(backend: PersonalizeBackend, params: dict) -> dict:
    group_arn = params["datasetGroupArn"]
    arn = backend.arn("solution", params["name"])
    _check_tags(params.get("tags"))
    if params.get("performAutoML"):
        raise InvalidInputException("performAutoML is not supported by the local mirror: set a recipeArn.")
    recipe_arn = params.get("recipeArn")
    if not recipe_arn:
        raise InvalidInputException("A recipeArn is required when performAutoML is false.")
    if recipe_arn not in RECIPES:
        raise ResourceNotFoundException.for_arn(recipe_arn)
    config = params.get("solutionConfig") or {}
    _check_hyperparameters(recipe_arn, config.get("algorithmHyperParameters") or {})
    threshold = config.get("eventValueThreshold")
    if threshold is not None:
        try:
            float(threshold)
        except ValueError as exc:
            raise InvalidInputException(f"eventValueThreshold {threshold!r} is not a number.") from exc
    with backend.transaction() as state:
        group = _require_exists(state, group_arn, "dataset_group")
        _require_active(group, group_arn)
        _new(backend, state, arn)
        if len(backend.records(state, "solution", datasetGroupArn=group_arn)) >= MAX_SOLUTIONS_PER_DATASET_GROUP:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_SOLUTIONS_PER_DATASET_GROUP} solutions in dataset group "
                f"{group_arn}."
            )
        attrs = {
            "name": params["name"],
            "solutionArn": arn,
            "performHPO": bool(params.get("performHPO", False)),
            "performAutoML": False,
            "performAutoTraining": bool(params.get("performAutoTraining", False)),
            "performIncrementalUpdate": bool(params.get("performIncrementalUpdate", False)),
            "recipeArn": recipe_arn,
            "datasetGroupArn": group_arn,
            "solutionConfig": config,
            "status": "ACTIVE",
        }
        if params.get("eventType"):
            attrs["eventType"] = params["eventType"]
        backend.add(state, arn, "solution", attrs, params.get("tags"))
    return {"solutionArn": arn}


def _latest_version_summary(backend: PersonalizeBackend, state: dict, solution_arn: str) -> dict | None:
    versions = backend.records(state, "solution_version", solutionArn=solution_arn)
    if not versions:
        return None
    return dict(versions[-1]["attrs"])


@operation
def describe_solution(backend: PersonalizeBackend, params: dict) -> dict:
    state = backend.state()
    record = backend.find(state, params["solutionArn"], "solution")
    attrs = dict(record["attrs"])
    latest = _latest_version_summary(backend, state, params["solutionArn"])
    if latest:
        attrs["latestSolutionVersion"] = latest
    return {"solution": attrs}


@operation
def list_solutions(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "solution", "solutions", datasetGroupArn=params.get("datasetGroupArn"))


@operation
def update_solution(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionArn"]
    with backend.transaction() as state:
        solution = _require_exists(state, arn, "solution")
        _require_active(solution, arn)
        attrs = solution["attrs"]
        auto = bool(params.get("performAutoTraining", attrs["performAutoTraining"]))
        incremental = bool(params.get("performIncrementalUpdate", attrs["performIncrementalUpdate"]))
        config = params.get("solutionUpdateConfig") or {}
        backend.update(solution, performAutoTraining=auto, performIncrementalUpdate=incremental)
        if "autoTrainingConfig" in config:
            attrs["solutionConfig"] = {**attrs["solutionConfig"], "autoTrainingConfig": config["autoTrainingConfig"]}
        if "eventsConfig" in config:
            attrs["solutionConfig"] = {**attrs["solutionConfig"], "eventsConfig": config["eventsConfig"]}
        stamp = attrs["lastUpdatedDateTime"]
        attrs["latestSolutionUpdate"] = {
            "solutionUpdateConfig": config,
            "status": "ACTIVE",
            "performAutoTraining": auto,
            "performIncrementalUpdate": incremental,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
    return {"solutionArn": arn}


@operation
def delete_solution(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionArn"]
    with backend.transaction() as state:
        _require_exists(state, arn, "solution")
        versions = backend.records(state, "solution_version", solutionArn=arn)
        version_arns = {v["attrs"]["solutionVersionArn"] for v in versions}
        campaigns = [
            r["attrs"]["campaignArn"]
            for r in backend.records(state, "campaign")
            if r["attrs"]["solutionVersionArn"] in version_arns
        ]
        if campaigns:
            raise _delete_blocked(arn, "campaign(s) deployed from it", campaigns)
        running = [v["attrs"]["solutionVersionArn"] for v in versions if v["attrs"]["status"] in IN_PROGRESS_STATES]
        if running:
            raise ResourceInUseException(
                f"Cannot delete {arn}: solution version {running[0]} is still being created. "
                "Wait for it to finish or stop it with StopSolutionVersionCreation."
            )
        for job in backend.records(state, "batch_inference_job"):
            if job["attrs"]["solutionVersionArn"] in version_arns:
                del state["resources"][job["attrs"]["batchInferenceJobArn"]]
        for version_arn in version_arns:
            del state["resources"][version_arn]
        del state["resources"][arn]
    training.remove_models(backend, _name(arn))
    return {}


@operation
def create_solution_version(backend: PersonalizeBackend, params: dict) -> dict:
    solution_arn = params["solutionArn"]
    mode = params.get("trainingMode", "FULL")
    _check_tags(params.get("tags"))
    if mode == "AUTOTRAIN":
        raise InvalidInputException("trainingMode AUTOTRAIN is set by the service only: use FULL or UPDATE.")
    with backend.transaction() as state:
        solution = _require_exists(state, solution_arn, "solution")
        _require_active(solution, solution_arn)
        recipe = RECIPES[solution["attrs"]["recipeArn"]]
        versions = backend.records(state, "solution_version", solutionArn=solution_arn)
        if any(v["attrs"]["status"] in IN_PROGRESS_STATES for v in versions):
            raise ResourceInUseException(
                f"A solution version of {solution_arn} is already being created. Wait for it to finish."
            )
        if mode == "UPDATE":
            if recipe.recipe_type != "USER_PERSONALIZATION" or recipe.name == "aws-popularity-count":
                raise InvalidInputException(f"trainingMode UPDATE is not supported for recipe {recipe.name}: use FULL.")
            if not any(v["attrs"]["status"] == "ACTIVE" and v["attrs"]["trainingMode"] == "FULL" for v in versions):
                raise InvalidInputException(
                    "trainingMode UPDATE needs an ACTIVE solution version trained with trainingMode FULL."
                )
        pending = [r for r in backend.records(state, "solution_version") if r["attrs"]["status"] in IN_PROGRESS_STATES]
        if len(pending) >= MAX_PENDING_SOLUTION_VERSIONS:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_PENDING_SOLUTION_VERSIONS} solution versions in progress."
            )
        version_id = secrets.token_hex(4)
        arn = backend.arn("solution_version", solution["attrs"]["name"], version_id)
        attrs = {
            "solutionVersionArn": arn,
            "solutionArn": solution_arn,
            "performHPO": solution["attrs"]["performHPO"],
            "performAutoML": False,
            "performIncrementalUpdate": solution["attrs"]["performIncrementalUpdate"],
            "recipeArn": solution["attrs"]["recipeArn"],
            "datasetGroupArn": solution["attrs"]["datasetGroupArn"],
            "solutionConfig": solution["attrs"]["solutionConfig"],
            "trainingMode": mode,
            "trainingType": "MANUAL",
            "status": "CREATE PENDING",
        }
        if params.get("name"):
            attrs["name"] = params["name"]
        if solution["attrs"].get("eventType"):
            attrs["eventType"] = solution["attrs"]["eventType"]
        record = backend.add(state, arn, "solution_version", attrs, params.get("tags"))
        training.claim(record)
    training.start(backend, arn)
    return {"solutionVersionArn": arn}


@operation
def describe_solution_version(backend: PersonalizeBackend, params: dict) -> dict:
    return {"solutionVersion": backend.get(params["solutionVersionArn"], "solution_version")["attrs"]}


@operation
def list_solution_versions(backend: PersonalizeBackend, params: dict) -> dict:
    if params.get("solutionArn"):
        backend.get(params["solutionArn"], "solution")
    return _list(backend, params, "solution_version", "solutionVersions", solutionArn=params.get("solutionArn"))


@operation
def stop_solution_version_creation(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionVersionArn"]
    with backend.transaction() as state:
        record = _require_exists(state, arn, "solution_version")
        status = record["attrs"]["status"]
        if status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            raise ResourceInUseException(
                f"Solution version {arn} is {status}: only a version in CREATE PENDING or "
                "CREATE IN_PROGRESS can be stopped."
            )
        backend.update(record, status="CREATE STOPPING")
    return {}


@operation
def get_solution_metrics(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionVersionArn"]
    record = backend.get(arn, "solution_version")
    if record["attrs"]["status"] != "ACTIVE":
        raise ResourceInUseException(
            f"Solution version {arn} is {record['attrs']['status']}: metrics exist once it is ACTIVE."
        )
    return {"solutionVersionArn": arn, "metrics": training.read_metrics(backend, arn)}


# ----------------------------------------------------------------------------- campaigns


def _check_campaign_config(config: dict | None, recipe_arn: str) -> None:
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


@operation
def create_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("campaign", params["name"])
    version_arn = params["solutionVersionArn"]
    _check_tags(params.get("tags"))
    with backend.transaction() as state:
        version = _require_exists(state, version_arn, "solution_version")
        _require_active(version, version_arn)
        _new(backend, state, arn)
        _check_campaign_config(params.get("campaignConfig"), version["attrs"]["recipeArn"])
        group_arn = version["attrs"]["datasetGroupArn"]
        in_group = [
            r
            for r in backend.records(state, "campaign")
            if state["resources"][r["attrs"]["solutionVersionArn"]]["attrs"]["datasetGroupArn"] == group_arn
        ]
        if len(in_group) >= MAX_CAMPAIGNS_PER_DATASET_GROUP:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_CAMPAIGNS_PER_DATASET_GROUP} campaigns in dataset group "
                f"{group_arn}."
            )
        attrs = {
            "name": params["name"],
            "campaignArn": arn,
            "solutionVersionArn": version_arn,
            "minProvisionedTPS": int(params.get("minProvisionedTPS", 1)),
            "campaignConfig": params.get("campaignConfig") or {},
            "status": "ACTIVE",
        }
        backend.add(state, arn, "campaign", attrs, params.get("tags"))
    return {"campaignArn": arn}


@operation
def describe_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    return {"campaign": backend.get(params["campaignArn"], "campaign")["attrs"]}


@operation
def list_campaigns(backend: PersonalizeBackend, params: dict) -> dict:
    state = backend.state()
    records = backend.records(state, "campaign")
    if params.get("solutionArn"):
        records = [
            r
            for r in records
            if state["resources"].get(r["attrs"]["solutionVersionArn"], {}).get("attrs", {}).get("solutionArn")
            == params["solutionArn"]
        ]
    summaries = [dict(r["attrs"]) for r in reversed(records) if backend.in_region(r["arn"])]
    return paginate(summaries, params, "campaigns")


@operation
def update_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["campaignArn"]
    with backend.transaction() as state:
        campaign = _require_exists(state, arn, "campaign")
        status = campaign["attrs"]["status"]
        if status not in ("ACTIVE", "CREATE FAILED"):
            raise ResourceInUseException(f"Campaign {arn} is {status}: it can be updated when ACTIVE or CREATE FAILED.")
        version_arn = params.get("solutionVersionArn", campaign["attrs"]["solutionVersionArn"])
        version = _require_exists(state, version_arn, "solution_version")
        _require_active(version, version_arn)
        config = params.get("campaignConfig", campaign["attrs"]["campaignConfig"])
        _check_campaign_config(config, version["attrs"]["recipeArn"])
        tps = int(params.get("minProvisionedTPS", campaign["attrs"]["minProvisionedTPS"]))
        backend.update(campaign, solutionVersionArn=version_arn, campaignConfig=config, minProvisionedTPS=tps)
        stamp = campaign["attrs"]["lastUpdatedDateTime"]
        campaign["attrs"]["latestCampaignUpdate"] = {
            "solutionVersionArn": version_arn,
            "minProvisionedTPS": tps,
            "campaignConfig": config,
            "status": "ACTIVE",
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
    return {"campaignArn": arn}


@operation
def delete_campaign(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as state:
        _require_exists(state, params["campaignArn"], "campaign")
        del state["resources"][params["campaignArn"]]
    return {}


# ----------------------------------------------------------------------------- event trackers and filters


@operation
def create_event_tracker(backend: PersonalizeBackend, params: dict) -> dict:
    group_arn = params["datasetGroupArn"]
    arn = backend.arn("event_tracker", params["name"])
    _check_tags(params.get("tags"))
    with backend.transaction() as state:
        group = _require_exists(state, group_arn, "dataset_group")
        _require_active(group, group_arn)
        _new(backend, state, arn)
        existing = backend.records(state, "event_tracker", datasetGroupArn=group_arn)
        if existing:
            raise ResourceAlreadyExistsException(
                f"Dataset group {group_arn} already has an event tracker ({existing[0]['attrs']['eventTrackerArn']})."
            )
        attrs = {
            "name": params["name"],
            "eventTrackerArn": arn,
            "accountId": ACCOUNT_ID,
            "trackingId": str(uuid.uuid4()),
            "datasetGroupArn": group_arn,
            "status": "ACTIVE",
        }
        backend.add(state, arn, "event_tracker", attrs, params.get("tags"))
    return {"eventTrackerArn": arn, "trackingId": attrs["trackingId"]}


@operation
def describe_event_tracker(backend: PersonalizeBackend, params: dict) -> dict:
    return {"eventTracker": backend.get(params["eventTrackerArn"], "event_tracker")["attrs"]}


@operation
def list_event_trackers(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "event_tracker", "eventTrackers", datasetGroupArn=params.get("datasetGroupArn"))


@operation
def delete_event_tracker(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as state:
        _require_exists(state, params["eventTrackerArn"], "event_tracker")
        del state["resources"][params["eventTrackerArn"]]
    return {}


@operation
def create_filter(backend: PersonalizeBackend, params: dict) -> dict:
    from personalize_kit.local import filtering

    group_arn = params["datasetGroupArn"]
    arn = backend.arn("filter", params["name"])
    _check_tags(params.get("tags"))
    filtering.check_expression(params["filterExpression"])
    with backend.transaction() as state:
        _require_exists(state, group_arn, "dataset_group")
        fields = {
            dataset["attrs"]["datasetType"]: {
                name
                for name, _ in imports.schema_fields(
                    json.loads(state["resources"][dataset["attrs"]["schemaArn"]]["attrs"]["schema"])
                )
            }
            for dataset in backend.records(state, "dataset", datasetGroupArn=group_arn)
        }
        filtering.check_expression(params["filterExpression"], fields)
        _new(backend, state, arn)
        if len(backend.records(state, "filter", datasetGroupArn=group_arn)) >= MAX_FILTERS_PER_DATASET_GROUP:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_FILTERS_PER_DATASET_GROUP} filters in dataset group {group_arn}."
            )
        attrs = {
            "name": params["name"],
            "filterArn": arn,
            "datasetGroupArn": group_arn,
            "filterExpression": params["filterExpression"],
            "status": "ACTIVE",
        }
        backend.add(state, arn, "filter", attrs, params.get("tags"))
    return {"filterArn": arn}


@operation
def describe_filter(backend: PersonalizeBackend, params: dict) -> dict:
    return {"filter": backend.get(params["filterArn"], "filter")["attrs"]}


@operation
def list_filters(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(backend, params, "filter", "Filters", datasetGroupArn=params.get("datasetGroupArn"))


@operation
def delete_filter(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as state:
        _require_exists(state, params["filterArn"], "filter")
        del state["resources"][params["filterArn"]]
    return {}


# ----------------------------------------------------------------------------- batch inference


@operation
def create_batch_inference_job(backend: PersonalizeBackend, params: dict) -> dict:
    arn = backend.arn("batch_inference_job", params["jobName"])
    version_arn = params["solutionVersionArn"]
    _check_tags(params.get("tags"))
    num_results = int(params.get("numResults", 25))
    if num_results > MAX_NUM_RESULTS:
        raise InvalidInputException(f"numResults must be at most {MAX_NUM_RESULTS}: {num_results}.")
    if params.get("batchInferenceJobMode", "BATCH_INFERENCE") != "BATCH_INFERENCE":
        raise InvalidInputException("batchInferenceJobMode THEME_GENERATION is not supported by the local mirror.")
    with backend.transaction() as state:
        version = _require_exists(state, version_arn, "solution_version")
        _require_active(version, version_arn)
        if params.get("filterArn"):
            _require_exists(state, params["filterArn"], "filter")
        _new(backend, state, arn)
        attrs = {
            "jobName": params["jobName"],
            "batchInferenceJobArn": arn,
            "solutionVersionArn": version_arn,
            "numResults": num_results,
            "jobInput": params["jobInput"],
            "jobOutput": params["jobOutput"],
            "roleArn": params["roleArn"],
            "batchInferenceJobMode": "BATCH_INFERENCE",
            "status": "PENDING",
        }
        for key in ("filterArn", "batchInferenceJobConfig"):
            if params.get(key):
                attrs[key] = params[key]
        claim_job(backend.add(state, arn, "batch_inference_job", attrs, params.get("tags")))
    batch.run_batch_inference_job(backend, arn)
    return {"batchInferenceJobArn": arn}


@operation
def describe_batch_inference_job(backend: PersonalizeBackend, params: dict) -> dict:
    return {"batchInferenceJob": backend.get(params["batchInferenceJobArn"], "batch_inference_job")["attrs"]}


@operation
def list_batch_inference_jobs(backend: PersonalizeBackend, params: dict) -> dict:
    return _list(
        backend,
        params,
        "batch_inference_job",
        "batchInferenceJobs",
        solutionVersionArn=params.get("solutionVersionArn"),
    )


# ----------------------------------------------------------------------------- recipes


def _recipe_attrs(arn: str) -> dict:
    info = RECIPES[arn]
    return {
        "name": info.name,
        "recipeArn": arn,
        "algorithmArn": f"arn:aws:personalize:::algorithm/{info.name}",
        "featureTransformationArn": "arn:aws:personalize:::feature-transformation/JSON-percentile-filtering",
        "status": "ACTIVE",
        "description": info.description,
        "recipeType": info.recipe_type,
        "creationDateTime": 1_546_300_800.0,
        "lastUpdatedDateTime": 1_546_300_800.0,
    }


@operation
def describe_recipe(backend: PersonalizeBackend, params: dict) -> dict:
    if params["recipeArn"] not in RECIPES:
        raise ResourceNotFoundException.for_arn(params["recipeArn"])
    return {"recipe": _recipe_attrs(params["recipeArn"])}


@operation
def list_recipes(backend: PersonalizeBackend, params: dict) -> dict:
    if params.get("domain"):
        return {"recipes": []}
    return paginate([_recipe_attrs(arn) for arn in sorted(RECIPES)], params, "recipes")


# ----------------------------------------------------------------------------- tags


_TAGGABLE = re.compile(r"arn:aws:personalize:[^:]*:\d{12}:[a-z-]+/.+")


def _taggable(state: dict, arn: str) -> dict:
    record = state["resources"].get(arn)
    if record is None or not _TAGGABLE.fullmatch(arn):
        raise ResourceNotFoundException.for_arn(arn)
    return record


@operation
def tag_resource(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as state:
        record = _taggable(state, params["resourceArn"])
        tags = {t["tagKey"]: t["tagValue"] for t in record["tags"]}
        tags.update({t["tagKey"]: t["tagValue"] for t in params["tags"]})
        _check_tags(list(tags))
        record["tags"] = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
    return {}


@operation
def untag_resource(backend: PersonalizeBackend, params: dict) -> dict:
    with backend.transaction() as state:
        record = _taggable(state, params["resourceArn"])
        record["tags"] = [t for t in record["tags"] if t["tagKey"] not in set(params["tagKeys"])]
    return {}


@operation
def list_tags_for_resource(backend: PersonalizeBackend, params: dict) -> dict:
    return {"tags": _taggable(backend.state(), params["resourceArn"])["tags"]}
