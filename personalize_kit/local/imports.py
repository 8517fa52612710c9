"""Dataset import jobs: copy a CSV from S3 into the mirror's store, checked as the service checks it.

The rows are read from S3 (moto) at import time, checked against the dataset's schema and the data
rules of :mod:`personalize_kit.data.validate`, and written to ``data/<dataset-group>/<TYPE>.parquet``.
A job whose data breaks a rule ends ``CREATE FAILED`` with a ``failureReason`` naming the first problems.
The job runs in a thread of the process that created it (:func:`personalize_kit.local.lifecycle.run_job`).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pandas as pd

from personalize_kit.data.schemas import ACTION_DATASET_TYPES
from personalize_kit.local import access, actions, attribution, store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException

#: How many problems a failureReason names.
PROBLEMS_IN_REASON = 3

_AVRO_DTYPES = {
    "string": "string",
    "int": "Int64",
    "long": "Int64",
    "float": "Float64",
    "double": "Float64",
    "boolean": "boolean",
}


#: Problems the service reports at training time rather than at import (see training.MIN_USERS).
_CHECKED_AT_TRAINING = {"too-few-users"}


def schema_problems(schema: str | dict[str, Any], dataset_type: str | None = None) -> list[str]:
    """One line per blocking problem of an Avro schema (JSON text or dict), for a dataset type when given.

    >>> schema_problems('{"type": "record", "name": "Interactions"}')
    ["schema fields: 'fields' must be a non-empty list of fields."]
    """
    from personalize_kit.data.validate import validate_schema

    return [str(p) for p in validate_schema(schema, dataset_type) if p.severity == "error"]


def in_schema_order(payload: bytes, schema: dict) -> bytes:
    """The CSV with its columns in the schema's order, when its header names exactly the schema's fields in
    another order (the service matches columns by header name); otherwise the CSV unchanged.

    >>> schema = {"fields": [{"name": "USER_ID", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]}
    >>> in_schema_order(b"TIMESTAMP,USER_ID\\n1700000000,u1\\n", schema)
    b'USER_ID,TIMESTAMP\\nu1,1700000000\\n'
    """
    expected = [name for name, _ in schema_fields(schema)]
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        return payload  # the data checks report the encoding
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return payload
    header = [column.strip() for column in rows[0]]
    if header == expected or sorted(header) != sorted(expected) or len(set(header)) != len(header):
        return payload
    order = [header.index(name) for name in expected]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(expected)
    writer.writerows([row[i] if i < len(row) else "" for i in order] if row else row for row in rows[1:])
    return out.getvalue().encode("utf-8")


def data_problems(payload: bytes, schema: dict, dataset_type: str, file_name: str) -> list[str]:
    """One line per blocking problem of a CSV for a dataset (``file:line field: message``); give it the CSV
    :func:`in_schema_order`."""
    from personalize_kit.data.validate import validate_dataset

    report = validate_dataset(io.BytesIO(payload), schema, dataset_type, file_name=file_name)
    return [str(p) for p in report.errors if p.code not in _CHECKED_AT_TRAINING]


def schema_fields(schema: dict) -> list[tuple[str, str]]:
    """``(name, pandas dtype)`` of each field of an Avro schema, in order."""
    fields = []
    for field in schema["fields"]:
        kind = field["type"]
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        fields.append((field["name"], _AVRO_DTYPES.get(kind, "string")))
    return fields


def read_csv(payload: bytes, schema: dict) -> pd.DataFrame:
    """Parse a CSV with the schema's columns and types (raises ``ValueError`` on a mismatch)."""
    fields = schema_fields(schema)
    frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False, na_values=[""])
    missing = [name for name, _ in fields if name not in frame.columns]
    if missing:
        raise ValueError(f"the header has no column {', '.join(missing)} that the schema declares")
    out = pd.DataFrame(index=frame.index)
    for name, dtype in fields:
        column = frame[name]
        if dtype in ("Int64", "Float64"):
            column = pd.to_numeric(column, errors="raise")
            out[name] = column.round().astype("Int64") if dtype == "Int64" else column.astype("Float64")
        elif dtype == "boolean":
            out[name] = column.str.lower().map({"true": True, "false": False}).astype("boolean")
        else:
            out[name] = column.astype("string")
    return out


def _read_s3(location: str, region: str) -> list[tuple[str, bytes]]:
    """``(s3 url, bytes)`` of the object at ``location``, or of every CSV under it when it ends in ``/``."""
    from personalize_kit.local._moto import internal_client

    s3 = internal_client("s3", region)
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if key and not key.endswith("/"):
        return [(location, s3.get_object(Bucket=bucket, Key=key)["Body"].read())]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
    keys = sorted(obj["Key"] for obj in listing if obj["Key"].endswith(".csv"))
    return [(f"s3://{bucket}/{k}", s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def run_import_job(backend: PersonalizeBackend, job_arn: str) -> str | None:
    """Import the job's data (run by :func:`~personalize_kit.local.lifecycle.run_job`); the failure reason,
    or None once the rows are stored."""
    resources = backend.read()
    job = resources.find(job_arn, "dataset_import_job").attrs
    dataset = resources.find(job["datasetArn"], "dataset").attrs
    schema = json.loads(resources.find(dataset["schemaArn"], "schema").attrs["schema"])
    location = job["dataSource"]["dataLocation"]
    dataset_type = dataset["datasetType"]
    group = dataset["datasetGroupArn"].split("/")[1]
    try:
        if job.get("roleArn"):
            try:
                access.check_s3_access(job["roleArn"], "read", location, backend.region, source_arn=job_arn)
            except InvalidInputException as exc:
                raise ImportFailed(exc.message) from exc
        objects = fetch(location, backend.region)
        frames = []
        problems: list[str] = []
        for url, raw in objects:
            payload = in_schema_order(raw, schema)  # columns are matched by header name, in any order
            problems += data_problems(payload, schema, dataset_type, url.rsplit("/", 1)[-1])
            if not problems:
                frame = read_csv(payload, schema)
                if dataset_type in ACTION_DATASET_TYPES:
                    problems += actions.import_problems(frame, dataset_type, url.rsplit("/", 1)[-1])
                frames.append(frame)
        if problems:
            more = len(problems) - PROBLEMS_IN_REASON
            reason = "Input data is not valid: " + "; ".join(problems[:PROBLEMS_IN_REASON])
            raise ImportFailed(reason + (f" (and {more} more problems)" if more > 0 else ""))
        new = pd.concat(frames, ignore_index=True)
        try:  # the metric attribution's report of these rows, when the job asked for one
            attribution.publish_import_metrics(backend, job_arn, new)
        except InvalidInputException as exc:
            raise ImportFailed(f"Metrics could not be published: {exc.message}") from exc
    except ImportFailed as exc:
        return str(exc)
    except ValueError as exc:
        return f"Input data at {location} could not be read: {exc}."
    with backend.db.write():  # one import at a time rewrites a dataset's file
        old = None if job["importMode"] == "FULL" else store.read_imported(backend.state, group, dataset_type)
        store.write_imported(backend.state, group, dataset_type, store.merge_rows(old, new, dataset_type))
    return None


class ImportFailed(Exception):
    """The data of a job cannot be used; the message is the job's failureReason."""


def fetch(location: str, region: str) -> list[tuple[str, bytes]]:
    from botocore.exceptions import ClientError

    if not location.startswith("s3://"):
        raise ImportFailed(f"The local mirror reads data from s3:// locations only, not {location}.")
    try:
        objects = _read_s3(location, region)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ImportFailed(f"Failed to read the input data at {location} from Amazon S3 ({code}).") from exc
    if not objects:
        raise ImportFailed(f"No CSV file found at {location}.")
    return objects
