"""Trending-Now, Similar-Items and Semantic-Similarity through the real boto3 clients: CreateSolution's checks,
training (and its data requirements), campaigns, PutEvents and batch inference, on planted data."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, ROLE_ARN, TERMINAL, import_data, make_group, wait_for
from planted_items import catalogue_interactions, catalogue_items, newest, trending_interactions

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema
from personalize_kit.recipes.semantic import NEEDS_TEXT

RECIPE = "arn:aws:personalize:::recipe/"
HOURLY = {"featureTransformationParameters": {"trend_discovery_frequency": "1 hour"}}
ITEMS_SCHEMA = make_schema(
    "ITEMS",
    [
        FieldSpec("ITEM_ID", "string"),
        FieldSpec("GENRES", "string", categorical=True),
        FieldSpec("DESCRIPTION", "string", textual=True),
    ],
)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _group(personalize: Any, s3: Any, name: str, interactions: pd.DataFrame, items: pd.DataFrame | None) -> str:
    """A dataset group holding ``interactions`` (and ``items`` with a textual DESCRIPTION), imported from S3."""
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    datasets = [("INTERACTIONS", interactions_schema(), interactions)]
    if items is not None:
        datasets.append(("ITEMS", ITEMS_SCHEMA, items))
    for kind, schema, frame in datasets:
        schema_arn = personalize.create_schema(name=f"{name}-{kind.lower()}", schema=json.dumps(schema))["schemaArn"]
        dataset = personalize.create_dataset(
            name=f"{name}-{kind.lower()}", datasetGroupArn=group, datasetType=kind, schemaArn=schema_arn
        )["datasetArn"]
        wait_for(lambda dataset=dataset: personalize.describe_dataset(datasetArn=dataset)["dataset"], TERMINAL)
        key = f"{name}/{kind.lower()}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=frame.to_csv(index=False).encode())
        job = personalize.create_dataset_import_job(
            jobName=f"{name}-{kind.lower()}",
            datasetArn=dataset,
            dataSource={"dataLocation": f"s3://{BUCKET}/{key}"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        done = wait_for(
            lambda job=job: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"],
            TERMINAL,
        )
        assert done["status"] == "ACTIVE", done.get("failureReason")
    return group


def _version(personalize: Any, group: str, name: str, recipe: str, config: dict | None = None) -> dict[str, Any]:
    solution = personalize.create_solution(
        name=name, datasetGroupArn=group, recipeArn=RECIPE + recipe, solutionConfig=config or {}
    )["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"], TERMINAL)
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL
    )


def _campaign(personalize: Any, version: dict[str, Any], name: str) -> str:
    assert version["status"] == "ACTIVE", version.get("failureReason")
    arn = personalize.create_campaign(name=name, solutionVersionArn=version["solutionVersionArn"])["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"], TERMINAL)
    return arn


def _top(runtime: Any, campaign: str, n: int, **query: str) -> list[str]:
    return [e["itemId"] for e in runtime.get_recommendations(campaignArn=campaign, numResults=n, **query)["itemList"]]


def test_trending_now_served_counts_new_events_and_takes_no_batch(
    personalize: Any, runtime: Any, events: Any, s3: Any
) -> None:
    frame = trending_interactions()
    group = _group(personalize, s3, "trend", frame, None)
    version = _version(personalize, group, "trend", "aws-trending-now", HOURLY)
    campaign = _campaign(personalize, version, "trend")
    assert _top(runtime, campaign, 2) == ["riser", "steady"]  # no userId needed
    assert _top(runtime, campaign, 2, userId="u001") == ["riser", "steady"]

    tracker = personalize.create_event_tracker(name="trend", datasetGroupArn=group)
    wait_for(
        lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"], TERMINAL
    )
    late = newest(frame) + 600
    for k in range(30):  # a new item, 30 events in the ten minutes after the data's newest
        events.put_events(
            trackingId=tracker["trackingId"],
            userId=f"n{k:02d}",
            sessionId=f"s{k}",
            eventList=[{"eventType": "click", "itemId": "fresh", "sentAt": late + k}],
        )
    assert _top(runtime, campaign, 2) == ["fresh", "riser"]  # no new solution version
    for k in range(60):  # and the events sent after that request count too
        events.put_events(
            trackingId=tracker["trackingId"],
            userId=f"m{k:02d}",
            sessionId=f"t{k}",
            eventList=[{"eventType": "click", "itemId": "fresher", "sentAt": late + 30 + k}],
        )
    assert _top(runtime, campaign, 3) == ["fresher", "fresh", "riser"]

    s3.put_object(Bucket=BUCKET, Key="trend/batch.json", Body=b'{"userId": "u001"}\n')
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_inference_job(
            jobName="trend-batch",
            solutionVersionArn=version["solutionVersionArn"],
            jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/trend/batch.json"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/trend-out/"}},
            roleArn=ROLE_ARN,
        )
    assert _error(exc) == (
        "InvalidInputException",
        "Batch inference jobs are not supported for solution versions of recipe aws-trending-now.",
    )


def test_trending_now_parameters_are_checked_at_create_solution(personalize: Any) -> None:
    group = personalize.create_dataset_group(name="checks")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    cases = {
        "weekly": {"featureTransformationParameters": {"trend_discovery_frequency": "weekly"}},
        "unknown": {"featureTransformationParameters": {"trend_window": "1 hour"}},
        "algorithm": {"algorithmHyperParameters": {"trend_discovery_frequency": "1 hour"}},
    }
    messages = {}
    for name, config in cases.items():
        with pytest.raises(ClientError) as exc:
            personalize.create_solution(
                name=name, datasetGroupArn=group, recipeArn=RECIPE + "aws-trending-now", solutionConfig=config
            )
        code, messages[name] = _error(exc)
        assert code == "InvalidInputException"
    assert "trend_discovery_frequency must be one of 30 minutes, 1 hour, 2 hours, 3 hours, 1 day" in messages["weekly"]
    assert "trend_window is not a hyperparameter of aws-trending-now" in messages["unknown"]
    assert messages["algorithm"].startswith("Unknown hyperparameters for recipe aws-trending-now")
    described = personalize.describe_recipe(recipeArn=RECIPE + "aws-trending-now")["recipe"]
    assert described["recipeType"] == "USER_PERSONALIZATION"


def test_similar_items_served_for_warm_and_cold_items(personalize: Any, runtime: Any, s3: Any) -> None:
    group = _group(personalize, s3, "similar", catalogue_interactions(), catalogue_items())
    campaign = _campaign(personalize, _version(personalize, group, "similar", "aws-similar-items"), "similar")
    assert _top(runtime, campaign, 3, itemId="w1")[0] == "w2"  # co-interacted
    assert _top(runtime, campaign, 2, itemId="cold") == ["z1", "z2"]  # no interactions: its metadata
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="u001")
    assert _error(exc)[0] == "InvalidInputException"

    s3.put_object(Bucket=BUCKET, Key="similar/batch.json", Body=b'{"itemId": "cold"}\n{"itemId": "w2"}\n')
    job = personalize.create_batch_inference_job(
        jobName="similar-batch",
        solutionVersionArn=personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"],
        numResults=2,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/similar/batch.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/similar-out/"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    done = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"], TERMINAL
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    body = s3.get_object(Bucket=BUCKET, Key="similar-out/batch.json.out")["Body"].read().decode()
    outputs = [json.loads(line)["output"]["recommendedItems"] for line in body.splitlines()]
    assert outputs[0] == ["z1", "z2"] and outputs[1][0] == "w1"


def test_semantic_similarity_served_from_item_text(personalize: Any, runtime: Any, s3: Any) -> None:
    group = _group(personalize, s3, "semantic", catalogue_interactions(), catalogue_items())
    version = _version(personalize, group, "semantic", "aws-semantic-similarity")
    campaign = _campaign(personalize, version, "semantic")
    top = _top(runtime, campaign, 4, itemId="cold")
    assert top[:2] == ["z1", "z2"]  # share "jazz" (and z1 "saxophone") with the cold item's description
    assert _top(runtime, campaign, 1, itemId="z2")[0] == "cold"


def test_semantic_similarity_fails_without_a_textual_field(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)  # an Items dataset whose schema has no textual field
    import_data(personalize, arns)
    failed = _version(personalize, arns["group"], "semantic", "aws-semantic-similarity")
    assert failed["status"] == "CREATE FAILED"
    assert failed["failureReason"] == NEEDS_TEXT


def test_semantic_similarity_fails_without_an_items_dataset(personalize: Any, s3: Any) -> None:
    group = _group(personalize, s3, "bare", catalogue_interactions(), None)
    failed = _version(personalize, group, "semantic", "aws-semantic-similarity")
    assert failed["status"] == "CREATE FAILED"
    assert failed["failureReason"].startswith("The recipe aws-semantic-similarity requires an Items dataset")
