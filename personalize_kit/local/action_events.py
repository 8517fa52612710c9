"""The events API's Next-Best-Action operations (service id ``personalize-events``): PutActions and
PutActionInteractions.

PutActions adds or replaces actions of an Actions dataset, as PutItems does items
(:func:`personalize_kit.local.events._put_records`). PutActionInteractions records interactions into the
Action interactions dataset whose event tracker (the ``trackingId`` that CreateDataset made with the
dataset, shown by DescribeDataset) is named; an interaction's ``eventType`` is ``Taken``, ``Not taken`` or
``Viewed``, and its ``properties`` are camelCase names of the dataset's other schema fields. Both are
records of the mirror's database, committed before the call answers; GetActionRecommendations reads them
at once.
"""

from __future__ import annotations

import json
from typing import Any

from personalize_kit.local import imports, store
from personalize_kit.local.actions import MAX_REPEAT_FREQUENCY_DAYS
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.events import _batch_size, _camel, _number, _put_records
from personalize_kit.local.exceptions import InvalidInputException, ResourceNotFoundException
from personalize_kit.recipes.next_best_action import ACTION_EVENT_TYPES, canonical_event_type

#: Members of an action interaction itself, which its ``properties`` may not repeat.
_MEMBERS = ("userId", "actionId", "sessionId", "eventType", "timestamp", "eventId", "recommendationId", "impression")


def put_actions(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    for action in params["actions"]:
        try:
            properties = json.loads(action.get("properties") or "{}")
        except json.JSONDecodeError:
            continue  # reported by _put_records with the action's id
        days = properties.get("repeatFrequency") if isinstance(properties, dict) else None
        if days is not None and not 1 <= _number(days, "REPEAT_FREQUENCY", "Int64") <= MAX_REPEAT_FREQUENCY_DAYS:
            raise InvalidInputException(
                f"repeatFrequency of action {action['actionId']} must be 1 to {MAX_REPEAT_FREQUENCY_DAYS} days: {days}."
            )
    return _put_records(backend, params, "ACTIONS", "actions", "actionId")


def _tracked_dataset(backend: PersonalizeBackend, tracking_id: str) -> dict[str, Any]:
    resources = backend.read()
    datasets = resources.all("dataset", trackingId=tracking_id, datasetType="ACTION_INTERACTIONS")
    if not datasets:
        raise ResourceNotFoundException(
            f"trackingId {tracking_id} does not belong to any Action interactions dataset: use the trackingId "
            "that DescribeDataset shows for the dataset group's Action interactions dataset."
        )
    datasets[0].require_active()
    dataset = datasets[0].attrs
    schema = json.loads(resources.find(dataset["schemaArn"], "schema").attrs["schema"])
    return {**dataset, "fields": imports.schema_fields(schema)}


def _interaction_row(interaction: dict[str, Any], fields: list[tuple[str, str]]) -> dict[str, Any]:
    if canonical_event_type(interaction["eventType"]) is None:
        raise InvalidInputException(
            f"eventType {interaction['eventType']!r} of action {interaction['actionId']} is not an action event "
            f"type: use {', '.join(ACTION_EVENT_TYPES)}."
        )
    row: dict[str, Any] = {
        "USER_ID": interaction.get("userId") or interaction["sessionId"],
        "ACTION_ID": interaction["actionId"],
        "TIMESTAMP": int(float(interaction["timestamp"])),
        "EVENT_TYPE": interaction["eventType"],
        "SESSION_ID": interaction["sessionId"],
        "EVENT_ID": interaction.get("eventId"),
        "RECOMMENDATION_ID": interaction.get("recommendationId"),
        "IMPRESSION": "|".join(interaction.get("impression") or []) or None,
    }
    try:
        properties = json.loads(interaction.get("properties") or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInputException(
            f"properties of action {interaction['actionId']} are not valid JSON: {exc}."
        ) from exc
    if not isinstance(properties, dict):
        raise InvalidInputException("Action interaction properties must be a JSON object of camelCase field names.")
    by_camel = {_camel(name): (name, dtype) for name, dtype in fields}
    for key, value in properties.items():
        if key in _MEMBERS or key not in by_camel or by_camel[key][0] in row:
            usable = sorted(k for k, (name, _) in by_camel.items() if name not in row)
            raise InvalidInputException(
                f"Action interaction property {key!r} is not a field of the Action interactions schema besides the "
                f"interaction's own members: use one of {', '.join(usable) or 'none'}."
            )
        column, dtype = by_camel[key]
        row[column] = _number(value, column, dtype) if dtype in ("Int64", "Float64") and value is not None else value
    return row


def put_action_interactions(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    """Record action interactions into the Action interactions dataset of the event tracker ``trackingId``."""
    _batch_size("actionInteractions", params["actionInteractions"])
    dataset = _tracked_dataset(backend, params["trackingId"])
    rows = [_interaction_row(interaction, dataset["fields"]) for interaction in params["actionInteractions"]]
    store.append_records(backend.state, dataset["datasetGroupArn"].split("/")[1], "ACTION_INTERACTIONS", rows)
    return {}


OPERATIONS: dict[str, Any] = {"PutActions": put_actions, "PutActionInteractions": put_action_interactions}
