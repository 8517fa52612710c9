"""Recipes behind the mirror: related items (SIMS), ranking, scores and hyperparameter checks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, EXPECTED_POPULARITY, ROLE_ARN, TERMINAL, import_data, make_group, train, wait_for

from personalize_kit import recipes
from personalize_kit.recipes import RecipeInfo
from personalize_kit.recipes.base import Ranked
from personalize_kit.recipes.popularity import PopularityCount

SIMS_ARN = "arn:aws:personalize:::recipe/aws-sims"
RANKING_ARN = "arn:aws:personalize:::recipe/aws-personalized-ranking"
RANKED = sorted(EXPECTED_POPULARITY, key=lambda item: (-EXPECTED_POPULARITY[item], item))


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


class ScoredPopularity(PopularityCount):
    """Popularity with a softmax score, standing in for a scored ranking recipe."""

    name = "aws-personalized-ranking"
    recipe_type = "PERSONALIZED_RANKING"

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        counts = self.counts
        known = [item for item in super().rank(user_id, items) if item[0] in counts]
        weights = np.exp([float(counts[item]) / 10 for item, _ in known])
        scores = weights / weights.sum() if len(known) else weights
        unknown = [item for item in items if item not in counts]
        return [(item, float(s)) for (item, _), s in zip(known, scores, strict=True)] + [(i, None) for i in unknown]

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> ScoredPopularity:
        model = cls()
        model._items = np.asarray(arrays["items"]).astype(str)
        model._counts = np.asarray(arrays["counts"]).astype(np.int64)
        return model


@pytest.fixture
def scored_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    info = recipes.RECIPES[RANKING_ARN]
    monkeypatch.setitem(
        recipes.RECIPES,
        RANKING_ARN,
        RecipeInfo(info.name, info.recipe_type, info.description, f"{__name__}:ScoredPopularity", ()),
    )


def _campaign(personalize: Any, version: str, name: str) -> str:
    arn = personalize.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"], TERMINAL)
    return arn


def test_sims_serves_related_items(personalize: Any, runtime: Any, s3: Any) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"], name="related", recipe=SIMS_ARN)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "ACTIVE", described.get("failureReason")
    campaign = _campaign(personalize, version, "related")
    answer = runtime.get_recommendations(campaignArn=campaign, itemId="i05", numResults=10)
    items = [e["itemId"] for e in answer["itemList"]]
    assert len(items) == 10 and "i05" not in items
    assert all("score" not in e for e in answer["itemList"])
    unknown = runtime.get_recommendations(campaignArn=campaign, itemId="never-seen", numResults=5)
    assert [e["itemId"] for e in unknown["itemList"]] == RANKED[:5]  # popular fallback
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="u01")
    assert _error(exc) == ("InvalidInputException", "itemId is required for a campaign of recipe aws-sims.")


def test_hyperparameters_are_checked(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="bad-name",
            datasetGroupArn=arns["group"],
            recipeArn=SIMS_ARN,
            solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "64"}},
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert _error(exc)[1].startswith("Unknown hyperparameters for recipe aws-sims: hidden_dimension.")
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="bad-range",
            datasetGroupArn=arns["group"],
            recipeArn=SIMS_ARN,
            solutionConfig={"algorithmHyperParameters": {"min_cointeraction_count": "11"}},
        )
    assert _error(exc) == (
        "InvalidInputException",
        "Invalid hyperparameters for recipe aws-sims: min_cointeraction_count must be an integer in [0, 10], not 11",
    )


def test_personalized_ranking_puts_unknown_items_last_unscored(
    personalize: Any, runtime: Any, s3: Any, scored_ranking: None
) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"], name="ranking", recipe=RANKING_ARN)
    campaign = _campaign(personalize, version, "ranking")
    answer = runtime.get_personalized_ranking(
        campaignArn=campaign, userId="u01", inputList=["i20", "ghost", "i02", "i10"]
    )
    ranked = answer["personalizedRanking"]
    assert [e["itemId"] for e in ranked] == ["i02", "i10", "i20", "ghost"]
    assert "score" not in ranked[-1]
    assert sum(e["score"] for e in ranked[:3]) == pytest.approx(1.0)
    assert ranked[0]["score"] > ranked[1]["score"] > ranked[2]["score"]
    assert answer["recommendationId"].startswith("RID-")
    with pytest.raises(ClientError) as exc:
        runtime.get_personalized_ranking(campaignArn=campaign, userId="u01", inputList=[f"x{i}" for i in range(501)])
    assert _error(exc)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="u01")
    assert "use GetPersonalizedRanking" in _error(exc)[1]

    lines = [{"userId": "u01", "itemList": ["i09", "nope", "i01"]}, {"userId": "u02"}]
    s3.put_object(Bucket=BUCKET, Key="rank.jsonl", Body="\n".join(json.dumps(line) for line in lines).encode())
    job = personalize.create_batch_inference_job(
        jobName="rank",
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/rank.jsonl"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/ranked"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    assert personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"]["status"] == "ACTIVE"
    out, bad = (
        json.loads(line) for line in s3.get_object(Bucket=BUCKET, Key="ranked/rank.jsonl.out")["Body"].iter_lines()
    )
    assert bad == {
        "input": {"userId": "u02"},
        "output": None,
        "error": "an input line of a Personalized-Ranking job needs userId and itemList",
    }
    assert out["error"] is None
    assert out["output"]["recommendedItems"] == ["i01", "i09", "nope"]
    assert out["output"]["scores"][2] is None
    assert sum(out["output"]["scores"][:2]) == pytest.approx(1.0)


def test_popularity_recipe_save_and_load_round_trip(tmp_path: Any) -> None:
    frame = pd.DataFrame(
        {"USER_ID": ["a", "b", "b", "c", "c", "c"], "ITEM_ID": ["x", "x", "y", "x", "y", "z"], "TIMESTAMP": range(6)}
    )
    model = PopularityCount().fit(frame)
    assert model.counts == {"x": 3, "y": 2, "z": 1}
    assert model.recommend(user_id="a", n=2, exclude=["x"]) == [("y", None), ("z", None)]
    assert model.rank("a", ["z", "new", "x"]) == [("x", None), ("z", None), ("new", None)]
    loaded = PopularityCount.load(model.save(tmp_path / "m"))
    assert loaded.counts == model.counts
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["counts", "items"]


@pytest.mark.slow
def test_user_personalization_end_to_end(state_dir: Any) -> None:
    """A (quickly) trained User-Personalization model: scores, real-time events, exploration, UPDATE."""
    import boto3
    from conftest import interactions_csv, items_csv, make_bucket

    from personalize_kit.local import mock_personalize

    up = "arn:aws:personalize:::recipe/aws-user-personalization"
    quick = {"aws-user-personalization": {"max_epochs": 1, "time_budget": 60}}
    with mock_personalize(state_dir, recipe_options=quick):
        personalize = boto3.client("personalize", region_name="us-east-1")
        runtime = boto3.client("personalize-runtime", region_name="us-east-1")
        events = boto3.client("personalize-events", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        make_bucket(s3)
        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
        s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
        arns = make_group(personalize)
        import_data(personalize, arns)
        solution = personalize.create_solution(
            name="up",
            datasetGroupArn=arns["group"],
            recipeArn=up,
            solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "32", "bptt": "8"}},
        )["solutionArn"]
        full = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        described = wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=full)["solutionVersion"],
            TERMINAL,
            timeout=240,
        )
        assert described["status"] == "ACTIVE", described.get("failureReason")
        metrics = personalize.get_solution_metrics(solutionVersionArn=full)["metrics"]
        assert 0 < metrics["coverage"] <= 1
        campaign = personalize.create_campaign(
            name="up",
            solutionVersionArn=full,
            campaignConfig={"itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}},
        )["campaignArn"]
        whole = runtime.get_recommendations(campaignArn=campaign, userId="newcomer", numResults=500)["itemList"]
        assert len(whole) == 32
        assert sum(entry["score"] for entry in whole) == pytest.approx(1.0, abs=1e-4)
        before = [(e["itemId"], e["score"]) for e in whole]
        tracker = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        events.put_events(
            trackingId=tracker,
            userId="newcomer",
            sessionId="s",
            eventList=[
                {"eventType": "click", "itemId": item, "sentAt": 1_800_000_000 + i}
                for i, item in enumerate(["i30", "i31", "i29"])
            ],
        )
        after = runtime.get_recommendations(campaignArn=campaign, userId="newcomer", numResults=500)["itemList"]
        assert [(e["itemId"], e["score"]) for e in after] != before  # the events are read at once

        # UPDATE: a new item reaches the catalogue without retraining
        events.put_items(
            datasetArn=arns["ITEMS"], items=[{"itemId": "fresh", "properties": '{"genres": "Drama", "price": 1}'}]
        )
        update = personalize.create_solution_version(solutionArn=solution, trainingMode="UPDATE")["solutionVersionArn"]
        described = wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=update)["solutionVersion"], TERMINAL
        )
        assert (described["status"], described["trainingMode"]) == ("ACTIVE", "UPDATE")
        assert personalize.get_solution_metrics(solutionVersionArn=update)["metrics"] == metrics
        personalize.update_campaign(campaignArn=campaign, solutionVersionArn=update)
        items = runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=500)["itemList"]
        assert "fresh" in {e["itemId"] for e in items}
