"""Action filters (``ActionID`` expressions) in GetActionRecommendations, through the real boto3 clients.

The planted Next-Best-Action data of :mod:`test_next_best_action`, with a CATEGORY per action: user ``a01``
took ``join`` and passed by ``app`` (TAKEN / NOT_TAKEN), ``b01`` the other way round; unfiltered, ``a01``
gets ``join, app, survey`` (``old`` has expired). Users ``a01`` (premium) and ``a02`` (basic) are in the Users
dataset for ``IF CurrentUser`` conditions. Each example of the developer guide's "Action recommendation filter
expression examples" must change these answers as written below.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, POPULARITY_ARN, ROLE_ARN, START, TERMINAL, wait_for
from test_next_best_action import (
    ACTION_INTERACTIONS_SCHEMA,
    FAR_FUTURE,
    _action_interactions_csv,
    _dataset,
    _import,
    _interactions_csv,
    _train,
)

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema

ACTIONS_SCHEMA = make_schema(
    "ACTIONS",
    [
        FieldSpec("ACTION_ID", "string"),
        FieldSpec("VALUE", "long", nullable=True),
        FieldSpec("CATEGORY", "string", categorical=True, nullable=True),
        FieldSpec("EXPIRATION_TIMESTAMP", "long", nullable=True),
        FieldSpec("REPEAT_FREQUENCY", "int", nullable=True),
    ],
)
USERS_SCHEMA = make_schema(
    "USERS", [FieldSpec("USER_ID", "string"), FieldSpec("MEMBERSHIP", "string", categorical=True)]
)
ACTIONS_CSV = (
    "ACTION_ID,VALUE,CATEGORY,EXPIRATION_TIMESTAMP,REPEAT_FREQUENCY\n"
    f"join,10,membership,{FAR_FUTURE},\n"
    f"app,5,mobile|digital,{FAR_FUTURE},7\n"
    f"old,100,membership,{START},\n"
    "survey,1,feedback,,\n"
)
USERS_CSV = "USER_ID,MEMBERSHIP\na01,premium\na02,basic\n"

# The guide's examples, by the name the tests use.
EXAMPLES = {
    "interacted": "INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    "not_taken": 'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    "category": "EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)",
    "value_above": "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)",
    "premium_value": "EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM",
}


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _filter(personalize: Any, group: str, name: str, expression: str) -> str:
    arn = personalize.create_filter(name=name, datasetGroupArn=group, filterExpression=expression)["filterArn"]
    described = wait_for(lambda: personalize.describe_filter(filterArn=arn)["filter"], TERMINAL)
    assert described["status"] == "ACTIVE", described.get("failureReason")
    return arn


@pytest.fixture
def action_group(personalize: Any, s3: Any) -> dict[str, str]:
    group = personalize.create_dataset_group(name="nba-filters")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    arns = {"group": group}
    for kind, schema, name, body in (
        ("INTERACTIONS", interactions_schema(), "nba-interactions", _interactions_csv()),
        ("ACTIONS", ACTIONS_SCHEMA, "actions", ACTIONS_CSV),
        ("ACTION_INTERACTIONS", ACTION_INTERACTIONS_SCHEMA, "action-interactions", _action_interactions_csv()),
        ("USERS", USERS_SCHEMA, "users", USERS_CSV),
    ):
        arns[kind] = _dataset(personalize, group, kind, schema)
        described = _import(personalize, s3, arns[kind], name, body)
        assert described["status"] == "ACTIVE", described.get("failureReason")
    return arns


@pytest.fixture
def action_campaign(personalize: Any, action_group: dict[str, str]) -> dict[str, str]:
    version = _train(personalize, action_group["group"])
    assert version["status"] == "ACTIVE", version.get("failureReason")
    campaign = personalize.create_campaign(name="nba", solutionVersionArn=version["solutionVersionArn"])["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
    filters = {key: _filter(personalize, action_group["group"], key, text) for key, text in EXAMPLES.items()}
    return {**action_group, **filters, "campaign": campaign, "version": version["solutionVersionArn"]}


def _ask(runtime: Any, arns: dict[str, str], user: str, key: str | None = None, **values: str) -> list[str]:
    request: dict[str, Any] = {"campaignArn": arns["campaign"], "userId": user, "numResults": 10}
    if key is not None:
        request["filterArn"] = arns[key]
    if values:
        request["filterValues"] = values
    return [entry["actionId"] for entry in runtime.get_action_recommendations(**request)["actionList"]]


@pytest.mark.slow
def test_the_guides_action_filter_examples(runtime: Any, events: Any, personalize: Any, action_campaign: dict) -> None:
    arns = action_campaign
    assert _ask(runtime, arns, "a01") == ["join", "app", "survey"]
    assert _ask(runtime, arns, "b01") == ["app", "join", "survey"]
    # INCLUDE ... Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE): only actions the user had such events with
    assert _ask(runtime, arns, "a01", "interacted", EVENT_TYPE='"TAKEN"') == ["join"]
    assert _ask(runtime, arns, "b01", "interacted", EVENT_TYPE='"Taken"') == ["app"]
    assert _ask(runtime, arns, "a01", "interacted", EVENT_TYPE='"Not taken"') == ["app"]
    assert _ask(runtime, arns, "a01", "interacted", EVENT_TYPE='"TAKEN","NOT_TAKEN"') == ["join", "app"]
    assert _ask(runtime, arns, "a01", "interacted", EVENT_TYPE='"VIEWED"') == []
    assert _ask(runtime, arns, "newcomer", "interacted", EVENT_TYPE='"TAKEN"') == []
    # EXCLUDE ... IN ("NOT_TAKEN"): what the user passed by is left out, and so is what they pass by now
    assert _ask(runtime, arns, "a01", "not_taken") == ["join", "survey"]
    assert _ask(runtime, arns, "b01", "not_taken") == ["app", "survey"]
    tracking_id = personalize.describe_dataset(datasetArn=arns["ACTION_INTERACTIONS"])["dataset"]["trackingId"]
    sent = {
        "actionId": "survey",
        "userId": "a01",
        "sessionId": "s",
        "timestamp": START + 10**7,
        "eventType": "Not taken",
    }
    events.put_action_interactions(trackingId=tracking_id, actionInteractions=[sent])
    assert _ask(runtime, arns, "a01", "not_taken") == ["join"]
    assert _ask(runtime, arns, "a01", "interacted", EVENT_TYPE='"NOT_TAKEN"') == ["app", "survey"]
    # EXCLUDE ... Actions.CATEGORY IN ($CATEGORY): any of a multi-valued category matches; no value: no exclusion
    assert _ask(runtime, arns, "b01", "category", CATEGORY='"digital"') == ["join", "survey"]
    assert _ask(runtime, arns, "b01", "category", CATEGORY='"membership","feedback"') == ["app"]
    assert _ask(runtime, arns, "b01", "category") == ["app", "join", "survey"]
    events.put_actions(
        datasetArn=arns["ACTIONS"],
        actions=[{"actionId": "webinar", "properties": json.dumps({"value": 7, "category": "digital"})}],
    )
    assert "webinar" in _ask(runtime, arns, "b01")
    assert _ask(runtime, arns, "b01", "category", CATEGORY='"digital"') == ["join", "survey"]
    # INCLUDE ... Actions.VALUE > ($VALUE): the expired action (VALUE 100) stays out
    assert _ask(runtime, arns, "b01", "value_above", VALUE="6") == ["join", "webinar"]
    assert _ask(runtime, arns, "b01", "value_above", VALUE='"4"') == ["app", "join", "webinar"]
    assert _ask(runtime, arns, "b01", "value_above", VALUE="50") == []
    # EXCLUDE ... VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM: only for the premium user
    premium = {"VALUE": "6", "PREMIUM": '"premium"'}
    assert _ask(runtime, arns, "a02", "premium_value", **premium) == _ask(runtime, arns, "a02")
    assert _ask(runtime, arns, "a01", "premium_value", **premium) == ["join", "webinar"]
    assert _ask(runtime, arns, "a01", "premium_value", VALUE="6", PREMIUM='"basic"') == _ask(runtime, arns, "a01")
    assert _ask(runtime, arns, "unknown", "premium_value", **premium) == _ask(runtime, arns, "unknown")
    # numResults is taken after filtering
    answer = runtime.get_action_recommendations(
        campaignArn=arns["campaign"], userId="a01", numResults=1, filterArn=arns["not_taken"]
    )
    assert [entry["actionId"] for entry in answer["actionList"]] == ["join"]


@pytest.mark.slow
def test_action_filter_request_refusals(personalize: Any, runtime: Any, action_campaign: dict) -> None:
    arns = action_campaign
    with pytest.raises(ClientError) as exc:
        _ask(runtime, arns, "a01", "interacted")
    assert _error(exc)[0] == "InvalidInputException"
    assert "filterValues has no value for $EVENT_TYPE" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        _ask(runtime, arns, "a01", "not_taken", CATEGORY='"x"')
    assert _error(exc) == (
        "InvalidInputException",
        f"filterValues has parameters CATEGORY that the filter {arns['not_taken']} does not use.",
    )
    with pytest.raises(ClientError) as exc:
        _ask(runtime, arns, "a01", "value_above", VALUE='"many"')
    assert _error(exc)[0] == "InvalidInputException" and "'many' is not a number" in _error(exc)[1]
    # an item filter is refused by GetActionRecommendations ...
    items = _filter(personalize, arns["group"], "clicked", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")')
    with pytest.raises(ClientError) as exc:
        runtime.get_action_recommendations(campaignArn=arns["campaign"], userId="a01", filterArn=items)
    assert _error(exc) == (
        "InvalidInputException",
        f"Filter {items} is an item filter (ItemID expressions); GetActionRecommendations takes an action filter "
        "(ActionID expressions).",
    )
    # ... and an action filter by item recommendations and batch inference jobs
    solution = personalize.create_solution(name="pop", datasetGroupArn=arns["group"], recipeArn=POPULARITY_ARN)
    wait_for(lambda: personalize.describe_solution(solutionArn=solution["solutionArn"])["solution"], TERMINAL)
    version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL)
    campaign = personalize.create_campaign(name="pop", solutionVersionArn=version)["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
    kept = runtime.get_recommendations(campaignArn=campaign, userId="a01", filterArn=items)["itemList"]
    assert kept and {entry["itemId"][0] for entry in kept} == {"y"}  # a01 clicked only x items
    with pytest.raises(ClientError) as exc:
        runtime.get_recommendations(campaignArn=campaign, userId="a01", filterArn=arns["not_taken"])
    assert _error(exc) == (
        "InvalidInputException",
        f"Filter {arns['not_taken']} is an action filter (ActionID expressions); item recommendations "
        "(GetRecommendations, GetPersonalizedRanking) take an item filter (ItemID expressions).",
    )
    with pytest.raises(ClientError) as exc:
        personalize.create_batch_inference_job(
            jobName="actions",
            solutionVersionArn=version,
            filterArn=arns["not_taken"],
            jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/batch/users.json"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/out/"}},
            roleArn=ROLE_ARN,
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert "is an action filter (ActionID expressions); batch inference jobs take an item filter" in _error(exc)[1]


def test_create_filter_checks_action_filters(personalize: Any, s3: Any) -> None:
    group = personalize.create_dataset_group(name="nba-filters")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    _dataset(personalize, group, "INTERACTIONS", interactions_schema())

    def refusal(expression: str) -> tuple[str, str]:
        with pytest.raises(ClientError) as exc:
            personalize.create_filter(name="f", datasetGroupArn=group, filterExpression=expression)
        return _error(exc)

    # no Actions dataset yet: refused as an item filter on a group without Items is
    code, message = refusal(EXAMPLES["category"])
    assert code == "InvalidInputException"
    assert message.endswith("it uses Actions.CATEGORY but the dataset group has no ACTIONS dataset.")
    _dataset(personalize, group, "ACTIONS", ACTIONS_SCHEMA)
    _filter(personalize, group, "category", EXAMPLES["category"])
    _filter(personalize, group, "value", EXAMPLES["value_above"])
    assert refusal(EXAMPLES["not_taken"])[1].endswith("but the dataset group has no ACTION_INTERACTIONS dataset.")
    assert refusal(EXAMPLES["premium_value"])[1].endswith("but the dataset group has no USERS dataset.")
    _dataset(personalize, group, "ACTION_INTERACTIONS", ACTION_INTERACTIONS_SCHEMA)
    _dataset(personalize, group, "USERS", USERS_SCHEMA)
    _filter(personalize, group, "not-taken", EXAMPLES["not_taken"])
    _filter(personalize, group, "premium", EXAMPLES["premium_value"])
    for expression, problem in (
        ('INCLUDE ActionID WHERE Actions.COLOR IN ("red")', "Actions.COLOR is not a field of the ACTIONS dataset"),
        ("INCLUDE ItemID WHERE Actions.VALUE > 3", "Actions fields cannot be used in an ItemID filter"),
        ('INCLUDE ActionID WHERE Items.GENRES IN ("x")', "Items fields cannot be used in an ActionID filter"),
        (
            'INCLUDE ActionID WHERE Action_Interactions.ACTION_ID IN ("join")',
            "Action_Interactions filters can only use EVENT_TYPE, found Action_Interactions.ACTION_ID",
        ),
        (
            'INCLUDE ActionID WHERE Actions.VALUE > 1 | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
            "A filter cannot mix ActionID and ItemID expressions",
        ),
    ):
        code, message = refusal(expression)
        assert code == "InvalidInputException" and problem in message, message
