"""Control-plane resources through the real boto3 client: shapes, service-side checks, errors, paging."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from conftest import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, POPULARITY_ARN, make_group

from personalize_kit.recipes import RECIPES

ACCOUNT = "123456789012"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_schema_shape_and_arn(personalize: Any) -> None:
    arn = personalize.create_schema(name="ratings", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    assert arn == f"arn:aws:personalize:us-east-1:{ACCOUNT}:schema/ratings"
    schema = personalize.describe_schema(schemaArn=arn)["schema"]
    assert set(schema) == {"name", "schemaArn", "schema", "creationDateTime", "lastUpdatedDateTime"}
    assert schema["schema"] == INTERACTIONS_SCHEMA
    assert isinstance(schema["creationDateTime"], dt.datetime)


def test_duplicate_name_is_resource_already_exists(personalize: Any) -> None:
    arn = personalize.create_schema(name="ratings", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    with pytest.raises(ClientError) as exc:
        personalize.create_schema(name="ratings", schema=INTERACTIONS_SCHEMA)
    assert _error(exc) == ("ResourceAlreadyExistsException", f"Another resource with Arn {arn} already exists.")
    assert isinstance(exc.value, personalize.exceptions.ResourceAlreadyExistsException)


def test_invalid_schema_is_refused_with_the_validator_message(personalize: Any) -> None:
    broken = json.loads(INTERACTIONS_SCHEMA)
    broken["fields"] = [f for f in broken["fields"] if f["name"] != "TIMESTAMP"]
    broken["fields"].append({"name": "USER_ID", "type": "string"})
    with pytest.raises(ClientError) as exc:
        personalize.create_schema(name="broken", schema=json.dumps(broken))
    code, message = _error(exc)
    assert code == "InvalidInputException"
    assert message.startswith("Invalid schema: ")
    assert "USER_ID" in message
    with pytest.raises(ClientError) as exc:
        personalize.create_schema(name="not-json", schema="{nope")
    assert _error(exc)[0] == "InvalidInputException"
    assert "not valid JSON" in _error(exc)[1]


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("-starts-with-dash", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9\\-_]*"),
        ("has space", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9\\-_]*"),
        ("x" * 64, "Member must have length less than or equal to 63"),
    ],
)
def test_names_are_checked_like_the_service(personalize: Any, name: str, constraint: str) -> None:
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name=name)
    assert _error(exc) == (
        "InvalidInputException",
        f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: {constraint}",
    )


def test_botocore_still_validates_before_the_mirror(personalize: Any) -> None:
    with pytest.raises(ParamValidationError):
        personalize.create_dataset_group()  # name is required
    with pytest.raises(ParamValidationError):
        personalize.create_dataset_group(name="")  # below botocore's minimum length


def test_enum_and_arn_patterns(personalize: Any) -> None:
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="g", domain="GAMES")
    assert _error(exc)[0] == "InvalidInputException"
    assert "Member must satisfy enum value set: [ECOMMERCE, VIDEO_ON_DEMAND]" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="g", roleArn="not-a-role")
    assert "at 'roleArn' failed to satisfy constraint" in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        personalize.describe_dataset_group(datasetGroupArn="nonsense")
    assert _error(exc)[0] == "InvalidInputException"


def test_dataset_group_with_kms_and_role(personalize: Any) -> None:
    import boto3

    from personalize_kit.sdk import policies

    iam = boto3.client("iam", region_name="us-east-1")
    trust = json.dumps(policies.trust_policy(ACCOUNT, "us-east-1"))
    role = iam.create_role(RoleName="personalize", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key(Policy=json.dumps(policies.key_policy(ACCOUNT, "us-east-1")))["KeyMetadata"]["Arn"]
    arn = personalize.create_dataset_group(name="secure", roleArn=role, kmsKeyArn=key)["datasetGroupArn"]
    group = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert (group["roleArn"], group["kmsKeyArn"], group["status"]) == (role, key, "ACTIVE")
    assert arn.split(":")[4] == boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="no-role", kmsKeyArn=key)
    assert _error(exc) == ("InvalidInputException", "A roleArn is required when a kmsKeyArn is specified.")
    # a key whose policy lets neither Personalize nor the role use it is refused, as the service does
    closed = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": []}))["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="closed", roleArn=role, kmsKeyArn=closed)
    assert (
        _error(exc)[0] == "InvalidInputException"
        and f"is not allowed kms:Decrypt on KMS key {closed}" in _error(exc)[1]
    )


def test_unknown_arn_is_resource_not_found(personalize: Any) -> None:
    arn = f"arn:aws:personalize:us-east-1:{ACCOUNT}:dataset-group/ghost"
    with pytest.raises(ClientError) as exc:
        personalize.describe_dataset_group(datasetGroupArn=arn)
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {arn} does not exist.")
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset(
            name="d", datasetGroupArn=arn, datasetType="INTERACTIONS", schemaArn=arn.replace("dataset-group", "schema")
        )
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_dataset_group_quota(personalize: Any) -> None:
    for i in range(5):
        personalize.create_dataset_group(name=f"g{i}")
    with pytest.raises(ClientError) as exc:
        personalize.create_dataset_group(name="g5")
    assert _error(exc)[0] == "LimitExceededException"
    assert "limit of 5 dataset groups" in _error(exc)[1]


def test_dataset_rules(personalize: Any) -> None:
    arns = make_group(personalize)
    dataset = personalize.describe_dataset(datasetArn=arns["INTERACTIONS"])["dataset"]
    assert dataset["datasetArn"] == f"arn:aws:personalize:us-east-1:{ACCOUNT}:dataset/shop/INTERACTIONS"
    assert (dataset["datasetType"], dataset["status"], dataset["schemaArn"]) == (
        "INTERACTIONS",
        "ACTIVE",
        arns["interactions_schema"],
    )
    with pytest.raises(ClientError) as exc:  # one dataset per type in a group
        personalize.create_dataset(
            name="again",
            datasetGroupArn=arns["group"],
            datasetType="INTERACTIONS",
            schemaArn=arns["interactions_schema"],
        )
    assert _error(exc)[0] == "ResourceAlreadyExistsException"
    users_schema = personalize.create_schema(name="wrong-kind", schema=ITEMS_SCHEMA)["schemaArn"]
    with pytest.raises(ClientError) as exc:  # an Items schema does not fit a Users dataset
        personalize.create_dataset(
            name="users", datasetGroupArn=arns["group"], datasetType="USERS", schemaArn=users_schema
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert "does not fit a USERS dataset" in _error(exc)[1]


def test_deletes_respect_dependencies(personalize: Any) -> None:
    arns = make_group(personalize)
    with pytest.raises(ClientError) as exc:
        personalize.delete_schema(schemaArn=arns["interactions_schema"])
    assert _error(exc)[0] == "ResourceInUseException"
    assert arns["INTERACTIONS"] in _error(exc)[1]
    with pytest.raises(ClientError) as exc:
        personalize.delete_dataset_group(datasetGroupArn=arns["group"])
    assert _error(exc)[0] == "ResourceInUseException"
    assert "dataset(s)" in _error(exc)[1]
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])["eventTrackerArn"]
    with pytest.raises(ClientError) as exc:
        personalize.delete_dataset(datasetArn=arns["INTERACTIONS"])
    assert _error(exc)[0] == "ResourceInUseException"
    assert tracker in _error(exc)[1]
    personalize.delete_event_tracker(eventTrackerArn=tracker)
    personalize.delete_dataset(datasetArn=arns["INTERACTIONS"])
    personalize.delete_dataset(datasetArn=arns["ITEMS"])
    personalize.delete_dataset_group(datasetGroupArn=arns["group"])
    with pytest.raises(ClientError) as exc:
        personalize.describe_dataset_group(datasetGroupArn=arns["group"])
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_paging_with_next_token_and_paginator(personalize: Any) -> None:
    names = [f"schema-{i:02d}" for i in range(7)]
    for name in names:
        personalize.create_schema(name=name, schema=INTERACTIONS_SCHEMA)
    first = personalize.list_schemas(maxResults=3)
    assert len(first["schemas"]) == 3
    seen = [s["name"] for s in first["schemas"]]
    token = first["nextToken"]
    while token:
        page = personalize.list_schemas(maxResults=3, nextToken=token)
        seen += [s["name"] for s in page["schemas"]]
        token = page.get("nextToken")
    assert sorted(seen) == names
    assert seen == sorted(names, reverse=True)  # newest first
    assert set(first["schemas"][0]) == {"name", "schemaArn", "creationDateTime", "lastUpdatedDateTime"}
    paged = [
        s["name"]
        for page in personalize.get_paginator("list_schemas").paginate(PaginationConfig={"PageSize": 2})
        for s in page["schemas"]
    ]
    assert sorted(paged) == names
    with pytest.raises(ClientError) as exc:
        personalize.list_schemas(nextToken="garbage")
    assert _error(exc)[0] == "InvalidNextTokenException"
    with pytest.raises(ClientError) as exc:
        personalize.list_schemas(maxResults=101)
    assert _error(exc)[0] == "InvalidInputException"


def test_tags(personalize: Any) -> None:
    arn = personalize.create_dataset_group(name="tagged", tags=[{"tagKey": "team", "tagValue": "recs"}])[
        "datasetGroupArn"
    ]
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "env", "tagValue": "dev"}])
    tags = {t["tagKey"]: t["tagValue"] for t in personalize.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == {"team": "recs", "env": "dev"}
    personalize.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [{"tagKey": "env", "tagValue": "dev"}]
    with pytest.raises(ClientError) as exc:
        personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": f"k{i}", "tagValue": "v"} for i in range(200)])
    assert _error(exc)[0] == "TooManyTagsException"
    ghost = arn.replace("tagged", "ghost")
    with pytest.raises(ClientError) as exc:
        personalize.list_tags_for_resource(resourceArn=ghost)
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {ghost} does not exist.")


def test_recipes(personalize: Any) -> None:
    listed = {r["name"]: r for r in personalize.list_recipes()["recipes"]}
    assert set(listed) == {info.name for info in RECIPES.values()}
    assert set(listed) >= {
        "aws-user-personalization",
        "aws-user-personalization-v2",
        "aws-sims",
        "aws-popularity-count",
    }
    recipe = personalize.describe_recipe(recipeArn=POPULARITY_ARN)["recipe"]
    assert (recipe["recipeType"], recipe["status"]) == ("USER_PERSONALIZATION", "ACTIVE")
    sims = personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-sims")["recipe"]
    assert sims["recipeType"] == "RELATED_ITEMS"
    with pytest.raises(ClientError) as exc:
        personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-nope")
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_solution_checks(personalize: Any) -> None:
    arns = make_group(personalize)
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(name="s", datasetGroupArn=arns["group"])
    assert _error(exc) == ("InvalidInputException", "A recipeArn is required when performAutoML is false.")
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(
            name="s", datasetGroupArn=arns["group"], recipeArn="arn:aws:personalize:::recipe/aws-nope"
        )
    assert _error(exc)[0] == "ResourceNotFoundException"
    for i in range(10):
        personalize.create_solution(name=f"s{i}", datasetGroupArn=arns["group"], recipeArn=POPULARITY_ARN)
    with pytest.raises(ClientError) as exc:
        personalize.create_solution(name="s10", datasetGroupArn=arns["group"], recipeArn=POPULARITY_ARN)
    assert _error(exc)[0] == "LimitExceededException"
    solution = personalize.describe_solution(solutionArn=f"arn:aws:personalize:us-east-1:{ACCOUNT}:solution/s0")[
        "solution"
    ]
    assert solution["recipeArn"] == POPULARITY_ARN
    assert solution["status"] == "ACTIVE"
    assert "latestSolutionVersion" not in solution
    with pytest.raises(ClientError) as exc:
        personalize.create_solution_version(solutionArn=solution["solutionArn"], trainingMode="UPDATE")
    assert _error(exc)[0] == "InvalidInputException"
    assert "UPDATE is not supported for recipe aws-popularity-count" in _error(exc)[1]


def test_event_tracker_one_per_group(personalize: Any) -> None:
    arns = make_group(personalize)
    created = personalize.create_event_tracker(name="t1", datasetGroupArn=arns["group"])
    tracker = personalize.describe_event_tracker(eventTrackerArn=created["eventTrackerArn"])["eventTracker"]
    assert tracker["trackingId"] == created["trackingId"]
    assert (tracker["accountId"], tracker["status"]) == (ACCOUNT, "ACTIVE")
    described = personalize.describe_dataset(datasetArn=arns["INTERACTIONS"])["dataset"]
    assert described["trackingId"] == created["trackingId"]
    with pytest.raises(ClientError) as exc:
        personalize.create_event_tracker(name="t2", datasetGroupArn=arns["group"])
    assert _error(exc)[0] == "ResourceAlreadyExistsException"
    assert created["eventTrackerArn"] in _error(exc)[1]


def test_resources_start_create_pending_when_asked(state_dir: Any) -> None:
    import boto3
    from conftest import TERMINAL, wait_for

    from personalize_kit.local import mock_personalize

    with mock_personalize(state_dir, create_seconds=0.5):
        personalize = boto3.client("personalize", region_name="us-east-1")
        schema = personalize.create_schema(name="ratings", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        group = personalize.create_dataset_group(name="slow")["datasetGroupArn"]
        assert personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]["status"] == "CREATE PENDING"
        with pytest.raises(ClientError) as exc:  # a dataset needs an ACTIVE dataset group
            personalize.create_dataset(name="d", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema)
        assert _error(exc) == (
            "ResourceInUseException",
            f"The resource {group} is in CREATE PENDING state. It must be ACTIVE.",
        )
        described = wait_for(
            lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL, timeout=10
        )
        assert described["status"] == "ACTIVE"
        assert described["lastUpdatedDateTime"] > described["creationDateTime"]
        personalize.create_dataset(name="d", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema)


def test_update_solution(personalize: Any) -> None:
    arns = make_group(personalize)
    solution = personalize.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=POPULARITY_ARN)[
        "solutionArn"
    ]
    personalize.update_solution(
        solutionArn=solution,
        performAutoTraining=True,
        solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "rate(7 days)"}},
    )
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["performAutoTraining"] is True
    assert described["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(7 days)"}
    assert described["latestSolutionUpdate"]["status"] == "ACTIVE"
    with pytest.raises(ClientError) as exc:
        personalize.update_solution(
            solutionArn=solution, solutionUpdateConfig={"autoTrainingConfig": {"schedulingExpression": "daily"}}
        )
    assert _error(exc)[0] == "InvalidInputException"
    assert "schedulingExpression" in _error(exc)[1]
