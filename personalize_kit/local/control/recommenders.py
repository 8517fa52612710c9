"""Recommenders: create (a first training), update, stop, start and delete, through the service's states."""

from __future__ import annotations

from typing import Any

from personalize_kit.kinds import (
    ACTIVE,
    CREATE_PENDING,
    INACTIVE,
    START_IN_PROGRESS,
    START_PENDING,
    STOP_IN_PROGRESS,
    STOP_PENDING,
)
from personalize_kit.local import lifecycle, recommenders
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import Create, create, delete, operation, register_reads
from personalize_kit.local.control.serving import check_campaign_config
from personalize_kit.local.exceptions import InvalidInputException, ResourceInUseException
from personalize_kit.local.resources import Resource, Resources, now


def _use_case_checked(resources: Resources, params: dict[str, Any], group: Resource | None) -> None:
    assert group is not None
    case = recommenders.USE_CASES.get(params["recipeArn"])
    domain = group.attrs.get("domain")
    if case is None:
        usable = sorted(c.arn for c in recommenders.USE_CASES.values() if c.domain == domain)
        raise InvalidInputException(
            f"{params['recipeArn']} is not a use case of a recommender: use one of {', '.join(usable) or 'none'}."
        )
    if domain != case.domain:
        raise InvalidInputException(
            f"Use case {case.name} needs a dataset group of domain {case.domain}; {group.arn} has "
            f"{'domain ' + domain if domain else 'no domain'}."
        )
    _config_checked(params.get("recommenderConfig"), case.serves_with)


def _config_checked(config: dict[str, Any] | None, local_recipe: str) -> None:
    config = config or {}
    if config.get("itemExplorationConfig"):
        check_campaign_config({"itemExplorationConfig": config["itemExplorationConfig"]}, local_recipe)


_RECOMMENDER = Create(
    "recommender",
    arn=lambda backend, params: backend.arn("recommender", params["name"]),
    parent_param="datasetGroupArn",
    check=_use_case_checked,
    attrs=lambda resources, params, group: {
        "name": params["name"],
        "datasetGroupArn": params["datasetGroupArn"],
        "recipeArn": params["recipeArn"],
        "recommenderConfig": params.get("recommenderConfig") or {"minRecommendationRequestsPerSecond": 1},
    },
    status=CREATE_PENDING,
    after=lambda backend, arn: lifecycle.run_job(backend, arn, recommenders.train),
)


@operation
def create_recommender(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_RECOMMENDER, backend, params)


@operation
def update_recommender(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["recommenderArn"]
    with backend.transaction() as resources:
        recommender = resources.find(arn, "recommender")
        recommender.require_active()
        if lifecycle.update_in_flight(recommender):
            raise ResourceInUseException(f"Recommender {arn} is being updated: wait for its latestRecommenderUpdate.")
        config = params["recommenderConfig"]
        _config_checked(config, recommenders.USE_CASES[recommender.attrs["recipeArn"]].serves_with)
        new = {"recommenderConfig": config}
        lifecycle.start_update(recommender, backend.settings.pace, new, new)
    return {"recommenderArn": arn}


def _move(backend: PersonalizeBackend, arn: str, source: str, steps: tuple[str, str, str]) -> dict:
    """ACTIVE -> STOP PENDING -> STOP IN_PROGRESS -> INACTIVE, or INACTIVE -> START ... -> ACTIVE."""
    pace = backend.settings.pace
    with backend.transaction() as resources:
        recommender = resources.find(arn, "recommender")
        if recommender.status != source or lifecycle.update_in_flight(recommender):
            raise ResourceInUseException(
                f"Recommender {arn} is {recommender.status}: it must be {source} (with no update in progress)."
            )
        pending, running, final = steps
        if pace.pending <= 0 and pace.creating <= 0:
            recommender.update(status=final)
        else:
            lifecycle.schedule(recommender, pending, [(running, pace.pending), (final, pace.creating)])
            recommender.attrs["lastUpdatedDateTime"] = now()
    return {"recommenderArn": arn}


@operation
def stop_recommender(backend: PersonalizeBackend, params: dict) -> dict:
    return _move(backend, params["recommenderArn"], ACTIVE, (STOP_PENDING, STOP_IN_PROGRESS, INACTIVE))


@operation
def start_recommender(backend: PersonalizeBackend, params: dict) -> dict:
    return _move(backend, params["recommenderArn"], INACTIVE, (START_PENDING, START_IN_PROGRESS, ACTIVE))


def _recommender_gone(backend: PersonalizeBackend, resources: Resources, recommender: Resource) -> None:
    recommenders.remove_model(backend, recommender.arn)


lifecycle.FINALIZERS["recommender"] = _recommender_gone


@operation
def delete_recommender(backend: PersonalizeBackend, params: dict) -> dict:
    return delete(backend, params, "recommender")


register_reads("recommender")
