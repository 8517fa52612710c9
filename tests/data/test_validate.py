from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawfactory import NOW

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema, write_schema
from personalize_kit.data.validate import validate_bytes, validate_dataset, validate_directory

HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"
SCHEMA = interactions_schema()


def good_lines(n_users: int = 30, per_user: int = 40) -> list[str]:
    return [
        f"u{u},i{(u * 7 + k) % 200},{1_500_000_000 + u * 100 + k},watch,{3 + k % 3}"
        for u in range(n_users)
        for k in range(per_user)
    ]


def check(lines: list[str], header: str = HEADER, schema=SCHEMA, kind="INTERACTIONS"):
    data = (header + "\n" + "\n".join(lines) + "\n").encode() if header is not None else "\n".join(lines).encode()
    return validate_bytes(data, schema, kind, file_name="interaction.csv", now=NOW)


def only(report, code):
    found = [p for p in report.problems if p.code == code]
    assert len(found) == 1, report.to_table()
    return found[0]


def test_a_good_file_has_no_problem():
    report = check(good_lines())
    assert report.problems == []
    assert report.rows_checked == {"interaction.csv": (1200, 0)}


# (what is put on data line 6 (physical line 7), rule code, severity, field, words of the message)
CORPUS = [
    (",i1,1500000000,watch,4", "empty-id", "error", "USER_ID", "USER_ID is empty"),
    ("u1,,1500000000,watch,4", "empty-id", "error", "ITEM_ID", "ITEM_ID is empty"),
    ("u1," + "x" * 300 + ",1500000000,watch,4", "id-too-long", "error", "ITEM_ID", "longer than 256"),
    ("u1,i1,15000000x,watch,4", "wrong-type", "error", "TIMESTAMP", "must be a long"),
    ("u1,i1,1500000000,watch,four", "wrong-type", "error", "EVENT_VALUE", "must be a float"),
    ("u1,i1,1500000000000,watch,4", "timestamp-milliseconds", "error", "TIMESTAMP", "divide by 1000"),
    ("u1,i1,1900000000,watch,4", "timestamp-future", "warning", "TIMESTAMP", "lies in the future"),
    ("u1,i1,,watch,4", "missing-value", "error", "TIMESTAMP", "does not allow null"),
    (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE",
        "repeated-header",
        "error",
        None,
        "header row is repeated",
    ),
    ("ITEM_ID,i1,1500000000,watch,4", "reserved-keyword", "error", "USER_ID", "reserved keyword"),
    ("u1,i1,1500000000,watch,4,extra", "field-count", "error", None, "6 fields instead of 5"),
    ("u1,i1", "field-count", "error", None, "2 fields instead of 5"),
    ("", "empty-line", "error", None, "the line is empty"),
    ("u1,i1,1500000000,EVENT_TYPE,4", "reserved-keyword", "error", "EVENT_TYPE", "reserved keyword"),
]


@pytest.mark.parametrize(("line", "code", "severity", "field", "words"), CORPUS, ids=[c[1] for c in CORPUS])
def test_each_bad_line_is_named_with_file_line_and_field(line, code, severity, field, words):
    lines = good_lines()
    lines[5] = line
    report = check(lines)
    problem = only(report, code)
    assert (problem.severity, problem.file, problem.line, problem.field, problem.count) == (
        severity,
        "interaction.csv",
        7,
        field,
        1,
    )
    assert words in problem.message
    rows, bad = report.rows_checked["interaction.csv"]
    assert rows == 1200  # nothing is lost from the count, not even unreadable rows
    assert bad == (1 if severity == "error" else 0)


def test_lines_stay_right_after_skipped_rows():
    lines = good_lines()
    lines[2] = "u1,i1"  # physical line 4, skipped by the reader
    lines[9] = "u1,i1,9"  # physical line 11, skipped too
    lines[20] = ",i1,1500000000,watch,4"  # physical line 22
    report = check(lines)
    assert only(report, "field-count").lines == [4, 11]
    assert only(report, "empty-id").line == 22


def test_non_utf8_bytes_are_located():
    lines = [line.encode() for line in good_lines()]
    lines[7] = b"u1,i\xe9t\xe9,1500000000,watch,4"
    data = HEADER.encode() + b"\n" + b"\n".join(lines) + b"\n"
    problem = only(validate_bytes(data, SCHEMA, file_name="interaction.csv", now=NOW), "not-utf8")
    assert (problem.line, problem.field) == (9, "ITEM_ID")
    assert "UTF-8" in problem.message


@pytest.mark.parametrize(
    ("header", "code", "words"),
    [
        ("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", "missing-column", "EVENT_VALUE"),
        (HEADER + ",DEVICE", "extra-column", "DEVICE"),
        (HEADER + ",ITEM_ID", "duplicate-column", "ITEM_ID"),
    ],
)
def test_header_problems_stop_the_check_with_a_clear_message(header, code, words):
    problem = only(check(good_lines(), header=header), code)
    assert problem.line == 1 and words in problem.message


def test_columns_are_matched_to_the_schema_by_name_in_any_order():
    """The developer guide's own example header is USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP."""
    order = ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    position = {name: k for k, name in enumerate(HEADER.split(","))}
    lines = [",".join(line.split(",")[position[name]] for name in order) for line in good_lines()]
    assert check(lines, header=",".join(order)).problems == []
    # a rule still reads the right column: a bad timestamp is found, under its name, on its line
    lines[5] = "u0,i1,watch,4,yesterday"
    problem = only(check(lines, header=",".join(order)), "wrong-type")
    assert (problem.field, problem.line) == ("TIMESTAMP", 7)


def test_quoted_header_is_a_warning():
    report = check(good_lines(), header='"USER_ID","ITEM_ID","TIMESTAMP","EVENT_TYPE","EVENT_VALUE"')
    assert only(report, "quoted-header").severity == "warning"
    assert report.ok


def test_duplicates_and_minimums():
    lines = good_lines(n_users=20, per_user=10)
    lines.append(lines[3])
    report = check(lines)
    assert only(report, "duplicate-row").lines == [len(lines) + 1]
    assert "at least 1,000" in only(report, "too-few-interactions").message
    assert "20 users" in only(report, "too-few-users").message


def test_items_rules():
    schema = make_schema(
        "ITEMS",
        [
            FieldSpec("ITEM_ID", "string"),
            FieldSpec("GENRES", "string", True, True),
            FieldSpec("CREATION_TIMESTAMP", "long"),
        ],
    )
    lines = [
        "i1,Action|Comedy,1500000000",
        "i2,,1500000000",
        "i1,Drama,1500000000",
        "i3," + "x" * 1001 + ",1500000000",
        "i4,Action|ITEM_ID,1500000000",
    ]
    report = check(lines, header="ITEM_ID,GENRES,CREATION_TIMESTAMP", schema=schema, kind="ITEMS")
    assert only(report, "duplicate-id").line == 4
    assert only(report, "categorical-too-long").line == 5
    assert only(report, "reserved-keyword").line == 6
    assert not [p for p in report.problems if p.line == 3]  # an empty nullable categorical is fine


def test_directory_cross_file_rules(tmp_path):
    (tmp_path / "interaction.csv").write_text(HEADER + "\n" + "\n".join(good_lines()) + "\n")
    write_schema(SCHEMA, tmp_path / "schemas" / "interactions.json")
    items_schema = make_schema("ITEMS", [FieldSpec("ITEM_ID", "string"), FieldSpec("GENRES", "string", True, True)])
    write_schema(items_schema, tmp_path / "schemas" / "items.json")
    (tmp_path / "item-meta.csv").write_text("ITEM_ID,GENRES\n" + "\n".join(f"i{k},Drama" for k in range(150)) + "\n")
    report = validate_directory(tmp_path, now=NOW)
    problem = only(report, "unknown-item_id")
    assert problem.severity == "warning" and "not in item-meta.csv" in problem.message
    assert report.ok
    payload = json.loads(report.to_json())
    assert payload["rows_checked"]["interaction.csv"] == {"rows": 1200, "with_errors": 0}


def test_missing_schema_and_missing_directory(tmp_path):
    (tmp_path / "interaction.csv").write_text(HEADER + "\n")
    assert only(validate_directory(tmp_path), "missing-schema").severity == "error"
    assert only(validate_directory(tmp_path / "nope"), "no-directory").severity == "error"


# -- properties ---------------------------------------------------------------------------------------------

ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=',"\r\n', exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=20,
).filter(
    lambda s: (
        s.strip()
        and s.strip().upper()
        not in {
            "USER_ID",
            "ITEM_ID",
            "TIMESTAMP",
            "EVENT_TYPE",
            "EVENT_VALUE",
            "IMPRESSION",
            "RECOMMENDATION_ID",
            "EVENT_ATTRIBUTION_SOURCE",
            "CREATION_TIMESTAMP",
        }
    )
)
rows = st.lists(
    st.tuples(ids, ids, st.integers(0, NOW), st.sampled_from(["watch", "click"]), st.floats(0, 5, allow_nan=False)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_valid_rows_raise_no_row_error(sample):
    text = "\n".join(f"{u},{i},{t},{e},{v!r}" for u, i, t, e, v in sample)
    report = validate_dataset(io.BytesIO((HEADER + "\n" + text + "\n").encode()), SCHEMA, file_name="f", now=NOW)
    row_codes = {p.code for p in report.errors} - {"too-few-interactions", "too-few-users"}
    assert row_codes == set(), report.to_table()
    assert report.rows_checked["f"] == (len(sample), 0)


@settings(max_examples=60)
@given(st.integers(0, 199), st.sampled_from([c for c in CORPUS if c[2] == "error"]))
def test_one_broken_row_is_found_at_its_line(position, case):
    lines = good_lines(n_users=10, per_user=20)
    lines[position] = case[0]
    report = check(lines)
    problem = only(report, case[1])
    assert problem.line == position + 2
    assert report.rows_checked["interaction.csv"] == (200, 1)
