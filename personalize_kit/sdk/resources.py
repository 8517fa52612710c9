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

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from personalize_kit.exceptions import ResourceConflictError
from personalize_kit.kinds import CREATE_IN_PROGRESS, CREATE_PENDING, CREATE_STOPPING, FAILED
from personalize_kit.sdk._clients import account_and_region, client
from personalize_kit.sdk._ensure import (
    Options,
    Outcome,
    adopt,
    conflict,
    create,
    current_attempt,
    describe,
    existing,
    failure,
    outcome,
    settle,
    versions_of,
    with_replaced,
)
from personalize_kit.sdk._s3 import file_digest, upload  # noqa: F401 - part of this module's interface

#: Statuses of a solution version still training.
IN_PROGRESS = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING)

#: Campaign metrics compared before a new solution version replaces the deployed one.
COMPARED_METRICS = ("normalized_discounted_cumulative_gain_at_10", "mean_reciprocal_rank_at_25")


def _personalize(session: boto3.Session | None) -> Any:
    return client("personalize", session)


def arn(kind: str, name: str, *, session: boto3.Session | None = None) -> str:
    """The ARN of a Personalize resource of the session's account and region, e.g. ``arn("schema", "x")``."""
    partition, account, region = account_and_region(session)
    return f"arn:{partition}:personalize:{region}:{account}:{kind}/{name}"


def ensure_schema(
    name: str,
    schema: Mapping[str, Any],
    *,
    domain: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the schema, or adopt an identical one; a different schema of that name is a conflict."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("schema", name, session=session)
    found = describe(personalize, "schema", target)
    if found is not None:
        same = json.loads(found["schema"]) == dict(schema)
        if not same or found.get("domain") != domain:
            what = "other fields" if not same else f"domain {found.get('domain') or 'none'}"
            return conflict(
                options,
                "schema",
                name,
                target,
                f"schema {name} exists with {what}; schemas are immutable: give the new schema another "
                f"name under `schemas:` in the project file (e.g. {name}-v2), or clean up the dataset group first",
                found,
            )
        return outcome(options, "schema", name, target, "adopted", "identical schema exists", found)
    kwargs: dict[str, Any] = {"name": name, "schema": json.dumps(schema)}
    if domain:
        kwargs["domain"] = domain
    no_wait = Options(wait=False, timeout=options.timeout, plan=options.plan)
    return create(
        personalize, "schema", name, target, lambda: personalize.create_schema(**kwargs)["schemaArn"], no_wait
    )


def ensure_dataset_group(
    name: str,
    *,
    role_arn: str | None = None,
    kms_key_arn: str | None = None,
    tags: Mapping[str, str] | None = None,
    domain: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the dataset group (encrypted with ``kms_key_arn`` when given; of ``domain`` when given), or adopt
    the one of that name; one of another domain is a conflict."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("dataset-group", name, session=session)
    found, replaced = existing(personalize, "dataset_group", target, options)
    if found is not None and found.get("domain") != domain:
        why = f"dataset group {name} exists {'as ' + found['domain'] if found.get('domain') else 'without a domain'}"
        return conflict(options, "dataset_group", name, target, f"{why}; use another name (--name)", found)
    if found is not None:
        detail = "exists already"
        if kms_key_arn and found.get("kmsKeyArn") not in (None, kms_key_arn):
            detail = f"exists already, encrypted with {found.get('kmsKeyArn')} (the key cannot change)"
        return adopt(personalize, "dataset_group", name, target, found, options, detail)
    kwargs: dict[str, Any] = {"name": name}
    if kms_key_arn:
        kwargs.update(kmsKeyArn=kms_key_arn, roleArn=role_arn)
    if tags:
        kwargs["tags"] = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
    if domain:
        kwargs["domain"] = domain
    made = create(
        personalize,
        "dataset_group",
        name,
        target,
        lambda: personalize.create_dataset_group(**kwargs)["datasetGroupArn"],
        options,
    )
    return with_replaced(made, replaced, options)


def ensure_dataset(
    dataset_group_arn: str,
    dataset_type: str,
    schema_arn: str,
    *,
    name: str | None = None,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the group's dataset of ``dataset_type`` (INTERACTIONS, ITEMS, USERS), or adopt it; a dataset on
    another schema moves to this one (UpdateDataset) where the service finds the two compatible."""
    options = options or Options()
    personalize = _personalize(session)
    group = dataset_group_arn.rsplit("/", 1)[1]
    target = dataset_group_arn.replace(":dataset-group/", ":dataset/") + f"/{dataset_type}"
    name = name or f"{group}-{dataset_type.lower()}"
    found, replaced = existing(personalize, "dataset", target, options)
    if found is not None and found.get("schemaArn") != schema_arn:
        detail = f"schema {found.get('schemaArn', '').rsplit('/', 1)[-1]} -> {schema_arn.rsplit('/', 1)[-1]}"
        if options.plan:
            return Outcome("dataset", name, target, "update", detail + " (if the service finds them compatible)", found)
        try:
            personalize.update_dataset(datasetArn=target, schemaArn=schema_arn)
        except personalize.exceptions.InvalidInputException as exc:
            raise ResourceConflictError(
                f"the {dataset_type} dataset of {group} uses schema {found.get('schemaArn')} and cannot move to "
                f"{schema_arn} ({exc.response['Error']['Message']}); clean up the dataset group "
                "(`python -m personalize_kit cleanup`) or use another dataset group name"
            ) from None
        return Outcome("dataset", name, target, "updated", detail, settle(personalize, "dataset", target, options))
    if found is not None:
        return adopt(personalize, "dataset", name, target, found, options)
    made = create(
        personalize,
        "dataset",
        name,
        target,
        lambda: personalize.create_dataset(
            name=name, schemaArn=schema_arn, datasetGroupArn=dataset_group_arn, datasetType=dataset_type
        )["datasetArn"],
        options,
    )
    return with_replaced(made, replaced, options)


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
    only when the data changed); an existing job of that name is adopted, and waited for if running. A failed
    job is replaced by the next attempt (``NAME-2`` ...): job names are unique and jobs cannot be deleted."""
    options = options or Options()
    personalize = _personalize(session)
    job, target, found, replaced = current_attempt(
        personalize, "dataset_import_job", name, lambda n: arn("dataset-import-job", n, session=session)
    )
    if found is not None:
        return adopt(personalize, "dataset_import_job", job, target, found, options, "same data imported already")
    made = create(
        personalize,
        "dataset_import_job",
        job,
        target,
        lambda: personalize.create_dataset_import_job(
            jobName=job,
            datasetArn=dataset_arn,
            dataSource={"dataLocation": s3_uri},
            roleArn=role_arn,
            importMode=import_mode,
        )["datasetImportJobArn"],
        options,
    )
    return with_replaced(made, replaced, options)


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
    found, replaced = existing(personalize, "solution", target, options)
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
            return conflict(
                options,
                "solution",
                name,
                target,
                f"solution {name} exists with other settings ({'; '.join(changes)}); solutions cannot change "
                f"recipe or hyperparameters: give the new solution another name (e.g. {name}-v2)",
                found,
            )
        return adopt(personalize, "solution", name, target, found, options)
    kwargs: dict[str, Any] = {"name": name, "datasetGroupArn": dataset_group_arn, "recipeArn": recipe_arn}
    if wanted:
        kwargs["solutionConfig"] = {"algorithmHyperParameters": wanted}
    if event_type:
        kwargs["eventType"] = event_type
    made = create(
        personalize, "solution", name, target, lambda: personalize.create_solution(**kwargs)["solutionArn"], options
    )
    return with_replaced(made, replaced, options)


def ensure_solution_version(
    solution_arn: str,
    *,
    data_updated: datetime | None = None,
    training_mode: str = "FULL",
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Train a solution version unless one is running (it is waited for) or an ACTIVE one is newer than the
    data (``data_updated``: when the newest import finished), which is adopted. Failed versions are reported
    and trained again; a training a racing run started first (``ResourceInUseException``) is adopted."""
    options = options or Options()
    personalize = _personalize(session)
    try:
        return _train_or_adopt(personalize, solution_arn, data_updated, training_mode, options)
    except personalize.exceptions.ResourceInUseException:
        return _train_or_adopt(personalize, solution_arn, data_updated, training_mode, options)


def _train_or_adopt(
    personalize: Any, solution_arn: str, data_updated: datetime | None, training_mode: str, options: Options
) -> Outcome:
    name = solution_arn.rsplit("/", 1)[1]
    versions = versions_of(personalize, solution_arn)
    running = next((v for v in versions if v["status"] in IN_PROGRESS), None)
    if running is not None:
        target = running["solutionVersionArn"]
        if options.plan:
            return Outcome("solution_version", name, target, "adopt", "training is running", running)
        body = settle(personalize, "solution_version", target, options)
        return Outcome("solution_version", name, target, "adopted", "training was running", body)
    active = next((v for v in versions if v["status"] == "ACTIVE"), None)
    if active is not None and (data_updated is None or active["creationDateTime"] >= data_updated):
        target = active["solutionVersionArn"]
        return outcome(options, "solution_version", name, target, "adopted", "trained on the current data", active)
    newest = active["creationDateTime"] if active is not None else None
    failed = [v for v in versions if v["status"] in FAILED and (newest is None or v["creationDateTime"] > newest)]
    made = create(
        personalize,
        "solution_version",
        name,
        None,
        lambda: personalize.create_solution_version(solutionArn=solution_arn, trainingMode=training_mode)[
            "solutionVersionArn"
        ],
        options,
        f"trainingMode {training_mode}",
    )
    return with_replaced(made, [failure(v, v["solutionVersionArn"]) for v in failed[:1]], options)


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
    the new version only if the new version's metrics are not worse (``force`` deploys regardless). In plan
    mode an empty ``solution_version_arn`` stands for a version still to be trained."""
    options = options or Options()
    personalize = _personalize(session)
    target = arn("campaign", name, session=session)
    found, replaced = existing(personalize, "campaign", target, options)
    config = dict(campaign_config or {})
    request: dict[str, Any] = {"solutionVersionArn": solution_version_arn, "minProvisionedTPS": min_provisioned_tps}
    if config:
        request["campaignConfig"] = config
    if found is None:
        made = create(
            personalize,
            "campaign",
            name,
            target,
            lambda: personalize.create_campaign(name=name, **request)["campaignArn"],
            options,
        )
        return with_replaced(made, replaced, options)
    deployed = found.get("solutionVersionArn")
    same_config = (found.get("campaignConfig") or {}).get("itemExplorationConfig") == config.get(
        "itemExplorationConfig"
    ) and found.get("minProvisionedTPS") == min_provisioned_tps
    if deployed == solution_version_arn and (same_config or not config):
        return adopt(personalize, "campaign", name, target, found, options, "serves this version already")
    detail = "settings changed"
    if deployed != solution_version_arn:
        if not solution_version_arn:  # plan mode: the version is yet to be trained
            return Outcome("campaign", name, target, "update", "to the new version if its metrics are not worse", found)
        better, why = _not_worse(
            solution_metrics(solution_version_arn, session=session), solution_metrics(deployed, session=session)
        )
        if not better and not force:
            why = f"the new version is worse ({why}); the deployed one stays (force to deploy)"
            return outcome(options, "campaign", name, target, "kept", why, found)
        detail = "new solution version" + ("" if better else f" deployed by force ({why})")
    if options.plan:
        return Outcome("campaign", name, target, "update", detail, found)
    personalize.update_campaign(campaignArn=target, **request)
    return Outcome("campaign", name, target, "updated", detail, settle(personalize, "campaign", target, options))


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
    try:
        trackers = personalize.list_event_trackers(datasetGroupArn=dataset_group_arn)["eventTrackers"]
    except personalize.exceptions.ResourceNotFoundException:  # plan mode: the group is yet to be made
        trackers = []
    replaced: list[tuple[str, str, str]] = []
    if trackers:
        target = trackers[0]["eventTrackerArn"]
        found, replaced = existing(personalize, "event_tracker", target, options)
        if found is not None:
            detail = "exists already" if found["name"] == name else f"the group's tracker is {found['name']}"
            return adopt(personalize, "event_tracker", found["name"], target, found, options, detail)

    def make() -> str:
        return personalize.create_event_tracker(name=name, datasetGroupArn=dataset_group_arn)["eventTrackerArn"]

    try:
        made = create(personalize, "event_tracker", name, None, make, options)
    except personalize.exceptions.ResourceAlreadyExistsException:  # a racing run made the group's one tracker
        return ensure_event_tracker(dataset_group_arn, name, session=session, options=options)
    if not made.description and not options.plan:
        made.description = personalize.describe_event_tracker(eventTrackerArn=made.arn)["eventTracker"]
    return with_replaced(made, replaced, options)


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
    found, replaced = existing(personalize, "filter", target, options)
    if found is not None:
        if found.get("filterExpression") != expression:
            return conflict(
                options,
                "filter",
                name,
                target,
                f"filter {name} exists with the expression {found.get('filterExpression')!r}; filters are "
                f"immutable: give the new expression another name (e.g. {name}-v2)",
                found,
            )
        return adopt(personalize, "filter", name, target, found, options)
    made = create(
        personalize,
        "filter",
        name,
        target,
        lambda: personalize.create_filter(name=name, datasetGroupArn=dataset_group_arn, filterExpression=expression)[
            "filterArn"
        ],
        options,
    )
    return with_replaced(made, replaced, options)


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
    or adopt the job of that name (name it after the version and the input's digest to run it once). A failed
    job is replaced by the next attempt (``NAME-2`` ...), writing under its own output prefix."""
    options = options or Options()
    personalize = _personalize(session)
    job, target, found, replaced = current_attempt(
        personalize, "batch_inference_job", name, lambda n: arn("batch-inference-job", n, session=session)
    )
    if found is not None:
        return adopt(personalize, "batch_inference_job", job, target, found, options, "ran on this input already")
    key = {"kmsKeyArn": kms_key_arn} if kms_key_arn else {}
    output = output_uri.rstrip("/") + "/" + (f"{job}/" if job != name else "")
    request: dict[str, Any] = {
        "jobName": job,
        "solutionVersionArn": solution_version_arn,
        "numResults": num_results,
        "jobInput": {"s3DataSource": {"path": input_uri, **key}},
        "jobOutput": {"s3DataDestination": {"path": output, **key}},
        "roleArn": role_arn,
    }
    if filter_arn:
        request["filterArn"] = filter_arn
    made = create(
        personalize,
        "batch_inference_job",
        job,
        target,
        lambda: personalize.create_batch_inference_job(**request)["batchInferenceJobArn"],
        options,
    )
    return with_replaced(made, replaced, options)


#: A stand-in for "newer than anything" in plan mode, where data that would be imported has no time yet.
PLANNED_NOW = datetime.max.replace(tzinfo=UTC)
