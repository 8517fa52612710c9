"""Raw data -> Amazon Personalize's CSVs and Avro schemas, streamed chunk by chunk.

``prepare(raw, out)`` writes, beside each other::

    out/interaction.csv   USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE
    out/item-meta.csv     ITEM_ID,GENRES,CREATION_TIMESTAMP
    out/user-meta.csv     USER_ID,AGE,GENDER,OCCUPATION,LOCATION   (the columns the source has)
    out/schemas/{interactions,items,users}.json
    out/*.rejected.csv    the rows that could not be kept, with a ``reason`` column
    out/prepare-summary.json

Nothing is dropped silently: every row read is written or rejected, and the summary's counts add up.
Ratings stream through in Arrow chunks; memory holds one chunk plus an 8-byte hash per kept interaction
(for the duplicate check) and per-user / per-item counters.

>>> from personalize_kit.data.synthetic import SyntheticConfig, generate   # doctest: +SKIP
>>> result = prepare(generate(SyntheticConfig(n_interactions=5_000)), "out")  # doctest: +SKIP
>>> result.report.counts["interaction.csv"].balanced                         # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from personalize_kit.data import features as feats
from personalize_kit.data._hashing import hash_rows
from personalize_kit.data.events import EventMapping
from personalize_kit.data.report import FileCounts, Report
from personalize_kit.data.rules import (
    RowIssue,
    check_categorical,
    check_finite,
    check_id,
    check_minimums,
    check_timestamp,
    first_reason,
)
from personalize_kit.data.schemas import (
    CSV_NAMES,
    SCHEMA_NAMES,
    FieldSpec,
    interactions_schema,
    make_schema,
    write_schema,
)
from personalize_kit.data.source import RawDataset

SUMMARY_NAME = "prepare-summary.json"


@dataclass
class PrepareResult:
    """What :func:`prepare` wrote and why some rows were not kept."""

    out_dir: Path
    files: dict[str, Path]
    schemas: dict[str, Path]
    report: Report
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "files": {k: str(v) for k, v in self.files.items()},
            "schemas": {k: str(v) for k, v in self.schemas.items()},
            "rejected_by_reason": self.rejected,
            "seconds": round(self.seconds, 3),
            **self.report.to_dict(),
        }


def rejected_path(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.stem + ".rejected.csv")


class _CsvSink:
    """Appends Arrow tables to a CSV file with a plain (unquoted) header, quoting values only where needed."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.handle: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self.handle.write((",".join(columns) + "\n").encode())
        self.rows = 0
        # Arrow writes CSV without the GIL: one writer thread overlaps writing with the next chunk's checks.
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future[None] | None = None

    def _write(self, table: pa.Table) -> None:
        try:
            pcsv.write_csv(table, self.handle, pcsv.WriteOptions(include_header=False, quoting_style="none"))
        except pa.ArrowInvalid:  # a value holds a comma, quote or newline: quote it
            pcsv.write_csv(table, self.handle, pcsv.WriteOptions(include_header=False, quoting_style="needed"))

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._wait()
        self._pending = self._pool.submit(self._write, table)
        self.rows += table.num_rows

    def close(self) -> Path:
        try:
            self._wait()
        finally:
            self._pool.shutdown()
            self.handle.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._wait()
        except Exception:  # noqa: BLE001 - the run is failing already; the first error is the one to show
            pass
        finally:
            self._pool.shutdown()
            self.handle.close()
            self.tmp.unlink(missing_ok=True)


class _Rejects:
    """The ``*.rejected.csv`` of one output file, opened on the first rejected row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sink: _CsvSink | None = None
        self.by_reason: dict[str, int] = {}

    def write(self, table: pa.Table, codes: np.ndarray, reasons: list[str]) -> None:
        """``table`` holds the rejected rows (with a ``source_line`` column); ``codes[i]`` indexes ``reasons``."""
        if table.num_rows == 0:
            return
        table = table.append_column("reason", pa.array(reasons, pa.string()).take(pa.array(codes)))
        if self.sink is None:
            self.sink = _CsvSink(self.path, table.column_names)
        self.sink.write(table)
        for code, count in enumerate(np.bincount(codes, minlength=len(reasons))):
            if count:
                self.by_reason[reasons[code]] = self.by_reason.get(reasons[code], 0) + int(count)

    @property
    def rows(self) -> int:
        return self.sink.rows if self.sink else 0

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
        else:
            self.path.unlink(missing_ok=True)  # no stale rejects from an earlier run


def _report_issues(report: Report, file: str, issues: list[RowIssue], lines: np.ndarray, severity: str) -> None:
    for issue in issues:
        report.add_rows(severity, file, issue.code, issue.field, issue.message, lines[issue.mask])  # type: ignore[arg-type]


class _Interactions:
    """Streams rating chunks into interaction.csv, rejecting what cannot be kept."""

    def __init__(
        self, raw: RawDataset, out_dir: Path, mapping: EventMapping, realtime: bool, now: int, report: Report
    ) -> None:
        self.raw, self.mapping, self.realtime, self.now, self.report = raw, mapping, realtime, now, report
        self.path = out_dir / CSV_NAMES["INTERACTIONS"]
        self.source = raw.files.get("ratings", raw.name)
        self.first_line = raw.first_line.get("ratings", 1)
        self.columns = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
        if mapping.value == "rating":
            self.columns.append("EVENT_VALUE")
        if realtime:
            self.columns += [feats.LAST_ITEM, feats.LAST_RATING]
        self.sink = _CsvSink(self.path, self.columns)
        self.rejects = _Rejects(rejected_path(self.path))
        self.read = 0
        self.hashes: list[np.ndarray] = []
        self.rejected_lines: list[np.ndarray] = []
        self.user_counts: list[pa.Table] = []  # (values, counts) per chunk
        self.item_first: list[pa.Table] = []
        self.held: list[pa.Table] = []  # only with real-time features, which need each user's whole history

    def add(self, chunk: pa.Table) -> None:
        n = chunk.num_rows
        lines = np.arange(self.read, self.read + n, dtype=np.int64) + self.first_line
        self.read += n
        issues = [
            *check_id(chunk["user_id"], "USER_ID"),
            *check_id(chunk["item_id"], "ITEM_ID"),
            *check_timestamp(chunk["timestamp"], "TIMESTAMP", now=self.now),
            *check_finite(chunk["rating"], "rating", "fix or remove that row of the source"),
        ]
        _report_issues(self.report, self.source, issues, lines, "warning")
        events = self.mapping.apply(chunk["rating"])
        unmapped = RowIssue("not-mapped", "rating", np.asarray(pc.is_null(events)), self.mapping.describe_unmapped())
        bad, which = first_reason([*issues, unmapped], n)
        reasons = [i.message for i in [*issues, unmapped]]
        if bad.any():
            rejected = chunk.filter(pa.array(bad))
            rejected = pa.table({"source_line": lines[bad], **{c: rejected[c] for c in chunk.column_names}})
            self.rejects.write(rejected, which, reasons)
            self.rejected_lines.append(lines[bad])
        keep = pa.array(~bad)
        kept = chunk.filter(keep)
        columns = {
            "USER_ID": kept["user_id"],
            "ITEM_ID": kept["item_id"],
            "TIMESTAMP": kept["timestamp"],
            "EVENT_TYPE": events.filter(keep),
        }
        if self.mapping.value == "rating":
            columns["EVENT_VALUE"] = kept["rating"]
        table = pa.table(columns)
        # each id column is encoded once, and its codes serve the duplicate hash and both counters
        users = pc.dictionary_encode(table["USER_ID"]).combine_chunks()
        items = pc.dictionary_encode(table["ITEM_ID"]).combine_chunks()
        self.hashes.append(hash_rows(table.set_column(0, "USER_ID", users).set_column(1, "ITEM_ID", items)))
        user_codes = users.indices.to_numpy(zero_copy_only=False)
        counts = np.bincount(user_codes, minlength=len(users.dictionary))
        self.user_counts.append(pa.table({"values": users.dictionary, "counts": counts}))
        first = np.full(len(items.dictionary), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, items.indices.to_numpy(zero_copy_only=False), table["TIMESTAMP"].to_numpy())
        self.item_first.append(pa.table({"ITEM_ID": items.dictionary, "TIMESTAMP_min": first}))
        if self.realtime:
            self.held.append(table)
        else:
            self.sink.write(table)

    def finish(self) -> None:
        if self.realtime and self.held:
            frame = pa.concat_tables(self.held).to_pandas()
            self.held = []
            frame = feats.add_realtime_features(frame)
            self.sink.write(pa.Table.from_pandas(frame[self.columns], preserve_index=False))
        self.sink.close()
        self._drop_duplicates()
        self.rejects.close()

    def _source_lines(self, kept_index: np.ndarray) -> np.ndarray:
        """The source line of the k-th kept row, from the (sorted) lines of the rejected rows."""
        rejected = np.concatenate(self.rejected_lines) if self.rejected_lines else np.zeros(0, np.int64)
        gaps = rejected - self.first_line - np.arange(rejected.size)
        return self.first_line + kept_index + np.searchsorted(gaps, kept_index, side="right")

    def _drop_duplicates(self) -> None:
        """Reject exact duplicate rows (all written columns equal), keeping the first of each."""
        if not self.hashes:
            return
        hashes = np.concatenate(self.hashes)
        self.hashes = []
        hashes.sort()
        repeated = hashes[1:][hashes[1:] == hashes[:-1]]
        del hashes
        if repeated.size:
            self._rewrite_without_duplicates(set(repeated.tolist()))

    def _rewrite_without_duplicates(self, candidates: set[int]) -> None:
        """Second pass, only when duplicates are suspected: compare the rows exactly and drop the repeats."""
        types = {c: pa.string() for c in ("USER_ID", "ITEM_ID", "EVENT_TYPE", feats.LAST_ITEM)}
        types.update({"TIMESTAMP": pa.int64(), "EVENT_VALUE": pa.float64(), feats.LAST_RATING: pa.float64()})
        reader = pcsv.open_csv(
            self.path,
            convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        sink = _CsvSink(self.path, self.columns)
        first_seen: dict[int, tuple[tuple, int]] = {}
        offset = 0
        try:
            for batch in reader:
                table = pa.Table.from_batches([batch])
                key_table = table.select(
                    [c for c in self.columns if c in ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE")]
                )
                hashes = hash_rows(key_table)
                suspect = np.flatnonzero(np.isin(hashes, np.fromiter(candidates, np.uint64)))
                drop = np.zeros(table.num_rows, dtype=bool)
                original: list[int] = []
                rows = key_table.take(pa.array(suspect)).to_pylist() if suspect.size else []
                for position, row in zip(suspect.tolist(), rows, strict=True):
                    value = tuple(row.values())
                    h = int(hashes[position])
                    if h in first_seen and first_seen[h][0] == value:
                        drop[position] = True
                        original.append(first_seen[h][1])
                    else:
                        first_seen.setdefault(h, (value, offset + position))
                if drop.any():
                    dropped = table.filter(pa.array(drop))
                    lines = self._source_lines(np.flatnonzero(drop) + offset)
                    first_lines = self._source_lines(np.asarray(original, dtype=np.int64))
                    rejected = pa.table(
                        {
                            "source_line": lines,
                            "user_id": dropped["USER_ID"],
                            "item_id": dropped["ITEM_ID"],
                            "rating": dropped["EVENT_VALUE"]
                            if "EVENT_VALUE" in self.columns
                            else pa.nulls(dropped.num_rows, pa.float64()),
                            "timestamp": dropped["TIMESTAMP"],
                        }
                    )
                    reasons = [f"duplicate of the row at source line {int(x)}" for x in first_lines]
                    self.rejects.write(rejected, np.arange(len(reasons)), reasons)
                    self.report.add_rows(
                        "warning",
                        self.source,
                        "duplicate-row",
                        None,
                        "the row repeats an earlier one exactly; only the first is kept.",
                        lines,
                    )
                sink.write(table.filter(pa.array(~drop)))
                offset += table.num_rows
        except BaseException:
            sink.abort()
            raise
        self.sink = sink
        sink.close()

    @property
    def written(self) -> int:
        return self.sink.rows

    def first_timestamps(self) -> pd.Series:
        if not self.item_first:
            return pd.Series(dtype="int64")
        table = pa.concat_tables(self.item_first).group_by("ITEM_ID").aggregate([("TIMESTAMP_min", "min")])
        return pd.Series(table["TIMESTAMP_min_min"].to_numpy(), index=table["ITEM_ID"].to_pylist())


def _write_metadata(
    frame: pd.DataFrame,
    kind: str,
    out_dir: Path,
    specs: list[FieldSpec],
    raw: RawDataset,
    source_key: str,
    now: int,
    report: Report,
) -> tuple[Path, dict[str, int], int, pa.Table]:
    """Check and write item-meta.csv or user-meta.csv; returns (path, rejected by reason, written, kept)."""
    path = out_dir / CSV_NAMES[kind]
    source = raw.files.get(source_key, f"{raw.name} {source_key}")
    first = raw.first_line.get(source_key, 1)
    id_field = specs[0].name
    arrow_types = {"string": pa.string(), "long": pa.int64(), "int": pa.int64(), "float": pa.float64()}
    table = pa.table({s.name: pa.array(frame[s.name].tolist(), arrow_types[s.type], from_pandas=True) for s in specs})
    lines = np.arange(table.num_rows, dtype=np.int64) + first
    issues = check_id(table[id_field], id_field)
    for spec in specs[1:]:
        if spec.categorical:
            issues += check_categorical(table[spec.name], spec.name)
        if spec.name == "CREATION_TIMESTAMP":
            issues += check_timestamp(table[spec.name], spec.name, now=now)
    duplicated = frame[id_field].duplicated(keep="first").to_numpy()
    if duplicated.any():
        issues.append(
            RowIssue(
                "duplicate-id",
                id_field,
                duplicated,
                f"{id_field} repeats an earlier row; only the first is kept.",
            )
        )
    _report_issues(report, source, issues, lines, "warning")
    bad, which = first_reason(issues, table.num_rows)
    rejects = _Rejects(rejected_path(path))
    if bad.any():
        rejected = table.filter(pa.array(bad))
        rejected = pa.table({"source_line": lines[bad], **{c: rejected[c] for c in rejected.column_names}})
        rejects.write(rejected, which, [i.message for i in issues])
    rejects.close()
    kept = table.filter(pa.array(~bad))
    sink = _CsvSink(path, [s.name for s in specs])
    sink.write(kept)
    sink.close()
    report.counts[CSV_NAMES[kind]] = FileCounts(table.num_rows, kept.num_rows, rejects.rows)
    return path, rejects.by_reason, kept.num_rows, kept


def _item_frame(raw: RawDataset, first_seen: pd.Series, fallback: int) -> tuple[pd.DataFrame, list[FieldSpec]]:
    items = raw.items.copy()  # type: ignore[union-attr]
    items["item_id"] = items["item_id"].astype(str)
    created = (
        pd.to_numeric(items["creation_timestamp"], errors="coerce").astype("Int64")
        if "creation_timestamp" in items
        else pd.Series(pd.NA, index=items.index, dtype="Int64")
    )
    seen = items["item_id"].map(first_seen).astype("Int64")
    # a release date before 1970 (old films) says nothing of when the item joined the catalogue
    created = created.where(created >= 0).fillna(seen).fillna(fallback)
    genres = items["genres"].fillna("").astype(str) if "genres" in items else pd.Series("", index=items.index)
    frame = pd.DataFrame(
        {
            "ITEM_ID": items["item_id"],
            "GENRES": genres.where(genres != "", None),
            "CREATION_TIMESTAMP": created,
        }
    )
    specs = [
        FieldSpec("ITEM_ID", "string"),
        FieldSpec("GENRES", "string", nullable=True, categorical=True),
        FieldSpec("CREATION_TIMESTAMP", "long"),
    ]
    return frame, specs


def _user_frame(raw: RawDataset) -> tuple[pd.DataFrame, list[FieldSpec]]:
    users = raw.users
    assert users is not None
    frame = pd.DataFrame({"USER_ID": users["user_id"].astype(str)})
    specs = [FieldSpec("USER_ID", "string")]
    if "age" in users and users["age"].notna().any():
        frame["AGE"] = pd.to_numeric(users["age"], errors="coerce").astype("Int64")
        specs.append(FieldSpec("AGE", "int", nullable=True))
    for column in ("gender", "occupation", "location"):
        if column in users and users[column].notna().any():
            values = users[column].astype("string").str.strip()
            frame[column.upper()] = values.where(values.notna() & (values != ""), None)
            specs.append(FieldSpec(column.upper(), "string", nullable=True, categorical=True))
    return frame, specs


def prepare(
    raw: RawDataset,
    out_dir: str | Path,
    *,
    mapping: EventMapping | None = None,
    realtime_features: bool = False,
    now: int | None = None,
    progress: bool = False,
) -> PrepareResult:
    """Write Personalize-ready CSVs and schemas for ``raw`` into ``out_dir``.

    ``mapping`` turns ratings into events (default: ratings >= 3 become ``watch``, the rating the event value).
    ``realtime_features`` also writes LAST_WATCHED_MOVIE / LAST_RATING into interaction.csv (this holds the
    interactions in memory, since each user's history must be ordered). ``now`` (epoch seconds) is the reference
    for "in the future" (default: the clock).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    (out / "schemas").mkdir(parents=True, exist_ok=True)
    mapping = mapping or EventMapping()
    now = int(time.time()) if now is None else int(now)
    report = Report()
    files: dict[str, Path] = {}
    schemas: dict[str, Path] = {}
    rejected: dict[str, dict[str, int]] = {}

    for problem in raw.problems:
        report.add_rows("warning", problem.file, problem.code, problem.field, problem.message, problem.lines)
    interactions = _Interactions(raw, out, mapping, realtime_features, now, report)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=raw.n_ratings, unit=" rows", unit_scale=True, desc="interactions", leave=False)
    try:
        for chunk in raw.ratings():
            interactions.add(chunk)
            if bar is not None:
                bar.update(chunk.num_rows)
        interactions.finish()
    except BaseException:
        interactions.sink.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    name = CSV_NAMES["INTERACTIONS"]
    files["INTERACTIONS"] = interactions.path
    report.counts[name] = FileCounts(interactions.read, interactions.written, interactions.rejects.rows)
    rejected[name] = interactions.rejects.by_reason
    extra = (
        [FieldSpec(feats.LAST_ITEM, "string", True, True), FieldSpec(feats.LAST_RATING, "float", True)]
        if realtime_features
        else []
    )
    schemas["INTERACTIONS"] = write_schema(
        interactions_schema(event_value=mapping.value == "rating", extra=extra),
        out / "schemas" / SCHEMA_NAMES["INTERACTIONS"],
    )
    check_minimums(
        report,
        name,
        interactions.written,
        interactions.user_counts,
        kept="interactions were kept",
        hint=" Add data or loosen the event mapping.",
    )

    first_seen = interactions.first_timestamps()
    fallback = int(first_seen.min()) if len(first_seen) else now
    interacted_items = set(first_seen.index)
    if raw.items is not None:
        frame, specs = _item_frame(raw, first_seen, fallback)
        path, by_reason, _, kept = _write_metadata(frame, "ITEMS", out, specs, raw, "items", now, report)
        files["ITEMS"], rejected[CSV_NAMES["ITEMS"]] = path, by_reason
        schemas["ITEMS"] = write_schema(make_schema("ITEMS", specs), out / "schemas" / SCHEMA_NAMES["ITEMS"])
        missing = interacted_items - set(kept["ITEM_ID"].to_pylist())
        if missing:
            report.add(
                "warning",
                name,
                "items-without-metadata",
                f"{len(missing):,} items in interactions are not in {CSV_NAMES['ITEMS']} (e.g. "
                f"{sorted(missing)[:3]}); they get no metadata. Add them to the items source if they should.",
                field="ITEM_ID",
            )
    if raw.users is not None:
        frame, specs = _user_frame(raw)
        if len(specs) > 1:
            path, by_reason, _, _ = _write_metadata(frame, "USERS", out, specs, raw, "users", now, report)
            files["USERS"], rejected[CSV_NAMES["USERS"]] = path, by_reason
            schemas["USERS"] = write_schema(make_schema("USERS", specs), out / "schemas" / SCHEMA_NAMES["USERS"])
        else:
            report.add(
                "warning",
                raw.files.get("users", "users"),
                "users-without-metadata",
                "the user data has no age, gender, occupation or location; no user-meta.csv was written.",
            )
    for kind in ("ITEMS", "USERS"):  # no stale files from an earlier run on other data
        if kind not in files:
            (out / CSV_NAMES[kind]).unlink(missing_ok=True)
            rejected_path(out / CSV_NAMES[kind]).unlink(missing_ok=True)
            (out / "schemas" / SCHEMA_NAMES[kind]).unlink(missing_ok=True)

    result = PrepareResult(out, files, schemas, report, rejected, time.perf_counter() - started)
    summary = {"source": raw.origin or raw.name, "event_mapping": str(mapping), **result.summary()}
    (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return result
