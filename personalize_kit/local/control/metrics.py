"""Metric attributions: what a team measures of the impact of recommendations (the reports:
:mod:`personalize_kit.local.attribution`).

At most one per dataset group; up to :data:`~personalize_kit.local.attribution.MAX_METRICS` metrics, each
``{eventType, expression, metricName}`` with ``SAMPLECOUNT()`` or ``SUM(Interactions|Items.COLUMN)`` over a
numeric column of that dataset's schema, names unique. ``metricsOutputConfig`` names the role Personalize
assumes and, optionally, the S3 path the bulk reports go to (the role must be able to write there).
Created CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE; an update (metrics added or removed, a new output)
takes effect at once and the attribution goes UPDATE PENDING -> UPDATE IN_PROGRESS -> ACTIVE; while it is not
ACTIVE (or CREATE FAILED) it can be neither updated nor deleted.
"""

from __future__ import annotations

import json
from typing import Any

from personalize_kit.kinds import ACTIVE, CREATE_FAILED, UPDATE_IN_PROGRESS, UPDATE_PENDING
from personalize_kit.local import access, attribution, imports, lifecycle
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create, delete, list_of, operation, register_reads
from personalize_kit.local.exceptions import (
    InvalidInputException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
)
from personalize_kit.local.resources import Resource, Resources, paginate

#: Schema types a SUM() can add up.
NUMERIC_DTYPES = ("Int64", "Float64")


def _output_checked(backend: PersonalizeBackend, output: dict[str, Any], arn: str) -> None:
    """The role trusts Personalize and, with an S3 destination, may write there (and use its KMS key)."""
    role = output["roleArn"]
    access.check_role(role, backend.region, source_arn=arn)
    destination = output.get("s3DataDestination")
    if destination is None:
        return
    path = destination["path"]
    if not path.startswith("s3://"):
        raise InvalidInputException(f"metricsOutputConfig.s3DataDestination.path must be an s3:// path: {path}.")
    access.check_s3_access(role, "write", path.rstrip("/") + "/", backend.region, source_arn=arn)
    if destination.get("kmsKeyArn"):
        access.check_kms_key(destination["kmsKeyArn"], role, backend.region)


def _columns(resources: Resources, group_arn: str) -> dict[str, dict[str, str]]:
    """``{dataset type: {field: pandas dtype}}`` of the dataset group's datasets."""
    out = {}
    for dataset in resources.all("dataset", datasetGroupArn=group_arn):
        schema = json.loads(resources.find(dataset.attrs["schemaArn"], "schema").attrs["schema"])
        out[dataset.attrs["datasetType"]] = dict(imports.schema_fields(schema))
    return out


def _metric_checked(metric: dict[str, str], columns: dict[str, dict[str, str]]) -> dict[str, str]:
    """One metric checked against the dataset group's schemas; the metric with the column as the schema
    spells it."""
    expression = attribution.parse_expression(metric["expression"])
    if expression.function == "samplecount":
        return {key: metric[key] for key in ("eventType", "expression", "metricName")}
    dataset_type = expression.dataset_type or ""
    fields = columns.get(dataset_type)
    if fields is None:
        raise InvalidInputException(
            f"Metric {metric['metricName']}: {metric['expression']} reads the {dataset_type} dataset, which the "
            "dataset group does not have. Create it first."
        )
    spelled = {name.upper(): name for name in fields}
    column = spelled.get((expression.column or "").upper())
    if column is None:
        raise InvalidInputException(
            f"Metric {metric['metricName']}: {expression.column} is not a field of the {dataset_type} dataset's "
            f"schema ({', '.join(sorted(fields))})."
        )
    if fields[column] not in NUMERIC_DTYPES:
        raise InvalidInputException(
            f"Metric {metric['metricName']}: SUM() needs a numeric column (int, long, float, double); "
            f"{dataset_type}.{column} is not."
        )
    return {
        "eventType": metric["eventType"],
        "expression": f"SUM({dataset_type.title()}.{column})",
        "metricName": metric["metricName"],
    }


def _metrics_checked(resources: Resources, group_arn: str, metrics: list[dict[str, str]]) -> list[dict[str, str]]:
    names = [metric["metricName"] for metric in metrics]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInputException(f"Metric names must be unique: {', '.join(repeated)} is given more than once.")
    if len(metrics) > attribution.MAX_METRICS:
        raise LimitExceededException(
            f"A metric attribution has at most {attribution.MAX_METRICS} metrics: this one would have {len(metrics)}."
        )
    columns = _columns(resources, group_arn)
    return [_metric_checked(metric, columns) for metric in metrics]


def _one_per_group(resources: Resources, params: dict[str, Any], group: Resource | None) -> None:
    existing = resources.all("metric_attribution", datasetGroupArn=params["datasetGroupArn"])
    if existing:
        raise ResourceAlreadyExistsException(
            f"Dataset group {params['datasetGroupArn']} already has a metric attribution ({existing[0].arn}): "
            "update it or delete it first."
        )


def _attrs(resources: Resources, params: dict[str, Any], group: Resource | None) -> dict[str, Any]:
    group_arn = params["datasetGroupArn"]
    return {
        "name": params["name"],
        "datasetGroupArn": group_arn,
        "metricsOutputConfig": params["metricsOutputConfig"],
        "metrics": _metrics_checked(resources, group_arn, params["metrics"]),
        # the reports cover what is recorded from now on, as the service's do
        "eventsAfterSeq": attribution.last_event_seq(resources.conn, group_arn.split("/")[1]),
    }


_METRIC_ATTRIBUTION = Create(
    "metric_attribution",
    arn=lambda backend, params: backend.arn("metric_attribution", params["name"]),
    parent_param="datasetGroupArn",
    prepare=lambda backend, params: _output_checked(
        backend, params["metricsOutputConfig"], backend.arn("metric_attribution", params["name"])
    ),
    check=_one_per_group,
    attrs=_attrs,
)


@operation
def create_metric_attribution(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_METRIC_ATTRIBUTION, backend, params)


def _require_settled(found: Resource, what: str) -> None:
    if found.status not in (ACTIVE, CREATE_FAILED):
        raise ResourceInUseException(
            f"Metric attribution {found.arn} is {found.status}: it can be {what} once it is ACTIVE."
        )


def _updated_metrics(resources: Resources, found: Resource, params: dict[str, Any]) -> list[dict[str, str]]:
    metrics = list(found.attrs["metrics"])
    current = {metric["metricName"] for metric in metrics}
    unknown = [name for name in params.get("removeMetrics") or [] if name not in current]
    if unknown:
        raise InvalidInputException(
            f"removeMetrics names {', '.join(unknown)}, which the metric attribution does not have "
            f"({', '.join(sorted(current))})."
        )
    removed = set(params.get("removeMetrics") or [])
    metrics = [metric for metric in metrics if metric["metricName"] not in removed]
    kept = {metric["metricName"] for metric in metrics}
    clash = [metric["metricName"] for metric in params.get("addMetrics") or [] if metric["metricName"] in kept]
    if clash:
        raise ResourceAlreadyExistsException(
            f"The metric attribution already has a metric named {clash[0]}: remove it in the same request or "
            "choose another name."
        )
    return _metrics_checked(resources, found.attrs["datasetGroupArn"], metrics + list(params.get("addMetrics") or []))


@operation
def update_metric_attribution(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params.get("metricAttributionArn")
    if not arn:
        raise InvalidInputException("metricAttributionArn is required.")
    output = params.get("metricsOutputConfig")
    if output is not None:
        _output_checked(backend, output, arn)
    with backend.transaction() as resources:
        found = resources.find(arn, "metric_attribution")
        _require_settled(found, "updated")
        metrics = _updated_metrics(resources, found, params)
        found.update(metrics=metrics, metricsOutputConfig=output or found.attrs["metricsOutputConfig"])
        pace = backend.settings.pace
        if pace.pending > 0 or pace.updating > 0:
            lifecycle.schedule(found, UPDATE_PENDING, [(UPDATE_IN_PROGRESS, pace.pending), (ACTIVE, pace.updating)])
        else:
            found.update(status=ACTIVE)
    return {"metricAttributionArn": arn}


@operation
def delete_metric_attribution(backend: PersonalizeBackend, params: dict) -> dict:
    return delete(backend, params, "metric_attribution", lambda resources, found: _require_settled(found, "deleted"))


@operation
def list_metric_attributions(backend: PersonalizeBackend, params: dict) -> dict:
    return list_of(backend, params, "metric_attribution")


@operation
def list_metric_attribution_metrics(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params.get("metricAttributionArn")
    if not arn:
        raise InvalidInputException("metricAttributionArn is required.")
    found = backend.get(arn, "metric_attribution")
    return paginate(list(found.attrs["metrics"]), params, "metrics")


register_reads("metric_attribution")
