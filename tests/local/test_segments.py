"""User segmentation: Item-Affinity and Item-Attribute-Affinity trained through the mirror, batch segment jobs
end to end, and what the service refuses.

The data is planted: users ``u00``-``u19`` (the Comedy fans) interact only with the Comedy items ``i00``-``i19``,
14 each; users ``u20``-``u59`` interact only with Drama and Horror items, 30 each (more active, so a segment
ordered by activity or popularity would put them first). The segment of a Comedy item, and of
``ITEMS.GENRES = "Comedy"``, must therefore start with the 20 Comedy fans.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import (
    BUCKET,
    INTERACTIONS_SCHEMA,
    POPULARITY_ARN,
    ROLE_ARN,
    TERMINAL,
    import_data,
    make_bucket,
    make_group,
    train,
    wait_for,
)

ITEM_AFFINITY = "arn:aws:personalize:::recipe/aws-item-affinity"
ATTRIBUTE_AFFINITY = "arn:aws:personalize:::recipe/aws-item-attribute-affinity"
GENRE = {f"i{k:02d}": ("Comedy", "Drama", "Horror")[k // 20] for k in range(60)}
FANS = [f"u{u:02d}" for u in range(20)]


def planted_interactions() -> str:
    rng = np.random.default_rng(7)
    comedy = [item for item, genre in GENRE.items() if genre == "Comedy"]
    others = [item for item, genre in GENRE.items() if genre != "Comedy"]
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for user in range(60):
        chosen = rng.choice(comedy, 14, replace=False) if user < 20 else rng.choice(others, 30, replace=False)
        lines += [f"u{user:02d},{item},{1_700_000_000 + user * 100 + k},click,1" for k, item in enumerate(chosen)]
    return "\n".join(lines) + "\n"


def planted_items() -> str:
    return "ITEM_ID,GENRES,PRICE\n" + "".join(f"{item},{genre},{k}\n" for k, (item, genre) in enumerate(GENRE.items()))


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def s3(mirror: Any) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    make_bucket(client)
    client.put_object(Bucket=BUCKET, Key="interactions.csv", Body=planted_interactions().encode())
    client.put_object(Bucket=BUCKET, Key="items.csv", Body=planted_items().encode())
    return client


@pytest.fixture
def group(personalize: Any, s3: Any) -> dict[str, str]:
    arns = make_group(personalize)
    import_data(personalize, arns)
    return arns


def _segment_job(personalize: Any, s3: Any, version: str, name: str, lines: list[dict], **extra: Any) -> dict:
    """Upload ``lines`` as ``segments/<name>.json``, run a job on them; its description once terminal."""
    body = "".join(json.dumps(line) + "\n" for line in lines)
    s3.put_object(Bucket=BUCKET, Key=f"segments/{name}.json", Body=body.encode())
    arn = personalize.create_batch_segment_job(
        jobName=name,
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/segments/{name}.json"}},
        jobOutput={"s3DataDestination": {"path": extra.pop("output", f"s3://{BUCKET}/segments-out/")}},
        roleArn=ROLE_ARN,
        **extra,
    )["batchSegmentJobArn"]
    return wait_for(lambda: personalize.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"], TERMINAL)


def _output(s3: Any, name: str) -> list[dict]:
    """The lines of ``segments-out/<name>.json.out``."""
    body = s3.get_object(Bucket=BUCKET, Key=f"segments-out/{name}.json.out")["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_item_affinity_segments_put_the_planted_group_first(personalize: Any, s3: Any, group: dict) -> None:
    version = train(personalize, group["group"], name="affinity", recipe=ITEM_AFFINITY)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "ACTIVE", described.get("failureReason")
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == {"hits_at_1_percent", "recall_at_1_percent"}

    lines = [{"itemId": "i03"}, {"itemId": "i17"}, {"itemId": "i45"}, {"itemId": "unknown"}, {"userId": "u01"}]
    job = _segment_job(personalize, s3, version, "items", lines, numResults=20)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    assert (job["numResults"], job["jobName"], job["solutionVersionArn"]) == (20, "items", version)
    out = _output(s3, "items")
    assert [line["input"] for line in out] == lines
    for line in out[:2]:  # a Comedy item: the 20 fans, and no one else, make the top 20
        assert line["error"] is None
        assert sorted(line["output"]["usersList"]) == FANS
    assert not set(out[2]["output"]["usersList"]) & set(FANS)  # a Horror item: none of them
    assert out[3] == {"input": lines[3], "output": None, "error": out[3]["error"]}
    assert "itemId unknown is not in the solution version's training data" in out[3]["error"]
    assert out[4]["output"] is None and "needs itemId" in out[4]["error"]

    default = _segment_job(personalize, s3, version, "default", [{"itemId": "i03"}])
    assert default["numResults"] == 25
    assert sorted(_output(s3, "default")[0]["output"]["usersList"][:20]) == FANS

    for name, item in (("a", "i03"), ("b", "i45")):  # a folder as the input: every file in it, each its .out
        s3.put_object(Bucket=BUCKET, Key=f"folder/{name}.json", Body=json.dumps({"itemId": item}).encode())
    folder = personalize.create_batch_segment_job(
        jobName="folder",
        solutionVersionArn=version,
        numResults=20,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/folder/"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/segments-out/"}},
        roleArn=ROLE_ARN,
    )["batchSegmentJobArn"]
    assert personalize.describe_batch_segment_job(batchSegmentJobArn=folder)["batchSegmentJob"]["status"] == "ACTIVE"
    assert sorted(_output(s3, "a")[0]["output"]["usersList"]) == FANS
    assert not set(_output(s3, "b")[0]["output"]["usersList"]) & set(FANS)

    listed = personalize.list_batch_segment_jobs(solutionVersionArn=version)["batchSegmentJobs"]
    assert [(j["jobName"], j["status"], j["solutionVersionArn"]) for j in listed] == [
        ("folder", "ACTIVE", version),
        ("default", "ACTIVE", version),
        ("items", "ACTIVE", version),
    ]
    first = personalize.list_batch_segment_jobs(solutionVersionArn=version, maxResults=2)
    second = personalize.list_batch_segment_jobs(solutionVersionArn=version, maxResults=2, nextToken=first["nextToken"])
    names = [j["jobName"] for j in first["batchSegmentJobs"] + second["batchSegmentJobs"]]
    assert names == ["folder", "default", "items"]
    assert "nextToken" not in second
    other = version.rsplit("/", 1)[0] + "/00000000"
    assert personalize.list_batch_segment_jobs(solutionVersionArn=other)["batchSegmentJobs"] == []


def test_item_attribute_affinity_segments_follow_the_attributes(personalize: Any, s3: Any, group: dict) -> None:
    version = train(personalize, group["group"], name="attributes", recipe=ATTRIBUTE_AFFINITY)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "ACTIVE", described.get("failureReason")
    lines = [
        {"itemAttributes": 'ITEMS.GENRES = "Comedy"'},
        {"itemAttributes": 'ITEMS.GENRES = "Drama" AND ITEMS.PRICE = 25'},
        {"itemAttributes": 'ITEMS.MOOD = "dark"'},
        {"itemAttributes": 'ITEMS.GENRES IN ("Comedy")'},
        {"itemAttributes": 'ITEMS.GENRES = "Western"'},
        {"itemId": "i03"},
    ]
    job = _segment_job(personalize, s3, version, "attributes", lines, numResults=20)
    assert job["status"] == "ACTIVE", job.get("failureReason")
    out = _output(s3, "attributes")
    assert sorted(out[0]["output"]["usersList"]) == FANS and out[0]["error"] is None
    assert not set(out[1]["output"]["usersList"]) & set(FANS)
    assert "ITEMS.MOOD is not a column of the Items dataset (GENRES, PRICE)" in out[2]["error"]
    assert 'is not of the form ITEMS.COLUMN = "value"' in out[3]["error"]
    assert "no item of the training data matches" in out[4]["error"]
    assert "needs itemAttributes" in out[5]["error"]
    assert all(line["output"] is None for line in out[2:])

    eleven = [{"itemAttributes": 'ITEMS.GENRES = "Comedy"'}] * 11
    failed = _segment_job(personalize, s3, version, "eleven", eleven)
    assert failed["status"] == "CREATE FAILED"
    assert "has 11 lines; this job takes at most 10" in failed["failureReason"]


def test_item_attribute_affinity_needs_an_items_dataset(personalize: Any, s3: Any) -> None:
    schema = personalize.create_schema(name="bare-interactions", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    group = personalize.create_dataset_group(name="bare")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name="bare-interactions", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName="bare-import",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{BUCKET}/interactions.csv"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    imported = personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    assert imported["status"] == "ACTIVE", imported.get("failureReason")
    version = train(personalize, group, name="no-items", recipe=ATTRIBUTE_AFFINITY)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert described["status"] == "CREATE FAILED"
    assert described["failureReason"] == (
        "Recipe aws-item-attribute-affinity needs an Items dataset with at least one metadata column besides "
        "ITEM_ID and "
        "CREATION_TIMESTAMP: import one into the dataset group and train again."
    )


def test_what_the_service_refuses(personalize: Any, s3: Any, group: dict) -> None:
    affinity = train(personalize, group["group"], name="affinity", recipe=ITEM_AFFINITY)
    popular = train(personalize, group["group"], name="popular", recipe=POPULARITY_ARN)
    s3.put_object(Bucket=BUCKET, Key="segments/in.json", Body=b'{"itemId": "i03"}\n')
    request = {
        "jobName": "job",
        "solutionVersionArn": affinity,
        "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/segments/in.json"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/segments-out/"}},
        "roleArn": ROLE_ARN,
    }
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_segment_job(**{**request, "solutionVersionArn": popular})
    assert _error(exc)[0] == "InvalidInputException"
    assert "need a solution version of a USER_SEGMENTATION recipe" in _error(exc)[1]
    for bad in (0, 5_000_001):
        with pytest.raises(ClientError) as exc:
            personalize.create_batch_segment_job(**request, numResults=bad)
        assert _error(exc) == ("InvalidInputException", f"numResults must be between 1 and 5,000,000: {bad}.")
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_segment_job(**{**request, "solutionVersionArn": affinity[:-8] + "00000000"})
    assert _error(exc)[0] == "ResourceNotFoundException"
    items_filter = personalize.create_filter(
        name="comedy",
        datasetGroupArn=group["group"],
        filterExpression='INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")',
    )["filterArn"]
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_segment_job(**request, filterArn=items_filter)
    assert _error(exc)[0] == "InvalidInputException" and "takes a filter of users" in _error(exc)[1]

    personalize.create_batch_segment_job(**request)
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_segment_job(**request)
    assert _error(exc)[0] == "ResourceAlreadyExistsException"

    with pytest.raises(ClientError) as exc:
        personalize.create_campaign(name="segments", solutionVersionArn=affinity)
    assert _error(exc)[0] == "InvalidInputException" and "CreateBatchSegmentJob" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_inference_job(**{**request, "jobName": "inference"})
    assert _error(exc)[0] == "InvalidInputException" and "not CreateBatchInferenceJob" in _error(exc)[1]

    s3.create_bucket(Bucket="elsewhere")  # the role may not write there
    denied = _segment_job(personalize, s3, affinity, "denied", [{"itemId": "i03"}], output="s3://elsewhere/out/")
    assert denied["status"] == "CREATE FAILED" and "elsewhere" in denied["failureReason"]


def test_solutions_of_segmentation_recipes_are_checked(personalize: Any, group: dict) -> None:
    for extra, message in (
        ({"solutionConfig": {"algorithmHyperParameters": {"hidden_dimension": "16"}}}, "hidden_dimension must be"),
        ({"performHPO": True}, "performHPO is not supported for recipe aws-item-affinity"),
    ):
        with pytest.raises(ClientError) as exc:
            personalize.create_solution(name="s", datasetGroupArn=group["group"], recipeArn=ITEM_AFFINITY, **extra)
        assert _error(exc)[0] == "InvalidInputException" and message in _error(exc)[1]
    recipe = personalize.describe_recipe(recipeArn=ATTRIBUTE_AFFINITY)["recipe"]
    assert (recipe["recipeType"], recipe["featureTransformationArn"]) == (
        "USER_SEGMENTATION",
        "arn:aws:personalize:::feature-transformation/item-attribute-affinity",
    )
    algorithm = personalize.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
    assert algorithm["defaultHyperParameters"] == {"hidden_dimension": "149"}
