"""Import jobs and solution versions: what the service accepts, refuses and reports as failures."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, ROLE_ARN, TERMINAL, import_data, make_group, train, wait_for

from personalize_kit import recipes
from personalize_kit.local import mock_personalize

UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _import(personalize: Any, dataset_arn: str, key: str, name: str = "job", mode: str = "FULL") -> dict:
    job = personalize.create_dataset_import_job(
        jobName=name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": f"s3://{BUCKET}/{key}"},
        roleArn=ROLE_ARN,
        importMode=mode,
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )


def test_import_copies_the_data_into_the_state_directory(personalize: Any, s3: Any, state_dir: Path) -> None:
    arns = make_group(personalize)
    job = _import(personalize, arns["INTERACTIONS"], "interactions.csv")
    assert job["status"] == "ACTIVE"
    assert job["importMode"] == "FULL"
    assert job["dataSource"] == {"dataLocation": f"s3://{BUCKET}/interactions.csv"}
    stored = pd.read_parquet(state_dir / "data" / "shop" / "INTERACTIONS.parquet")
    assert len(stored) == 1050
    assert list(stored.columns) == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
    s3.delete_object(Bucket=BUCKET, Key="interactions.csv")  # the mirror no longer needs S3
    assert len(pd.read_parquet(state_dir / "data" / "shop" / "INTERACTIONS.parquet")) == 1050
    listed = personalize.list_dataset_import_jobs(datasetArn=arns["INTERACTIONS"])["datasetImportJobs"]
    assert [j["jobName"] for j in listed] == ["job"]


def test_import_with_bad_rows_fails_naming_the_problems(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    body = s3.get_object(Bucket=BUCKET, Key="interactions.csv")["Body"].read().decode().splitlines()
    body[3] = "u00,i02,yesterday,click,1"
    s3.put_object(Bucket=BUCKET, Key="bad.csv", Body=("\n".join(body) + "\n").encode())
    job = _import(personalize, arns["INTERACTIONS"], "bad.csv")
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"].startswith("Input data is not valid: bad.csv:4 TIMESTAMP")


def test_import_of_a_missing_object_fails(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    job = _import(personalize, arns["INTERACTIONS"], "nowhere.csv")
    assert job["status"] == "CREATE FAILED"
    assert (
        job["failureReason"]
        == f"Failed to read the input data at s3://{BUCKET}/nowhere.csv from Amazon S3 (NoSuchKey)."
    )


def test_incremental_item_import_replaces_rows_by_id(personalize: Any, s3: Any, state_dir: Path) -> None:
    arns = make_group(personalize)
    assert _import(personalize, arns["ITEMS"], "items.csv")["status"] == "ACTIVE"
    s3.put_object(Bucket=BUCKET, Key="more-items.csv", Body=b"ITEM_ID,GENRES,PRICE\ni00,Horror,99\nz99,Drama,1\n")
    assert _import(personalize, arns["ITEMS"], "more-items.csv", "more", "INCREMENTAL")["status"] == "ACTIVE"
    items = pd.read_parquet(state_dir / "data" / "shop" / "ITEMS.parquet").set_index("ITEM_ID")
    assert len(items) == 33
    assert (items.loc["i00", "GENRES"], int(items.loc["i00", "PRICE"])) == ("Horror", 99)


def test_too_few_users_fails_the_training_with_the_service_reason(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    rows += [f"u{i % 10},i{i % 40:02d},{1_700_000_000 + i},click,1" for i in range(1200)]
    s3.put_object(Bucket=BUCKET, Key="few-users.csv", Body=("\n".join(rows) + "\n").encode())
    assert _import(personalize, arns["INTERACTIONS"], "few-users.csv")["status"] == "ACTIVE"
    version = personalize.describe_solution_version(solutionVersionArn=train(personalize, arns["group"]))[
        "solutionVersion"
    ]
    assert version["status"] == "CREATE FAILED"
    assert version["failureReason"] == "Dataset has fewer than 25 users with at least 2 interactions each."
    with pytest.raises(ClientError) as exc:
        personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])
    assert _error(exc)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as exc:  # a campaign needs an ACTIVE solution version
        personalize.create_campaign(name="c", solutionVersionArn=version["solutionVersionArn"])
    assert _error(exc) == (
        "ResourceInUseException",
        f"The resource {version['solutionVersionArn']} is in CREATE FAILED state. It must be ACTIVE.",
    )


def test_event_type_filter_counts_towards_the_minimum(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    solution = personalize.create_solution(
        name="watch-only",
        datasetGroupArn=arns["group"],
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
        eventType="watch",
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    described = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL
    )
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"].startswith("Dataset has fewer than 1000 interactions (0 after filtering")
    assert described["eventType"] == "watch"


def test_a_recipe_without_local_implementation_fails_honestly(
    personalize: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = recipes.RECIPES[UP_ARN]
    monkeypatch.setitem(recipes.RECIPES, UP_ARN, dataclasses.replace(info, implementation=None))
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"], name="up", recipe=UP_ARN)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"] == "recipe aws-user-personalization is not available in the local mirror yet"


def test_stop_solution_version_creation(state_dir: Path) -> None:
    with mock_personalize(state_dir, training_seconds=30):
        personalize = boto3.client("personalize", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        from conftest import interactions_csv, items_csv

        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
        s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
        arns = make_group(personalize)
        import_data(personalize, arns)
        solution = personalize.create_solution(
            name="slow", datasetGroupArn=arns["group"], recipeArn="arn:aws:personalize:::recipe/aws-popularity-count"
        )["solutionArn"]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
            ("CREATE IN_PROGRESS",),
        )
        with pytest.raises(ClientError) as exc:  # one version at a time per solution
            personalize.create_solution_version(solutionArn=solution)
        assert _error(exc)[0] == "ResourceInUseException"
        with pytest.raises(ClientError) as exc:
            personalize.delete_solution(solutionArn=solution)
        assert _error(exc)[0] == "ResourceInUseException"
        personalize.stop_solution_version_creation(solutionVersionArn=version)
        described = wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
            ("CREATE STOPPED",),
            timeout=20,
        )
        assert "failureReason" not in described
        with pytest.raises(ClientError) as exc:
            personalize.stop_solution_version_creation(solutionVersionArn=version)
        assert _error(exc)[0] == "ResourceInUseException"
        summaries = personalize.list_solution_versions(solutionArn=solution)["solutionVersions"]
        assert [(s["solutionVersionArn"], s["status"]) for s in summaries] == [(version, "CREATE STOPPED")]


def test_solution_version_shape(personalize: Any, s3: Any, state_dir: Path) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"])
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert version.startswith("arn:aws:personalize:us-east-1:123456789012:solution/popular/")
    assert described["trainingType"] == "MANUAL"
    assert described["trainingHours"] >= 0
    assert described["datasetGroupArn"] == arns["group"]
    model_dir = state_dir / "models" / "popular" / version.rsplit("/", 1)[1]
    saved = json.loads((model_dir / "model.json").read_text())
    assert saved["recipe"] == "aws-popularity-count"
    assert set(json.loads((model_dir / "metrics.json").read_text())) == set(
        personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    )


def test_a_training_without_heartbeat_is_failed_and_stays_failed(state_dir: Path) -> None:
    from conftest import interactions_csv, items_csv

    from personalize_kit.local.lifecycle import KILLED_REASON, STALE_SECONDS

    with mock_personalize(state_dir, training_seconds=30):
        personalize = boto3.client("personalize", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
        s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
        arns = make_group(personalize)
        import_data(personalize, arns)
        solution = personalize.create_solution(
            name="stale", datasetGroupArn=arns["group"], recipeArn="arn:aws:personalize:::recipe/aws-popularity-count"
        )["solutionArn"]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
            ("CREATE IN_PROGRESS",),
        )
        # as seen from a process whose owner pid is alive but has not beaten for too long (e.g. a reused pid)
        with sqlite3.connect(state_dir / "mirror.db") as db:
            db.execute(
                "UPDATE resources SET internal = json_set(internal, '$.heartbeat', "
                "json_extract(internal, '$.heartbeat') - ?, '$.ownerPid', ?) WHERE arn = ?",
                (STALE_SECONDS + 60, os.getppid(), version),
            )
        described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
        assert (described["status"], described["failureReason"]) == ("CREATE FAILED", KILLED_REASON)
        time.sleep(0.6)  # the training thread notices and stops without writing over the verdict
        described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
        assert described["status"] == "CREATE FAILED"


def test_event_value_threshold_filters_the_training_data(personalize: Any, s3: Any) -> None:
    from conftest import N_USERS, user_items

    arns = make_group(personalize)
    import_data(personalize, arns)
    solution = personalize.create_solution(
        name="strong",
        datasetGroupArn=arns["group"],
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
        solutionConfig={"eventValueThreshold": "5"},
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    described = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL
    )
    kept = sum(1 for u in range(N_USERS) for k in range(len(user_items(u))) if 1 + k % 5 >= 5)
    assert kept < 1000
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"] == (
        f"Dataset has fewer than 1000 interactions ({kept} after filtering by event type and event value threshold)."
    )
    assert described["solutionConfig"] == {"eventValueThreshold": "5"}
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="nan",
            datasetGroupArn=arns["group"],
            recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
            solutionConfig={"eventValueThreshold": "high"},
        )
    assert _error(exc) == ("InvalidInputException", "eventValueThreshold 'high' is not a number.")
