"""Fixtures of the mirror's functional tests: real boto3 clients inside ``mock_personalize``.

The data is generated so that the right answers are known: user ``uNN`` interacts with items ``i00``,
``i01``, ... ``i(n-1)`` in that order, with ``n = 3 + NN % 30``; item ``iKK`` is therefore interacted
with by ``EXPECTED_POPULARITY[iKK]`` unique users and Popularity-Count ranks ``i00 < i01 < i02 ...``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema
from personalize_kit.local import mock_personalize

BUCKET = "mirror-data"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3"
N_USERS = 60
START = 1_700_000_000
POPULARITY_ARN = "arn:aws:personalize:::recipe/aws-popularity-count"


def user_items(user: int) -> list[str]:
    return [f"i{k:02d}" for k in range(3 + user % 30)]


def interactions_csv(n_users: int = N_USERS) -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for user in range(n_users):
        for k, item in enumerate(user_items(user)):
            lines.append(f"u{user:02d},{item},{START + user * 1000 + k},click,{1 + k % 5}")
    return "\n".join(lines) + "\n"


def n_interactions(n_users: int = N_USERS) -> int:
    return sum(len(user_items(u)) for u in range(n_users))


EXPECTED_POPULARITY = {f"i{k:02d}": sum(1 for u in range(N_USERS) if k < len(user_items(u))) for k in range(32)}
ITEMS = [f"i{k:02d}" for k in range(32)]
GENRES = {item: ("Comedy" if k % 2 == 0 else "Drama") for k, item in enumerate(ITEMS)}


def items_csv() -> str:
    lines = ["ITEM_ID,GENRES,PRICE"]
    lines += [f"{item},{GENRES[item]},{k}" for k, item in enumerate(ITEMS)]
    return "\n".join(lines) + "\n"


INTERACTIONS_SCHEMA = json.dumps(interactions_schema())
ITEMS_SCHEMA = json.dumps(
    make_schema(
        "ITEMS",
        [FieldSpec("ITEM_ID", "string"), FieldSpec("GENRES", "string", categorical=True), FieldSpec("PRICE", "int")],
    )
)


def wait_for(describe: Callable[[], dict[str, Any]], done: tuple[str, ...], timeout: float = 60) -> dict:
    """Poll ``describe()`` until its ``status`` is one of ``done``; return the last description."""
    deadline = time.monotonic() + timeout
    while True:
        description = describe()
        if description["status"] in done:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"still {description['status']} after {timeout}s: {description}")
        time.sleep(0.05)


TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")


@pytest.fixture(autouse=True)
def instant_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror's tests assert states at once unless they ask for the default pace (``default_pace``);
    subprocesses inherit it through the environment."""
    monkeypatch.setenv("PERSONALIZE_KIT_PACE", "instant")


@pytest.fixture
def default_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror at its default pace (``fast``): every state of the service is visible for a moment."""
    monkeypatch.delenv("PERSONALIZE_KIT_PACE", raising=False)


@pytest.fixture
def mirror(state_dir: Path) -> Iterator[Any]:
    with mock_personalize(state_dir) as active:
        yield active


@pytest.fixture
def personalize(mirror: Any) -> Any:
    return boto3.client("personalize", region_name="us-east-1")


@pytest.fixture
def runtime(mirror: Any) -> Any:
    return boto3.client("personalize-runtime", region_name="us-east-1")


@pytest.fixture
def events(mirror: Any) -> Any:
    return boto3.client("personalize-events", region_name="us-east-1")


def make_bucket(client: Any, bucket: str = BUCKET) -> None:
    """The data bucket, with the role Personalize assumes (``ROLE_ARN``) allowed to use all of it."""
    from personalize_kit.sdk.backend import grant_personalize

    client.create_bucket(Bucket=bucket)
    grant_personalize(boto3.Session(region_name="us-east-1"), bucket, output_prefixes=("",))


@pytest.fixture
def s3(mirror: Any) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    make_bucket(client)
    client.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
    client.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
    return client


def make_group(personalize: Any, name: str = "shop") -> dict[str, str]:
    """Schemas, a dataset group and its Interactions and Items datasets; return their ARNs."""
    arns = {
        "interactions_schema": personalize.create_schema(name=f"{name}-interactions", schema=INTERACTIONS_SCHEMA)[
            "schemaArn"
        ],
        "items_schema": personalize.create_schema(name=f"{name}-items", schema=ITEMS_SCHEMA)["schemaArn"],
    }
    arns["group"] = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=arns["group"])["datasetGroup"], TERMINAL)
    for kind, schema in (("INTERACTIONS", "interactions_schema"), ("ITEMS", "items_schema")):
        arns[kind] = personalize.create_dataset(
            name=f"{name}-{kind.lower()}", datasetGroupArn=arns["group"], datasetType=kind, schemaArn=arns[schema]
        )["datasetArn"]
        wait_for(lambda kind=kind: personalize.describe_dataset(datasetArn=arns[kind])["dataset"], TERMINAL)
    return arns


def import_data(personalize: Any, arns: dict[str, str], *, name: str = "shop") -> None:
    """Import interactions.csv and items.csv from the test bucket; both jobs must end ACTIVE."""
    for kind, key in (("INTERACTIONS", "interactions.csv"), ("ITEMS", "items.csv")):
        job = personalize.create_dataset_import_job(
            jobName=f"{name}-{kind.lower()}-import",
            datasetArn=arns[kind],
            dataSource={"dataLocation": f"s3://{BUCKET}/{key}"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        described = wait_for(
            lambda job=job: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"],
            TERMINAL,
        )
        assert described["status"] == "ACTIVE", described.get("failureReason")


def train(personalize: Any, group_arn: str, *, name: str = "popular", recipe: str = POPULARITY_ARN) -> str:
    """A solution and a trained version; return the version ARN once it is terminal."""
    solution = personalize.create_solution(name=name, datasetGroupArn=group_arn, recipeArn=recipe)["solutionArn"]
    wait_for(lambda: personalize.describe_solution(solutionArn=solution)["solution"], TERMINAL)
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"], TERMINAL)
    return version
