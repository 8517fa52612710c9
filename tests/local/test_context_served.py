"""GetRecommendations and GetPersonalizedRanking ``context`` through the real boto3 client (fast profile)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, ROLE_ARN, TERMINAL, make_bucket, wait_for

from personalize_kit.data.schemas import FieldSpec, interactions_schema
from personalize_kit.local import mock_personalize

UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"
RANKING_ARN = "arn:aws:personalize:::recipe/aws-personalized-ranking"
SIMS_ARN = "arn:aws:personalize:::recipe/aws-sims"
RECIPES = {"up": UP_ARN, "ranking": RANKING_ARN, "sims": SIMS_ARN}
MOBILE = [f"m{k}" for k in range(1, 6)]
DESKTOP = [f"d{k}" for k in range(1, 6)]


def device_csv(n_users: int = 100, length: int = 24, seed: int = 0) -> str:
    """Each interaction is on a phone (an item of m1..m5, an o-item now and then) or on a desktop (d1..d5, or
    an o-item), the device drawn at random; the DEVICE column says which."""
    rng = np.random.default_rng(seed)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,DEVICE"]
    for u in range(n_users):
        for step in range(length):
            device = "mobile" if rng.random() < 0.5 else "desktop"
            pool = MOBILE if device == "mobile" else DESKTOP
            chosen = f"o{rng.integers(1, 11)}" if rng.random() < 0.2 else str(rng.choice(pool))
            lines.append(f"u{u},{chosen},{1_600_000_000 + 86_400 * step + u},{device}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A dataset group whose interactions carry DEVICE, with campaigns of User-Personalization,
    Personalized-Ranking and SIMS trained under the fast profile."""
    state = tmp_path_factory.mktemp("context") / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PERSONALIZE_KIT_PACE", "instant")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):  # fake, as every test's
            patch.setenv(name, "testing")
        patch.setenv("AWS_CONFIG_FILE", "/dev/null")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        patch.delenv("AWS_PROFILE", raising=False)
        with mock_personalize(state, profile="fast"):
            s3 = boto3.client("s3", region_name="us-east-1")
            make_bucket(s3)
            s3.put_object(Bucket=BUCKET, Key="devices.csv", Body=device_csv().encode())
            personalize = boto3.client("personalize", region_name="us-east-1")
            group = _group(personalize)
            campaigns = {name: _campaign(personalize, group, name, recipe) for name, recipe in RECIPES.items()}
            yield {"runtime": boto3.client("personalize-runtime", region_name="us-east-1"), **campaigns}


def _group(personalize: Any) -> str:
    """The dataset group ``devices`` with its Interactions (USER_ID, ITEM_ID, TIMESTAMP, DEVICE) imported."""
    schema = interactions_schema(
        event_type=False, event_value=False, extra=[FieldSpec("DEVICE", "string", categorical=True)]
    )
    schema_arn = personalize.create_schema(name="devices", schema=json.dumps(schema))["schemaArn"]
    group = personalize.create_dataset_group(name="devices")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name="devices", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema_arn
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName="devices",
        datasetArn=dataset,
        roleArn=ROLE_ARN,
        dataSource={"dataLocation": f"s3://{BUCKET}/devices.csv"},
    )["datasetImportJobArn"]
    done = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return group


def _campaign(personalize: Any, group: str, name: str, recipe: str) -> str:
    solution = personalize.create_solution(name=name, datasetGroupArn=group, recipeArn=recipe)["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
                    TERMINAL, timeout=120)  # fmt: skip
    assert done["status"] == "ACTIVE", done.get("failureReason")
    arn = personalize.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"], TERMINAL)
    return arn


def _mass(entries: list[dict[str, Any]], items: list[str]) -> float:
    return sum(entry.get("score", 0.0) for entry in entries if entry["itemId"] in items)


def test_the_device_in_the_context_puts_its_items_first(served: dict[str, Any]) -> None:
    runtime = served["runtime"]
    for user in ("u0", "u3", "someone-new"):
        asked = {"campaignArn": served["up"], "userId": user, "numResults": 20}
        on_phone = runtime.get_recommendations(**asked, context={"DEVICE": "mobile"})["itemList"]
        on_desktop = runtime.get_recommendations(**asked, context={"DEVICE": "desktop"})["itemList"]
        assert on_phone[0]["itemId"] in MOBILE and _mass(on_phone, MOBILE) > 2 * _mass(on_phone, DESKTOP)
        assert on_desktop[0]["itemId"] in DESKTOP and _mass(on_desktop, DESKTOP) > 2 * _mass(on_desktop, MOBILE)
        plain = runtime.get_recommendations(**asked)["itemList"]
        assert runtime.get_recommendations(**asked, context={"DEVICE": "tablet"})["itemList"] == plain


def test_personalized_ranking_takes_the_context(served: dict[str, Any]) -> None:
    asked = {"campaignArn": served["ranking"], "userId": "u5", "inputList": [*DESKTOP, *MOBILE]}
    on_phone = served["runtime"].get_personalized_ranking(**asked, context={"DEVICE": "mobile"})["personalizedRanking"]
    on_desktop = served["runtime"].get_personalized_ranking(**asked, context={"DEVICE": "desktop"})
    assert on_phone[0]["itemId"] in MOBILE and _mass(on_phone, MOBILE) > 2 * _mass(on_phone, DESKTOP)
    ranked = on_desktop["personalizedRanking"]
    assert ranked[0]["itemId"] in DESKTOP and _mass(ranked, DESKTOP) > 2 * _mass(ranked, MOBILE)


def test_a_recipe_without_context_accepts_it_and_answers_as_without(served: dict[str, Any]) -> None:
    runtime, asked = served["runtime"], {"campaignArn": served["sims"], "itemId": "m1", "numResults": 10}
    assert (
        runtime.get_recommendations(**asked, context={"DEVICE": "desktop"})["itemList"]
        == (runtime.get_recommendations(**asked)["itemList"])
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"COLOR": "red"}, "context key 'COLOR' is not a metadata field of the Interactions schema of dataset "
                           "group devices: use one of DEVICE."),
        ({"USER_ID": "u1"}, "context key 'USER_ID' is not a metadata field"),
        ({"DE-VICE": "mobile"}, "regular expression pattern"),
        ({f"K{k}": "v" for k in range(151)}, "150"),
    ],
)  # fmt: skip
def test_context_the_service_refuses_is_refused(served: dict[str, Any], context: dict, message: str) -> None:
    for call, asked in (
        ("get_recommendations", {"campaignArn": served["up"], "userId": "u0"}),
        ("get_personalized_ranking", {"campaignArn": served["ranking"], "userId": "u0", "inputList": ["m1"]}),
    ):
        with pytest.raises(ClientError) as caught:
            getattr(served["runtime"], call)(**asked, context=context)
        assert caught.value.response["Error"]["Code"] == "InvalidInputException"
        assert message in caught.value.response["Error"]["Message"]
