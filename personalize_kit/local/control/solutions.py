"""Solutions, solution versions (training), their metrics, and the recipes."""

from __future__ import annotations

import secrets
from typing import Any

from personalize_kit.exceptions import RecipeNotAvailableError
from personalize_kit.kinds import ACTIVE, CREATE_IN_PROGRESS, CREATE_PENDING, CREATE_STOPPING
from personalize_kit.local import hpo, lifecycle, recommenders, training
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control import algorithms, auto_training, segments
from personalize_kit.local.control._base import (
    Create,
    create,
    delete,
    delete_blocked,
    list_of,
    operation,
    register_reads,
)
from personalize_kit.local.exceptions import (
    InvalidInputException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from personalize_kit.local.resources import Resource, Resources, paginate
from personalize_kit.recipes import RECIPES, recipe_class


def check_hyperparameters(recipe_arn: str, hyperparameters: dict[str, str]) -> None:
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


def check_feature_transformation(recipe_arn: str, parameters: dict[str, str]) -> None:
    """Refuse featureTransformationParameters a recipe that reads them does not take, or out of range."""
    try:
        recipe = recipe_class(recipe_arn)
    except RecipeNotAvailableError:
        return
    problems = recipe.check_feature_transformation(parameters)
    if problems:
        raise InvalidInputException(
            f"Invalid featureTransformationParameters for recipe {recipe.name}: " + "; ".join(problems)
        )


def _hpo_checked(recipe_arn: str, hpo_config: dict[str, Any] | None) -> None:
    """Refuse an hpoConfig the service would (see :func:`personalize_kit.local.hpo.parse`)."""
    try:
        recipe = recipe_class(recipe_arn)
    except RecipeNotAvailableError:
        return
    hpo.parse(recipe.name, recipe.hyperparameter_ranges, hpo_config)


def _solution_checked(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    if params.get("performAutoML"):
        raise InvalidInputException("performAutoML is not supported by the local mirror: set a recipeArn.")
    recipe_arn = params.get("recipeArn")
    if not recipe_arn:
        raise InvalidInputException("A recipeArn is required when performAutoML is false.")
    if recipe_arn not in RECIPES:
        raise ResourceNotFoundException.for_arn(recipe_arn)
    if params.get("performHPO") and segments.is_segmentation(recipe_arn):
        raise InvalidInputException(f"performHPO is not supported for recipe {RECIPES[recipe_arn].name}.")
    config = params.get("solutionConfig") or {}
    auto_training.interval(config)
    check_hyperparameters(recipe_arn, config.get("algorithmHyperParameters") or {})
    check_feature_transformation(recipe_arn, config.get("featureTransformationParameters") or {})
    if params.get("performHPO"):
        _hpo_checked(recipe_arn, config.get("hpoConfig"))
    threshold = config.get("eventValueThreshold")
    if threshold is not None:
        try:
            float(threshold)
        except ValueError as exc:
            raise InvalidInputException(f"eventValueThreshold {threshold!r} is not a number.") from exc


def _solution_attrs(resources: Resources, params: dict[str, Any], group: Resource | None) -> dict[str, Any]:
    attrs = {
        "name": params["name"],
        "performHPO": bool(params.get("performHPO", False)),
        "performAutoML": False,
        # the service's default: a new version trained weekly (see auto_training)
        "performAutoTraining": bool(params.get("performAutoTraining", True)),
        "performIncrementalUpdate": bool(params.get("performIncrementalUpdate", False)),
        "recipeArn": params["recipeArn"],
        "datasetGroupArn": params["datasetGroupArn"],
        "solutionConfig": params.get("solutionConfig") or {},
    }
    if params.get("eventType"):
        attrs["eventType"] = params["eventType"]
    return attrs


_SOLUTION = Create(
    "solution",
    arn=lambda backend, params: backend.arn("solution", params["name"]),
    parent_param="datasetGroupArn",
    prepare=_solution_checked,
    attrs=_solution_attrs,
    added=lambda resources, solution: auto_training.start_schedule(solution),
)


@operation
def create_solution(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_SOLUTION, backend, params)


@operation
def describe_solution(backend: PersonalizeBackend, params: dict) -> dict:
    resources = backend.read()
    attrs = resources.find(params["solutionArn"], "solution").to_dict()
    versions = resources.all("solution_version", solutionArn=params["solutionArn"])
    if versions:
        attrs["latestSolutionVersion"] = versions[-1].to_dict()
    return {"solution": attrs}


@operation
def update_solution(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionArn"]
    with backend.transaction() as resources:
        solution = resources.find(arn, "solution")
        solution.require_active()
        attrs = solution.attrs
        auto = bool(params.get("performAutoTraining", attrs["performAutoTraining"]))
        incremental = bool(params.get("performIncrementalUpdate", attrs["performIncrementalUpdate"]))
        config = params.get("solutionUpdateConfig") or {}
        auto_training.interval(config)
        was_on = attrs["performAutoTraining"]
        solution.update(performAutoTraining=auto, performIncrementalUpdate=incremental)
        for key in ("autoTrainingConfig", "eventsConfig"):
            if key in config:
                attrs["solutionConfig"] = {**attrs["solutionConfig"], key: config[key]}
        auto_training.rescheduled(solution, was_on)
        stamp = attrs["lastUpdatedDateTime"]
        attrs["latestSolutionUpdate"] = {
            "solutionUpdateConfig": config,
            "status": ACTIVE,
            "performAutoTraining": auto,
            "performIncrementalUpdate": incremental,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
    return {"solutionArn": arn}


def _solution_deletable(resources: Resources, solution: Resource) -> None:
    versions = resources.all("solution_version", solutionArn=solution.arn)
    version_arns = {v.arn for v in versions}
    campaigns = [c.arn for c in resources.all("campaign") if c.attrs["solutionVersionArn"] in version_arns]
    if campaigns:
        raise delete_blocked(solution.arn, "campaign(s) deployed from it", campaigns)
    running = [v.arn for v in versions if v.status in lifecycle.TRAINING]
    if running:
        raise ResourceInUseException(
            f"Cannot delete {solution.arn}: solution version {running[0]} is still being created. "
            "Wait for it to finish or stop it with StopSolutionVersionCreation."
        )


def _solution_gone(backend: PersonalizeBackend, resources: Resources, solution: Resource) -> None:
    version_arns = {v.arn for v in resources.all("solution_version", solutionArn=solution.arn)}
    for job in resources.all("batch_inference_job") + resources.all("batch_segment_job"):
        if job.attrs["solutionVersionArn"] in version_arns:
            resources.delete(job.arn)
    for version_arn in version_arns:
        resources.delete(version_arn)
    training.remove_models(backend, solution.attrs["name"])


lifecycle.FINALIZERS["solution"] = _solution_gone


@operation
def delete_solution(backend: PersonalizeBackend, params: dict) -> dict:
    return delete(backend, params, "solution", _solution_deletable)


# ----------------------------------------------------------------------------- solution versions


def _version_checked(resources: Resources, params: dict[str, Any], solution: Resource | None) -> None:
    assert solution is not None
    mode = params.get("trainingMode", "FULL")
    recipe = RECIPES[solution.attrs["recipeArn"]]
    versions = resources.all("solution_version", solutionArn=solution.arn)
    if any(v.status in lifecycle.TRAINING for v in versions):
        raise ResourceInUseException(
            f"A solution version of {solution.arn} is already being created. Wait for it to finish."
        )
    if mode == "UPDATE":
        if recipe.recipe_type != "USER_PERSONALIZATION" or recipe.name == "aws-popularity-count":
            raise InvalidInputException(f"trainingMode UPDATE is not supported for recipe {recipe.name}: use FULL.")
        if not any(v.status == ACTIVE and v.attrs["trainingMode"] == "FULL" for v in versions):
            raise InvalidInputException(
                "trainingMode UPDATE needs an ACTIVE solution version trained with trainingMode FULL."
            )


def _version_attrs(resources: Resources, params: dict[str, Any], solution: Resource | None) -> dict[str, Any]:
    assert solution is not None
    source = solution.attrs
    attrs = {
        "solutionArn": solution.arn,
        "performHPO": source["performHPO"],
        "performAutoML": False,
        "performIncrementalUpdate": source["performIncrementalUpdate"],
        "recipeArn": source["recipeArn"],
        "datasetGroupArn": source["datasetGroupArn"],
        "solutionConfig": source["solutionConfig"],
        "trainingMode": params.get("trainingMode", "FULL"),
        "trainingType": params.get("_trainingType", "MANUAL"),
    }
    auto_training.version_created(resources, solution)
    if params.get("name"):
        attrs["name"] = params["name"]
    if source.get("eventType"):
        attrs["eventType"] = source["eventType"]
    return attrs


def _version_prepared(backend: PersonalizeBackend, params: dict[str, Any]) -> None:
    if params.get("trainingMode") == "AUTOTRAIN":
        raise InvalidInputException("trainingMode AUTOTRAIN is set by the service only: use FULL or UPDATE.")
    params["_versionId"] = secrets.token_hex(4)


_VERSION = Create(
    "solution_version",
    arn=lambda backend, params: backend.arn(
        "solution_version", params["solutionArn"].split("/")[1], params["_versionId"]
    ),
    parent_param="solutionArn",
    prepare=_version_prepared,
    check=_version_checked,
    attrs=_version_attrs,
    status=CREATE_PENDING,
    after=lambda backend, arn: _train(backend, arn),
)


def _train(backend: PersonalizeBackend, arn: str) -> None:
    training.start(backend, arn)


def _auto_train(backend: PersonalizeBackend, resources: Resources, moment: float) -> None:
    auto_training.fire(backend, resources, moment, _VERSION)


lifecycle.TIMERS["auto_training"] = lifecycle.Timer(auto_training.EARLIEST_SQL, _auto_train)


@operation
def create_solution_version(backend: PersonalizeBackend, params: dict) -> dict:
    return create(_VERSION, backend, dict(params))


@operation
def list_solution_versions(backend: PersonalizeBackend, params: dict) -> dict:
    if params.get("solutionArn"):
        backend.get(params["solutionArn"], "solution")
    return list_of(backend, params, "solution_version")


@operation
def stop_solution_version_creation(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionVersionArn"]
    with backend.transaction() as resources:
        version = resources.find(arn, "solution_version")
        if version.status not in (CREATE_PENDING, CREATE_IN_PROGRESS):
            raise ResourceInUseException(
                f"Solution version {arn} is {version.status}: only a version in CREATE PENDING or "
                "CREATE IN_PROGRESS can be stopped."
            )
        version.update(status=CREATE_STOPPING)
    return {}


@operation
def get_solution_metrics(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["solutionVersionArn"]
    version = backend.get(arn, "solution_version")
    if version.status != ACTIVE:
        raise ResourceInUseException(f"Solution version {arn} is {version.status}: metrics exist once it is ACTIVE.")
    return {"solutionVersionArn": arn, "metrics": training.read_metrics(backend, arn)}


# ----------------------------------------------------------------------------- recipes


def _recipe_attrs(arn: str) -> dict:
    """A recipe, or a domain's use case (described with the algorithm of the local recipe serving it)."""
    case = recommenders.USE_CASES.get(arn)
    info = RECIPES[case.serves_with if case else arn]
    return {
        "name": case.name if case else info.name,
        "recipeArn": arn,
        "algorithmArn": algorithms.algorithm_arn(info),
        "featureTransformationArn": algorithms.transformation_arn(info),
        "status": ACTIVE,
        "description": case.description if case else info.description,
        "recipeType": case.recipe_type if case else info.recipe_type,
        **({"domain": case.domain} if case else {}),
        "creationDateTime": algorithms.RELEASED,
        "lastUpdatedDateTime": algorithms.RELEASED,
    }


@operation
def describe_recipe(backend: PersonalizeBackend, params: dict) -> dict:
    if params["recipeArn"] not in RECIPES and params["recipeArn"] not in recommenders.USE_CASES:
        raise ResourceNotFoundException.for_arn(params["recipeArn"])
    return {"recipe": _recipe_attrs(params["recipeArn"])}


@operation
def list_recipes(backend: PersonalizeBackend, params: dict) -> dict:
    if params.get("domain"):
        cases = sorted(c.arn for c in recommenders.USE_CASES.values() if c.domain == params["domain"])
        return paginate([_recipe_attrs(arn) for arn in cases], params, "recipes")
    return paginate([_recipe_attrs(arn) for arn in sorted(RECIPES)], params, "recipes")


register_reads("solution", "solution_version")
