"""Data deletion jobs: the listed users' interactions and events leave the dataset group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import BUCKET, ROLE_ARN, import_data, make_group, user_items, wait_for

from personalize_kit.local import store
from personalize_kit.local.state import StateDir

DONE = ("COMPLETED", "FAILED")


def _run(personalize: Any, group: str, name: str, key: str) -> dict[str, Any]:
    job = personalize.create_data_deletion_job(
        jobName=name, datasetGroupArn=group, dataSource={"dataLocation": f"s3://{BUCKET}/{key}"}, roleArn=ROLE_ARN
    )["dataDeletionJobArn"]
    return wait_for(lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=job)["dataDeletionJob"], DONE)


def test_a_data_deletion_job_removes_the_users_rows_and_events(
    personalize: Any, events: Any, s3: Any, state_dir: Path
) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    tracker = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    for user in ("u01", "u03"):
        events.put_events(
            trackingId=tracker,
            userId=user,
            sessionId=user,
            eventList=[{"eventType": "click", "itemId": "i00", "sentAt": 1_800_000_000}],
        )
    s3.put_object(Bucket=BUCKET, Key="forget.csv", Body=b"USER_ID\nu01\nu02\nnobody\n")
    job = _run(personalize, arns["group"], "forget", "forget.csv")
    assert job["status"] == "COMPLETED", job.get("failureReason")
    assert job["numDeleted"] == len(user_items(1)) + len(user_items(2)) + 1  # their imported rows and u01's event
    left = store.interactions(StateDir(state_dir), "shop")
    assert not {"u01", "u02"} & set(left["USER_ID"])
    assert {"u00", "u03"} <= set(left["USER_ID"])
    listed = personalize.list_data_deletion_jobs(datasetGroupArn=arns["group"])["dataDeletionJobs"]
    assert [(j["jobName"], j["status"]) for j in listed] == [("forget", "COMPLETED")]

    s3.put_object(Bucket=BUCKET, Key="wrong.csv", Body=b"ITEM_ID\ni00\n")
    failed = _run(personalize, arns["group"], "wrong", "wrong.csv")
    assert failed["status"] == "FAILED"
    assert failed["failureReason"].endswith("wrong.csv has no USER_ID column in its header.")
