"""Campaigns, the runtime, the events API, filters, batch inference and export jobs, end to end."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import (
    BUCKET,
    EXPECTED_POPULARITY,
    GENRES,
    ROLE_ARN,
    TERMINAL,
    import_data,
    make_group,
    train,
    wait_for,
)

from personalize_kit.data.schemas import FieldSpec, make_schema

RANKED = sorted(EXPECTED_POPULARITY, key=lambda item: (-EXPECTED_POPULARITY[item], item))


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.fixture
def deployed(personalize: Any, s3: Any) -> dict[str, str]:
    arns = make_group(personalize)
    import_data(personalize, arns)
    arns["version"] = train(personalize, arns["group"])
    arns["campaign"] = personalize.create_campaign(
        name="popular",
        solutionVersionArn=arns["version"],
        campaignConfig={"enableMetadataWithRecommendations": True},
    )["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=arns["campaign"])["campaign"], TERMINAL)
    return arns


def _items(answer: dict) -> list[str]:
    return [entry["itemId"] for entry in answer["itemList"]]


def test_runtime_checks(runtime: Any, deployed: dict[str, str]) -> None:
    campaign = deployed["campaign"]
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign + "-gone", userId="u01")
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {campaign}-gone does not exist.")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=501)
    assert _error(exc) == ("InvalidInputException", "numResults must be at most 500: 501.")
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, itemId="i01")
    assert _error(exc) == (
        "InvalidInputException",
        "userId is required for a campaign of recipe aws-popularity-count.",
    )
    with pytest.raises(ClientError) as exc:
        runtime.get_personalized_ranking(campaignArn=campaign, userId="u01", inputList=["i01"])
    assert _error(exc)[0] == "InvalidInputException"
    assert len(_items(runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=500))) == 32
    with pytest.raises(ClientError) as exc:  # the group's Interactions schema has no DEVICE field
        runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=3, context={"DEVICE": "tv"})
    assert _error(exc)[0] == "InvalidInputException" and "context key 'DEVICE'" in _error(exc)[1]


def test_metadata_columns(runtime: Any, deployed: dict[str, str], personalize: Any) -> None:
    answer = runtime.get_recommendations(
        campaignArn=deployed["campaign"], userId="u01", numResults=2, metadataColumns={"ITEMS": ["GENRES", "PRICE"]}
    )
    assert [e["metadata"] for e in answer["itemList"]] == [
        {"GENRES": GENRES[RANKED[0]], "PRICE": str(int(RANKED[0][1:]))},
        {"GENRES": GENRES[RANKED[1]], "PRICE": str(int(RANKED[1][1:]))},
    ]
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(
            campaignArn=deployed["campaign"], userId="u01", numResults=51, metadataColumns={"ITEMS": ["GENRES"]}
        )
    assert _error(exc)[0] == "InvalidInputException"
    personalize.update_campaign(campaignArn=deployed["campaign"], campaignConfig={})
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(
            campaignArn=deployed["campaign"], userId="u01", metadataColumns={"ITEMS": ["GENRES"]}
        )
    assert "enableMetadataWithRecommendations" in _error(exc)[1]


def test_campaign_update_and_checks(personalize: Any, runtime: Any, deployed: dict[str, str]) -> None:
    campaign = personalize.describe_campaign(campaignArn=deployed["campaign"])["campaign"]
    assert (campaign["status"], campaign["minProvisionedTPS"]) == ("ACTIVE", 1)
    solution = deployed["version"].rsplit("/", 1)[0]
    second = personalize.create_solution_version(solutionArn=solution, trainingMode="FULL")["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=second)["solutionVersion"], TERMINAL)
    personalize.update_campaign(campaignArn=deployed["campaign"], solutionVersionArn=second, minProvisionedTPS=2)
    updated = personalize.describe_campaign(campaignArn=deployed["campaign"])["campaign"]
    assert updated["solutionVersionArn"] == second
    assert updated["latestCampaignUpdate"]["solutionVersionArn"] == second
    assert updated["latestCampaignUpdate"]["minProvisionedTPS"] == 2
    assert (
        _items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", numResults=3)) == RANKED[:3]
    )
    with pytest.raises(ClientError) as exc:
        personalize.create_campaign(
            name="explore",
            solutionVersionArn=second,
            campaignConfig={"itemExplorationConfig": {"explorationWeight": "0.5"}},
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert "itemExplorationConfig is supported only for the User-Personalization recipes" in _error(exc)[1]
    for i in range(4):
        personalize.create_campaign(name=f"c{i}", solutionVersionArn=second)
    with pytest.raises(ClientError) as exc:
        personalize.create_campaign(name="c4", solutionVersionArn=second)
    assert _error(exc)[0] == "LimitExceededException"
    with pytest.raises(ClientError) as exc:
        personalize.delete_solution(solutionArn=solution)
    assert _error(exc)[0] == "ResourceInUseException"
    listed = personalize.list_campaigns(solutionArn=solution, maxResults=2)
    assert len(listed["campaigns"]) == 2 and "nextToken" in listed


def test_filters_with_parameters(personalize: Any, runtime: Any, deployed: dict[str, str]) -> None:
    with pytest.raises(ClientError) as exc:
        personalize.create_filter(
            name="broken", datasetGroupArn=deployed["group"], filterExpression="INCLUDE ItemID WHERE Items.GENRES IN"
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert _error(exc)[1].startswith("Invalid filter expression: ")
    with pytest.raises(ClientError) as exc:
        personalize.create_filter(
            name="unknown-field",
            datasetGroupArn=deployed["group"],
            filterExpression='INCLUDE ItemID WHERE Items.COLOUR IN ("red")',
        )
    assert "Items.COLOUR is not a field of the ITEMS dataset's schema (GENRES, ITEM_ID, PRICE)" in _error(exc)[1]
    genre = personalize.create_filter(
        name="by-genre",
        datasetGroupArn=deployed["group"],
        filterExpression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)",
    )["filterArn"]
    described = personalize.describe_filter(filterArn=genre)["filter"]
    assert (described["status"], described["filterExpression"]) == (
        "ACTIVE",
        "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)",
    )
    answer = runtime.get_recommendations(
        campaignArn=deployed["campaign"], userId="u01", numResults=4, filterArn=genre, filterValues={"GENRE": '"Drama"'}
    )
    assert _items(answer) == [item for item in RANKED if GENRES[item] == "Drama"][:4]
    cheap = personalize.create_filter(
        name="cheap", datasetGroupArn=deployed["group"], filterExpression="INCLUDE ItemID WHERE Items.PRICE < 3"
    )["filterArn"]
    assert _items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=cheap)) == [
        "i00",
        "i01",
        "i02",
    ]
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(
            campaignArn=deployed["campaign"], userId="u01", filterArn=genre, filterValues={"COLOUR": '"red"'}
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert [f["name"] for f in personalize.list_filters(datasetGroupArn=deployed["group"])["Filters"]] == [
        "cheap",
        "by-genre",
    ]
    personalize.delete_filter(filterArn=cheap)
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=cheap)
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_put_events_change_recommendations_at_once(
    personalize: Any, runtime: Any, events: Any, deployed: dict[str, str]
) -> None:
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=deployed["group"])
    unseen = personalize.create_filter(
        name="not-bought",
        datasetGroupArn=deployed["group"],
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
    )["filterArn"]

    def top(user: str) -> list[str]:
        return _items(
            runtime.get_recommendations(campaignArn=deployed["campaign"], userId=user, numResults=3, filterArn=unseen)
        )

    assert top("u05") == RANKED[:3]
    assert top("newcomer") == RANKED[:3]
    now = time.time()
    events.put_events(
        trackingId=tracker["trackingId"],
        userId="u05",
        sessionId="s-1",
        eventList=[{"eventType": "purchase", "itemId": RANKED[0], "sentAt": now}],
    )
    events.put_events(
        trackingId=tracker["trackingId"],
        userId="newcomer",
        sessionId="s-2",
        eventList=[
            {"eventType": "purchase", "itemId": RANKED[1], "sentAt": now, "properties": json.dumps({"eventValue": 1})},
            {"eventType": "purchase", "itemId": RANKED[2], "sentAt": now + 1, "eventValue": 2.5},
        ],
    )
    assert top("u05") == [RANKED[1], RANKED[2], RANKED[3]]
    assert top("newcomer") == [RANKED[0], RANKED[3], RANKED[4]]
    assert top("u06") == RANKED[:3]
    with pytest.raises(ClientError) as exc:
        events.put_events(
            trackingId="00000000-0000-0000-0000-000000000000",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i00", "sentAt": now}],
        )
    assert _error(exc)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as exc:
        events.put_events(
            trackingId=tracker["trackingId"],
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i00", "sentAt": now}] * 11,
        )
    assert _error(exc)[0] == "InvalidInputException"


def test_put_items_and_put_users_are_seen_by_filters(
    personalize: Any, runtime: Any, events: Any, deployed: dict[str, str]
) -> None:
    horror = personalize.create_filter(
        name="horror",
        datasetGroupArn=deployed["group"],
        filterExpression='INCLUDE ItemID WHERE Items.GENRES IN ("Horror")',
    )["filterArn"]
    assert _items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=horror)) == []
    events.put_items(
        datasetArn=deployed["ITEMS"],
        items=[
            {"itemId": "i03", "properties": json.dumps({"genres": "Horror|Drama", "price": 3})},
            {"itemId": "new-item", "properties": json.dumps({"genres": "Horror", "price": 1})},
        ],
    )
    assert _items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=horror)) == [
        "i03"
    ]
    with pytest.raises(ClientError) as exc:
        events.put_items(datasetArn=deployed["ITEMS"], items=[{"itemId": "x", "properties": json.dumps({"colour": 1})}])
    assert _error(exc)[0] == "InvalidInputException"
    assert "'colour'" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        events.put_items(datasetArn=deployed["ITEMS"], items=[{"itemId": "x", "properties": '{"price": "cheap"}'}])
    assert _error(exc)[0] == "InvalidInputException"
    assert _error(exc)[1].startswith("Property price must be a number for the schema's PRICE field")
    with pytest.raises(ClientError) as exc:
        events.put_users(datasetArn=deployed["ITEMS"], users=[{"userId": "u1", "properties": "{}"}])
    assert _error(exc)[0] == "InvalidInputException"

    users_schema = personalize.create_schema(
        name="users",
        schema=json.dumps(
            make_schema("USERS", [FieldSpec("USER_ID", "string"), FieldSpec("TIER", "string", categorical=True)])
        ),
    )["schemaArn"]
    users = personalize.create_dataset(
        name="users", datasetGroupArn=deployed["group"], datasetType="USERS", schemaArn=users_schema
    )["datasetArn"]
    gold = personalize.create_filter(
        name="gold",
        datasetGroupArn=deployed["group"],
        filterExpression='EXCLUDE ItemID WHERE Items.PRICE >= 2 IF CurrentUser.TIER = "gold"',
    )["filterArn"]
    assert (
        len(_items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=gold))) == 25
    )
    events.put_users(datasetArn=users, users=[{"userId": "u01", "properties": json.dumps({"tier": "gold"})}])
    assert _items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u01", filterArn=gold)) == [
        "i00",
        "i01",
    ]
    assert (
        len(_items(runtime.get_recommendations(campaignArn=deployed["campaign"], userId="u02", filterArn=gold))) == 25
    )


def test_batch_inference_job(personalize: Any, s3: Any, deployed: dict[str, str]) -> None:
    lines = [json.dumps({"userId": "u01"}), json.dumps({"userId": "somebody"})]
    s3.put_object(Bucket=BUCKET, Key="batch/users.json", Body=("\n".join(lines) + "\n").encode())
    drama = personalize.create_filter(
        name="drama",
        datasetGroupArn=deployed["group"],
        filterExpression='INCLUDE ItemID WHERE Items.GENRES IN ("Drama")',
    )["filterArn"]
    job = personalize.create_batch_inference_job(
        jobName="nightly",
        solutionVersionArn=deployed["version"],
        filterArn=drama,
        numResults=3,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/out/"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    described = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"], TERMINAL
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    assert (described["numResults"], described["filterArn"]) == (3, drama)
    output = s3.get_object(Bucket=BUCKET, Key="out/users.json.out")["Body"].read().decode().splitlines()
    expected = [item for item in RANKED if GENRES[item] == "Drama"][:3]
    assert [json.loads(line) for line in output] == [
        {"input": {"userId": "u01"}, "output": {"recommendedItems": expected}, "error": None},
        {"input": {"userId": "somebody"}, "output": {"recommendedItems": expected}, "error": None},
    ]
    listed = personalize.list_batch_inference_jobs(solutionVersionArn=deployed["version"])["batchInferenceJobs"]
    assert [(j["jobName"], j["status"]) for j in listed] == [("nightly", "ACTIVE")]

    missing = personalize.create_batch_inference_job(
        jobName="missing",
        solutionVersionArn=deployed["version"],
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/none.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/out/"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    failed = personalize.describe_batch_inference_job(batchInferenceJobArn=missing)["batchInferenceJob"]
    assert failed["status"] == "CREATE FAILED"
    assert failed["failureReason"].startswith(f"Failed to read the input data at s3://{BUCKET}/batch/none.json")


def test_dataset_export_job(personalize: Any, s3: Any, events: Any, deployed: dict[str, str]) -> None:
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=deployed["group"])
    events.put_events(
        trackingId=tracker["trackingId"],
        userId="u01",
        sessionId="s",
        eventList=[{"eventType": "click", "itemId": "i09", "sentAt": 1_800_000_000}],
    )
    for mode, rows in (("BULK", 1050), ("PUT", 1), ("ALL", 1051)):
        job = personalize.create_dataset_export_job(
            jobName=f"export-{mode.lower()}",
            datasetArn=deployed["INTERACTIONS"],
            ingestionMode=mode,
            roleArn=ROLE_ARN,
            jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/export/{mode}/"}},
        )["datasetExportJobArn"]
        described = personalize.describe_dataset_export_job(datasetExportJobArn=job)["datasetExportJob"]
        assert (described["status"], described["ingestionMode"]) == ("ACTIVE", mode)
        key = f"export/{mode}/export-{mode.lower()}_INTERACTIONS_0.csv"
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
        assert body[0].startswith("USER_ID,ITEM_ID,TIMESTAMP")
        assert len(body) == rows + 1
    listed = personalize.list_dataset_export_jobs(datasetArn=deployed["INTERACTIONS"])["datasetExportJobs"]
    assert len(listed) == 3


def test_exploration_config_takes_the_service_keys():
    """itemExplorationConfig keys are the service's camelCase ones; they set the recipe's arguments."""
    import pytest

    from personalize_kit.local.control.serving import check_campaign_config as _check_campaign_config
    from personalize_kit.local.exceptions import InvalidInputException
    from personalize_kit.local.runtime import exploration

    class Explorer:
        default_exploration = {"exploration_weight": 0.3, "exploration_item_age_cut_off": 30.0}

    assert exploration(Explorer(), {"explorationWeight": "0.5", "explorationItemAgeCutOff": "7"}) == {
        "exploration_weight": 0.5,
        "exploration_item_age_cut_off": 7.0,
    }
    assert exploration(Explorer(), None) == {"exploration_weight": 0.3, "exploration_item_age_cut_off": 30.0}
    up = "arn:aws:personalize:::recipe/aws-user-personalization"
    _check_campaign_config({"itemExplorationConfig": {"explorationWeight": "0.3"}}, up)
    with pytest.raises(InvalidInputException, match="Unknown itemExplorationConfig key 'exploration_weight'"):
        _check_campaign_config({"itemExplorationConfig": {"exploration_weight": "0.3"}}, up)
    with pytest.raises(InvalidInputException, match="explorationWeight must be between 0.0 and 1.0"):
        _check_campaign_config({"itemExplorationConfig": {"explorationWeight": "1.5"}}, up)
