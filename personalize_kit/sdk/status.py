"""What exists in a dataset group: the resource tree with states, its campaigns, and its versions' metrics.

Read-only: List and Describe calls only, through the caller's session (the local mirror is just another
session).

>>> from personalize_kit.sdk.status import resource_tree
>>> tree = resource_tree("movielens", session=session)                    # doctest: +SKIP
>>> [(s["name"], [v["status"] for v in s["versions"]]) for s in tree["solutions"]]   # doctest: +SKIP
[('movielens-user-personalization', ['ACTIVE'])]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3

from personalize_kit.exceptions import MissingResourceError
from personalize_kit.kinds import KINDS
from personalize_kit.sdk._clients import client
from personalize_kit.sdk.resources import arn

#: Recipe names each kind of request can be served by.
RECIPES_FOR = {
    "recommend": ("aws-user-personalization", "aws-user-personalization-v2", "aws-popularity-count"),
    "similar": ("aws-sims",),
    "rank": ("aws-personalized-ranking", "aws-personalized-ranking-v2"),
}
DATASET_ORDER = ("INTERACTIONS", "ITEMS", "USERS")


def list_all(personalize: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a List operation, page after page.

    >>> list_all(client("personalize", session), "list_filters", "Filters", datasetGroupArn=group)  # doctest: +SKIP
    [{'name': 'unwatched', 'filterArn': '...', 'status': 'ACTIVE', ...}]
    """
    items: list[dict[str, Any]] = []
    for page in personalize.get_paginator(operation).paginate(**params):
        items.extend(page[key])
    return items


def list_kind(personalize: Any, kind: str, **params: Any) -> list[dict[str, Any]]:
    """Every resource of a kind (:mod:`personalize_kit.kinds`) its List operation returns, page after page.

    >>> list_kind(client("personalize", session), "filter", datasetGroupArn=group)  # doctest: +SKIP
    [{'name': 'unwatched', 'filterArn': '...', 'status': 'ACTIVE', ...}]
    """
    found = KINDS[kind]
    return list_all(personalize, found.snake(found.list), found.list_key, **params)


def _when(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _recipe(recipe_arn: str | None) -> str | None:
    return recipe_arn.rsplit("/", 1)[-1] if recipe_arn else None


def dataset_group_arn(name: str, *, session: boto3.Session | None = None) -> str:
    """The ARN of dataset group ``name``; :class:`MissingResourceError` naming the groups that exist if absent.

    >>> dataset_group_arn("movielens", session=session)                   # doctest: +SKIP
    'arn:aws:personalize:us-east-1:123456789012:dataset-group/movielens'
    """
    personalize = client("personalize", session)
    target = arn("dataset-group", name, session=session)
    try:
        personalize.describe_dataset_group(datasetGroupArn=target)
    except personalize.exceptions.ResourceNotFoundException:
        groups = [g["name"] for g in list_kind(personalize, "dataset_group")]
        raise MissingResourceError(
            f"dataset group {name!r} does not exist here ({', '.join(groups) or 'there are none'}); "
            "create it with `python -m personalize_kit pipeline`, or pass --name / --project for another one"
        ) from None
    return target


def resource_tree(dataset_group_name: str, *, session: boto3.Session | None = None) -> dict[str, Any]:
    """Everything in a dataset group, with states: datasets -> import jobs; solutions -> versions ->
    campaigns; the event tracker; filters; batch inference jobs. Times are ISO 8601 strings.

    >>> resource_tree("movielens", session=session)["datasetGroup"]["status"]   # doctest: +SKIP
    'ACTIVE'
    """
    personalize = client("personalize", session)
    group_arn = dataset_group_arn(dataset_group_name, session=session)
    group = personalize.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]
    tree: dict[str, Any] = {
        "datasetGroup": {
            "name": group["name"],
            "arn": group_arn,
            "status": group.get("status"),
            "kmsKeyArn": group.get("kmsKeyArn"),
            "created": _when(group.get("creationDateTime")),
        },
        "datasets": [],
        "solutions": [],
        "eventTracker": None,
        "filters": [],
        "batchInferenceJobs": [],
    }
    datasets = list_kind(personalize, "dataset", datasetGroupArn=group_arn)
    for dataset in sorted(datasets, key=lambda d: (DATASET_ORDER + (d["datasetType"],)).index(d["datasetType"])):
        detail = personalize.describe_dataset(datasetArn=dataset["datasetArn"])["dataset"]
        jobs = list_kind(personalize, "dataset_import_job", datasetArn=dataset["datasetArn"])
        tree["datasets"].append(
            {
                "name": dataset["name"],
                "arn": dataset["datasetArn"],
                "type": dataset["datasetType"],
                "status": dataset.get("status"),
                "schemaArn": detail.get("schemaArn"),
                "importJobs": [
                    {
                        "name": job["jobName"],
                        "arn": job["datasetImportJobArn"],
                        "status": job.get("status"),
                        "importMode": job.get("importMode"),
                        "created": _when(job.get("creationDateTime")),
                        "failureReason": job.get("failureReason"),
                    }
                    for job in sorted(jobs, key=lambda j: j.get("creationDateTime") or 0)
                ],
            }
        )
    solutions = list_kind(personalize, "solution", datasetGroupArn=group_arn)
    for solution in sorted(solutions, key=lambda s: s.get("creationDateTime") or 0):
        solution_arn = solution["solutionArn"]
        served: dict[str, list[dict[str, Any]]] = {}
        for campaign in list_kind(personalize, "campaign", solutionArn=solution_arn):
            detail = personalize.describe_campaign(campaignArn=campaign["campaignArn"])["campaign"]
            served.setdefault(detail["solutionVersionArn"], []).append(
                {
                    "name": campaign["name"],
                    "arn": campaign["campaignArn"],
                    "status": detail.get("status"),
                    "minProvisionedTPS": detail.get("minProvisionedTPS"),
                    "update": (detail.get("latestCampaignUpdate") or {}).get("status"),
                    "failureReason": detail.get("failureReason"),
                }
            )
        versions = list_kind(personalize, "solution_version", solutionArn=solution_arn)
        entry = {
            "name": solution["name"],
            "arn": solution_arn,
            "status": solution.get("status"),
            "recipe": _recipe(solution.get("recipeArn")),
            "versions": [],
        }
        for version in sorted(versions, key=lambda v: v.get("creationDateTime") or 0):
            version_arn = version["solutionVersionArn"]
            entry["versions"].append(
                {
                    "id": version_arn.rsplit("/", 1)[-1],
                    "arn": version_arn,
                    "status": version.get("status"),
                    "trainingMode": version.get("trainingMode"),
                    "created": _when(version.get("creationDateTime")),
                    "failureReason": version.get("failureReason"),
                    "campaigns": served.pop(version_arn, []),
                }
            )
            for job in list_kind(personalize, "batch_inference_job", solutionVersionArn=version_arn):
                tree["batchInferenceJobs"].append(
                    {
                        "name": job["jobName"],
                        "arn": job["batchInferenceJobArn"],
                        "status": job.get("status"),
                        "solutionVersionArn": version_arn,
                        "created": _when(job.get("creationDateTime")),
                        "failureReason": job.get("failureReason"),
                    }
                )
        tree["solutions"].append(entry)
    trackers = list_kind(personalize, "event_tracker", datasetGroupArn=group_arn)
    if trackers:
        tracker = personalize.describe_event_tracker(eventTrackerArn=trackers[0]["eventTrackerArn"])["eventTracker"]
        tree["eventTracker"] = {
            "name": tracker["name"],
            "arn": tracker["eventTrackerArn"],
            "status": tracker.get("status"),
            "trackingId": tracker.get("trackingId"),
        }
    for flt in list_kind(personalize, "filter", datasetGroupArn=group_arn):
        detail = personalize.describe_filter(filterArn=flt["filterArn"])["filter"]
        tree["filters"].append(
            {
                "name": flt["name"],
                "arn": flt["filterArn"],
                "status": flt.get("status"),
                "expression": detail.get("filterExpression"),
            }
        )
    tree["batchInferenceJobs"].sort(key=lambda j: j["created"] or "")
    return tree


def campaigns(dataset_group_name: str, *, session: boto3.Session | None = None) -> list[dict[str, Any]]:
    """The dataset group's campaigns: ``name``, ``arn``, ``status``, ``recipe``, ``solution``, ``solutionVersionArn``.

    >>> [c["recipe"] for c in campaigns("movielens", session=session)]   # doctest: +SKIP
    ['aws-user-personalization']
    """
    personalize = client("personalize", session)
    group_arn = dataset_group_arn(dataset_group_name, session=session)
    found = []
    for solution in list_kind(personalize, "solution", datasetGroupArn=group_arn):
        for campaign in list_kind(personalize, "campaign", solutionArn=solution["solutionArn"]):
            detail = personalize.describe_campaign(campaignArn=campaign["campaignArn"])["campaign"]
            found.append(
                {
                    "name": campaign["name"],
                    "arn": campaign["campaignArn"],
                    "status": detail.get("status"),
                    "recipe": _recipe(solution.get("recipeArn")),
                    "solution": solution["name"],
                    "solutionVersionArn": detail.get("solutionVersionArn"),
                }
            )
    return found


def pick_campaign(
    dataset_group_name: str,
    purpose: str,
    *,
    name: str | None = None,
    preferred: tuple[str, ...] = (),
    session: boto3.Session | None = None,
) -> dict[str, Any]:
    """The campaign to send a ``purpose`` request to (``recommend``, ``similar`` or ``rank``): campaign ``name``
    if given, else the first of ``preferred`` (campaign names, e.g. the project's) whose recipe suits, else
    any campaign of the group whose recipe suits. :class:`MissingResourceError` names the campaigns that exist.

    >>> pick_campaign("movielens", "similar", session=session)["recipe"]   # doctest: +SKIP
    'aws-sims'
    """
    found = campaigns(dataset_group_name, session=session)
    listing = ", ".join(f"{c['name']} ({c['recipe']}, {c['status']})" for c in found) or "none"
    if name is not None:
        chosen = next((c for c in found if c["name"] == name), None)
        if chosen is None:
            raise MissingResourceError(
                f"campaign {name!r} does not exist in dataset group {dataset_group_name} (campaigns: {listing}); "
                "pass one of those to --campaign, or leave --campaign out"
            )
        return chosen
    suitable = [c for c in found if c["recipe"] in RECIPES_FOR[purpose]]
    order = {campaign: i for i, campaign in enumerate(preferred)}
    suitable.sort(key=lambda c: order.get(c["name"], len(order)))
    if not suitable:
        recipes = ", ".join(RECIPES_FOR[purpose])
        raise MissingResourceError(
            f"no campaign of dataset group {dataset_group_name} can serve `{purpose}` (it needs a recipe among "
            f"{recipes}; campaigns: {listing}); deploy one with `python -m personalize_kit pipeline --recipe ...`"
        )
    return suitable[0]


def version_metrics(
    dataset_group_name: str, *, solution: str | None = None, session: boto3.Session | None = None
) -> list[dict[str, Any]]:
    """Every solution version of the group (or of ``solution``), oldest first, with its offline metrics
    (``{}`` unless the version is ACTIVE).

    >>> version_metrics("movielens", session=session)[0]["metrics"]["precision_at_10"]   # doctest: +SKIP
    0.0712
    """
    personalize = client("personalize", session)
    group_arn = dataset_group_arn(dataset_group_name, session=session)
    solutions = list_kind(personalize, "solution", datasetGroupArn=group_arn)
    if solution is not None:
        chosen = [s for s in solutions if s["name"] == solution]
        if not chosen:
            raise MissingResourceError(
                f"solution {solution!r} is not in dataset group {dataset_group_name} (solutions: "
                f"{', '.join(s['name'] for s in solutions) or 'none'}); pass one of those to --solution"
            )
        solutions = chosen
    rows = []
    for found in solutions:
        versions = list_kind(personalize, "solution_version", solutionArn=found["solutionArn"])
        for version in sorted(versions, key=lambda v: v.get("creationDateTime") or 0):
            version_arn = version["solutionVersionArn"]
            metrics: dict[str, float] = {}
            if version.get("status") == "ACTIVE":
                metrics = dict(personalize.get_solution_metrics(solutionVersionArn=version_arn)["metrics"])
            rows.append(
                {
                    "solution": found["name"],
                    "recipe": _recipe(found.get("recipeArn")),
                    "version": version_arn.rsplit("/", 1)[-1],
                    "solutionVersionArn": version_arn,
                    "status": version.get("status"),
                    "trainingMode": version.get("trainingMode"),
                    "created": _when(version.get("creationDateTime")),
                    "metrics": metrics,
                }
            )
    return rows
