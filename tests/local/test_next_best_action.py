"""Next-Best-Action end to end: Actions and Action interactions datasets, PutActions, PutActionInteractions,
the aws-next-best-action recipe and GetActionRecommendations, through the real boto3 clients.

Planted answer: users ``a00``..``a59`` (group A) view items ``x00``..``x09`` and always take action
``join`` and pass by action ``app``; users ``b00``..``b59`` (group B) view items ``y00``..``y09``, take
``app`` and pass by ``join``. Each action therefore has 60 Taken and 60 Not taken interactions (enough to be
scored). A new user who only viewed group A's items must get ``join`` first: the model learned from item
history, not popularity (both actions are equally popular).
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, ROLE_ARN, START, TERMINAL, wait_for

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema, validate_schema
from personalize_kit.local import actions as action_data
from personalize_kit.local import store
from personalize_kit.recipes.next_best_action import MAX_ACTIONS, NextBestAction, action_history, rank_actions

NBA_ARN = "arn:aws:personalize:::recipe/aws-next-best-action"
N_PER_GROUP = 60
ACTIONS_SCHEMA = make_schema(
    "ACTIONS",
    [
        FieldSpec("ACTION_ID", "string"),
        FieldSpec("VALUE", "long", nullable=True),
        FieldSpec("EXPIRATION_TIMESTAMP", "long", nullable=True),
        FieldSpec("REPEAT_FREQUENCY", "int", nullable=True),
    ],
)
ACTION_INTERACTIONS_SCHEMA = make_schema(
    "ACTION_INTERACTIONS",
    [
        FieldSpec("USER_ID", "string"),
        FieldSpec("ACTION_ID", "string"),
        FieldSpec("TIMESTAMP", "long"),
        FieldSpec("EVENT_TYPE", "string"),
    ],
)
FAR_FUTURE = 4_000_000_000


def _users() -> list[tuple[str, str]]:
    return [(f"{g}{k:02d}", g) for g in ("a", "b") for k in range(N_PER_GROUP)]


def _interactions_csv() -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for n, (user, group) in enumerate(_users()):
        prefix = "x" if group == "a" else "y"
        for k in range(10):
            lines.append(f"{user},{prefix}{(n + k) % 10:02d},{START + n * 100 + k},click,1")
    return "\n".join(lines) + "\n"


def _actions_csv() -> str:
    return (
        "\n".join(
            [
                "ACTION_ID,VALUE,EXPIRATION_TIMESTAMP,REPEAT_FREQUENCY",
                f"join,10,{FAR_FUTURE},",
                f"app,5,{FAR_FUTURE},7",
                f"old,100,{START},",  # expired: never recommended
                "survey,1,,",  # no interactions: scored 0.0
            ]
        )
        + "\n"
    )


def _action_interactions_csv() -> str:
    lines = ["USER_ID,ACTION_ID,TIMESTAMP,EVENT_TYPE"]
    for n, (user, group) in enumerate(_users()):
        taken, passed = ("join", "app") if group == "a" else ("app", "join")
        lines.append(f"{user},{passed},{START + n * 100 + 20},NOT_TAKEN")
        lines.append(f"{user},{taken},{START + n * 100 + 30},TAKEN")
    return "\n".join(lines) + "\n"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _dataset(personalize: Any, group: str, kind: str, schema: dict) -> str:
    schema_arn = personalize.create_schema(name=f"nba-{kind.lower()}", schema=json.dumps(schema))["schemaArn"]
    arn = personalize.create_dataset(
        name=f"nba-{kind.lower()}", datasetGroupArn=group, datasetType=kind.title(), schemaArn=schema_arn
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=arn)["dataset"], TERMINAL)
    return arn


def _import(personalize: Any, s3: Any, dataset: str, name: str, body: str) -> dict:
    s3.put_object(Bucket=BUCKET, Key=f"{name}.csv", Body=body.encode())
    job = personalize.create_dataset_import_job(
        jobName=f"nba-{name}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{BUCKET}/{name}.csv"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    return wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )


def _train(personalize: Any, group: str) -> dict:
    solution = personalize.create_solution(name="nba", datasetGroupArn=group, recipeArn=NBA_ARN)["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"], TERMINAL)
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    return wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL
    )


@pytest.fixture
def nba_group(personalize: Any, s3: Any) -> dict[str, str]:
    group = personalize.create_dataset_group(name="nba")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    arns = {"group": group}
    arns["INTERACTIONS"] = _dataset(personalize, group, "INTERACTIONS", interactions_schema())
    arns["ACTIONS"] = _dataset(personalize, group, "ACTIONS", ACTIONS_SCHEMA)
    arns["ACTION_INTERACTIONS"] = _dataset(personalize, group, "ACTION_INTERACTIONS", ACTION_INTERACTIONS_SCHEMA)
    for kind, name, body in (
        ("INTERACTIONS", "nba-interactions", _interactions_csv()),
        ("ACTIONS", "actions", _actions_csv()),
        ("ACTION_INTERACTIONS", "action-interactions", _action_interactions_csv()),
    ):
        described = _import(personalize, s3, arns[kind], name, body)
        assert described["status"] == "ACTIVE", described.get("failureReason")
    return arns


@pytest.fixture
def nba_campaign(personalize: Any, nba_group: dict[str, str]) -> dict[str, str]:
    version = _train(personalize, nba_group["group"])
    assert version["status"] == "ACTIVE", version.get("failureReason")
    campaign = personalize.create_campaign(name="nba", solutionVersionArn=version["solutionVersionArn"])["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
    return {**nba_group, "campaign": campaign, "version": version["solutionVersionArn"]}


def _actions(answer: dict) -> list[str]:
    return [entry["actionId"] for entry in answer["actionList"]]


@pytest.mark.slow
def test_each_user_gets_their_groups_action(runtime: Any, nba_campaign: dict[str, str]) -> None:
    for user, group in _users():
        answer = runtime.get_action_recommendations(campaignArn=nba_campaign["campaign"], userId=user, numResults=10)
        expected = "join" if group == "a" else "app"
        assert _actions(answer)[0] == expected, (user, answer["actionList"])
        assert answer["recommendationId"].startswith("RID-")
        assert "old" not in _actions(answer)  # expired
        scores = {e["actionId"]: e["score"] for e in answer["actionList"]}
        assert 0.5 < scores[expected] <= 1.0 and scores["survey"] == 0.0
    assert len(_actions(runtime.get_action_recommendations(campaignArn=nba_campaign["campaign"], userId="a01"))) == 3


@pytest.mark.slow
def test_new_users_and_new_interactions_are_followed(
    runtime: Any, events: Any, personalize: Any, nba_campaign: dict[str, str]
) -> None:
    campaign = nba_campaign["campaign"]
    group_tracker = personalize.create_event_tracker(name="nba-items", datasetGroupArn=nba_campaign["group"])
    wait_for(
        lambda: personalize.describe_event_tracker(eventTrackerArn=group_tracker["eventTrackerArn"])["eventTracker"],
        TERMINAL,
    )
    now = time.time()
    events.put_events(
        trackingId=group_tracker["trackingId"],
        userId="newcomer",
        sessionId="s1",
        eventList=[{"eventType": "click", "itemId": f"y0{k}", "sentAt": now} for k in range(3)],
    )
    assert _actions(runtime.get_action_recommendations(campaignArn=campaign, userId="newcomer"))[0] == "app"
    # b00 takes "app" now: its repeat frequency (7 days) keeps it out of b00's list; "join" has none
    tracking_id = personalize.describe_dataset(datasetArn=nba_campaign["ACTION_INTERACTIONS"])["dataset"]["trackingId"]
    events.put_action_interactions(
        trackingId=tracking_id,
        actionInteractions=[
            {"actionId": "app", "userId": "b00", "sessionId": "s2", "timestamp": now, "eventType": "Taken"}
        ],
    )
    assert "app" not in _actions(runtime.get_action_recommendations(campaignArn=campaign, userId="b00"))
    assert _actions(runtime.get_action_recommendations(campaignArn=campaign, userId="b01"))[0] == "app"
    # a new action sent with PutActions is served at once, unscored
    events.put_actions(
        datasetArn=nba_campaign["ACTIONS"], actions=[{"actionId": "newsletter", "properties": json.dumps({"value": 3})}]
    )
    answer = runtime.get_action_recommendations(campaignArn=campaign, userId="a03", numResults=10)
    assert {"actionId": "newsletter", "score": 0.0} in answer["actionList"]


@pytest.mark.slow
def test_get_action_recommendations_refusals(runtime: Any, personalize: Any, nba_campaign: dict[str, str]) -> None:
    campaign = nba_campaign["campaign"]
    with pytest.raises(ClientError) as exc:
        runtime.get_action_recommendations(campaignArn=campaign, userId="a01", numResults=101)
    assert _error(exc) == ("InvalidInputException", "numResults must be at most 100: 101.")
    assert len(_actions(runtime.get_action_recommendations(campaignArn=campaign, userId="a01", numResults=100))) == 3
    with pytest.raises(ClientError) as exc:
        runtime.get_action_recommendations(campaignArn=campaign)
    assert _error(exc) == ("InvalidInputException", "userId is required for a campaign of recipe aws-next-best-action.")
    with pytest.raises(ClientError) as exc:
        runtime.get_action_recommendations(campaignArn=campaign + "-gone", userId="a01")
    assert _error(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="a01")
    assert _error(exc) == (
        "InvalidInputException",
        "GetRecommendations does not serve recipe aws-next-best-action: use GetActionRecommendations.",
    )
    with pytest.raises(ClientError) as exc:
        runtime.get_action_recommendations(campaignArn=campaign, userId="a01", filterValues={"X": '"y"'})
    assert _error(exc) == ("InvalidInputException", "filterValues needs a filterArn.")


def test_put_action_interactions_checks(events: Any, personalize: Any, mirror: Any) -> None:
    group = personalize.create_dataset_group(name="nba")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    dataset = _dataset(personalize, group, "ACTION_INTERACTIONS", ACTION_INTERACTIONS_SCHEMA)
    tracking_id = personalize.describe_dataset(datasetArn=dataset)["dataset"]["trackingId"]
    one = {"actionId": "join", "userId": "u1", "sessionId": "s", "timestamp": START, "eventType": "Taken"}
    with pytest.raises(ClientError) as exc:
        events.put_action_interactions(trackingId="not-a-tracker", actionInteractions=[one])
    assert _error(exc)[0] == "ResourceNotFoundException"
    assert "not-a-tracker does not belong to any Action interactions dataset" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        events.put_action_interactions(trackingId=tracking_id, actionInteractions=[{**one, "eventType": "click"}])
    assert _error(exc) == (
        "InvalidInputException",
        "eventType 'click' of action join is not an action event type: use Taken, Not taken, Viewed.",
    )
    with pytest.raises(ClientError) as exc:
        events.put_action_interactions(trackingId=tracking_id, actionInteractions=[one] * 11)
    assert _error(exc)[0] in ("ValidationException", "ParamValidationError", "InvalidInputException")
    for spelling in ("Taken", "Not taken", "NOT_TAKEN", "Viewed"):
        events.put_action_interactions(trackingId=tracking_id, actionInteractions=[{**one, "eventType": spelling}])
    backend, name = mirror.backend("us-east-1"), group.split("/")[1]
    history = action_data.user_history(backend, name, "u1")
    assert history["KIND"].tolist() == ["taken", "not taken", "not taken", "viewed"]
    assert store.delete_users(backend.state, name, {"u1"}) == 4  # a data deletion job removes them too
    assert action_data.user_history(backend, name, "u1").empty


def test_action_datasets_and_schemas_checked(personalize: Any) -> None:
    assert validate_schema(ACTIONS_SCHEMA, "ACTIONS") == []
    assert validate_schema(ACTION_INTERACTIONS_SCHEMA, "ACTION_INTERACTIONS") == []
    no_event_type = make_schema(
        "ACTION_INTERACTIONS",
        [FieldSpec("USER_ID", "string"), FieldSpec("ACTION_ID", "string"), FieldSpec("TIMESTAMP", "long")],
    )
    with pytest.raises(ClientError) as exc:
        personalize.create_schema(name="bad", schema=json.dumps(no_event_type))
    assert _error(exc)[0] == "InvalidInputException" and "EVENT_TYPE" in _error(exc)[1]
    only_id = make_schema("ACTIONS", [FieldSpec("ACTION_ID", "string")])
    with pytest.raises(ClientError) as exc:
        personalize.create_schema(name="bad", schema=json.dumps(only_id))
    assert "at least 1 metadata field" in _error(exc)[1]
    domain = personalize.create_dataset_group(name="shop", domain="ECOMMERCE")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=domain)["datasetGroup"], TERMINAL)
    schema = personalize.create_schema(name="actions", schema=json.dumps(ACTIONS_SCHEMA))["schemaArn"]
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset(name="a", datasetGroupArn=domain, datasetType="Actions", schemaArn=schema)
    assert _error(exc)[0] == "InvalidInputException" and "domain dataset group" in _error(exc)[1]


@pytest.mark.slow
def test_training_without_actions_fails(personalize: Any, s3: Any) -> None:
    group = personalize.create_dataset_group(name="nba")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    interactions = _dataset(personalize, group, "INTERACTIONS", interactions_schema())
    assert _import(personalize, s3, interactions, "nba-interactions", _interactions_csv())["status"] == "ACTIVE"
    version = _train(personalize, group)
    assert version["status"] == "CREATE FAILED"
    assert version["failureReason"].startswith("The dataset group has no actions")


def test_bad_action_event_type_fails_the_import(personalize: Any, s3: Any) -> None:
    group = personalize.create_dataset_group(name="nba")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    dataset = _dataset(personalize, group, "ACTION_INTERACTIONS", ACTION_INTERACTIONS_SCHEMA)
    body = f"USER_ID,ACTION_ID,TIMESTAMP,EVENT_TYPE\nu1,join,{START},Taken\nu2,join,{START},clicked\n"
    described = _import(personalize, s3, dataset, "bad-events", body)
    assert described["status"] == "CREATE FAILED"
    assert "bad-events.csv:3 EVENT_TYPE: 'clicked' is not an action event type" in described["failureReason"]


def _planted_frames() -> tuple[Any, Any, Any]:
    return (
        pd.read_csv(io.StringIO(_interactions_csv())),
        pd.read_csv(io.StringIO(_actions_csv())),
        pd.read_csv(io.StringIO(_action_interactions_csv())),
    )


def test_recipe_learns_from_item_history_and_survives_save_and_load(tmp_path: Any) -> None:
    interactions, actions, action_interactions = _planted_frames()
    model = NextBestAction().fit(interactions, actions=actions, action_interactions=action_interactions)
    loaded = NextBestAction.load(model.save(tmp_path / "nba"))
    viewed_b = pd.DataFrame({"USER_ID": ["new"] * 3, "ITEM_ID": ["y01", "y02", "y03"], "TIMESTAMP": [START] * 3})
    for trained in (model, loaded):
        assert [a for a, _ in trained.rank("a05", ["app", "join"])] == ["join", "app"]
        assert [a for a, _ in trained.rank("new", ["join", "app"], viewed_b)] == ["app", "join"]
        # enough data for join and app (60 Taken, 60 Not taken each); none for survey
        assert dict(trained.rank("a05", ["survey", "join"]))["survey"] == 0.0


def test_rank_actions_leaves_out_expired_and_recently_taken_actions() -> None:
    interactions, actions, action_interactions = _planted_frames()
    model = NextBestAction().fit(interactions, actions=actions, action_interactions=action_interactions)
    now = float(START + 100 * 86_400)
    empty = action_history(None)
    assert [a for a, _ in rank_actions(model, "b03", actions, empty, now=now, n=10)] == ["app", "join", "survey"]
    taken = action_history(
        pd.DataFrame(
            {"USER_ID": ["b03"], "ACTION_ID": ["app"], "TIMESTAMP": [now - 6 * 86_400], "EVENT_TYPE": ["Taken"]}
        )
    )
    assert [a for a, _ in rank_actions(model, "b03", actions, taken, now=now, n=10)] == ["join", "survey"]
    later = now + 2 * 86_400  # 8 days after: app's repeat frequency (7 days) has passed
    assert [a for a, _ in rank_actions(model, "b03", actions, taken, now=later, n=1)] == ["app"]


def test_at_most_1000_actions_are_trained_new_ones_first() -> None:
    interactions, _, action_interactions = _planted_frames()
    many = pd.DataFrame({"ACTION_ID": ["join", "app"] + [f"n{k:04d}" for k in range(MAX_ACTIONS)]})
    model = NextBestAction().fit(interactions, actions=many, action_interactions=action_interactions)
    assert len(model.catalogue) == MAX_ACTIONS
    assert "n0999" in set(model.catalogue.tolist())  # actions without interactions come first
    assert len({"join", "app"} & set(model.catalogue.tolist())) == 0
