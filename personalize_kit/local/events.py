"""The events API (service id ``personalize-events``): PutEvents, PutItems and PutUsers.

Events are stored per dataset group in the state directory and count at once: the runtime passes a user's
newest events to the recipe, filters see them, and the next training includes them. PutItems and
PutUsers add or replace rows of the Items and Users datasets.
"""

from __future__ import annotations

import json
import math
from typing import Any

from personalize_kit.local import imports, store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException

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
    trackers = backend.read().all("event_tracker", trackingId=params["trackingId"])
    if not trackers:
        raise InvalidInputException(f"trackingId {params['trackingId']} does not belong to any event tracker.")
    trackers[0].require_active()
    group = trackers[0].attrs["datasetGroupArn"].split("/")[1]
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
    store.append_events(backend.state, group, rows)
    return {}


def _put_records(
    backend: PersonalizeBackend, params: dict[str, Any], dataset_type: str, key: str, id_field: str
) -> dict[str, Any]:
    records = params[key]
    _batch_size(key, records)
    resources = backend.read()
    found = resources.find(params["datasetArn"], "dataset", status=404)
    found.require_active()
    dataset = found.attrs
    if dataset["datasetType"] != dataset_type:
        raise InvalidInputException(
            f"{params['datasetArn']} is a {dataset['datasetType']} dataset: Put{key.title()} needs a "
            f"{dataset_type} dataset."
        )
    schema = json.loads(resources.find(dataset["schemaArn"], "schema").attrs["schema"])
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
    dtypes = dict(fields)
    for row in rows:
        for column, value in row.items():
            if dtypes.get(column) in ("Int64", "Float64") and value is not None:
                row[column] = _number(value, column, dtypes[column])
            elif dtypes.get(column) == "string" and value is not None:
                row[column] = str(value)
    store.append_records(backend.state, dataset["datasetGroupArn"].split("/")[1], dataset_type, rows)
    return {}


def _number(value: Any, column: str, dtype: str) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputException(
            f"Property {_camel(column)} must be a number for the schema's {column} field: {value!r}."
        ) from exc
    if not math.isfinite(number):
        raise InvalidInputException(f"Property {_camel(column)} must be a finite number: {value!r}.")
    if dtype == "Int64":
        if number != int(number):
            raise InvalidInputException(f"Property {_camel(column)} must be a whole number: {value!r}.")
        return int(number)
    return number


def put_items(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    return _put_records(backend, params, "ITEMS", "items", "itemId")


def put_users(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    return _put_records(backend, params, "USERS", "users", "userId")


OPERATIONS: dict[str, Any] = {"PutEvents": put_events, "PutItems": put_items, "PutUsers": put_users}
