"""The events API (service id ``personalize-events``): PutEvents, PutItems and PutUsers.

Events are stored per dataset group in the state directory and count at once: the runtime passes a user's
newest events to the recipe, filters see them, and the next training includes them. An event's
``properties`` are mapped onto the Interactions schema's fields by their camelCase names (``itemId`` and
``eventValue`` too, as the getting-started notebook sends its click); other fields are kept with the event. PutItems and
PutUsers add or replace rows of the Items and Users datasets.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from personalize_kit.local import attribution, imports, store
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


#: Keys the service refuses in an event's ``properties`` (they are members of the request itself).
RESERVED_PROPERTIES = ("userId", "sessionId", "eventType", "timestamp", "recommendationId", "impression")
_RESERVED_LOWER = frozenset(key.lower() for key in RESERVED_PROPERTIES)


def _interaction_fields(resources: Any, group_arn: str) -> dict[str, tuple[str, str]]:
    """``{camelCase key: (field, dtype)}`` of the group's Interactions schema (without one: the standard fields)."""
    datasets = resources.all("dataset", datasetGroupArn=group_arn, datasetType="INTERACTIONS")
    schema = resources.find(datasets[0].attrs["schemaArn"], "schema").attrs["schema"] if datasets else None
    return _fields_by_key(schema)


@functools.lru_cache(maxsize=256)  # every PutEvents call reads its dataset group's schema
def _fields_by_key(schema_text: str | None) -> dict[str, tuple[str, str]]:
    """:func:`_interaction_fields` of a schema's JSON text (``None``: no schema). Do not modify the answer."""
    if schema_text is not None:
        fields = imports.schema_fields(json.loads(schema_text))
    else:
        fields = [(name, "string") for name in store.INTERACTION_COLUMNS]
    return {_camel(name): (name, dtype) for name, dtype in fields}


def _event_row(event: dict[str, Any], fields: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The stored row of one event: its members, then its ``properties`` mapped onto the schema's fields."""
    row: dict[str, Any] = {"ITEM_ID": event.get("itemId"), "EVENT_VALUE": event.get("eventValue")}
    extra: dict[str, Any] = {}
    try:
        properties = json.loads(event["properties"]) if event.get("properties") else {}
    except json.JSONDecodeError as exc:
        raise InvalidInputException(f"Event properties are not valid JSON: {exc}.") from exc
    if not isinstance(properties, dict):
        raise InvalidInputException("Event properties must be a JSON object of camelCase schema field names.")
    for key, value in properties.items():
        if key.lower() in _RESERVED_LOWER:
            raise InvalidInputException(f"Event property {key!r} is not allowed: send it as the request's {key}.")
        if key not in fields:
            usable = sorted(set(fields) - {"userId", "timestamp", "eventType"})
            raise InvalidInputException(
                f"Event property {key!r} is not a field of the Interactions schema: use one of {', '.join(usable)}."
            )
        column, dtype = fields[key]
        if dtype in ("Int64", "Float64") and value is not None:
            value = _number(value, column, dtype)
        if column in ("ITEM_ID", "EVENT_VALUE"):
            if row[column] is not None and str(row[column]) != str(value):
                raise InvalidInputException(f"Event property {key!r} differs from the event's own {key}.")
            row[column] = str(value) if column == "ITEM_ID" else value
        else:
            extra[column] = value
    source = (event.get("metricAttribution") or {}).get("eventAttributionSource")
    if source:  # what a metric attribution reports the event under (see local/attribution.py)
        extra["EVENT_ATTRIBUTION_SOURCE"] = source
    row["PROPERTIES"] = json.dumps(extra, sort_keys=True) if extra else None
    return row


def put_events(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    """Record events; ``properties`` (camelCase keys of the Interactions schema, ``itemId`` included) are mapped
    onto the schema's fields, and ``impression`` is kept."""
    _batch_size("eventList", params["eventList"])
    resources = backend.read()
    trackers = resources.all("event_tracker", trackingId=params["trackingId"])
    if not trackers:
        raise InvalidInputException(f"trackingId {params['trackingId']} does not belong to any event tracker.")
    trackers[0].require_active()
    group_arn = trackers[0].attrs["datasetGroupArn"]
    fields = _interaction_fields(resources, group_arn)
    user = params.get("userId") or params["sessionId"]
    rows = []
    for event in params["eventList"]:
        rows.append(
            {
                **_event_row(event, fields),
                "USER_ID": user,
                "TIMESTAMP": int(float(event["sentAt"])),
                "EVENT_TYPE": event["eventType"],
                "SESSION_ID": params["sessionId"],
                "EVENT_ID": event.get("eventId"),
                "RECOMMENDATION_ID": event.get("recommendationId"),
                "IMPRESSION": "|".join(event.get("impression") or []) or None,
            }
        )
    store.append_events(backend.state, group_arn.split("/")[1], rows)
    attribution.publish_event_metrics(backend, resources, group_arn, rows)
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
    id_column = store.ID_COLUMN[dataset_type]
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
