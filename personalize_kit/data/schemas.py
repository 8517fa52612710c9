"""Avro schemas for Amazon Personalize datasets: building them, reading them back and checking the service's rules.

>>> schema = interactions_schema()
>>> [f["name"] for f in schema["fields"]]
['USER_ID', 'ITEM_ID', 'TIMESTAMP', 'EVENT_TYPE', 'EVENT_VALUE']
>>> validate_schema(schema, "INTERACTIONS")
[]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personalize_kit.data.report import Problem

NAMESPACE = "com.amazonaws.personalize.schema"
#: The dataset types of a prepared directory (the item recommendation datasets).
DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS")
#: The Next-Best-Action datasets (custom dataset groups only).
ACTION_DATASET_TYPES = ("ACTIONS", "ACTION_INTERACTIONS")
#: Every dataset type the service takes (CreateDataset's ``datasetType``, upper-cased).
ALL_DATASET_TYPES = DATASET_TYPES + ACTION_DATASET_TYPES
RECORD_NAMES = {
    "INTERACTIONS": "Interactions",
    "ITEMS": "Items",
    "USERS": "Users",
    "ACTIONS": "Actions",
    "ACTION_INTERACTIONS": "ActionInteractions",
}
#: The file name of each dataset's CSV in a prepared directory, and of its schema under ``schemas/``.
CSV_NAMES = {"INTERACTIONS": "interaction.csv", "ITEMS": "item-meta.csv", "USERS": "user-meta.csv"}
SCHEMA_NAMES = {"INTERACTIONS": "interactions.json", "ITEMS": "items.json", "USERS": "users.json"}

ALLOWED_TYPES = ("float", "double", "int", "long", "string", "boolean")
MAX_SCHEMA_CHARS = 20_000

#: Required fields and their types, per dataset type.
REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    "INTERACTIONS": {"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "long"},
    "ITEMS": {"ITEM_ID": "string"},
    "USERS": {"USER_ID": "string"},
    "ACTIONS": {"ACTION_ID": "string"},
    "ACTION_INTERACTIONS": {"USER_ID": "string", "ACTION_ID": "string", "TIMESTAMP": "long", "EVENT_TYPE": "string"},
}
#: Reserved optional fields: allowed types, and whether the field must (True) or must not (False) be categorical.
RESERVED_FIELDS: dict[str, dict[str, tuple[tuple[str, ...], bool | None]]] = {
    "INTERACTIONS": {
        "EVENT_TYPE": (("string",), False),
        "EVENT_VALUE": (("float", "double"), None),
        "IMPRESSION": (("string",), False),
        "RECOMMENDATION_ID": (("string",), False),
        "EVENT_ATTRIBUTION_SOURCE": (("string",), False),
    },
    "ITEMS": {"CREATION_TIMESTAMP": (("long",), None)},
    "USERS": {},
    "ACTIONS": {
        "VALUE": (("long", "int", "float", "double"), None),
        "CREATION_TIMESTAMP": (("long",), None),
        "EXPIRATION_TIMESTAMP": (("long",), None),
        "REPEAT_FREQUENCY": (("int", "long"), None),
        "ACTION_OPTIN": (("string",), None),
    },
    "ACTION_INTERACTIONS": {
        "IMPRESSION": (("string",), False),
        "RECOMMENDATION_ID": (("string",), False),
    },
}
#: Bounds on metadata fields (fields that are neither required nor reserved; for Items and Actions the
#: reserved fields count as metadata). An Actions schema has at most 10 columns, ACTION_ID included.
METADATA_LIMITS = {
    "INTERACTIONS": (0, 5),
    "ITEMS": (1, 100),
    "USERS": (1, 25),
    "ACTIONS": (1, 9),
    "ACTION_INTERACTIONS": (0, 5),
}
#: Dataset types whose reserved fields are metadata of the record (not of an interaction).
_RESERVED_AS_METADATA = ("ITEMS", "ACTIONS")
#: Keywords that may not appear as values in the data (the reserved field names).
RESERVED_KEYWORDS = frozenset(
    name for kind in DATASET_TYPES for name in (*REQUIRED_FIELDS[kind], *RESERVED_FIELDS[kind])
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class FieldSpec:
    """One schema field. ``type`` is an Avro primitive; ``nullable`` makes it ``["null", type]``."""

    name: str
    type: str
    nullable: bool = False
    categorical: bool = False
    textual: bool = False

    def to_avro(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": ["null", self.type] if self.nullable else self.type}
        if self.categorical:
            out["categorical"] = True
        if self.textual:
            out["textual"] = True
        return out


def make_schema(dataset_type: str, fields: Sequence[FieldSpec]) -> dict[str, Any]:
    """The Avro schema (as a dict) of a dataset with the given fields, in the given (CSV column) order."""
    if dataset_type not in RECORD_NAMES:
        raise ValueError(f"dataset_type must be one of {', '.join(ALL_DATASET_TYPES)}, not {dataset_type!r}")
    return {
        "type": "record",
        "name": RECORD_NAMES[dataset_type],
        "namespace": NAMESPACE,
        "fields": [f.to_avro() for f in fields],
        "version": "1.0",
    }


def interactions_schema(
    *, event_type: bool = True, event_value: bool = True, extra: Sequence[FieldSpec] = ()
) -> dict[str, Any]:
    """The Interactions schema: USER_ID, ITEM_ID, TIMESTAMP, then EVENT_TYPE / EVENT_VALUE and any extra fields."""
    fields = [FieldSpec("USER_ID", "string"), FieldSpec("ITEM_ID", "string"), FieldSpec("TIMESTAMP", "long")]
    if event_type:
        fields.append(FieldSpec("EVENT_TYPE", "string"))
    if event_value:
        fields.append(FieldSpec("EVENT_VALUE", "float", nullable=True))
    return make_schema("INTERACTIONS", [*fields, *extra])


def schema_fields(schema: dict[str, Any]) -> list[FieldSpec]:
    """Read the fields of a (valid) schema back as :class:`FieldSpec` objects."""
    out = []
    for f in schema["fields"]:
        kind = f["type"]
        nullable = isinstance(kind, list)
        if nullable:
            kind = next(t for t in kind if t != "null")
        out.append(FieldSpec(f["name"], kind, nullable, bool(f.get("categorical")), bool(f.get("textual"))))
    return out


def load_schema(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_schema(schema: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


def dataset_type_of(schema: dict[str, Any]) -> str | None:
    """The dataset type a schema's record name declares, or None."""
    name = schema.get("name") if isinstance(schema, dict) else None
    return {v: k for k, v in RECORD_NAMES.items()}.get(name) if isinstance(name, str) else None


def validate_schema(
    schema: dict[str, Any] | str, dataset_type: str | None = None, *, file: str = "schema"
) -> list[Problem]:
    """Check a schema against Amazon Personalize's schema rules; return the problems (empty when valid).

    ``schema`` may be the JSON text (then its length is checked too). ``dataset_type`` defaults to the one
    the record name declares.
    """
    problems: list[Problem] = []

    def err(code: str, message: str, fld: str | None = None, severity: str = "error") -> None:
        problems.append(Problem(severity, file, None, fld, code, message))  # type: ignore[arg-type]

    if isinstance(schema, str):
        if len(schema) > MAX_SCHEMA_CHARS:
            err(
                "schema-too-long",
                f"the schema is {len(schema):,} characters; the limit is {MAX_SCHEMA_CHARS:,}.",
            )
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            err("schema-not-json", f"the schema is not valid JSON ({exc.msg} at line {exc.lineno}).")
            return problems
    if not isinstance(schema, dict):
        err("schema-not-record", "the schema must be a JSON object with type 'record'.")
        return problems
    if schema.get("type") != "record":
        err("schema-not-record", f"'type' must be \"record\", not {schema.get('type')!r}.", "type")
    declared = dataset_type_of(schema)
    dataset_type = dataset_type or declared
    if dataset_type is None:
        err(
            "schema-name",
            f"'name' must be one of {', '.join(RECORD_NAMES.values())} (it names the dataset type), "
            f"not {schema.get('name')!r}.",
            "name",
        )
        return problems
    if declared != dataset_type:
        err(
            "schema-name",
            f"'name' must be \"{RECORD_NAMES[dataset_type]}\" for a {dataset_type} dataset, "
            f"not {schema.get('name')!r}.",
            "name",
        )
    if schema.get("namespace") != NAMESPACE:
        err(
            "schema-namespace",
            f"'namespace' should be \"{NAMESPACE}\", not {schema.get('namespace')!r}.",
            "namespace",
            "warning",
        )
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        err("schema-no-fields", "'fields' must be a non-empty list of fields.", "fields")
        return problems

    required = REQUIRED_FIELDS[dataset_type]
    reserved = RESERVED_FIELDS[dataset_type]
    seen: dict[str, str] = {}
    metadata: list[str] = []
    textual: list[str] = []
    for position, f in enumerate(fields, start=1):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            err("field-malformed", f"field {position} must be an object with a string 'name' and a 'type'.")
            continue
        name = f["name"]
        if not _NAME.match(name):
            err(
                "field-name",
                "field names must start with a letter or '_' and hold only letters, digits, '_'.",
                name,
            )
        folded = name.replace("_", "").upper()
        if folded in seen:
            err(
                "field-name-clash",
                f"'{name}' clashes with '{seen[folded]}': names must differ ignoring '_' and case. Rename one.",
                name,
            )
        seen.setdefault(folded, name)
        kind = f.get("type")
        base: str | None
        if isinstance(kind, str):
            base, nullable = kind, False
        elif isinstance(kind, list) and len(kind) == 2 and "null" in kind and all(isinstance(t, str) for t in kind):
            base, nullable = next(t for t in kind if t != "null"), True
        else:
            err(
                "field-type",
                f"type {json.dumps(kind)} is not allowed: schemas are flat; use one of {', '.join(ALLOWED_TYPES)} "
                'or a nullable union like ["null", "string"].',
                name,
            )
            continue
        if base not in ALLOWED_TYPES:
            err("field-type", f"type {base!r} is not allowed; use one of {', '.join(ALLOWED_TYPES)}.", name)
            continue
        categorical, is_textual = bool(f.get("categorical")), bool(f.get("textual"))
        if (categorical or is_textual) and base != "string":
            err("field-categorical-type", "only string fields can be categorical or textual.", name)
        if is_textual and dataset_type != "ITEMS":
            err("field-textual", "only Items schemas can have a textual field.", name)
        if categorical and is_textual:
            err("field-categorical-textual", "a field cannot be both categorical and textual.", name)
        if name in required:
            if base != required[name] or nullable:
                err("field-required-type", f'{name} is required and must have type "{required[name]}".', name)
        elif name in reserved:
            types, must_be_categorical = reserved[name]
            if base not in types:
                err(
                    "field-reserved-type",
                    f"{name} is reserved and must have type {' or '.join(types)}.",
                    name,
                )
            if must_be_categorical is False and categorical:
                err("field-reserved-categorical", f"{name} is reserved and cannot be categorical.", name)
            if dataset_type in _RESERVED_AS_METADATA:  # CREATION_TIMESTAMP is item metadata
                metadata.append(name)
        else:
            metadata.append(name)
            if is_textual:
                textual.append(name)
            if base == "string" and not categorical and not is_textual:
                err(
                    "field-unused-string",
                    'string metadata is used in training only with "categorical": true'
                    + (' or "textual": true' if dataset_type == "ITEMS" else "")
                    + "; add the attribute or drop the field.",
                    name,
                    "warning",
                )
    for name, kind in required.items():
        if name not in seen.values():
            err("field-required-missing", f"the required field {name} ({kind}) is missing; add it.", name)
    low, high = METADATA_LIMITS[dataset_type]
    if len(metadata) < low:
        err(
            "too-few-metadata-fields",
            f"a {dataset_type} schema needs at least {low} metadata field besides "
            f"{', '.join(required)}; add one (e.g. GENRES as a categorical string).",
        )
    if len(metadata) > high:
        err(
            "too-many-metadata-fields",
            f"{len(metadata)} metadata fields; a {dataset_type} schema allows at most {high}. Drop some.",
        )
    if len(textual) > 1:
        err("too-many-textual-fields", f"at most one textual field is allowed; found {', '.join(textual)}.")
    return problems


#: Fields a domain dataset group's schemas must have beyond the custom ones, by ``(domain, dataset type)``
#: (the developer guide's default domain schemas): VIDEO_ON_DEMAND items need GENRES, ECOMMERCE items PRICE
#: and CATEGORY_L1, and every domain's interactions EVENT_TYPE.
DOMAIN_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("VIDEO_ON_DEMAND", "INTERACTIONS"): ("EVENT_TYPE",),
    ("VIDEO_ON_DEMAND", "ITEMS"): ("GENRES",),
    ("ECOMMERCE", "INTERACTIONS"): ("EVENT_TYPE",),
    ("ECOMMERCE", "ITEMS"): ("PRICE", "CATEGORY_L1"),
}


def domain_missing(schema: dict[str, Any], domain: str) -> list[str]:
    """The fields ``schema`` lacks to be a schema of ``domain`` (empty: it can be created with that domain).

    >>> domain_missing(make_schema("ITEMS", [FieldSpec("ITEM_ID", "string")]), "ECOMMERCE")
    ['PRICE', 'CATEGORY_L1']
    """
    names = {f.get("name") for f in schema.get("fields", [])}
    return [name for name in DOMAIN_FIELDS.get((domain, dataset_type_of(schema) or ""), ()) if name not in names]
