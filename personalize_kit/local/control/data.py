"""Schemas, dataset groups, datasets, dataset import and export jobs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from personalize_kit.data.schemas import ACTION_DATASET_TYPES, ALL_DATASET_TYPES, domain_missing
from personalize_kit.kinds import CREATE_PENDING, CREATING
from personalize_kit.local import access, batch, imports, lifecycle, store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import (
    Create,
    create,
    delete,
    delete_blocked,
    operation,
    register_reads,
)
from personalize_kit.local.exceptions import InvalidInputException, ResourceInUseException
from personalize_kit.local.resources import Resource, Resources

DATASET_TYPES = ALL_DATASET_TYPES


def _name(arn: str) -> str:
    return arn.split("/")[1]


def _schema_checked(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    problems = imports.schema_problems(params["schema"])
    if problems:
        raise InvalidInputException("Invalid schema: " + "; ".join(problems[:5]))
    missing = domain_missing(json.loads(params["schema"]), params["domain"]) if params.get("domain") else []
    if missing:
        raise InvalidInputException(
            f"Invalid schema: a {params['domain']} schema of this dataset type needs the fields {', '.join(missing)}."
        )


_SCHEMA = Create(
    "schema",
    arn=lambda backend, params: backend.arn("schema", params["name"]),
    attrs=lambda resources, params, parent: {
        "name": params["name"],
        "schema": params["schema"],
        **({"domain": params["domain"]} if params.get("domain") else {}),
    },
    prepare=_schema_checked,
    status=None,
)


@operation
def create_schema(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_SCHEMA, backend, params)


@operation
def delete_schema(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["schemaArn"]
    with backend.transaction() as resources:
        resources.find(arn, "schema")
        users = [r.arn for r in resources.all("dataset", schemaArn=arn)]
        if users:
            raise delete_blocked(arn, "dataset(s) using it", users)
        resources.delete(arn)
    return {}


# ----------------------------------------------------------------------------- dataset groups


def _group_checked(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    if params.get("kmsKeyArn") and not params.get("roleArn"):
        raise InvalidInputException("A roleArn is required when a kmsKeyArn is specified.")
    if params.get("kmsKeyArn"):
        arn = backend.arn("dataset_group", params["name"])
        access.check_role(params["roleArn"], backend.region, source_arn=arn)
        access.check_kms_key(params["kmsKeyArn"], params["roleArn"], backend.region)


def _role_checked(kind: str) -> Any:
    """The request's role exists and trusts Personalize (the S3 paths are checked when the job runs)."""

    def check(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
        if params.get("roleArn"):
            access.check_role(params["roleArn"], backend.region, source_arn=backend.arn(kind, params["jobName"]))

    return check


_DATASET_GROUP = Create(
    "dataset_group",
    arn=lambda backend, params: backend.arn("dataset_group", params["name"]),
    attrs=lambda resources, params, parent: {
        "name": params["name"],
        **{key: params[key] for key in ("roleArn", "kmsKeyArn", "domain") if params.get(key)},
    },
    prepare=_group_checked,
    response=lambda group: {
        "datasetGroupArn": group.arn,
        **({"domain": group.attrs["domain"]} if group.attrs.get("domain") else {}),
    },
)


@operation
def create_dataset_group(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_DATASET_GROUP, backend, params)


def _group_deletable(resources: Resources, group: Resource) -> None:
    for kind, what in (
        ("dataset", "dataset(s)"),
        ("solution", "solution(s)"),
        ("event_tracker", "event tracker(s)"),
        ("recommender", "recommender(s)"),
        ("metric_attribution", "metric attribution(s)"),
    ):
        dependents = [r.arn for r in resources.all(kind, datasetGroupArn=group.arn)]
        if dependents:
            raise delete_blocked(group.arn, what, dependents)
    running = [j.arn for j in resources.all("data_deletion_job", datasetGroupArn=group.arn) if j.status in CREATING]
    if running:
        raise ResourceInUseException(f"Cannot delete {group.arn}: data deletion job {running[0]} is still running.")


def _group_gone(backend: PersonalizeBackend, resources: Resources, group: Resource) -> None:
    for kind in ("filter", "data_deletion_job"):
        for found in resources.all(kind, datasetGroupArn=group.arn):
            resources.delete(found.arn)
    store.remove_dataset_group(backend.state, _name(group.arn))


lifecycle.FINALIZERS["dataset_group"] = _group_gone


@operation
def delete_dataset_group(backend: PersonalizeBackend, params: dict) -> dict:
    return delete(backend, params, "dataset_group", _group_deletable)


# ----------------------------------------------------------------------------- datasets


def _schema_fits(resources: Resources, schema_arn: str, dataset_type: str, what: str) -> None:
    schema = resources.find(schema_arn, "schema")
    problems = imports.schema_problems(json.loads(schema.attrs["schema"]), dataset_type)
    if problems:
        raise InvalidInputException(f"The schema {schema_arn} does not fit {what}: " + "; ".join(problems[:5]))


def _dataset_type(params: dict[str, Any]) -> str:
    dataset_type = params["datasetType"].upper()
    if dataset_type not in DATASET_TYPES:
        raise InvalidInputException(
            f"datasetType {params['datasetType']} is not a dataset type: use one of {', '.join(DATASET_TYPES)}."
        )
    return dataset_type


def _dataset_checked(resources: Resources, params: dict[str, Any], group: Resource | None) -> None:
    dataset_type = _dataset_type(params)
    _schema_fits(resources, params["schemaArn"], dataset_type, f"a {dataset_type} dataset")
    domain = group.attrs.get("domain") if group is not None else None
    if domain and dataset_type in ACTION_DATASET_TYPES:
        raise InvalidInputException(
            f"A {dataset_type} dataset cannot be created in a domain dataset group ({domain}): create it in a "
            "custom dataset group."
        )
    schema_domain = resources.find(params["schemaArn"], "schema").attrs.get("domain")
    if domain != schema_domain:
        raise InvalidInputException(
            f"The schema {params['schemaArn']} is for {schema_domain or 'custom'} dataset groups but the dataset "
            f"group {params['datasetGroupArn']} is {domain or 'custom'}: use a schema of the same domain."
        )


_DATASET = Create(
    "dataset",
    arn=lambda backend, params: backend.arn("dataset", _name(params["datasetGroupArn"]), _dataset_type(params)),
    parent_param="datasetGroupArn",
    check=lambda resources, params, group: _dataset_checked(resources, params, group),
    attrs=lambda resources, params, group: {
        "name": params["name"],
        "datasetGroupArn": params["datasetGroupArn"],
        "datasetType": _dataset_type(params),
        "schemaArn": params["schemaArn"],
        # the service makes an action interaction event tracker with the dataset (PutActionInteractions)
        **({"trackingId": str(uuid.uuid4())} if _dataset_type(params) == "ACTION_INTERACTIONS" else {}),
    },
)


@operation
def create_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_DATASET, backend, params)


@operation
def describe_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    resources = backend.read()
    attrs = resources.find(params["datasetArn"], "dataset").to_dict()
    if attrs["datasetType"] == "INTERACTIONS":
        trackers = resources.all("event_tracker", datasetGroupArn=attrs["datasetGroupArn"])
        if trackers:
            attrs["trackingId"] = trackers[0].attrs["trackingId"]
    return {"dataset": attrs}


@operation
def update_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["datasetArn"]
    with backend.transaction() as resources:
        dataset = resources.find(arn, "dataset")
        dataset.require_active()
        if lifecycle.update_in_flight(dataset):
            raise ResourceInUseException(f"Dataset {arn} is being updated: wait for its latestDatasetUpdate.")
        _schema_fits(resources, params["schemaArn"], dataset.attrs["datasetType"], "this dataset")
        summary = {"schemaArn": params["schemaArn"]}
        lifecycle.start_update(dataset, backend.settings.pace, summary, {"schemaArn": params["schemaArn"]})
    return {"datasetArn": arn}


def _dataset_deletable(resources: Resources, dataset: Resource) -> None:
    attrs = dataset.attrs
    if attrs["datasetType"] == "INTERACTIONS":
        trackers = [r.arn for r in resources.all("event_tracker", datasetGroupArn=attrs["datasetGroupArn"])]
        if trackers:
            raise delete_blocked(dataset.arn, "event tracker(s) recording into it", trackers)
    for kind in ("dataset_import_job", "dataset_export_job"):
        running = [job.arn for job in resources.all(kind, datasetArn=dataset.arn) if job.status in CREATING]
        if running:
            raise ResourceInUseException(f"Cannot delete {dataset.arn}: job {running[0]} is still running.")


def _dataset_gone(backend: PersonalizeBackend, resources: Resources, dataset: Resource) -> None:
    for kind in ("dataset_import_job", "dataset_export_job"):
        for job in resources.all(kind, datasetArn=dataset.arn):
            resources.delete(job.arn)
    store.delete_dataset(backend.state, _name(dataset.attrs["datasetGroupArn"]), dataset.attrs["datasetType"])


lifecycle.FINALIZERS["dataset"] = _dataset_gone


@operation
def delete_dataset(backend: PersonalizeBackend, params: dict) -> dict:
    return delete(backend, params, "dataset", _dataset_deletable)


# ----------------------------------------------------------------------------- import and export jobs


def _import_attrs(resources: Resources, params: dict[str, Any], dataset: Resource | None) -> dict[str, Any]:
    attrs = {
        "jobName": params["jobName"],
        "datasetArn": params["datasetArn"],
        "dataSource": params["dataSource"],
        "importMode": params.get("importMode", "FULL"),
        "publishAttributionMetricsToS3": bool(params.get("publishAttributionMetricsToS3", False)),
    }
    if params.get("roleArn"):
        attrs["roleArn"] = params["roleArn"]
    return attrs


_IMPORT_JOB = Create(
    "dataset_import_job",
    arn=lambda backend, params: backend.arn("dataset_import_job", params["jobName"]),
    parent_param="datasetArn",
    prepare=_role_checked("dataset_import_job"),
    attrs=_import_attrs,
    status=CREATE_PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, imports.run_import_job),
)
_EXPORT_JOB = Create(
    "dataset_export_job",
    arn=lambda backend, params: backend.arn("dataset_export_job", params["jobName"]),
    parent_param="datasetArn",
    prepare=_role_checked("dataset_export_job"),
    attrs=lambda resources, params, dataset: {
        "jobName": params["jobName"],
        "datasetArn": params["datasetArn"],
        "ingestionMode": params.get("ingestionMode", "PUT"),
        "roleArn": params["roleArn"],
        "jobOutput": params["jobOutput"],
    },
    status=CREATE_PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, batch.run_export_job),
)


@operation
def create_dataset_import_job(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_IMPORT_JOB, backend, params)


@operation
def create_dataset_export_job(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_EXPORT_JOB, backend, params)


register_reads("schema", "dataset_group", "dataset", "dataset_import_job", "dataset_export_job")
