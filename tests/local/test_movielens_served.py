"""Real data through the mirror: MovieLens ml-latest-small ratings as interactions (read-only, never copied)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import BUCKET, ROLE_ARN, TERMINAL, make_group, train, wait_for


def _ml_latest_small() -> Path:
    base = os.environ.get("PERSONALIZE_KIT_MOVIELENS_DIR")
    root = Path(base) if base else Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "movielens"
    folder = root / "ml-latest-small"
    if not (folder / "ratings.csv").is_file():
        pytest.skip(f"ml-latest-small is not at {folder} (set PERSONALIZE_KIT_MOVIELENS_DIR to the folder holding it)")
    return folder


def test_popularity_on_movielens_ratings(personalize: Any, runtime: Any, s3: Any) -> None:
    ratings = pd.read_csv(_ml_latest_small() / "ratings.csv", dtype={"userId": str, "movieId": str})
    frame = pd.DataFrame(
        {
            "USER_ID": ratings["userId"],
            "ITEM_ID": ratings["movieId"],
            "TIMESTAMP": ratings["timestamp"],
            "EVENT_TYPE": "rating",
            "EVENT_VALUE": ratings["rating"],
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    s3.put_object(Bucket=BUCKET, Key="ml/interactions.csv", Body=buffer.getvalue().encode())
    arns = make_group(personalize, "movielens")
    job = personalize.create_dataset_import_job(
        jobName="ratings",
        datasetArn=arns["INTERACTIONS"],
        dataSource={"dataLocation": f"s3://{BUCKET}/ml/"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    described = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    version = train(personalize, arns["group"], name="movielens-popular")
    assert personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]["status"] == "ACTIVE"
    campaign = personalize.create_campaign(name="movielens", solutionVersionArn=version)["campaignArn"]
    answer = runtime.get_recommendations(campaignArn=campaign, userId="1", numResults=5)
    raters = ratings.groupby("movieId")["userId"].nunique()
    expected = sorted(raters.index, key=lambda movie: (-raters[movie], movie))[:5]
    assert [entry["itemId"] for entry in answer["itemList"]] == expected
    assert expected[0] == "356"  # Forrest Gump: rated by the most users of ml-latest-small
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert metrics["coverage"] == pytest.approx(25 / raters.size)
