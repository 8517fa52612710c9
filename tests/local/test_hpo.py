"""performHPO: a seeded search over hpoConfig's ranges keeps the candidate with the best objective.

On the fixtures' data SIMS ranks the held-out items better the more it discounts popular items
(normalized_discounted_cumulative_gain_at_25 is about 0.35 at popularity_discount_factor 0, 0.64 at 0.5,
0.74 at 1), so maximizing that metric must tune the factor high and minimizing it must tune it low.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import POPULARITY_ARN, TERMINAL, import_data, make_group, wait_for

from personalize_kit.local.hpo import MAX_LOCAL_JOBS, candidates

SIMS_ARN = "arn:aws:personalize:::recipe/aws-sims"
NDCG = "normalized_discounted_cumulative_gain_at_25"


def _hpo_config(kind: str = "Maximize", jobs: str = "4", **ranges: Any) -> dict[str, Any]:
    """A solutionConfig with an hpoConfig (by default: popularity_discount_factor over [0, 1])."""
    hpo = {
        "hpoObjective": {"type": kind, "metricName": NDCG},
        "hpoResourceConfig": {"maxNumberOfTrainingJobs": jobs, "maxParallelTrainingJobs": "2"},
        "algorithmHyperParameterRanges": ranges
        or {
            "continuousHyperParameterRanges": [{"name": "popularity_discount_factor", "minValue": 0.0, "maxValue": 1.0}]
        },
    }
    return {"hpoConfig": hpo}


def _trained(personalize: Any, group: str, name: str, config: dict[str, Any], hpo: bool = True) -> dict[str, Any]:
    solution = personalize.create_solution(
        name=name, datasetGroupArn=group, recipeArn=SIMS_ARN, performHPO=hpo, solutionConfig=config
    )["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"], TERMINAL)
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    version = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"], TERMINAL
    )
    assert version["status"] == "ACTIVE", version.get("failureReason")
    return version


@pytest.fixture
def group(personalize: Any, s3: Any) -> str:
    arns = make_group(personalize)
    import_data(personalize, arns)
    return arns["group"]


def test_hpo_keeps_the_candidate_with_the_best_objective(personalize: Any, group: str) -> None:
    best = _trained(personalize, group, "tuned-up", _hpo_config("Maximize"))
    worst = _trained(personalize, group, "tuned-down", _hpo_config("Minimize"))
    high = float(best["tunedHPOParams"]["algorithmHyperParameters"]["popularity_discount_factor"])
    low = float(worst["tunedHPOParams"]["algorithmHyperParameters"]["popularity_discount_factor"])
    drawn = sorted(
        float(c["popularity_discount_factor"])
        for c in candidates({"popularity_discount_factor": ("continuous", 0.0, 1.0)}, 4)
    )
    assert (low, high) == (drawn[0], drawn[-1])
    metric = {
        arn: personalize.get_solution_metrics(solutionVersionArn=arn)["metrics"][NDCG]
        for arn in (best["solutionVersionArn"], worst["solutionVersionArn"])
    }
    assert metric[best["solutionVersionArn"]] > metric[worst["solutionVersionArn"]]


def test_hpo_searches_an_integer_range_under_the_fixed_hyperparameters(personalize: Any, group: str) -> None:
    # on the validation split, with the factor at 1, min_cointeraction_count 5, 6, 7, 8 score an NDCG of
    # about 0.901, 0.904, 0.861, 0.861: four jobs try all four values and 6 wins
    config = _hpo_config(
        jobs="4",
        integerHyperParameterRanges=[{"name": "min_cointeraction_count", "minValue": 5, "maxValue": 8}],
    )
    config["algorithmHyperParameters"] = {"popularity_discount_factor": "1.0"}
    version = _trained(personalize, group, "integer", config)
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert tuned == {"popularity_discount_factor": "1.0", "min_cointeraction_count": "6"}


def test_without_hpo_no_tuned_parameters_are_reported(personalize: Any, group: str) -> None:
    version = _trained(personalize, group, "plain", {}, hpo=False)
    assert "tunedHPOParams" not in version


def test_candidates_are_seeded_distinct_inside_their_ranges_and_capped() -> None:
    ranges = {"bptt": ("integer", 2, 32), "recency_mask": ("categorical", ("true", "false"))}
    first = candidates(ranges, 6)
    assert first == candidates(ranges, 6) and len(first) == 6
    assert len({tuple(sorted(c.items())) for c in first}) == 6
    assert all(2 <= int(c["bptt"]) <= 32 and c["recency_mask"] in ("true", "false") for c in first)
    assert len(candidates({"recency_mask": ("categorical", ("true", "false"))}, MAX_LOCAL_JOBS)) == 2


REFUSALS = [
    (
        {"integerHyperParameterRanges": [{"name": "min_cointeraction_count", "minValue": 0, "maxValue": 11}]},
        "[0, 11] must be an ordered range inside the recipe's [0, 10]",
    ),
    (
        {"continuousHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 0.0, "maxValue": 1.0}]},
        "not a tunable hyperparameter of aws-sims",
    ),
    (
        {
            "continuousHyperParameterRanges": [
                {"name": "min_user_history_length_percentile", "minValue": 0.0, "maxValue": 0.5}
            ]
        },
        "not a tunable hyperparameter of aws-sims",
    ),
    (
        {"integerHyperParameterRanges": [{"name": "popularity_discount_factor", "minValue": 0, "maxValue": 1}]},
        "popularity_discount_factor is a continuous hyperparameter",
    ),
]


@pytest.mark.parametrize(("ranges", "message"), REFUSALS)
def test_ranges_the_recipe_cannot_tune_are_refused(personalize: Any, group: str, ranges: dict, message: str) -> None:
    _refused(personalize, group, SIMS_ARN, _hpo_config(**ranges), message)


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({"type": "Best", "metricName": NDCG}, "hpoObjective.type 'Best' is not valid"),
        ({"type": "Maximize", "metricName": "accuracy"}, "metricName 'accuracy' is not a metric"),
    ],
)
def test_bad_objectives_are_refused(personalize: Any, group: str, objective: dict, message: str) -> None:
    config = _hpo_config()
    config["hpoConfig"]["hpoObjective"] = objective
    _refused(personalize, group, SIMS_ARN, config, message)


def test_bad_budgets_and_a_recipe_without_tunable_hyperparameters_are_refused(personalize: Any, group: str) -> None:
    _refused(personalize, group, SIMS_ARN, _hpo_config(jobs="0"), "maxNumberOfTrainingJobs must be a positive integer")
    _refused(personalize, group, SIMS_ARN, _hpo_config(jobs="1"), "maxParallelTrainingJobs (2) exceeds")
    _refused(personalize, group, POPULARITY_ARN, _hpo_config(), "aws-popularity-count has no tunable hyperparameters")


def _refused(personalize: Any, group: str, recipe: str, config: dict, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="refused", datasetGroupArn=group, recipeArn=recipe, performHPO=True, solutionConfig=config
        )
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    assert message in exc.value.response["Error"]["Message"]
