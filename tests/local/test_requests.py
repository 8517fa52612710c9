"""Request semantics: PutEvents ``properties`` mapped onto the Interactions schema, CSV columns by header name."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import (
    BUCKET,
    EXPECTED_POPULARITY,
    ROLE_ARN,
    TERMINAL,
    import_data,
    interactions_csv,
    items_csv,
    make_bucket,
    make_group,
    train,
    wait_for,
)

from personalize_kit.data.schemas import FieldSpec, make_schema
from personalize_kit.local import mock_personalize, store

RANKED = sorted(EXPECTED_POPULARITY, key=lambda item: (-EXPECTED_POPULARITY[item], item))
CLICKED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _items(answer: dict[str, Any]) -> list[str]:
    return [entry["itemId"] for entry in answer["itemList"]]


def test_the_getting_started_click_inside_properties_counts(
    personalize: Any, runtime: Any, events: Any, s3: Any, state_dir: Path
) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    campaign = personalize.create_campaign(name="c", solutionVersionArn=train(personalize, arns["group"]))[
        "campaignArn"
    ]
    tracker = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    unclicked = personalize.create_filter(name="unclicked", datasetGroupArn=arns["group"], filterExpression=CLICKED)[
        "filterArn"
    ]

    def top() -> list[str]:
        return _items(
            runtime.get_recommendations(campaignArn=campaign, userId="visitor", numResults=3, filterArn=unclicked)
        )

    assert top() == RANKED[:3]
    # as the notebook sends it: no itemId member, the item inside properties
    events.put_events(
        trackingId=tracker,
        userId="visitor",
        sessionId="s",
        eventList=[
            {
                "eventType": "click",
                "sentAt": time.time(),
                "properties": json.dumps({"itemId": RANKED[0]}),
                "impression": RANKED[:3],
            }
        ],
    )
    assert top() == RANKED[1:4]
    stored = store.read_events(personalize_state(state_dir), "shop").iloc[-1]
    assert (stored["ITEM_ID"], stored["IMPRESSION"]) == (RANKED[0], "|".join(RANKED[:3]))


def personalize_state(state_dir: Path) -> Any:
    from personalize_kit.local.state import StateDir

    return StateDir(state_dir)


def test_properties_are_the_schemas_fields(personalize: Any, events: Any, state_dir: Path) -> None:
    schema = make_schema(
        "INTERACTIONS",
        [
            FieldSpec("USER_ID", "string"),
            FieldSpec("ITEM_ID", "string"),
            FieldSpec("TIMESTAMP", "long"),
            FieldSpec("EVENT_TYPE", "string"),
            FieldSpec("DEVICE", "string", categorical=True),
            FieldSpec("NUMBER_OF_RATINGS", "int"),
        ],
    )
    schema_arn = personalize.create_schema(name="ctx", schema=json.dumps(schema))["schemaArn"]
    group = personalize.create_dataset_group(name="ctx")["datasetGroupArn"]
    personalize.create_dataset(name="i", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema_arn)
    tracker = personalize.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]

    def put(properties: dict[str, Any], **event: Any) -> None:
        event = {"eventType": "click", "sentAt": 1_800_000_000, "properties": json.dumps(properties), **event}
        events.put_events(trackingId=tracker, userId="u1", sessionId="s", eventList=[event])

    put({"itemId": "i9", "device": "phone", "numberOfRatings": "12"})
    stored = store.read_events(personalize_state(state_dir), "ctx").iloc[-1]
    assert stored["ITEM_ID"] == "i9"
    assert json.loads(stored["PROPERTIES"]) == {"DEVICE": "phone", "NUMBER_OF_RATINGS": 12}
    for properties, event, says in (
        ({"colour": "red"}, {}, "'colour' is not a field of the Interactions schema: use one of device, itemId"),
        ({"eventType": "buy"}, {}, "'eventType' is not allowed"),
        ({"itemId": "i2"}, {"itemId": "i3"}, "'itemId' differs from the event's own itemId"),
        ({"numberOfRatings": "many"}, {}, "numberOfRatings must be a number"),
    ):
        with pytest.raises(ClientError) as exc:
            put(properties, **event)
        assert _code(exc) == "InvalidInputException"
        assert says in exc.value.response["Error"]["Message"]


def test_csv_columns_are_matched_by_header_name_in_any_order(personalize: Any, s3: Any, state_dir: Path) -> None:
    # the developer guide's own example header: EVENT_TYPE and EVENT_VALUE before TIMESTAMP
    lines = interactions_csv().splitlines()
    header = lines[0].split(",")
    order = ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    moved = [",".join(order)] + [
        ",".join(dict(zip(header, line.split(","), strict=True))[c] for c in order) for line in lines[1:]
    ]
    s3.put_object(Bucket=BUCKET, Key="guide-order.csv", Body=("\n".join(moved) + "\n").encode())
    s3.put_object(
        Bucket=BUCKET, Key="bad.csv", Body=b"USER_ID,EVENT_TYPE,TIMESTAMP,ITEM_ID,EVENT_VALUE\nu1,click,x,i1,1\n"
    )
    arns = make_group(personalize)

    def run(name: str, key: str) -> dict[str, Any]:
        job = personalize.create_dataset_import_job(
            jobName=name,
            datasetArn=arns["INTERACTIONS"],
            dataSource={"dataLocation": f"s3://{BUCKET}/{key}"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        return wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
        )

    assert run("guide-order", "guide-order.csv")["status"] == "ACTIVE"
    imported = store.read_imported(personalize_state(state_dir), "shop", "INTERACTIONS")
    assert list(imported.columns) == header
    assert len(imported) == len(lines) - 1
    assert imported.iloc[0]["TIMESTAMP"] == int(lines[1].split(",")[2])
    # rows are still checked after the columns are put in order (with their lines and fields)
    failed = run("bad", "bad.csv")
    assert failed["status"] == "CREATE FAILED"
    assert "bad.csv:2" in failed["failureReason"] and "TIMESTAMP" in failed["failureReason"]


@pytest.mark.slow
def test_a_click_in_properties_moves_a_user_personalization_model_as_the_item_member_does(state_dir: Path) -> None:
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
        version = train(personalize, arns["group"], name="up", recipe=up)
        campaign = personalize.create_campaign(
            name="up", solutionVersionArn=version, campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}}
        )["campaignArn"]
        tracker = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]

        def ranking(user: str) -> list[tuple[str, float]]:
            answer = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=500)
            return [(e["itemId"], round(e["score"], 6)) for e in answer["itemList"]]

        before = ranking("visitor-a")
        assert ranking("visitor-b") == before
        sent = 1_800_000_000
        events.put_events(
            trackingId=tracker,
            userId="visitor-a",
            sessionId="a",
            eventList=[{"eventType": "click", "sentAt": sent, "properties": json.dumps({"itemId": "i31"})}],
        )
        events.put_events(
            trackingId=tracker,
            userId="visitor-b",
            sessionId="b",
            eventList=[{"eventType": "click", "sentAt": sent, "itemId": "i31"}],
        )
        assert ranking("visitor-a") != before
        assert ranking("visitor-a") == ranking("visitor-b")


def test_promotions_mix_the_promoted_items_into_the_recommendations(personalize: Any, runtime: Any, s3: Any) -> None:
    from conftest import GENRES

    arns = make_group(personalize)
    import_data(personalize, arns)
    campaign = personalize.create_campaign(name="c", solutionVersionArn=train(personalize, arns["group"]))[
        "campaignArn"
    ]
    dramas = personalize.create_filter(
        name="dramas",
        datasetGroupArn=arns["group"],
        filterExpression='INCLUDE ItemID WHERE Items.GENRES IN ("Drama")',
    )["filterArn"]
    promotion = {"name": "drama-week", "percentPromotedItems": 20, "filterArn": dramas}
    answer = runtime.get_recommendations(campaignArn=campaign, userId="u05", numResults=10, promotions=[promotion])
    entries = answer["itemList"]
    promoted = [e["itemId"] for e in entries if e.get("promotionName") == "drama-week"]
    best_dramas = [item for item in RANKED if GENRES[item] == "Drama"]
    assert promoted == best_dramas[:2]  # 20% of 10, the best-ranked items the promotion's filter keeps
    regular = [e["itemId"] for e in entries if "promotionName" not in e]
    assert regular == [item for item in RANKED if item not in promoted][:8]
    assert [e["itemId"] for e in entries].index(promoted[1]) > 1  # spread through the list, not bunched first
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="u05", promotions=[{"name": "p"}])
    assert _code(exc) == "InvalidInputException"
