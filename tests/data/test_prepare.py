from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from rawfactory import NOW, item_frame, make_raw, regular_rows, user_frame

from personalize_kit.data.events import EventMapping
from personalize_kit.data.prepare import prepare
from personalize_kit.data.schemas import load_schema, validate_schema
from personalize_kit.data.validate import validate_directory


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_round_trip_keeps_every_row_accounted_for(tmp_path):
    rows = regular_rows()
    raw = make_raw(rows, items=item_frame(), users=user_frame())
    result = prepare(raw, tmp_path, now=NOW)

    counts = result.report.counts["interaction.csv"]
    kept = [r for r in rows if r[2] >= 3]
    assert (counts.read, counts.written, counts.rejected) == (len(rows), len(kept), len(rows) - len(kept))
    written = read_csv(tmp_path / "interaction.csv")
    assert [(r["USER_ID"], r["ITEM_ID"], float(r["EVENT_VALUE"]), int(r["TIMESTAMP"])) for r in written] == [
        (u, i, rating, t) for u, i, rating, t in kept
    ]
    assert {r["EVENT_TYPE"] for r in written} == {"watch"}
    rejected = read_csv(tmp_path / "interaction.rejected.csv")
    assert len(rejected) == len(rows) - len(kept)
    assert {r["reason"] for r in rejected} == {"rating matches no event mapping rule (watch:3)"}
    # the rejected rows name the line of the source they came from (line 1 is the header)
    first_low = next(k for k, r in enumerate(rows) if r[2] < 3)
    assert rejected[0]["source_line"] == str(first_low + 2)
    assert result.rejected["interaction.csv"] == {"rating matches no event mapping rule (watch:3)": len(rejected)}
    assert result.report.ok
    assert validate_directory(tmp_path, now=NOW).ok


def test_header_is_plain_and_schemas_match_the_files(tmp_path):
    prepare(make_raw(regular_rows(), items=item_frame(), users=user_frame()), tmp_path, now=NOW)
    assert (tmp_path / "interaction.csv").read_text().splitlines()[
        0
    ] == "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"
    assert (tmp_path / "item-meta.csv").read_text().splitlines()[0] == "ITEM_ID,GENRES,CREATION_TIMESTAMP"
    assert (tmp_path / "user-meta.csv").read_text().splitlines()[0] == "USER_ID,AGE,GENDER,OCCUPATION,LOCATION"
    for name, kind in (("interactions", "INTERACTIONS"), ("items", "ITEMS"), ("users", "USERS")):
        schema = load_schema(tmp_path / "schemas" / f"{name}.json")
        assert validate_schema(schema, kind) == []
    items = load_schema(tmp_path / "schemas" / "items.json")
    assert items["fields"][1] == {"name": "GENRES", "type": ["null", "string"], "categorical": True}
    users = load_schema(tmp_path / "schemas" / "users.json")
    assert [f["name"] for f in users["fields"]] == ["USER_ID", "AGE", "GENDER", "OCCUPATION", "LOCATION"]
    assert users["fields"][1]["type"] == ["null", "int"]


def test_items_genres_and_creation_time(tmp_path):
    rows = [
        ("u1", "i1", 4.0, 1_500_000_100),
        ("u2", "i1", 5.0, 1_500_000_050),
        ("u1", "i2", 3.0, 1_500_000_900),
        ("u2", "i5", 3.0, 1_500_000_700),
    ]
    items = pd.DataFrame(
        {
            "item_id": ["i1", "i2", "i3", "i4", "i5"],
            "title": ["A", "B", "C", "D", "E"],
            "genres": ["Action|Comedy", "", "Drama", "Horror", "Drama"],
            "creation_timestamp": pd.array([None, None, None, 1_400_000_000, -86_400], dtype="Int64"),
        }
    )
    prepare(make_raw(rows, items=items), tmp_path, now=NOW)
    written = {r["ITEM_ID"]: r for r in read_csv(tmp_path / "item-meta.csv")}
    assert written["i1"] == {"ITEM_ID": "i1", "GENRES": "Action|Comedy", "CREATION_TIMESTAMP": "1500000050"}
    assert written["i2"]["GENRES"] == ""  # null: the item has no genres
    assert written["i3"]["CREATION_TIMESTAMP"] == "1500000050"  # never seen: the earliest interaction
    assert written["i4"]["CREATION_TIMESTAMP"] == "1400000000"  # the source's own creation time wins
    assert written["i5"]["CREATION_TIMESTAMP"] == "1500000700"  # a release before 1970: first interaction
    assert "title" not in (tmp_path / "item-meta.csv").read_text().lower()


BAD_ROWS = [
    (("", "i1", 4.0, 1_500_000_000), "empty-id", "USER_ID", "USER_ID is empty"),
    (("u1", " ", 4.0, 1_500_000_000), "empty-id", "ITEM_ID", "ITEM_ID is empty"),
    (("u1", "x" * 257, 4.0, 1_500_000_000), "id-too-long", "ITEM_ID", "longer than 256 characters"),
    (("USER_ID", "ITEM_ID", 4.0, 1_500_000_000), "reserved-keyword", "USER_ID", "reserved keyword"),
    (("u1", "i1", 4.0, 1_500_000_000_000), "timestamp-milliseconds", "TIMESTAMP", "divide by 1000"),
    (("u1", "i1", 4.0, NOW + 10 * 86_400), "timestamp-future", "TIMESTAMP", "lies in the future"),
    (("u1", "i1", 4.0, -5), "timestamp-negative", "TIMESTAMP", "before 1970"),
]


@pytest.mark.parametrize(("row", "code", "field", "message"), BAD_ROWS, ids=[b[1] + "-" + b[2] for b in BAD_ROWS])
def test_bad_rows_are_rejected_with_their_reason_and_line(tmp_path, row, code, field, message):
    rows = regular_rows()
    rows.insert(10, row)
    result = prepare(make_raw(rows), tmp_path, now=NOW)
    problem = next(p for p in result.report.problems if p.code == code)
    assert (problem.file, problem.line, problem.field, problem.count) == ("ratings.csv", 12, field, 1)
    assert message in problem.message
    rejected = [r for r in read_csv(tmp_path / "interaction.rejected.csv") if r["source_line"] == "12"]
    assert len(rejected) == 1 and message in rejected[0]["reason"]
    counts = result.report.counts["interaction.csv"]
    assert counts.balanced and counts.read == len(rows)


def test_exact_duplicates_are_rejected_once_and_point_at_the_original(tmp_path):
    rows = regular_rows()
    keep = next(r for r in rows if r[2] >= 3)
    position = rows.index(keep)
    rows += [keep, keep]
    result = prepare(make_raw(rows, chunk_rows=100), tmp_path, now=NOW)
    rejected = [r for r in read_csv(tmp_path / "interaction.rejected.csv") if r["reason"].startswith("duplicate")]
    assert [r["source_line"] for r in rejected] == [str(len(rows)), str(len(rows) + 1)]
    assert {r["reason"] for r in rejected} == {f"duplicate of the row at source line {position + 2}"}
    written = read_csv(tmp_path / "interaction.csv")
    assert sum((r["USER_ID"], r["ITEM_ID"], r["TIMESTAMP"]) == (keep[0], keep[1], str(keep[3])) for r in written) == 1
    assert result.report.counts["interaction.csv"].balanced


def test_same_pair_at_another_time_is_not_a_duplicate(tmp_path):
    rows = regular_rows()
    u, i, r, t = next(x for x in rows if x[2] >= 3)
    rows.append((u, i, r, t + 60))
    result = prepare(make_raw(rows), tmp_path, now=NOW)
    assert not [p for p in result.report.problems if p.code == "duplicate-row"]


def test_custom_mapping_and_no_event_value(tmp_path):
    rows = [("u1", "a", 5.0, 1), ("u1", "b", 4.0, 2), ("u1", "c", 2.0, 3), ("u2", "a", 1.0, 4)]
    prepare(
        make_raw(rows),
        tmp_path,
        mapping=EventMapping.parse("love:4.5-5,watch:3,skip:0-1.5", value="none"),
        now=NOW,
    )
    written = read_csv(tmp_path / "interaction.csv")
    assert [(r["ITEM_ID"], r["EVENT_TYPE"]) for r in written] == [
        ("a", "love"),
        ("b", "watch"),
        ("a", "skip"),
    ]
    assert list(written[0]) == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
    schema = load_schema(tmp_path / "schemas" / "interactions.json")
    assert [f["name"] for f in schema["fields"]] == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]


def test_too_little_data_is_a_blocking_error(tmp_path):
    rows = [("u1", f"i{k}", 4.0, 1_500_000_000 + k) for k in range(30)]
    result = prepare(make_raw(rows), tmp_path, now=NOW)
    assert sorted(p.code for p in result.report.errors) == ["too-few-interactions", "too-few-users"]
    assert "at least 1,000" in next(p for p in result.report.errors if p.code == "too-few-interactions").message


def test_realtime_features_only_when_asked(tmp_path):
    rows = [("u1", "a", 4.0, 10), ("u1", "b", 5.0, 5), ("u2", "c", 3.0, 7), ("u1", "c", 3.0, 20)]
    prepare(make_raw(rows), tmp_path / "plain", now=NOW)
    assert "LAST_WATCHED_MOVIE" not in (tmp_path / "plain" / "interaction.csv").read_text()
    prepare(make_raw(rows), tmp_path / "rt", realtime_features=True, now=NOW)
    written = read_csv(tmp_path / "rt" / "interaction.csv")
    got = {(r["USER_ID"], r["ITEM_ID"]): (r["LAST_WATCHED_MOVIE"], r["LAST_RATING"]) for r in written}
    assert got == {
        ("u1", "b"): ("", ""),
        ("u1", "a"): ("b", "5"),
        ("u1", "c"): ("a", "4"),
        ("u2", "c"): ("", ""),
    }
    schema = load_schema(tmp_path / "rt" / "schemas" / "interactions.json")
    assert schema["fields"][-2:] == [
        {"name": "LAST_WATCHED_MOVIE", "type": ["null", "string"], "categorical": True},
        {"name": "LAST_RATING", "type": ["null", "float"]},
    ]


def test_metadata_rejects_and_missing_items_warning(tmp_path):
    items = item_frame(10)
    items.loc[len(items)] = [
        "i3",
        "again",
        "Drama",
    ]  # a repeated id
    items.loc[len(items)] = ["i99", "long", "x" * 1001]
    rows = [("u1", "i1", 4.0, 1), ("u1", "zzz", 4.0, 2)]
    result = prepare(make_raw(rows, items=items), tmp_path, now=NOW)
    rejected = read_csv(tmp_path / "item-meta.rejected.csv")
    assert [(r["source_line"], r["ITEM_ID"]) for r in rejected] == [("12", "i3"), ("13", "i99")]
    assert "repeats an earlier row" in rejected[0]["reason"] and "1,000 characters" in rejected[1]["reason"]
    counts = result.report.counts["item-meta.csv"]
    assert (counts.read, counts.written, counts.rejected) == (12, 10, 2)
    missing = next(p for p in result.report.problems if p.code == "items-without-metadata")
    assert "1 items" in missing.message and "zzz" in missing.message


def test_rerun_on_other_data_leaves_no_stale_files(tmp_path):
    prepare(make_raw(regular_rows(), items=item_frame(), users=user_frame()), tmp_path, now=NOW)
    assert (tmp_path / "user-meta.csv").exists()
    prepare(make_raw(regular_rows()), tmp_path, now=NOW)
    assert not (tmp_path / "user-meta.csv").exists()
    assert not (tmp_path / "schemas" / "users.json").exists()
    summary = json.loads((tmp_path / "prepare-summary.json").read_text())
    assert set(summary["files"]) == {"INTERACTIONS"}
