"""DescribeAlgorithm and DescribeFeatureTransformation for every recipe, and the service's solution defaults."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import POPULARITY_ARN, make_group

from personalize_kit.recipes import RECIPES, recipe_class


def _values(ranges: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``{name: value type}`` of the ranges DescribeAlgorithm lists."""
    return {r["name"]: key.removesuffix("HyperParameterRanges") for key, rs in ranges.items() for r in rs}


@pytest.mark.parametrize("recipe_arn", sorted(RECIPES))
def test_every_recipe_describes_its_algorithm_and_feature_transformation(personalize: Any, recipe_arn: str) -> None:
    recipe = personalize.describe_recipe(recipeArn=recipe_arn)["recipe"]
    algorithm = personalize.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
    assert (algorithm["algorithmArn"], algorithm["name"]) == (recipe["algorithmArn"], recipe["name"])
    implementation = recipe_class(recipe_arn)
    defaults = algorithm["defaultHyperParameters"]
    ranges = _values(algorithm["defaultHyperParameterRanges"])
    assert set(defaults) == set(ranges)  # every tunable hyperparameter has its default
    assert implementation.check_hyperparameters(defaults) == []  # and the defaults are accepted by the recipe
    for name, (value_type, *_) in implementation.hyperparameter_ranges.items():
        assert ranges.get(name, value_type) == value_type

    transformation = personalize.describe_feature_transformation(
        featureTransformationArn=recipe["featureTransformationArn"]
    )["featureTransformation"]
    assert transformation["featureTransformationArn"] == recipe["featureTransformationArn"]
    assert transformation["status"] == "ACTIVE"
    parameters = transformation["defaultParameters"]
    # what the algorithm and the transformation describe is what the recipe takes, split in two
    shared = {k: v for k, v in implementation.default_hyperparameters.items() if k in parameters}
    assert shared == {k: parameters[k] for k in shared}
    assert {**defaults, **shared} == dict(implementation.default_hyperparameters)


def test_unknown_algorithm_and_transformation_are_not_found(personalize: Any) -> None:
    for call, key, arn in (
        (personalize.describe_algorithm, "algorithmArn", "arn:aws:personalize:::algorithm/aws-nothing"),
        (
            personalize.describe_feature_transformation,
            "featureTransformationArn",
            "arn:aws:personalize:::feature-transformation/nothing",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call(**{key: arn})
        assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_auto_training_is_on_by_default_as_in_the_service(personalize: Any) -> None:
    group = make_group(personalize)["group"]
    default = personalize.create_solution(name="auto", datasetGroupArn=group, recipeArn=POPULARITY_ARN)["solutionArn"]
    assert personalize.describe_solution(solutionArn=default)["solution"]["performAutoTraining"] is True
    manual = personalize.create_solution(
        name="manual", datasetGroupArn=group, recipeArn=POPULARITY_ARN, performAutoTraining=False
    )["solutionArn"]
    assert personalize.describe_solution(solutionArn=manual)["solution"]["performAutoTraining"] is False
