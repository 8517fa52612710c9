"""Metric attributions through the real boto3 client: states, the service's refusals, paging, and the
metrics themselves on planted events (known sums and counts) and in the S3 report of an import."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import defaultdict
from typing import Any

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import (
    BUCKET,
    ITEMS,
    ROLE_ARN,
    START,
    TERMINAL,
    import_data,
    interactions_csv,
    make_group,
    n_interactions,
    train,
    wait_for,
)

from personalize_kit.local import attribution

CLICKS = {"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"}
REVENUE = {"eventType": "purchase", "expression": "SUM(Items.PRICE)", "metricName": "REVENUE"}
VALUE = {"eventType": "click", "expression": "SUM(Interactions.EVENT_VALUE)", "metricName": "CLICK_VALUE"}
PRICE = {f"i{k:02d}": k for k in range(len(ITEMS))}  # conftest's items.csv: the price of iKK is K


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _create(personalize: Any, group: str, metrics: list[dict[str, str]], *, name: str = "impact", **output: Any) -> str:
    return personalize.create_metric_attribution(
        name=name, datasetGroupArn=group, metrics=metrics, metricsOutputConfig={"roleArn": ROLE_ARN, **output}
    )["metricAttributionArn"]


def _describe(personalize: Any, arn: str) -> dict[str, Any]:
    return personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]


@pytest.fixture
def group(personalize: Any, s3: Any) -> dict[str, str]:
    return make_group(personalize)


# ----------------------------------------------------------------------------- lifecycle and refusals


@pytest.mark.usefixtures("default_pace")
def test_lifecycle_through_the_service_states(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    arn = _create(personalize, arns["group"], [CLICKS])
    assert arn == "arn:aws:personalize:us-east-1:123456789012:metric-attribution/impact"
    described = _describe(personalize, arn)
    assert described["status"] == "CREATE PENDING"
    assert (described["name"], described["datasetGroupArn"]) == ("impact", arns["group"])
    assert described["metricsOutputConfig"] == {"roleArn": ROLE_ARN}
    with pytest.raises(ClientError) as exc:
        personalize.delete_metric_attribution(metricAttributionArn=arn)
    assert _error(exc)[0] == "ResourceInUseException"
    with pytest.raises(ClientError) as exc:
        personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[VALUE])
    assert _error(exc)[0] == "ResourceInUseException"
    assert wait_for(lambda: _describe(personalize, arn), TERMINAL)["status"] == "ACTIVE"

    personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[VALUE], removeMetrics=["CLICKS"])
    assert _describe(personalize, arn)["status"] == "UPDATE PENDING"
    with pytest.raises(ClientError) as exc:
        personalize.delete_metric_attribution(metricAttributionArn=arn)
    assert _error(exc)[0] == "ResourceInUseException"
    assert wait_for(lambda: _describe(personalize, arn), ("ACTIVE",))["status"] == "ACTIVE"
    metrics = personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    assert metrics == [VALUE]

    personalize.delete_metric_attribution(metricAttributionArn=arn)
    assert _describe(personalize, arn)["status"] in ("DELETE PENDING", "DELETE IN_PROGRESS")
    deadline = time.monotonic() + 30
    while personalize.list_metric_attributions(datasetGroupArn=arns["group"])["metricAttributions"]:
        assert time.monotonic() < deadline, "the metric attribution was never deleted"
        time.sleep(0.05)
    with pytest.raises(ClientError) as exc:
        _describe(personalize, arn)
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {arn} does not exist.")


@pytest.mark.parametrize(
    ("metric", "says"),
    [
        ({"eventType": "click", "expression": "AVG(Items.PRICE)", "metricName": "M"}, "Invalid metric expression"),
        ({"eventType": "click", "expression": "SUM(Items.PRICE", "metricName": "M"}, "Invalid metric expression"),
        ({"eventType": "click", "expression": "SUM(Users.AGE)", "metricName": "M"}, "Interactions or Items"),
        ({"eventType": "click", "expression": "SUM(Items.WEIGHT)", "metricName": "M"}, "WEIGHT is not a field"),
        ({"eventType": "click", "expression": "SUM(Items.GENRES)", "metricName": "M"}, "needs a numeric column"),
        ({"eventType": "click", "expression": "SUM(Interactions.ITEM_ID)", "metricName": "M"}, "numeric column"),
    ],
)
def test_bad_metrics_are_invalid_input(personalize: Any, group: dict[str, str], metric: dict, says: str) -> None:
    with pytest.raises(ClientError) as exc:
        _create(personalize, group["group"], [metric])
    code, message = _error(exc)
    assert code == "InvalidInputException"
    assert says in message
    assert personalize.list_metric_attributions()["metricAttributions"] == []


def test_service_refusals(personalize: Any, group: dict[str, str]) -> None:
    with pytest.raises(ClientError) as exc:
        _create(personalize, group["group"], [CLICKS, {**VALUE, "metricName": "CLICKS"}])
    assert _error(exc) == ("InvalidInputException", "Metric names must be unique: CLICKS is given more than once.")
    with pytest.raises(ClientError) as exc:  # the model's at most 10 metrics
        _create(personalize, group["group"], [{**CLICKS, "metricName": f"M{k}"} for k in range(11)])
    assert _error(exc)[0] == "InvalidInputException"
    gone = group["group"] + "-gone"
    with pytest.raises(ClientError) as exc:
        _create(personalize, gone, [CLICKS])
    assert _error(exc) == ("ResourceNotFoundException", f"Resource Arn {gone} does not exist.")
    with pytest.raises(ClientError) as exc:
        personalize.create_metric_attribution(
            name="m",
            datasetGroupArn=group["group"],
            metrics=[CLICKS],
            metricsOutputConfig={"roleArn": "arn:aws:iam::123456789012:role/Nobody"},
        )
    assert _error(exc)[0] == "InvalidInputException"

    arn = _create(personalize, group["group"], [CLICKS])
    with pytest.raises(ClientError) as exc:  # one per dataset group
        _create(personalize, group["group"], [CLICKS], name="second")
    assert _error(exc)[0] == "ResourceAlreadyExistsException"
    assert arn in _error(exc)[1]
    with pytest.raises(ClientError) as exc:  # names are unique in the region too
        _create(personalize, group["group"], [CLICKS])
    assert _error(exc) == ("ResourceAlreadyExistsException", f"Another resource with Arn {arn} already exists.")

    with pytest.raises(ClientError) as exc:
        personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[CLICKS])
    assert _error(exc)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        personalize.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["NOPE"])
    assert _error(exc)[0] == "InvalidInputException"
    more = [{**CLICKS, "metricName": f"M{k}"} for k in range(10)]
    with pytest.raises(ClientError) as exc:
        personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=more)
    assert _error(exc) == (
        "LimitExceededException",
        "A metric attribution has at most 10 metrics: this one would have 11.",
    )
    with pytest.raises(ClientError) as exc:
        personalize.update_metric_attribution(metricAttributionArn=arn + "x", addMetrics=[VALUE])
    assert _error(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:  # the dataset group keeps its attribution until it is deleted
        personalize.delete_dataset_group(datasetGroupArn=group["group"])
    assert _error(exc)[0] == "ResourceInUseException"
    assert personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"] == [CLICKS]


def test_s3_destination_must_be_writable(personalize: Any, group: dict[str, str], s3: Any) -> None:
    s3.create_bucket(Bucket="closed-bucket")  # no policy lets Personalize in
    with pytest.raises(ClientError) as exc:
        _create(personalize, group["group"], [CLICKS], s3DataDestination={"path": "s3://closed-bucket/metrics/"})
    assert _error(exc)[0] == "InvalidInputException"
    assert "closed-bucket" in _error(exc)[1]
    arn = _create(personalize, group["group"], [CLICKS], s3DataDestination={"path": f"s3://{BUCKET}/metrics/"})
    output = _describe(personalize, arn)["metricsOutputConfig"]
    assert output == {"roleArn": ROLE_ARN, "s3DataDestination": {"path": f"s3://{BUCKET}/metrics/"}}


def test_lists_page(personalize: Any, group: dict[str, str]) -> None:
    metrics = [{**CLICKS, "metricName": f"M{k}"} for k in range(5)]
    arn = _create(personalize, group["group"], metrics)
    first = personalize.list_metric_attribution_metrics(metricAttributionArn=arn, maxResults=2)
    assert first["metrics"] == metrics[:2] and "nextToken" in first
    pages = personalize.get_paginator("list_metric_attribution_metrics").paginate(
        metricAttributionArn=arn, PaginationConfig={"PageSize": 2}
    )
    assert [m for page in pages for m in page["metrics"]] == metrics
    listed = personalize.list_metric_attributions(datasetGroupArn=group["group"])["metricAttributions"]
    assert [(s["metricAttributionArn"], s["name"], s["status"]) for s in listed] == [(arn, "impact", "ACTIVE")]
    assert set(listed[0]) == {"metricAttributionArn", "name", "status", "creationDateTime", "lastUpdatedDateTime"}
    other = personalize.create_dataset_group(name="other")["datasetGroupArn"]
    assert personalize.list_metric_attributions(datasetGroupArn=other)["metricAttributions"] == []


# ----------------------------------------------------------------------------- the metrics


def test_compute_on_a_planted_frame() -> None:
    campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/top"
    rid = attribution.recommendation_id(campaign)
    events = pd.DataFrame(
        {
            "EVENT_TYPE": ["purchase", "purchase", "purchase", "click", "purchase"],
            "ITEM_ID": ["i03", "i05", "i07", "i05", "i40"],
            "TIMESTAMP": [1800, 1801, 1800 + 900, 1800, 1802],
            "RECOMMENDATION_ID": [rid, rid, rid, rid, None],
            "EVENT_ATTRIBUTION_SOURCE": [None, "partner", None, None, None],
        }
    )
    items = pd.DataFrame({"ITEM_ID": ["i03", "i05", "i07"], "PRICE": [3, 5, 7]})
    rows = attribution.compute(events, [REVENUE], items=items, sources=attribution.sources_of_arns([campaign]))
    assert [(r["EVENT_ATTRIBUTION_SOURCE"], r["TIMESTAMP"], r["VALUE"]) for r in rows] == [
        ("SOURCE_NAME_UNDEFINED", 1800, 0.0),  # i40 has no price
        (campaign, 1800, 3.0),
        (campaign, 2700, 7.0),
        ("partner", 1800, 5.0),  # the event's own source wins over its recommendationId
    ]
    assert {r["MATH_FUNCTION"] for r in rows} == {"sum"}
    assert attribution.compute(events.iloc[:0], [REVENUE], items=items, sources={}) == []


def test_recorded_events_give_exact_sums_and_counts(
    mirror: Any, personalize: Any, runtime: Any, events: Any, s3: Any
) -> None:
    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"])
    campaign = personalize.create_campaign(name="popular", solutionVersionArn=version)["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])["trackingId"]

    def put(items: list[str], event_type: str, **extra: Any) -> None:
        events.put_events(
            trackingId=tracker,
            userId="u01",
            sessionId="s",
            eventList=[{"eventType": event_type, "itemId": i, "sentAt": START + 60, **extra} for i in items],
        )

    put(["i01"], "purchase")  # before the attribution: not reported
    arn = _create(personalize, arns["group"], [CLICKS, REVENUE, VALUE])
    rid = runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=5)["recommendationId"]
    assert rid.startswith("RID-") and len(rid) == 40
    put(["i02", "i04", "i06"], "purchase", recommendationId=rid)
    put(["i10"], "purchase", metricAttribution={"eventAttributionSource": "newsletter"}, recommendationId=rid)
    put(["i03", "i05"], "purchase")
    put(["i07", "i08"], "click", recommendationId=rid, eventValue=2.5)
    put(["i09"], "click")

    rows = attribution.event_metrics(mirror.backend("us-east-1"), arn)
    got = {(r["METRIC_NAME"], r["EVENT_ATTRIBUTION_SOURCE"]): (r["VALUE"], r["MATH_FUNCTION"]) for r in rows}
    undefined = "SOURCE_NAME_UNDEFINED"
    assert got == {
        ("REVENUE", campaign): (float(PRICE["i02"] + PRICE["i04"] + PRICE["i06"]), "sum"),
        ("REVENUE", "newsletter"): (float(PRICE["i10"]), "sum"),
        ("REVENUE", undefined): (float(PRICE["i03"] + PRICE["i05"]), "sum"),
        ("CLICKS", campaign): (2.0, "samplecount"),
        ("CLICKS", undefined): (1.0, "samplecount"),
        ("CLICK_VALUE", campaign): (5.0, "sum"),
        ("CLICK_VALUE", undefined): (0.0, "sum"),  # an event without a value adds nothing
    }
    assert {r["TIMESTAMP"] for r in rows} == {(START + 60) // 900 * 900}


def _expected_from_csv() -> dict[tuple[str, int], float]:
    """Per metric and 15-minute window, the count and value sum of conftest's interactions.csv."""
    expected: dict[tuple[str, int], float] = defaultdict(float)
    for row in csv.DictReader(io.StringIO(interactions_csv())):
        window = int(row["TIMESTAMP"]) // 900 * 900
        expected[("CLICKS", window)] += 1
        expected[("CLICK_VALUE", window)] += float(row["EVENT_VALUE"])
        expected[("ITEM_PRICE", window)] += PRICE[row["ITEM_ID"]]
    return dict(expected)


def test_import_publishes_the_report_to_s3(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    items_job = personalize.create_dataset_import_job(
        jobName="items", datasetArn=arns["ITEMS"], dataSource={"dataLocation": f"s3://{BUCKET}/items.csv"}
    )["datasetImportJobArn"]
    wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=items_job)["datasetImportJob"], TERMINAL
    )
    price = {"eventType": "click", "expression": "SUM(Items.PRICE)", "metricName": "ITEM_PRICE"}
    _create(personalize, arns["group"], [CLICKS, VALUE, price], s3DataDestination={"path": f"s3://{BUCKET}/metrics/"})
    job = personalize.create_dataset_import_job(
        jobName="interactions",
        datasetArn=arns["INTERACTIONS"],
        dataSource={"dataLocation": f"s3://{BUCKET}/interactions.csv"},
        roleArn=ROLE_ARN,
        publishAttributionMetricsToS3=True,
    )["datasetImportJobArn"]
    described = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    assert described["publishAttributionMetricsToS3"] is True
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="metrics/").get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith("metrics/AggregatedAttributionMetrics - FULL - ")
    text = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"].read().decode()
    report = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP"
    got = {(r["METRIC_NAME"], int(r["TIMESTAMP"])): float(r["VALUE"]) for r in report}
    assert got == pytest.approx(_expected_from_csv())
    assert sum(v for (name, _), v in got.items() if name == "CLICKS") == n_interactions()
    assert {r["EVENT_ATTRIBUTION_SOURCE"] for r in report} == {"SOURCE_NAME_UNDEFINED"}


def test_import_without_publishing_writes_nothing(personalize: Any, s3: Any) -> None:
    arns = make_group(personalize)
    _create(personalize, arns["group"], [CLICKS], s3DataDestination={"path": f"s3://{BUCKET}/metrics/"})
    import_data(personalize, arns)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="metrics/").get("KeyCount") == 0


def test_cleanup_deletes_the_attribution_with_its_group(personalize: Any, group: dict[str, str]) -> None:
    import boto3

    from personalize_kit.sdk.cleanup import cleanup

    arn = _create(personalize, group["group"], [CLICKS])
    done = cleanup("shop", session=boto3.Session(region_name="us-east-1"), dry_run=False, sleep=lambda _: None)
    assert ("metric_attribution", arn, "deleted") in done
    assert ("dataset_group", group["group"], "deleted") in done
    assert personalize.list_metric_attributions()["metricAttributions"] == []


def test_imported_rows_are_attributed_to_their_source(personalize: Any, s3: Any) -> None:
    from personalize_kit.data.schemas import FieldSpec, interactions_schema

    schema = interactions_schema(
        extra=[
            FieldSpec("RECOMMENDATION_ID", "string", nullable=True),
            FieldSpec("EVENT_ATTRIBUTION_SOURCE", "string", nullable=True),
        ]
    )
    schema_arn = personalize.create_schema(name="sourced", schema=json.dumps(schema))["schemaArn"]
    group = personalize.create_dataset_group(name="bulk")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name="bulk-interactions", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema_arn
    )["datasetArn"]
    unknown = attribution.recommendation_id("arn:aws:personalize:us-east-1:123456789012:campaign/never-made")
    lines = interactions_csv().splitlines()
    out, expected = [lines[0] + ",RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE"], defaultdict(float)
    for n, line in enumerate(lines[1:]):
        extra = (",,", ",,partner", f",{unknown},")[n % 3]
        out.append(line + extra)
        expected["partner" if n % 3 == 1 else "SOURCE_NAME_UNDEFINED"] += 1
    s3.put_object(Bucket=BUCKET, Key="sourced.csv", Body=("\n".join(out) + "\n").encode())
    _create(personalize, group, [CLICKS], name="bulk-impact", s3DataDestination={"path": f"s3://{BUCKET}/bulk/"})
    job = personalize.create_dataset_import_job(
        jobName="sourced",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{BUCKET}/sourced.csv"},
        roleArn=ROLE_ARN,
        importMode="INCREMENTAL",
        publishAttributionMetricsToS3=True,
    )["datasetImportJobArn"]
    described = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"], TERMINAL
    )
    assert described["status"] == "ACTIVE", described.get("failureReason")
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="bulk/")["Contents"]]
    assert key.startswith("bulk/AggregatedAttributionMetrics - INCREMENTAL - ")
    totals: dict[str, float] = defaultdict(float)
    for row in csv.DictReader(io.StringIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())):
        totals[row["EVENT_ATTRIBUTION_SOURCE"]] += float(row["VALUE"])
    assert dict(totals) == dict(expected)


def test_recorded_events_are_put_to_cloudwatch_while_the_attribution_is_active(
    personalize: Any, runtime: Any, events: Any, s3: Any
) -> None:
    import datetime as dt

    import boto3

    arns = make_group(personalize)
    import_data(personalize, arns)
    version = train(personalize, arns["group"])
    campaign = personalize.create_campaign(name="popular", solutionVersionArn=version)["campaignArn"]
    tracker = personalize.create_event_tracker(name="tracker", datasetGroupArn=arns["group"])["trackingId"]
    arn = _create(personalize, arns["group"], [CLICKS, REVENUE])
    assert _describe(personalize, arn)["status"] == "ACTIVE"
    rid = runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=5)["recommendationId"]
    for items, event_type, extra in (
        (["i02", "i04"], "purchase", {"recommendationId": rid}),
        (["i03"], "purchase", {}),
        (["i07", "i08", "i09"], "click", {"recommendationId": rid}),
    ):
        events.put_events(
            trackingId=tracker,
            userId="u01",
            sessionId="s",
            eventList=[{"eventType": event_type, "itemId": i, "sentAt": START + 60, **extra} for i in items],
        )
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")

    def total(metric: str, source: str, event_type: str) -> float:
        answer = cloudwatch.get_metric_statistics(
            Namespace=attribution.CLOUDWATCH_NAMESPACE,
            MetricName=metric,
            Dimensions=[
                {"Name": "DatasetGroupArn", "Value": arns["group"]},
                {"Name": "EventAttributionSource", "Value": source},
                {"Name": "EventType", "Value": event_type},
            ],
            StartTime=dt.datetime.fromtimestamp(START - 3600, tz=dt.UTC),
            EndTime=dt.datetime.fromtimestamp(START + 3600, tz=dt.UTC),
            Period=900,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in answer["Datapoints"])

    assert total("REVENUE", campaign, "purchase") == PRICE["i02"] + PRICE["i04"]
    assert total("REVENUE", attribution.UNDEFINED_SOURCE, "purchase") == PRICE["i03"]
    assert total("CLICKS", campaign, "click") == 3
    assert total("CLICKS", attribution.UNDEFINED_SOURCE, "click") == 0
