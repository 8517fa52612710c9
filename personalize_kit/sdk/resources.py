"""One function per Personalize resource step: create it, or adopt the one of that name, then wait.

Every function takes the boto3 ``session`` as a keyword (the local mirror is just another session), is
idempotent (a second call with the same arguments creates nothing and says so in ``Outcome.action``),
and raises :class:`~personalize_kit.exceptions.ResourceFailedError` with the service's ``failureReason``
when a resource fails, or :class:`~personalize_kit.exceptions.ResourceConflictError` when a resource of
that name exists with settings Personalize cannot change in place.

>>> import boto3
>>> session = boto3.Session()                                              # doctest: +SKIP
>>> group = ensure_dataset_group("movielens", session=session)             # doctest: +SKIP
>>> group.action, group.arn                                                # doctest: +SKIP
('created', 'arn:aws:personalize:us-east-1:123456789012:dataset-group/movielens')
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from personalize_kit.exceptions import ResourceConflictError, ResourceFailedError
from personalize_kit.kinds import CREATE_IN_PROGRESS, CREATE_PENDING, CREATE_STOPPING, FAILED
from personalize_kit.sdk._clients import account_and_region, client
from personalize_kit.sdk._wait import Progress, wait

#: Statuses of a solution version still training.
IN_PROGRESS = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING)

#: Campaign metrics compared before a new solution version replaces the deployed one.
COMPARED_METRICS = ("normalized_discounted_cumulative_gain_at_10", "mean_reciprocal_rank_at_25")


@dataclass
class Outcome:
    """What a step did: ``created``, ``adopted`` (existed already), ``updated`` or ``kept`` (left as it was)."""

    kind: str
    name: str
    arn: str
    action: str
    detail: str = ""
    description: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Options:
    """Waiting behaviour shared by the steps."""

    wait: bool = True
    timeout: float = 3 * 3600.0
    progress: Progress | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.timeout, (int, float)) or not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ValueError(f"timeout must be a finite number of seconds above 0, not {self.timeout!r}")


def _personalize(session: boto3.Session | None) -> Any:
    return client("personalize", session)


def arn(kind: str, name: str, *, session: boto3.Session | None = None) -> str:
    """The ARN of a Personalize resource of the session's account and region, e.g. ``arn("schema", "x")``."""
    partition, account, region = account_and_region(session)
    return f"arn:{partition}:personalize:{region}:{account}:{kind}/{name}"


def _describe(personalize: Any, operation: str, param: str, value: str, key: str) -> dict[str, Any] | None:
    try:
        return getattr(personalize, operation)(**{param: value})[key]
    except personalize.exceptions.ResourceNotFoundException:
        return None


def _settle(personalize: Any, kind: str, target: str, options: Options) -> dict[str, Any]:
    return wait(personalize, kind, target, timeout=options.timeout, progress=options.progress) if options.wait else {}


def _adopt(
    personalize: Any, kind: str, name: str, target: str, found: dict, options: Options, detail: str = ""
) -> Outcome:
    status = found.get("status", "ACTIVE")
    if status in FAILED:
        raise ResourceFailedError(target, status, found.get("failureReason"))
    body = _settle(personalize, kind, target, options) if status != "ACTIVE" else found
    return Outcome(kind, name, target, "adopted", detail or "exists already", body or found)


def ensure_schema(
    name: str, schema: Mapping[str, Any], *, domain: str | None = None, session: boto3.Session | None = None
) -> Outcome:
    """Create the schema, or adopt an identical one; a different schema of that name is a conflict."""
    personalize = _personalize(session)
    target = arn("schema", name, session=session)
    found = _describe(personalize, "describe_schema", "schemaArn", target, "schema")
    if found is not None:
        if json.loads(found["schema"]) != dict(schema):
            raise ResourceConflictError(
                f"schema {name} exists with other fields; schemas are immutable: give the new schema another name "
                f"under `schemas:` in the project file (e.g. {name}-v2), or clean up the dataset group first"
            )
        return Outcome("schema", name, target, "adopted", "identical schema exists", found)
    kwargs: dict[str, Any] = {"name": name, "schema": json.dumps(schema)}
    if domain:
        kwargs["domain"] = domain
    created = personalize.create_schema(**kwargs)["schemaArn"]
    return Outcome("schema", name, created, "created")


def ensure_dataset_group(
    name: str,
    *,
    role_arn: str | None = None,
    kms_key_arn: str | None = None,
    tags: Mapping[str, str] | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the dataset group (encrypted with ``kms_key_arn`` when given), or adopt the one of that name."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("dataset-group", name, session=session)
    found = _describe(personalize, "describe_dataset_group", "datasetGroupArn", target, "datasetGroup")
    if found is not None:
        detail = "exists already"
        if kms_key_arn and found.get("kmsKeyArn") not in (None, kms_key_arn):
            detail = f"exists already, encrypted with {found.get('kmsKeyArn')} (the key cannot change)"
        return _adopt(personalize, "dataset_group", name, target, found, options, detail)
    kwargs: dict[str, Any] = {"name": name}
    if kms_key_arn:
        kwargs.update(kmsKeyArn=kms_key_arn, roleArn=role_arn)
    if tags:
        kwargs["tags"] = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
    created = personalize.create_dataset_group(**kwargs)["datasetGroupArn"]
    return Outcome(
        "dataset_group", name, created, "created", "", _settle(personalize, "dataset_group", created, options)
    )


def ensure_dataset(
    dataset_group_arn: str,
    dataset_type: str,
    schema_arn: str,
    *,
    name: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the group's dataset of ``dataset_type`` (INTERACTIONS, ITEMS, USERS), or adopt it."""
    options = options or Options()
    personalize = _personalize(session)
    group = dataset_group_arn.rsplit("/", 1)[1]
    target = dataset_group_arn.replace(":dataset-group/", ":dataset/") + f"/{dataset_type}"
    name = name or f"{group}-{dataset_type.lower()}"
    found = _describe(personalize, "describe_dataset", "datasetArn", target, "dataset")
    if found is not None:
        if found.get("schemaArn") != schema_arn:
            # a dataset may move to another schema (UpdateDataset) when the service finds it compatible
            try:
                personalize.update_dataset(datasetArn=target, schemaArn=schema_arn)
            except personalize.exceptions.InvalidInputException as exc:
                raise ResourceConflictError(
                    f"the {dataset_type} dataset of {group} uses schema {found.get('schemaArn')} and cannot move to "
                    f"{schema_arn} ({exc.response['Error']['Message']}); clean up the dataset group "
                    "(`python -m personalize_kit cleanup`) or use another dataset group name"
                ) from None
            body = _settle(personalize, "dataset", target, options)
            detail = f"schema {found.get('schemaArn', '').rsplit('/', 1)[-1]} -> {schema_arn.rsplit('/', 1)[-1]}"
            return Outcome("dataset", name, target, "updated", detail, body)
        return _adopt(personalize, "dataset", name, target, found, options)
    created = personalize.create_dataset(
        name=name, schemaArn=schema_arn, datasetGroupArn=dataset_group_arn, datasetType=dataset_type
    )["datasetArn"]
    return Outcome("dataset", name, created, "created", "", _settle(personalize, "dataset", created, options))


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file, hex: the identity of the data an import job carries."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(
    path: str | Path,
    bucket: str,
    key: str,
    *,
    kms_key_arn: str | None = None,
    session: boto3.Session | None = None,
) -> tuple[str, bool]:
    """Upload ``path`` to ``s3://bucket/key`` with SSE-KMS; skipped when the same bytes are there already.

    Returns the S3 URI and whether it was uploaded.
    """
    s3 = client("s3", session)
    digest = file_digest(path)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") == digest:
            return f"s3://{bucket}/{key}", False
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
    extra: dict[str, Any] = {"Metadata": {"sha256": digest}}
    if kms_key_arn:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
    return f"s3://{bucket}/{key}", True


def ensure_import_job(
    dataset_arn: str,
    s3_uri: str,
    role_arn: str,
    *,
    name: str,
    import_mode: str = "FULL",
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Import ``s3_uri`` into the dataset under job ``name`` (name it after the data's digest to re-import
    only when the data changed); an existing job of that name is adopted, and waited for if running."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("dataset-import-job", name, session=session)
    found = _describe(personalize, "describe_dataset_import_job", "datasetImportJobArn", target, "datasetImportJob")
    if found is not None:
        return _adopt(personalize, "dataset_import_job", name, target, found, options, "same data imported already")
    created = personalize.create_dataset_import_job(
        jobName=name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": s3_uri},
        roleArn=role_arn,
        importMode=import_mode,
    )["datasetImportJobArn"]
    body = _settle(personalize, "dataset_import_job", created, options)
    return Outcome("dataset_import_job", name, created, "created", "", body)


def ensure_solution(
    dataset_group_arn: str,
    name: str,
    recipe_arn: str,
    *,
    hyperparameters: Mapping[str, str] | None = None,
    event_type: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the solution, or adopt the one of that name if its recipe and settings are the same."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("solution", name, session=session)
    wanted = {k: str(v) for k, v in (hyperparameters or {}).items()}
    found = _describe(personalize, "describe_solution", "solutionArn", target, "solution")
    if found is not None:
        have = (found.get("solutionConfig") or {}).get("algorithmHyperParameters") or {}
        changes = []
        if found.get("recipeArn") != recipe_arn:
            changes.append(f"recipe {found.get('recipeArn')} -> {recipe_arn}")
        if found.get("datasetGroupArn") != dataset_group_arn:
            changes.append(f"dataset group {found.get('datasetGroupArn')}")
        if (found.get("eventType") or None) != (event_type or None):
            changes.append(f"eventType {found.get('eventType')} -> {event_type}")
        changes += [f"{k} {have.get(k)} -> {v}" for k, v in wanted.items() if have.get(k) != v]
        if changes:
            raise ResourceConflictError(
                f"solution {name} exists with other settings ({'; '.join(changes)}); solutions cannot change "
                f"recipe or hyperparameters: give the new solution another name (e.g. {name}-v2)"
            )
        return _adopt(personalize, "solution", name, target, found, options)
    kwargs: dict[str, Any] = {"name": name, "datasetGroupArn": dataset_group_arn, "recipeArn": recipe_arn}
    if wanted:
        kwargs["solutionConfig"] = {"algorithmHyperParameters": wanted}
    if event_type:
        kwargs["eventType"] = event_type
    created = personalize.create_solution(**kwargs)["solutionArn"]
    return Outcome("solution", name, created, "created", "", _settle(personalize, "solution", created, options))


def ensure_solution_version(
    solution_arn: str,
    *,
    data_updated: datetime | None = None,
    training_mode: str = "FULL",
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Train a solution version unless one is running (it is waited for) or an ACTIVE one is newer than the
    data (``data_updated``: when the newest import finished), which is adopted."""
    options = options or Options()
    personalize = _personalize(session)
    name = solution_arn.rsplit("/", 1)[1]
    versions = []
    for page in personalize.get_paginator("list_solution_versions").paginate(solutionArn=solution_arn):
        versions.extend(page["solutionVersions"])
    versions.sort(key=lambda v: v["creationDateTime"], reverse=True)
    running = next((v for v in versions if v["status"] in IN_PROGRESS), None)
    if running is not None:
        body = _settle(personalize, "solution_version", running["solutionVersionArn"], options)
        return Outcome("solution_version", name, running["solutionVersionArn"], "adopted", "training was running", body)
    active = next((v for v in versions if v["status"] == "ACTIVE"), None)
    if active is not None and (data_updated is None or active["creationDateTime"] >= data_updated):
        return Outcome(
            "solution_version", name, active["solutionVersionArn"], "adopted", "trained on the current data", active
        )
    created = personalize.create_solution_version(solutionArn=solution_arn, trainingMode=training_mode)[
        "solutionVersionArn"
    ]
    body = _settle(personalize, "solution_version", created, options)
    return Outcome("solution_version", name, created, "created", f"trainingMode {training_mode}", body)


def solution_metrics(solution_version_arn: str, *, session: boto3.Session | None = None) -> dict[str, float]:
    """The offline metrics of a solution version (GetSolutionMetrics)."""
    return dict(_personalize(session).get_solution_metrics(solutionVersionArn=solution_version_arn)["metrics"])


def _not_worse(new: Mapping[str, float], old: Mapping[str, float]) -> tuple[bool, str]:
    compared = [m for m in COMPARED_METRICS if m in new and m in old]
    worse = [f"{m} {new[m]:.4f} < {old[m]:.4f}" for m in compared if new[m] < old[m]]
    return not worse, "; ".join(worse)


def ensure_campaign(
    name: str,
    solution_version_arn: str,
    *,
    min_provisioned_tps: int = 1,
    campaign_config: Mapping[str, Any] | None = None,
    force: bool = False,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Deploy ``solution_version_arn`` as campaign ``name``: create it, or update the deployed campaign to
    the new version only if the new version's metrics are not worse (``force`` deploys regardless)."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("campaign", name, session=session)
    found = _describe(personalize, "describe_campaign", "campaignArn", target, "campaign")
    config = dict(campaign_config or {})
    if found is None:
        kwargs: dict[str, Any] = {
            "name": name,
            "solutionVersionArn": solution_version_arn,
            "minProvisionedTPS": min_provisioned_tps,
        }
        if config:
            kwargs["campaignConfig"] = config
        created = personalize.create_campaign(**kwargs)["campaignArn"]
        return Outcome("campaign", name, created, "created", "", _settle(personalize, "campaign", created, options))
    if found.get("status") in FAILED:
        raise ResourceFailedError(target, found["status"], found.get("failureReason"))
    deployed = found.get("solutionVersionArn")
    same_config = (found.get("campaignConfig") or {}).get("itemExplorationConfig") == config.get(
        "itemExplorationConfig"
    ) and found.get("minProvisionedTPS") == min_provisioned_tps
    if deployed == solution_version_arn and (same_config or not config):
        return _adopt(personalize, "campaign", name, target, found, options, "serves this version already")
    detail = "settings changed"
    if deployed != solution_version_arn:
        better, why = _not_worse(
            solution_metrics(solution_version_arn, session=session), solution_metrics(deployed, session=session)
        )
        if not better and not force:
            return Outcome(
                "campaign",
                name,
                target,
                "kept",
                f"the new version is worse ({why}); the deployed one stays (force to deploy)",
                found,
            )
        detail = "new solution version" + ("" if better else f" deployed by force ({why})")
    kwargs = {
        "campaignArn": target,
        "solutionVersionArn": solution_version_arn,
        "minProvisionedTPS": min_provisioned_tps,
    }
    if config:
        kwargs["campaignConfig"] = config
    personalize.update_campaign(**kwargs)
    return Outcome("campaign", name, target, "updated", detail, _settle(personalize, "campaign", target, options))


def ensure_event_tracker(
    dataset_group_arn: str,
    name: str,
    *,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the dataset group's event tracker, or adopt its existing one (a group has at most one)."""
    options = options or Options()
    personalize = _personalize(session)
    trackers = personalize.list_event_trackers(datasetGroupArn=dataset_group_arn)["eventTrackers"]
    if trackers:
        found = personalize.describe_event_tracker(eventTrackerArn=trackers[0]["eventTrackerArn"])["eventTracker"]
        detail = "exists already" if found["name"] == name else f"the group's tracker is {found['name']}"
        return _adopt(personalize, "event_tracker", found["name"], found["eventTrackerArn"], found, options, detail)
    created = personalize.create_event_tracker(name=name, datasetGroupArn=dataset_group_arn)["eventTrackerArn"]
    body = _settle(personalize, "event_tracker", created, options)
    if not body:
        body = personalize.describe_event_tracker(eventTrackerArn=created)["eventTracker"]
    return Outcome("event_tracker", name, created, "created", "", body)


def ensure_filter(
    dataset_group_arn: str,
    name: str,
    expression: str,
    *,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the filter, or adopt one of that name with the same expression (filters are immutable)."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("filter", name, session=session)
    found = _describe(personalize, "describe_filter", "filterArn", target, "filter")
    if found is not None:
        if found.get("filterExpression") != expression:
            raise ResourceConflictError(
                f"filter {name} exists with the expression {found.get('filterExpression')!r}; filters are "
                f"immutable: give the new expression another name (e.g. {name}-v2)"
            )
        return _adopt(personalize, "filter", name, target, found, options)
    created = personalize.create_filter(name=name, datasetGroupArn=dataset_group_arn, filterExpression=expression)[
        "filterArn"
    ]
    return Outcome("filter", name, created, "created", "", _settle(personalize, "filter", created, options))


def ensure_batch_inference_job(
    name: str,
    solution_version_arn: str,
    input_uri: str,
    output_uri: str,
    role_arn: str,
    *,
    num_results: int = 25,
    kms_key_arn: str | None = None,
    filter_arn: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Run batch inference over the JSON Lines at ``input_uri`` into ``output_uri`` (``<input>.out`` there),
    or adopt the job of that name (name it after the version and the input's digest to run it once)."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("batch-inference-job", name, session=session)
    found = _describe(personalize, "describe_batch_inference_job", "batchInferenceJobArn", target, "batchInferenceJob")
    if found is not None:
        return _adopt(personalize, "batch_inference_job", name, target, found, options, "ran on this input already")
    key = {"kmsKeyArn": kms_key_arn} if kms_key_arn else {}
    request: dict[str, Any] = {
        "jobName": name,
        "solutionVersionArn": solution_version_arn,
        "numResults": num_results,
        "jobInput": {"s3DataSource": {"path": input_uri, **key}},
        "jobOutput": {"s3DataDestination": {"path": output_uri.rstrip("/") + "/", **key}},
        "roleArn": role_arn,
    }
    if filter_arn:
        request["filterArn"] = filter_arn
    created = personalize.create_batch_inference_job(**request)["batchInferenceJobArn"]
    body = _settle(personalize, "batch_inference_job", created, options)
    return Outcome("batch_inference_job", name, created, "created", "", body)
