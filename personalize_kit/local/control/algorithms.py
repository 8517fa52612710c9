"""DescribeAlgorithm and DescribeFeatureTransformation: what each recipe runs, as the service describes it.

Every recipe of :data:`personalize_kit.recipes.RECIPES` names an algorithm (its hyperparameters' defaults
and ranges come from the recipe class that implements it locally) and a feature transformation (the
recipe's filtering of user histories by length percentile).
"""

from __future__ import annotations

from typing import Any

from personalize_kit.exceptions import RecipeNotAvailableError
from personalize_kit.kinds import ACTIVE
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.control._base import operation
from personalize_kit.local.control.segments import is_segmentation
from personalize_kit.local.exceptions import ResourceNotFoundException
from personalize_kit.recipes import RECIPES, RecipeInfo, recipe_class

ALGORITHM_ARN_PREFIX = "arn:aws:personalize:::algorithm/"
TRANSFORMATION_ARN_PREFIX = "arn:aws:personalize:::feature-transformation/"
#: The feature transformation of recipes that filter user histories (HRNN-based, Popularity-Count), and SIMS'.
PERCENTILE_FILTERING = "JSON-percentile-filtering"
#: The date the service's built-in recipes carry (the mirror's recipes have no history of their own).
RELEASED = 1_546_300_800.0
_RANGE_KEYS = {
    "integer": "integerHyperParameterRanges",
    "continuous": "continuousHyperParameterRanges",
    "categorical": "categoricalHyperParameterRanges",
}
#: Hyperparameters of the feature transformation rather than of the algorithm.
_FEATURIZATION = (
    "min_user_history_length_percentile",
    "max_user_history_length_percentile",
    "min_item_interaction_count_percentile",
    "max_item_interaction_count_percentile",
    "trend_discovery_frequency",
)


def algorithm_arn(info: RecipeInfo) -> str:
    return ALGORITHM_ARN_PREFIX + info.name


def transformation_arn(info: RecipeInfo) -> str:
    if is_segmentation(info.arn):  # item-affinity, item-attribute-affinity: one of its own each
        return TRANSFORMATION_ARN_PREFIX + info.name.removeprefix("aws-")
    return TRANSFORMATION_ARN_PREFIX + ("sims" if info.recipe_type == "RELATED_ITEMS" else PERCENTILE_FILTERING)


def _hyperparameters(info: RecipeInfo) -> tuple[dict[str, str], dict[str, Any]]:
    """The recipe's defaults and ranges as the local implementation declares them (none without one)."""
    try:
        recipe = recipe_class(info.arn)
    except RecipeNotAvailableError:
        return {}, {}
    return dict(recipe.default_hyperparameters), dict(recipe.hyperparameter_ranges)


def _ranges(ranges: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in _RANGE_KEYS.values()}
    for name, (value_type, *bounds) in sorted(ranges.items()):
        if name in _FEATURIZATION:
            continue
        entry: dict[str, Any] = {"name": name, "isTunable": True}
        if value_type == "categorical":
            entry["values"] = list(bounds[0])
        else:
            entry["minValue"], entry["maxValue"] = bounds
        out[_RANGE_KEYS[value_type]].append(entry)
    return out


def _recipe_of(arn: str, prefix: str, arn_of: Any) -> RecipeInfo:
    found = next((info for info in RECIPES.values() if arn.startswith(prefix) and arn_of(info) == arn), None)
    if found is None:
        raise ResourceNotFoundException.for_arn(arn)
    return found


@operation
def describe_algorithm(backend: PersonalizeBackend, params: dict) -> dict:
    info = _recipe_of(params["algorithmArn"], ALGORITHM_ARN_PREFIX, algorithm_arn)
    defaults, ranges = _hyperparameters(info)
    return {
        "algorithm": {
            "name": info.name,
            "algorithmArn": algorithm_arn(info),
            # required by the model; there is no container: the URI names the local recipe that runs instead
            "algorithmImage": {"name": info.name, "dockerURI": f"personalize_kit/recipes/{info.name}"},
            "defaultHyperParameters": {k: v for k, v in defaults.items() if k not in _FEATURIZATION},
            "defaultHyperParameterRanges": _ranges(ranges),
            "defaultResourceConfig": {},
            "trainingInputMode": "File",
            "creationDateTime": RELEASED,
            "lastUpdatedDateTime": RELEASED,
        }
    }


@operation
def describe_feature_transformation(backend: PersonalizeBackend, params: dict) -> dict:
    arn = params["featureTransformationArn"]
    matching = [info for info in RECIPES.values() if transformation_arn(info) == arn]
    if not matching:
        raise ResourceNotFoundException.for_arn(arn)
    parameters: dict[str, str] = {}
    for info in matching:  # the recipes sharing a transformation share its parameters' defaults
        defaults, _ = _hyperparameters(info)
        parameters.update({k: v for k, v in defaults.items() if k in _FEATURIZATION and k not in parameters})
    return {
        "featureTransformation": {
            "name": arn.rsplit("/", 1)[1],
            "featureTransformationArn": arn,
            "defaultParameters": parameters,
            "status": ACTIVE,
            "creationDateTime": RELEASED,
            "lastUpdatedDateTime": RELEASED,
        }
    }


__all__ = ["algorithm_arn", "transformation_arn"]
