from __future__ import annotations

import json

import pytest

from personalize_kit.data.schemas import (
    FieldSpec,
    interactions_schema,
    make_schema,
    schema_fields,
    validate_schema,
)


def codes(problems, severity="error"):
    return sorted((p.code, p.field) for p in problems if p.severity == severity)


def test_built_schemas_are_valid_and_round_trip():
    schema = interactions_schema(extra=[FieldSpec("DEVICE", "string", nullable=True, categorical=True)])
    assert schema["name"] == "Interactions"
    assert schema["namespace"] == "com.amazonaws.personalize.schema"
    assert schema["fields"][4] == {"name": "EVENT_VALUE", "type": ["null", "float"]}
    assert schema["fields"][5] == {"name": "DEVICE", "type": ["null", "string"], "categorical": True}
    assert validate_schema(schema) == []
    assert [f.name for f in schema_fields(schema)] == [
        "USER_ID",
        "ITEM_ID",
        "TIMESTAMP",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "DEVICE",
    ]
    assert schema_fields(schema)[5] == FieldSpec("DEVICE", "string", True, True)


def items(*fields):
    return make_schema("ITEMS", [FieldSpec("ITEM_ID", "string"), *fields])


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (items(), [("too-few-metadata-fields", None)]),
        (
            items(FieldSpec("GENRES_FIELD_1", "string", categorical=True), FieldSpec("GENRESFIELD1", "int")),
            [("field-name-clash", "GENRESFIELD1")],
        ),
        (items(FieldSpec("PRICE", "float", categorical=True)), [("field-categorical-type", "PRICE")]),
        (
            items(FieldSpec("A", "string", textual=True), FieldSpec("B", "string", textual=True)),
            [("too-many-textual-fields", None)],
        ),
        (
            items(FieldSpec("CREATION_TIMESTAMP", "string", categorical=True)),
            [("field-reserved-type", "CREATION_TIMESTAMP")],
        ),
        (
            make_schema("USERS", [FieldSpec("USER_ID", "string"), FieldSpec("BIO", "string", textual=True)]),
            [("field-textual", "BIO")],
        ),
        (
            make_schema("USERS", [FieldSpec("USER_ID", "string")] + [FieldSpec(f"F{k}", "int") for k in range(26)]),
            [("too-many-metadata-fields", None)],
        ),
        (
            interactions_schema(extra=[FieldSpec(f"X{k}", "int") for k in range(6)]),
            [("too-many-metadata-fields", None)],
        ),
        (
            make_schema("INTERACTIONS", [FieldSpec("USER_ID", "string"), FieldSpec("TIMESTAMP", "int")]),
            [("field-required-missing", "ITEM_ID"), ("field-required-type", "TIMESTAMP")],
        ),
        (
            interactions_schema(event_type=False, extra=[FieldSpec("EVENT_TYPE", "string", categorical=True)]),
            [("field-reserved-categorical", "EVENT_TYPE")],
        ),
    ],
)
def test_schema_rules(schema, expected):
    assert codes(validate_schema(schema)) == sorted(expected)


def test_nested_and_complex_types_are_refused():
    schema = items(FieldSpec("GENRES", "string", categorical=True))
    schema["fields"].append({"name": "NESTED", "type": {"type": "record", "name": "x", "fields": []}})
    schema["fields"].append({"name": "TAGS", "type": {"type": "array", "items": "string"}})
    schema["fields"].append({"name": "EITHER", "type": ["int", "string"]})
    problems = validate_schema(schema)
    assert codes(problems) == [("field-type", "EITHER"), ("field-type", "NESTED"), ("field-type", "TAGS")]
    assert "schemas are flat" in problems[0].message


def test_record_name_must_match_the_dataset_type():
    schema = interactions_schema()
    problems = validate_schema(schema, "ITEMS")
    assert ("schema-name", "name") in codes(problems)
    schema["name"] = "Ratings"
    assert codes(validate_schema(schema)) == [("schema-name", "name")]


def test_schema_text_length_and_json():
    too_long = json.dumps(interactions_schema()) + " " * 20_000
    assert codes(validate_schema(too_long)) == [("schema-too-long", None)]
    assert codes(validate_schema("{not json")) == [("schema-not-json", None)]


def test_plain_string_metadata_is_a_warning():
    schema = items(FieldSpec("TITLE", "string"))
    assert codes(validate_schema(schema), "warning") == [("field-unused-string", "TITLE")]
    assert codes(validate_schema(schema)) == []
