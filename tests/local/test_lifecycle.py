"""The whole lifecycle through real boto3 clients: from CreateSchema to GetRecommendations and back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import (
    BUCKET,
    EXPECTED_POPULARITY,
    POPULARITY_ARN,
    ROLE_ARN,
    TERMINAL,
    import_data,
    make_group,
    train,
    wait_for,
)

from personalize_kit.metrics import METRIC_NAMES


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_full_lifecycle_to_recommendations_and_back_to_an_empty_account(
    personalize: Any, runtime: Any, events: Any, s3: Any, state_dir: Path
) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"])
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "ACTIVE"
    assert described["trainingMode"] == "FULL"
    assert described["recipeArn"] == POPULARITY_ARN
    solution = personalize.describe_solution(solutionArn=described["solutionArn"])["solution"]
    assert solution["latestSolutionVersion"]["solutionVersionArn"] == version

    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == set(METRIC_NAMES)
    # Popularity-Count recommends the same 25 items to everyone; the catalogue has 32 items.
    assert metrics["coverage"] == pytest.approx(25 / 32)

    campaign = personalize.create_campaign(name="popular", solutionVersionArn=version, minProvisionedTPS=1)[
        "campaignArn"
    ]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
    answer = runtime.get_recommendations(campaignArn=campaign, userId="u07", numResults=5)
    ranked = sorted(EXPECTED_POPULARITY, key=lambda item: (-EXPECTED_POPULARITY[item], item))
    assert [entry["itemId"] for entry in answer["itemList"]] == ranked[:5]
    assert all("score" not in entry for entry in answer["itemList"])
    assert answer["recommendationId"].startswith("RID-")
    default = runtime.get_recommendations(campaignArn=campaign, userId="somebody-new")
    assert len(default["itemList"]) == 25

    # real-time events, a filter and a batch job on the same version
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])
    not_bought = personalize.create_filter(
        name="not-bought",
        datasetGroupArn=arns["group"],
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
    )["filterArn"]
    events.put_events(
        trackingId=tracker["trackingId"],
        userId="u07",
        sessionId="session-1",
        eventList=[{"eventType": "purchase", "itemId": ranked[0], "sentAt": 1_800_000_000}],
    )
    filtered = runtime.get_recommendations(campaignArn=campaign, userId="u07", numResults=3, filterArn=not_bought)
    assert [entry["itemId"] for entry in filtered["itemList"]] == ranked[1:4]
    s3.put_object(Bucket=BUCKET, Key="batch/in.json", Body=b'{"userId": "u07"}\n')
    job = personalize.create_batch_inference_job(
        jobName="batch",
        solutionVersionArn=version,
        filterArn=not_bought,
        numResults=2,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/in.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/batch/out/"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    assert (
        wait_for(
            lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"], TERMINAL
        )["status"]
        == "ACTIVE"
    )
    line = json.loads(s3.get_object(Bucket=BUCKET, Key="batch/out/in.json.out")["Body"].read())
    assert line["output"]["recommendedItems"] == ranked[1:3]

    # teardown in the service's order: nothing may be left
    personalize.delete_campaign(campaignArn=campaign)
    with pytest.raises(ClientError) as exc:
        personalize.describe_campaign(campaignArn=campaign)
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {campaign} does not exist.")
    personalize.delete_filter(filterArn=not_bought)
    personalize.delete_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])
    personalize.delete_solution(solutionArn=described["solutionArn"])
    for kind in ("INTERACTIONS", "ITEMS"):
        personalize.delete_dataset(datasetArn=arns[kind])
    personalize.delete_dataset_group(datasetGroupArn=arns["group"])
    for key in ("interactions_schema", "items_schema"):
        personalize.delete_schema(schemaArn=arns[key])
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    assert personalize.list_schemas()["schemas"] == []
    assert personalize.list_solutions()["solutions"] == []
    assert personalize.list_campaigns()["campaigns"] == []
    assert personalize.list_datasets()["datasets"] == []
    assert personalize.list_dataset_import_jobs()["datasetImportJobs"] == []
    assert personalize.list_solution_versions()["solutionVersions"] == []
    assert personalize.list_batch_inference_jobs()["batchInferenceJobs"] == []
    assert personalize.list_event_trackers()["eventTrackers"] == []
    assert personalize.list_filters()["Filters"] == []
    with sqlite3.connect(state_dir / "mirror.db") as db:
        assert db.execute("SELECT COUNT(*) FROM resources").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM events WHERE dataset_group = 'shop'").fetchone()[0] == 0
    assert not (state_dir / "data" / "shop").exists()
    assert not (state_dir / "models" / "popular").exists()
