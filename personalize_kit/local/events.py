"""The events API (service id ``personalize-events``): PutEvents, PutItems and PutUsers.

Events are stored per dataset group in the state directory and count at once: the runtime passes a user's
newest events to the recipe, filters see them, and the next training includes them. PutItems and
PutUsers add or replace rows of the Items and Users datasets.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from personalize_kit.local import imports, store
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.local.models import Operation, PersonalizeBackend

MAX_RECORDS = 10


def _camel(field: str) -> str:
    """``CREATION_TIMESTAMP`` -> ``creationTimestamp`` (how the events API spells schema fields)."""
    head, *rest = field.lower().split("_")
    return head + "".join(part.title() for part in rest)


def _batch_size(name: str, records: list) -> None:
    if len(records) > MAX_RECORDS:
        raise InvalidInputException(f"{name} must have at most {MAX_RECORDS} entries: {len(records)} were given.")


def put_events(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    _batch_size("eventList", params["eventList"])
    state = backend.state()
    trackers = [r for r in backend.records(state, "event_tracker") if r["attrs"]["trackingId"] == params["trackingId"]]
    if not trackers:
        raise InvalidInputException(f"trackingId {params['trackingId']} does not belong to any event tracker.")
    group = trackers[0]["attrs"]["datasetGroupArn"].split("/")[1]
    user = params.get("userId") or params["sessionId"]
    rows = []
    for event in params["eventList"]:
        if event.get("properties"):
            try:
                json.loads(event["properties"])
            except json.JSONDecodeError as exc:
                raise InvalidInputException(f"Event properties are not valid JSON: {exc}.") from exc
        rows.append(
            {
                "USER_ID": user,
                "ITEM_ID": event.get("itemId"),
                "TIMESTAMP": int(float(event["sentAt"])),
                "EVENT_TYPE": event["eventType"],
                "EVENT_VALUE": event.get("eventValue"),
                "SESSION_ID": params["sessionId"],
                "EVENT_ID": event.get("eventId"),
                "RECOMMENDATION_ID": event.get("recommendationId"),
                "IMPRESSION": "|".join(event.get("impression") or []) or None,
                "PROPERTIES": event.get("properties"),
            }
        )
    store.append_events(backend.store, group, rows)
    return {}


def _put_records(
    backend: PersonalizeBackend, params: dict[str, Any], dataset_type: str, key: str, id_field: str
) -> dict[str, Any]:
    records = params[key]
    _batch_size(key, records)
    state = backend.state()
    dataset = backend.find(state, params["datasetArn"], "dataset", status=404)["attrs"]
    if dataset["datasetType"] != dataset_type:
        raise InvalidInputException(
            f"{params['datasetArn']} is a {dataset['datasetType']} dataset: Put{key.title()} needs a "
            f"{dataset_type} dataset."
        )
    schema = json.loads(backend.find(state, dataset["schemaArn"], "schema")["attrs"]["schema"])
    fields = imports.schema_fields(schema)
    by_camel = {_camel(name): name for name, _ in fields}
    id_column = "ITEM_ID" if dataset_type == "ITEMS" else "USER_ID"
    rows = []
    for record in records:
        row: dict[str, Any] = {id_column: record[id_field]}
        try:
            properties = json.loads(record.get("properties") or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidInputException(f"properties of {record[id_field]} are not valid JSON: {exc}.") from exc
        for name, value in properties.items():
            column = by_camel.get(name) or (name if name in dict(fields) else None)
            if column is None or column == id_column:
                raise InvalidInputException(
                    f"Property {name!r} of {record[id_field]} is not a field of the schema: use one of "
                    f"{', '.join(sorted(set(by_camel) - {_camel(id_column)}))}."
                )
            row[column] = value
        rows.append(row)
    new = pd.DataFrame(rows)
    dtypes = dict(fields)
    for column in new.columns:
        if dtypes.get(column) in ("Int64", "Float64"):
            try:
                new[column] = pd.to_numeric(new[column]).astype(dtypes[column])
            except (ValueError, TypeError) as exc:
                raise InvalidInputException(
                    f"Property {_camel(column)} must be a number for the schema's {column} field: {exc}."
                ) from exc
        elif dtypes.get(column) == "string":
            new[column] = new[column].astype("string")
    group = dataset["datasetGroupArn"].split("/")[1]
    with backend.store.lock():
        old = store.read_dataset(backend.store, group, dataset_type)
        if old is not None:
            new = new.reindex(columns=list(old.columns))
            new = new.astype({c: old[c].dtype for c in old.columns}, errors="ignore")
        store.write_dataset(backend.store, group, dataset_type, store.merge_rows(old, new, dataset_type))
    return {}


def put_items(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    return _put_records(backend, params, "ITEMS", "items", "itemId")


def put_users(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    return _put_records(backend, params, "USERS", "users", "userId")


OPERATIONS: dict[str, Operation] = {"PutEvents": put_events, "PutItems": put_items, "PutUsers": put_users}
