"""Recommenders of domain dataset groups: each use case served on data with a planted answer, and the
recommender's own states (create, stop, start, update, delete)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, INTERACTIONS_SCHEMA, ROLE_ARN, TERMINAL, make_bucket, wait_for

PREFIX = "arn:aws:personalize:::recipe/"
N_USERS = 100


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    lines += [f"{user},{item},{1_700_000_000 + n},{event},1" for n, (user, item, event) in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode()


def _filler(user: int, event: str) -> list[tuple[str, str, str]]:
    """Ten items per user spread over 40 items, so that no filler item stands out."""
    return [(f"u{user:03d}", f"f{(user * 3 + k) % 40:02d}", event) for k in range(10)]


def vod_rows() -> list[tuple[str, str, str]]:
    """``x`` then ``y`` watched by users 0-29 (y is what is watched with x); ``pop`` by 90 users (the most);
    filler item ``fJ`` by 10 + J users, so that x and y are neither the most nor the least watched."""
    rows = []
    for j in range(50):
        rows += [(f"u{(j * 7 + t) % N_USERS:03d}", f"f{j:02d}", "Watch") for t in range(10 + j)]
    for user in range(N_USERS):
        if user < 30:
            rows += [(f"u{user:03d}", "x", "Watch"), (f"u{user:03d}", "y", "Watch")]
        if user >= 10:
            rows.append((f"u{user:03d}", "pop", "Watch"))
    return rows


def ecommerce_rows() -> list[tuple[str, str, str]]:
    """``v`` viewed by 80 users and bought by none; ``b`` bought by 80 users and viewed by none."""
    rows = []
    for user in range(N_USERS):
        rows += _filler(user, "View") + _filler(user + 7, "Purchase")
        if user < 80:
            rows.append((f"u{user:03d}", "v", "View"))
        if user >= 20:
            rows.append((f"u{user:03d}", "b", "Purchase"))
    return rows


def domain_group(personalize: Any, s3: Any, domain: str, rows: list[tuple[str, str, str]]) -> str:
    """A dataset group of ``domain`` with its Interactions imported (waiting as a client does, at any pace)."""
    name = domain.lower().replace("_", "-")
    s3.put_object(Bucket=BUCKET, Key=f"{name}.csv", Body=_csv(rows))
    schema = personalize.create_schema(name=f"{name}-interactions", schema=INTERACTIONS_SCHEMA, domain=domain)
    group = personalize.create_dataset_group(name=name, domain=domain)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    dataset = personalize.create_dataset(
        name=f"{name}-interactions", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema["schemaArn"]
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"], TERMINAL)
    job = personalize.create_dataset_import_job(
        jobName=f"{name}-import",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{BUCKET}/{name}.csv"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    described = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    return group


def recommender(personalize: Any, group: str, use_case: str) -> str:
    arn = personalize.create_recommender(name=use_case, datasetGroupArn=group, recipeArn=PREFIX + use_case)[
        "recommenderArn"
    ]
    described = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], TERMINAL)
    assert described["status"] == "ACTIVE", described.get("failureReason")
    return arn


def _top(runtime: Any, arn: str, **query: Any) -> list[str]:
    return [e["itemId"] for e in runtime.get_recommendations(recommenderArn=arn, numResults=3, **query)["itemList"]]


def test_video_on_demand_use_cases_give_the_planted_answers(personalize: Any, runtime: Any, s3: Any) -> None:
    group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows())
    recipes = personalize.list_recipes(domain="VIDEO_ON_DEMAND")["recipes"]
    assert {r["name"] for r in recipes} >= {"aws-vod-most-popular", "aws-vod-because-you-watched-x"}
    assert _top(runtime, recommender(personalize, group, "aws-vod-most-popular"), userId="u005")[0] == "pop"
    because = recommender(personalize, group, "aws-vod-because-you-watched-x")
    assert _top(runtime, because, itemId="x")[0] == "y"
    assert _top(runtime, recommender(personalize, group, "aws-vod-trending-now"), userId="u001")[0] == "pop"
    with pytest.raises(ClientError) as exc:  # a related-items use case is asked about an item
        runtime.get_recommendations(recommenderArn=because, userId="u001")
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(ClientError) as exc:  # a use case of the other domain
        personalize.create_recommender(
            name="wrong", datasetGroupArn=group, recipeArn=PREFIX + "aws-ecomm-popular-items-by-views"
        )
    assert "needs a dataset group of domain ECOMMERCE" in exc.value.response["Error"]["Message"]
    custom = personalize.create_schema(name="custom", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(ClientError) as exc:  # a domain dataset group takes schemas of its domain only
        personalize.create_dataset(name="d", datasetGroupArn=group, datasetType="USERS", schemaArn=custom)
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"


def test_ecommerce_use_cases_give_the_planted_answers(personalize: Any, runtime: Any, s3: Any) -> None:
    group = domain_group(personalize, s3, "ECOMMERCE", ecommerce_rows())
    sellers = recommender(personalize, group, "aws-ecomm-popular-items-by-purchases")
    viewed = recommender(personalize, group, "aws-ecomm-popular-items-by-views")
    assert _top(runtime, sellers, userId="u001")[0] == "b"
    assert _top(runtime, viewed, userId="u001")[0] == "v"
    assert "v" not in _top(runtime, sellers, userId="u001")


def test_a_recommender_stops_starts_updates_and_is_deleted(personalize: Any, runtime: Any, s3: Any) -> None:
    group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows())
    arn = recommender(personalize, group, "aws-vod-most-popular")
    personalize.stop_recommender(recommenderArn=arn)
    assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["status"] == "INACTIVE"
    with pytest.raises(ClientError) as exc:  # an INACTIVE recommender does not serve
        runtime.get_recommendations(recommenderArn=arn, userId="u001")
    assert exc.value.response["Error"]["Code"] == "ResourceInUseException"
    personalize.start_recommender(recommenderArn=arn)
    assert _top(runtime, arn, userId="u001")[0] == "pop"
    personalize.update_recommender(recommenderArn=arn, recommenderConfig={"minRecommendationRequestsPerSecond": 2})
    described = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 2
    assert described["latestRecommenderUpdate"]["status"] == "ACTIVE"
    with pytest.raises(ClientError) as exc:  # the dataset group still has a recommender
        personalize.delete_dataset_group(datasetGroupArn=group)
    assert exc.value.response["Error"]["Code"] == "ResourceInUseException"
    personalize.delete_recommender(recommenderArn=arn)
    assert personalize.list_recommenders(datasetGroupArn=group)["recommenders"] == []


@pytest.mark.slow
def test_top_picks_are_a_user_personalization_model_that_reads_new_events(state_dir: Any) -> None:
    import boto3

    from personalize_kit.local import mock_personalize

    quick = {"aws-user-personalization": {"max_epochs": 1, "time_budget": 60}}
    with mock_personalize(state_dir, recipe_options=quick):
        personalize = boto3.client("personalize", region_name="us-east-1")
        runtime = boto3.client("personalize-runtime", region_name="us-east-1")
        events = boto3.client("personalize-events", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        make_bucket(s3)
        group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows())
        arn = personalize.create_recommender(
            name="picks", datasetGroupArn=group, recipeArn=PREFIX + "aws-vod-top-picks"
        )["recommenderArn"]
        described = wait_for(
            lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], TERMINAL, timeout=300
        )
        assert described["status"] == "ACTIVE", described.get("failureReason")

        def picks() -> list[tuple[str, float]]:
            answer = runtime.get_recommendations(recommenderArn=arn, userId="visitor", numResults=500)["itemList"]
            return [(e["itemId"], round(e["score"], 6)) for e in answer]

        before = picks()
        assert sum(score for _, score in before) == pytest.approx(1.0, abs=1e-3)
        tracker = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
        events.put_events(
            trackingId=tracker,
            userId="visitor",
            sessionId="s",
            eventList=[{"eventType": "Watch", "itemId": "x", "sentAt": 1_800_000_000}],
        )
        assert picks() != before
