"""Metric attributions at work: which recommendations led to which events, and the reports of the metrics.

A metric attribution (``control/metrics.py``) names up to 10 metrics, each an event type and a function:
``SAMPLECOUNT()`` counts the events of that type, ``SUM(Interactions.COLUMN)`` adds up a numeric column of
the events, ``SUM(Items.COLUMN)`` a numeric column of each event's item in the Items dataset. Each value is
reported per event attribution source and per 15-minute window, as the service reports them:

- the source is the event's own ``eventAttributionSource`` (PutEvents ``metricAttribution``, or the
  ``EVENT_ATTRIBUTION_SOURCE`` column of imported interactions); else the campaign or recommender whose
  answer carried the event's ``recommendationId``; else ``SOURCE_NAME_UNDEFINED``;
- a ``recommendationId`` names its source without any lookup table: the mirror's runtime makes it
  ``RID-<8 hex of sha256(campaign or recommender ARN)>-<random>`` (:func:`recommendation_id`), in the
  service's ``RID-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` form, so serving writes nothing and reporting
  hashes the few campaign and recommender ARNs of the region.

**Bulk data.** When an import job of interactions created with ``publishAttributionMetricsToS3`` finishes,
and the dataset group's metric attribution is ACTIVE with an ``s3DataDestination``, the metrics of the
job's rows are written as one new CSV object under the destination path (checked with the attribution's
role, as the service writes bulk output)::

    <path>/AggregatedAttributionMetrics - <FULL|INCREMENTAL> - <YYYY-MM-DDTHH-MM-SS.mmmZ>.csv

    METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP
    CLICKS,click,12.0,samplecount,arn:aws:personalize:us-east-1:123456789012:campaign/top,1700000100

one row per metric, source and window (``TIMESTAMP``: the window's start, epoch seconds), sorted by metric,
source and window. **Recorded events** (PutEvents) are put to CloudWatch as they are recorded while the
attribution is ACTIVE (:func:`publish_event_metrics`, moto's CloudWatch offline), and can be read back as
report rows (:func:`event_metrics`, the rows above for the events recorded since the attribution was
created); serving never reads them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalize_kit.local import access, store
from personalize_kit.local._moto import internal_client
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.local.ids import new_uuid
from personalize_kit.local.resources import Resources

logger = logging.getLogger(__name__)

#: The service's most metrics per metric attribution.
MAX_METRICS = 10
#: Width of a report's windows, in seconds (the service reports 15-minute intervals).
WINDOW_SECONDS = 900
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
REPORT_COLUMNS = ("METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP")
#: The dataset types a SUM may read (the API's spelling -> the dataset type).
SUM_DATASETS = {"interactions": "INTERACTIONS", "items": "ITEMS"}
_SUM = re.compile(r"\s*SUM\s*\(\s*([A-Za-z]+)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", re.IGNORECASE)
_SAMPLECOUNT = re.compile(r"\s*SAMPLECOUNT\s*\(\s*\)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Expression:
    """A parsed metric expression: ``samplecount``, or ``sum`` of ``column`` of ``dataset_type``."""

    function: str
    dataset_type: str | None = None
    column: str | None = None


def parse_expression(text: str) -> Expression:
    """Parse ``SAMPLECOUNT()`` or ``SUM(DatasetType.COLUMN)`` (DatasetType: Interactions or Items).

    >>> parse_expression("SUM(Items.PRICE)"), parse_expression("SAMPLECOUNT()").function
    (Expression(function='sum', dataset_type='ITEMS', column='PRICE'), 'samplecount')
    """
    if _SAMPLECOUNT.fullmatch(text):
        return Expression("samplecount")
    match = _SUM.fullmatch(text)
    if match is None:
        raise InvalidInputException(
            f"Invalid metric expression {text!r}: use SAMPLECOUNT() or SUM(DatasetType.COLUMN_NAME), "
            "e.g. SUM(Items.PRICE)."
        )
    dataset_type = SUM_DATASETS.get(match.group(1).lower())
    if dataset_type is None:
        raise InvalidInputException(
            f"Invalid metric expression {text!r}: SUM() takes a column of the Interactions or Items dataset, "
            f"not {match.group(1)}."
        )
    return Expression("sum", dataset_type, match.group(2))


# ----------------------------------------------------------------------------- sources


@functools.lru_cache(maxsize=1024)  # every GetRecommendations names its campaign
def _source_key(arn: str) -> str:
    return hashlib.sha256(arn.encode()).hexdigest()[:8]


def recommendation_id(source_arn: str) -> str:
    """A new recommendationId that names the campaign or recommender answering (see the module docstring).

    >>> arn = "arn:aws:personalize:us-east-1:123456789012:campaign/top"
    >>> rid = recommendation_id(arn)
    >>> rid[:4], len(rid), rid[4:12] == _source_key(arn), rid[12] == "-"
    ('RID-', 40, True, True)
    """
    return f"RID-{_source_key(source_arn)}{new_uuid()[8:]}"


def sources_of_arns(arns: list[str]) -> dict[str, str]:
    """``{key in a recommendationId: ARN}`` of campaigns and recommenders."""
    return {_source_key(arn): arn for arn in arns}


def sources_of(backend: PersonalizeBackend) -> dict[str, str]:
    """:func:`sources_of_arns` of the region's campaigns and recommenders."""
    resources = backend.read()
    found = resources.all("campaign", region=backend.region) + resources.all("recommender", region=backend.region)
    return sources_of_arns([resource.arn for resource in found])


def _attributed(frame: pd.DataFrame, sources: dict[str, str]) -> pd.Series:
    """Each event's attribution source (see the module docstring)."""

    def one(own: Any, rid: Any) -> str:
        if isinstance(own, str) and own.strip():
            return own
        if isinstance(rid, str) and rid.startswith("RID-"):
            return sources.get(rid[4:12], UNDEFINED_SOURCE)
        return UNDEFINED_SOURCE

    own = frame["EVENT_ATTRIBUTION_SOURCE"] if "EVENT_ATTRIBUTION_SOURCE" in frame else pd.Series(None, frame.index)
    rid = frame["RECOMMENDATION_ID"] if "RECOMMENDATION_ID" in frame else pd.Series(None, frame.index)
    return pd.Series([one(o, r) for o, r in zip(own.tolist(), rid.tolist(), strict=True)], index=frame.index)


# ----------------------------------------------------------------------------- the metrics


def _values(frame: pd.DataFrame, expression: Expression, items: pd.DataFrame | None) -> pd.Series:
    """What a metric adds up for each event (1 for a sample count; missing values count as nothing)."""
    if expression.function == "samplecount":
        return pd.Series(1.0, index=frame.index)
    if expression.dataset_type == "INTERACTIONS":
        column = frame[expression.column] if expression.column in frame else pd.Series(None, frame.index)
    else:
        if items is None or expression.column not in items:
            return pd.Series(0.0, index=frame.index)
        latest = items.drop_duplicates("ITEM_ID", keep="last")
        lookup = pd.Series(latest[expression.column].to_numpy(), index=latest["ITEM_ID"].astype(str).to_numpy())
        column = frame["ITEM_ID"].astype(str).map(lookup)
    return pd.to_numeric(column, errors="coerce").astype("float64").fillna(0.0)


def compute(
    events: pd.DataFrame, metrics: list[dict[str, str]], *, items: pd.DataFrame | None, sources: dict[str, str]
) -> list[dict[str, Any]]:
    """The report rows (:data:`REPORT_COLUMNS`) of ``metrics`` over ``events`` (a pure function).

    ``events`` has ``EVENT_TYPE``, ``ITEM_ID``, ``TIMESTAMP``, and optionally ``RECOMMENDATION_ID``,
    ``EVENT_ATTRIBUTION_SOURCE`` and the Interactions columns a SUM reads; ``items`` is the Items dataset.
    """
    if events.empty or "EVENT_TYPE" not in events:
        return []  # no event has a type a metric could name
    frame = events.reset_index(drop=True)
    source = _attributed(frame, sources)
    window = pd.to_numeric(frame["TIMESTAMP"]).astype("int64") // WINDOW_SECONDS * WINDOW_SECONDS
    rows = []
    for metric in metrics:
        expression = parse_expression(metric["expression"])
        chosen = frame["EVENT_TYPE"].astype(str) == metric["eventType"]
        if not chosen.any():
            continue
        values = _values(frame[chosen], expression, items)
        table = pd.DataFrame({"source": source[chosen], "window": window[chosen], "value": values})
        for (by, start), value in table.groupby(["source", "window"], sort=True)["value"].sum().items():
            rows.append(
                {
                    "METRIC_NAME": metric["metricName"],
                    "EVENT_TYPE": metric["eventType"],
                    "VALUE": float(value),
                    "MATH_FUNCTION": expression.function,
                    "EVENT_ATTRIBUTION_SOURCE": by,
                    "TIMESTAMP": int(start),
                }
            )
    return rows


def report_csv(rows: list[dict[str, Any]]) -> bytes:
    """The report file's bytes (header :data:`REPORT_COLUMNS`, one line per row)."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(REPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# ----------------------------------------------------------------------------- where the events come from


def _attribution_of(backend: PersonalizeBackend, group_arn: str, resources: Resources | None = None) -> Any:
    found = (resources or backend.read()).all("metric_attribution", datasetGroupArn=group_arn)
    return found[0] if found else None


def _items(backend: PersonalizeBackend, group: str, metrics: list[dict[str, str]]) -> pd.DataFrame | None:
    if not any(parse_expression(m["expression"]).dataset_type == "ITEMS" for m in metrics):
        return None
    return store.read_dataset(backend, group, "ITEMS")


def _recorded_events(backend: PersonalizeBackend, group: str, after_seq: int) -> pd.DataFrame:
    """The events recorded after ``after_seq``, with their properties as columns."""
    rows = backend.state.db.connection().execute(
        "SELECT item_id, ts, event_type, event_value, recommendation_id, properties FROM events "
        "WHERE dataset_group = ? AND seq > ? ORDER BY seq",
        (group, after_seq),
    )
    records = []
    for item, ts, event_type, value, rid, properties in rows:
        record = json.loads(properties) if properties else {}
        record.update(ITEM_ID=item, TIMESTAMP=ts, EVENT_TYPE=event_type, EVENT_VALUE=value, RECOMMENDATION_ID=rid)
        records.append(record)
    return pd.DataFrame(records, columns=None if records else ["ITEM_ID", "TIMESTAMP", "EVENT_TYPE"])


def last_event_seq(conn: Any, group: str) -> int:
    """The newest recorded event of a dataset group (0: none); an attribution reports the events after it."""
    (seq,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE dataset_group = ?", (group,)).fetchone()
    return int(seq)


def event_metrics(backend: PersonalizeBackend, attribution_arn: str) -> list[dict[str, Any]]:
    """The report rows of the events recorded (PutEvents) since the attribution was created.

    >>> from personalize_kit.local import attribution  # doctest: +SKIP
    >>> attribution.event_metrics(mirror.backend("us-east-1"), arn)  # doctest: +SKIP
    [{'METRIC_NAME': 'CLICKS', 'EVENT_TYPE': 'click', 'VALUE': 3.0, ...}]
    """
    found = backend.get(attribution_arn, "metric_attribution")
    group = found.attrs["datasetGroupArn"].split("/")[1]
    metrics = found.attrs["metrics"]
    events = _recorded_events(backend, group, int(found.attrs.get("eventsAfterSeq", 0)))
    return compute(events, metrics, items=_items(backend, group, metrics), sources=sources_of(backend))


#: Where the metrics of recorded events go in CloudWatch. The service publishes them there, but its guide gives
#: neither the namespace nor the dimensions: these are the mirror's (listed in the README's approximations).
CLOUDWATCH_NAMESPACE = "AWS/Personalize"
#: The dimensions of each datum: the dataset group, the attribution source and the event type.
CLOUDWATCH_DIMENSIONS = ("DatasetGroupArn", "EventAttributionSource", "EventType")


def publish_event_metrics(
    backend: PersonalizeBackend, resources: Resources, group_arn: str, rows: list[dict[str, Any]]
) -> int:
    """Put the metrics of events just recorded (PutEvents rows, as stored) to CloudWatch, when the dataset
    group's metric attribution is ACTIVE: one datum per metric, source and 15-minute window (``Sum`` of the
    values; a ``SAMPLECOUNT()`` metric's value is the count). ``resources`` is the view the PutEvents call
    already read (no second read on that path). Returns the number of data put."""
    found = _attribution_of(backend, group_arn, resources)
    if found is None or found.status != "ACTIVE" or not rows:
        return 0
    columns = ("ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "RECOMMENDATION_ID")
    frame = pd.DataFrame(
        [{**(json.loads(row["PROPERTIES"]) if row.get("PROPERTIES") else {}), **{c: row.get(c) for c in columns}}
         for row in rows]
    )  # fmt: skip
    metrics = found.attrs["metrics"]
    group = group_arn.split("/")[1]
    report = compute(frame, metrics, items=_items(backend, group, metrics), sources=sources_of(backend))
    data = [
        {
            "MetricName": row["METRIC_NAME"],
            "Dimensions": [
                {"Name": name, "Value": str(value)}
                for name, value in zip(
                    CLOUDWATCH_DIMENSIONS, (group_arn, row["EVENT_ATTRIBUTION_SOURCE"], row["EVENT_TYPE"]), strict=True
                )
            ],
            "Timestamp": dt.datetime.fromtimestamp(row["TIMESTAMP"], tz=dt.UTC),
            "Value": row["VALUE"],
            "Unit": "Count" if row["MATH_FUNCTION"] == "samplecount" else "None",
        }
        for row in report
    ]
    cloudwatch = internal_client("cloudwatch", backend.region)
    for start in range(0, len(data), 1000):  # the most data one PutMetricData takes
        cloudwatch.put_metric_data(Namespace=CLOUDWATCH_NAMESPACE, MetricData=data[start : start + 1000])
    return len(data)


def publish_import_metrics(backend: PersonalizeBackend, job_arn: str, rows: pd.DataFrame) -> str | None:
    """Write the report of an import job's interactions to the attribution's S3 destination, when the job
    asked for it; the object's URL (None: nothing to publish). Raises InvalidInputException when the
    attribution's role may not write there."""
    resources = backend.read()
    job = resources.find(job_arn, "dataset_import_job").attrs
    dataset = resources.find(job["datasetArn"], "dataset").attrs
    if dataset["datasetType"] != "INTERACTIONS" or not job.get("publishAttributionMetricsToS3"):
        return None
    found = _attribution_of(backend, dataset["datasetGroupArn"])
    output = found.attrs["metricsOutputConfig"] if found is not None and found.status == "ACTIVE" else {}
    destination = output.get("s3DataDestination")
    if destination is None:
        logger.info("import job %s: no ACTIVE metric attribution with an S3 destination to publish to", job_arn)
        return None
    group = dataset["datasetGroupArn"].split("/")[1]
    metrics = found.attrs["metrics"]
    report = compute(rows, metrics, items=_items(backend, group, metrics), sources=sources_of(backend))
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    url = f"{destination['path'].rstrip('/')}/AggregatedAttributionMetrics - {job['importMode']} - {stamp}.csv"
    access.check_s3_access(output["roleArn"], "write", url, backend.region, source_arn=found.arn)
    _put(url, report_csv(report), destination.get("kmsKeyArn"), backend.region)
    return url


def _put(url: str, body: bytes, kms_key: str | None, region: str) -> None:
    from personalize_kit.local._moto import internal_client

    bucket, _, key = url.removeprefix("s3://").partition("/")
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key} if kms_key else {}
    internal_client("s3", region).put_object(Bucket=bucket, Key=key, Body=body, **extra)


__all__ = [
    "MAX_METRICS",
    "REPORT_COLUMNS",
    "UNDEFINED_SOURCE",
    "Expression",
    "compute",
    "event_metrics",
    "last_event_seq",
    "parse_expression",
    "publish_import_metrics",
    "recommendation_id",
    "report_csv",
    "sources_of",
    "sources_of_arns",
]
