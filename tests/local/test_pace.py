"""The service's asynchronous states at the mirror's default pace, seen through real boto3 clients.

Each test records the statuses a client sees while polling (never how long they last): a resource is
seen in flight before it is ACTIVE, a deleted one in DELETE PENDING before it is gone, and a resource
in flight refuses to be used as the service refuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
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

from personalize_kit.local import Mirror, mock_personalize
from personalize_kit.local.lifecycle import FAST, INSTANT, REALISTIC, Pace, resolve_pace
from personalize_kit.sdk._wait import wait

GONE = "(gone)"
#: States that outlast any test: what a resource in flight refuses is checked without a race.
SLOW = Pace("slow", pending=600, creating=600, job=600, deleting=600, updating=600, training=0)


def seen(describe: Callable[[], dict[str, Any]], until: tuple[str, ...], timeout: float = 60) -> list[str]:
    """The distinct statuses ``describe()`` shows, in order, until one of ``until`` (or the resource is gone)."""
    statuses: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = describe()["status"]
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
            status = GONE
        if not statuses or statuses[-1] != status:
            statuses.append(status)
        if status in until:
            return statuses
        time.sleep(0.01)
    raise AssertionError(f"still {statuses[-1]} after {timeout}s")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def fast(default_pace: None, state_dir: Path) -> Any:
    with mock_personalize(state_dir) as mirror:
        s3 = boto3.client("s3", region_name="us-east-1")
        make_bucket(s3)
        from conftest import interactions_csv, items_csv

        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
        s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
        yield mirror


def test_the_pace_is_a_setting(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONALIZE_KIT_PACE")
    assert Mirror(state_dir).settings.pace == FAST
    assert Mirror(state_dir, pace="realistic").settings.pace == REALISTIC
    monkeypatch.setenv("PERSONALIZE_KIT_PACE", "instant")
    assert Mirror(state_dir).settings.pace == INSTANT
    assert Mirror(state_dir, pace="fast").settings.pace == FAST
    # create_seconds keeps working: new resources pending that long, everything else at once
    own = Mirror(state_dir, create_seconds=2).settings.pace
    assert (own.pending, own.creating, own.job, own.deleting) == (2.0, 0.0, 0.0, 0.0)
    assert resolve_pace("realistic", 1.0).pending == 1.0
    with pytest.raises(ValueError, match="Unknown pace 'slowly': use one of instant, fast, realistic"):
        Mirror(state_dir, pace="slowly")
    # realistic states last longer than fast ones, which last longer than instant ones
    for field in ("pending", "creating", "job", "deleting", "updating"):
        assert getattr(INSTANT, field) == 0 < getattr(FAST, field) < getattr(REALISTIC, field)


def test_an_import_job_is_seen_in_flight_before_active(fast: Any) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    schema = personalize.create_schema(name="ratings", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    group = personalize.create_dataset_group(name="paced")["datasetGroupArn"]
    statuses = seen(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], TERMINAL)
    assert statuses[0] == "CREATE PENDING" and statuses[-1] == "ACTIVE"
    assert set(statuses) <= {"CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"}
    dataset = personalize.create_dataset(
        name="paced-interactions", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema
    )["datasetArn"]
    wait_for(lambda: personalize.describe_dataset(datasetArn=dataset)["dataset"], TERMINAL)
    job = personalize.create_dataset_import_job(
        jobName="paced-import",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{BUCKET}/interactions.csv"},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    describe = lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]  # noqa: E731
    statuses = seen(describe, TERMINAL)
    assert statuses[0] in ("CREATE PENDING", "CREATE IN_PROGRESS")
    assert statuses[-1] == "ACTIVE"
    assert statuses == [s for s in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE") if s in statuses]


def test_a_deleted_dataset_group_is_delete_pending_before_it_is_gone(fast: Any) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    group = personalize.create_dataset_group(name="doomed")["datasetGroupArn"]
    wait(personalize, "dataset_group", group, first_delay=0.05)
    personalize.delete_dataset_group(datasetGroupArn=group)
    statuses = seen(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], (GONE,))
    assert statuses[0] == "DELETE PENDING" and statuses[-1] == GONE
    assert set(statuses) <= {"DELETE PENDING", "DELETE IN_PROGRESS", GONE}
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    personalize.create_dataset_group(name="doomed")  # the name is free again once the group is gone


def test_resources_in_flight_refuse_to_be_used_as_the_service_refuses(s3: Any, state_dir: Path) -> None:
    """Set up at once (``instant``), then act at a pace whose states outlast the test."""
    personalize = boto3.client("personalize", region_name="us-east-1")
    runtime = boto3.client("personalize-runtime", region_name="us-east-1")
    arns = make_group(personalize)
    import_data(personalize, arns)
    first = train(personalize, arns["group"])
    second = train(personalize, arns["group"], name="other")
    campaign = personalize.create_campaign(name="serving", solutionVersionArn=first)["campaignArn"]
    schema = arns["interactions_schema"]
    with mock_personalize(state_dir, pace=SLOW):
        personalize = boto3.client("personalize", region_name="us-east-1")
        runtime = boto3.client("personalize-runtime", region_name="us-east-1")
        refused = []

        def refuses(call: Callable[..., Any], **params: Any) -> None:
            with pytest.raises(ClientError) as exc:
                call(**params)
            refused.append(_code(exc))

        # a resource being created: not used, not deleted
        new = personalize.create_campaign(name="new", solutionVersionArn=first)["campaignArn"]
        refuses(runtime.get_recommendations, campaignArn=new, userId="u01")
        refuses(personalize.delete_campaign, campaignArn=new)
        group = personalize.create_dataset_group(name="young")["datasetGroupArn"]
        refuses(personalize.create_dataset, name="d", datasetGroupArn=group, datasetType="USERS", schemaArn=schema)
        # a campaign being updated serves its old version; no second update, no delete
        personalize.update_campaign(campaignArn=campaign, solutionVersionArn=second, minProvisionedTPS=2)
        described = personalize.describe_campaign(campaignArn=campaign)["campaign"]
        assert (described["status"], described["latestCampaignUpdate"]["status"]) == ("ACTIVE", "UPDATE PENDING")
        assert described["latestCampaignUpdate"]["solutionVersionArn"] == second
        assert (described["solutionVersionArn"], described["minProvisionedTPS"]) == (first, 1)
        assert runtime.get_recommendations(campaignArn=campaign, userId="u01")["itemList"]
        refuses(personalize.update_campaign, campaignArn=campaign, minProvisionedTPS=3)
        refuses(personalize.delete_campaign, campaignArn=campaign)
        # a dataset being deleted takes no import; its dataset group accepts no new dataset while it is deleted
        personalize.delete_dataset(datasetArn=arns["ITEMS"])
        assert personalize.describe_dataset(datasetArn=arns["ITEMS"])["dataset"]["status"] == "DELETE PENDING"
        refuses(
            personalize.create_dataset_import_job,
            jobName="late",
            datasetArn=arns["ITEMS"],
            dataSource={"dataLocation": f"s3://{BUCKET}/items.csv"},
            roleArn=ROLE_ARN,
        )
        refuses(personalize.delete_dataset, datasetArn=arns["ITEMS"])  # nor a second delete
        refuses(personalize.delete_dataset_group, datasetGroupArn=arns["group"])  # it still has datasets
        assert refused == ["ResourceInUseException"] * len(refused) and len(refused) == 8


def test_the_sdk_wait_follows_a_campaign_update(fast: Any) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    runtime = boto3.client("personalize-runtime", region_name="us-east-1")
    arns = make_group(personalize)
    import_data(personalize, arns)
    first = train(personalize, arns["group"])
    second = personalize.create_solution_version(solutionArn=first.rsplit("/", 1)[0])["solutionVersionArn"]
    wait(personalize, "solution_version", second, first_delay=0.05)
    campaign = personalize.create_campaign(name="paced", solutionVersionArn=first)["campaignArn"]
    wait(personalize, "campaign", campaign, first_delay=0.05)
    assert runtime.get_recommendations(campaignArn=campaign, userId="u01")["itemList"]
    personalize.update_campaign(campaignArn=campaign, solutionVersionArn=second, minProvisionedTPS=2)
    done = wait(personalize, "campaign", campaign, first_delay=0.05)
    assert done["latestCampaignUpdate"]["status"] == "ACTIVE"
    assert (done["solutionVersionArn"], done["minProvisionedTPS"]) == (second, 2)
    personalize.delete_campaign(campaignArn=campaign)
    statuses = seen(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], (GONE,))
    assert statuses[0] == "DELETE PENDING" and statuses[-1] == GONE


def test_a_batch_inference_job_runs_after_its_create_call_answers(fast: Any) -> None:
    personalize = boto3.client("personalize", region_name="us-east-1")
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"], recipe=POPULARITY_ARN)
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key="in.json", Body=b'{"userId": "u01"}\n')
    job = personalize.create_batch_inference_job(
        jobName="paced-batch",
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/in.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/out/"}},
        roleArn=ROLE_ARN,
    )["batchInferenceJobArn"]
    describe = lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"]  # noqa: E731
    statuses = seen(describe, TERMINAL)
    assert statuses[0] in ("PENDING", "IN PROGRESS") and statuses[-1] == "ACTIVE"
    assert statuses == [s for s in ("PENDING", "IN PROGRESS", "ACTIVE") if s in statuses]


def test_the_sdk_cleanup_waits_through_the_deletes(fast: Any) -> None:
    from personalize_kit.sdk.cleanup import cleanup

    personalize = boto3.client("personalize", region_name="us-east-1")
    arns = make_group(personalize, "tidy")
    import_data(personalize, arns, name="tidy")
    train(personalize, arns["group"])
    cleanup("tidy", session=boto3.Session(region_name="us-east-1"), dry_run=False)
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    assert personalize.list_datasets()["datasets"] == []
    assert personalize.list_solutions()["solutions"] == []


def test_a_recommender_is_seen_stopping_and_starting(fast: Any) -> None:
    from test_recommenders import PREFIX, domain_group, vod_rows

    personalize = boto3.client("personalize", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    group = domain_group(personalize, s3, "VIDEO_ON_DEMAND", vod_rows())
    arn = personalize.create_recommender(
        name="popular", datasetGroupArn=group, recipeArn=PREFIX + "aws-vod-most-popular"
    )["recommenderArn"]
    describe = lambda: personalize.describe_recommender(recommenderArn=arn)["recommender"]  # noqa: E731
    statuses = seen(describe, TERMINAL)
    assert statuses[0] in ("CREATE PENDING", "CREATE IN_PROGRESS") and statuses[-1] == "ACTIVE"
    personalize.stop_recommender(recommenderArn=arn)
    statuses = seen(describe, ("INACTIVE",))
    assert statuses[0] == "STOP PENDING" and set(statuses) <= {"STOP PENDING", "STOP IN_PROGRESS", "INACTIVE"}
    personalize.start_recommender(recommenderArn=arn)
    statuses = seen(describe, ("ACTIVE",))
    assert statuses[0] == "START PENDING" and set(statuses) <= {"START PENDING", "START IN_PROGRESS", "ACTIVE"}
