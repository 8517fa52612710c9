"""Recommenders of domain dataset groups: each use case served on data with a planted answer, and the
recommender's own states (create, stop, start, update, delete)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, INTERACTIONS_SCHEMA, ROLE_ARN, TERMINAL, make_bucket, wait_for

from personalize_kit.data.schemas import FieldSpec, make_schema

PREFIX = "arn:aws:personalize:::recipe/"
N_USERS = 100


START = 1_700_000_000
DAY = 86_400


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    """One row a second from ``START``; a row of four has its own timestamp."""
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    lines += [f"{row[0]},{row[1]},{row[3] if len(row) > 3 else START + n},{row[2]},1" for n, row in enumerate(rows)]
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
    """``v`` viewed by 80 users and bought by none; ``b`` bought by 80 users and viewed by none; ``vx`` then
    ``vy`` viewed by users 80-99, who view no ``v`` (and ``vy`` bought by u085); ``bx`` and ``by`` bought
    together by users 0-19, who buy no ``b``."""
    rows = []
    for user in range(N_USERS):
        rows += _filler(user, "View") + _filler(user + 7, "Purchase")
        if user < 80:
            rows.append((f"u{user:03d}", "v", "View"))
        if user >= 20:
            rows.append((f"u{user:03d}", "b", "Purchase"))
        if user >= 80:
            rows += [(f"u{user:03d}", "vx", "View"), (f"u{user:03d}", "vy", "View")]
        if user < 20:
            rows += [(f"u{user:03d}", "bx", "Purchase"), (f"u{user:03d}", "by", "Purchase")]
    return rows + [("u085", "vy", "Purchase")]


VOD_ITEMS_SCHEMA = json.dumps(
    make_schema("ITEMS", [FieldSpec("ITEM_ID", "string"), FieldSpec("GENRES", "string", categorical=True)])
)


def _import(personalize: Any, s3: Any, group: str, kind: str, schema: str, body: bytes) -> None:
    """One dataset of ``group`` with ``body`` imported (waiting as a client does, at any pace)."""
    name = f"{group.rsplit('/', 1)[1]}-{kind.lower()}"
    domain = personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["domain"]
    s3.put_object(Bucket=BUCKET, Key=f"{name}.csv", Body=body)
    schema_arn = personalize.create_schema(name=name, schema=schema, domain=domain)["schemaArn"]
    dataset = personalize.create_dataset(name=name, datasetGroupArn=group, datasetType=kind, schemaArn=schema_arn)[
        "datasetArn"
    ]
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


def domain_group(personalize: Any, s3: Any, domain: str, rows: list[tuple[str, str, str]]) -> str:
    """A dataset group of ``domain`` with its Interactions imported."""
    name = domain.lower().replace("_", "-")
    group = personalize.create_dataset_group(name=name, domain=domain)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    _import(personalize, s3, group, "INTERACTIONS", INTERACTIONS_SCHEMA, _csv(rows))
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
    assert _top(runtime, because, itemId="x", userId="u050")[0] == "y"
    assert "y" not in _top(runtime, because, itemId="x", userId="u001")  # u001 watched y: left out
    with pytest.raises(ClientError) as exc:  # the use case needs the user too
        runtime.get_recommendations(recommenderArn=because, itemId="x")
    assert "userId is required" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:  # a related-items use case is asked about an item
        runtime.get_recommendations(recommenderArn=because, userId="u001")
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(ClientError) as exc:  # a use case of the other domain
        personalize.create_recommender(
            name="wrong", datasetGroupArn=group, recipeArn=PREFIX + "aws-ecomm-popular-items-by-views"
        )
    assert "needs a dataset group of domain ECOMMERCE" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:  # a domain schema needs the domain's fields (VIDEO_ON_DEMAND items: GENRES)
        personalize.create_schema(
            name="bare-items",
            schema=json.dumps(make_schema("ITEMS", [FieldSpec("ITEM_ID", "string"), FieldSpec("YEAR", "int")])),
            domain="VIDEO_ON_DEMAND",
        )
    assert "needs the fields GENRES" in exc.value.response["Error"]["Message"]
    custom = personalize.create_schema(name="custom", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(ClientError) as exc:  # a domain dataset group takes schemas of its domain only
        personalize.create_dataset(name="d", datasetGroupArn=group, datasetType="USERS", schemaArn=custom)
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"


def test_trending_now_is_what_rose_most_in_the_newest_day_not_the_most_popular(
    personalize: Any, runtime: Any, s3: Any
) -> None:
    """``pop`` (90 users) was watched ten days ago; ``rise`` by 40 users within the newest day."""
    rising = [(f"u{user:03d}", "rise", "Watch", START + 10 * DAY + user) for user in range(40)]
    group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows() + rising)
    assert _top(runtime, recommender(personalize, group, "aws-vod-trending-now"), userId="u001")[0] == "rise"
    assert _top(runtime, recommender(personalize, group, "aws-vod-most-popular"), userId="u001")[0] == "pop"


def test_ecommerce_use_cases_give_the_planted_answers(personalize: Any, runtime: Any, s3: Any) -> None:
    group = domain_group(personalize, s3, "ECOMMERCE", ecommerce_rows())
    sellers = recommender(personalize, group, "aws-ecomm-popular-items-by-purchases")
    viewed = recommender(personalize, group, "aws-ecomm-popular-items-by-views")
    assert _top(runtime, sellers, userId="u001")[0] == "b"
    assert _top(runtime, viewed, userId="u001")[0] == "v"
    assert "v" not in _top(runtime, sellers, userId="u001")
    also_viewed = recommender(personalize, group, "aws-ecomm-customers-who-viewed-x-also-viewed")
    assert _top(runtime, also_viewed, itemId="vx", userId="u050")[0] == "vy"
    assert "vy" not in _top(runtime, also_viewed, itemId="vx", userId="u085")  # u085 bought vy: left out
    together = recommender(personalize, group, "aws-ecomm-frequently-bought-together")
    assert _top(runtime, together, itemId="bx")[0] == "by"  # no userId needed
    assert "vy" not in _top(runtime, together, itemId="vx")  # viewed together is not bought together


def test_more_like_x_needs_items_and_answers_the_item_watched_with_x(personalize: Any, runtime: Any, s3: Any) -> None:
    group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows())
    arn = personalize.create_recommender(name="bare", datasetGroupArn=group, recipeArn=PREFIX + "aws-vod-more-like-x")[
        "recommenderArn"
    ]
    described = wait_for(lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"], TERMINAL)
    assert described["status"] == "CREATE FAILED" and "Items dataset" in described["failureReason"]
    items = sorted({item for _, item, _ in vod_rows()})
    body = (
        "ITEM_ID,GENRES\n" + "".join(f"{item},{'Drama' if item in 'xy' else 'Comedy'}\n" for item in items)
    ).encode()
    _import(personalize, s3, group, "ITEMS", VOD_ITEMS_SCHEMA, body)
    more = recommender(personalize, group, "aws-vod-more-like-x")
    assert _top(runtime, more, itemId="x", userId="u050")[0] == "y"
    assert "y" not in _top(runtime, more, itemId="x", userId="u001")  # watched: left out


@pytest.mark.parametrize(
    ("domain", "use_case", "rows", "user", "expected", "left_out"),
    [
        # a visitor who watched x gets y (watched after x by 30 users); pop, which they watched, is left out
        (
            "VIDEO_ON_DEMAND",
            "aws-vod-top-picks",
            [("visitor", "pop", "Watch"), ("visitor", "x", "Watch")],
            "visitor",
            "y",
            "pop",
        ),
        # a shopper who viewed vx gets vy (viewed after vx by 20 users); b, which they bought, is left out
        (
            "ECOMMERCE",
            "aws-ecomm-recommended-for-you",
            [("shopper", "b", "Purchase"), ("shopper", "vx", "View")],
            "shopper",
            "vy",
            "b",
        ),
    ],
)
def test_personalized_use_cases_give_the_next_item_and_leave_out_what_the_user_had(
    monkeypatch: pytest.MonkeyPatch,
    state_dir: Any,
    domain: str,
    use_case: str,
    rows: list[tuple[str, str, str]],
    user: str,
    expected: str,
    left_out: str,
) -> None:
    import boto3

    from personalize_kit.local import mock_personalize

    monkeypatch.setenv("PERSONALIZE_KIT_PROFILE", "fast")  # closed-form weights: the next item after A is B
    with mock_personalize(state_dir):
        personalize = boto3.client("personalize", region_name="us-east-1")
        runtime = boto3.client("personalize-runtime", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        make_bucket(s3)
        base = vod_rows() if domain == "VIDEO_ON_DEMAND" else ecommerce_rows()
        group = domain_group(personalize, s3, domain, base + rows)
        arn = recommender(personalize, group, use_case)
        answer = _top(runtime, arn, userId=user)
        assert answer[0] == expected
        assert left_out not in [
            e["itemId"]
            for e in runtime.get_recommendations(recommenderArn=arn, userId=user, numResults=100)["itemList"]
        ]


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
