"""Check Personalize CSVs against their schemas and the service's data rules, streaming.

Every problem names the file, the line (the header is line 1), the field and what to do. Errors block an
import; warnings do not.

>>> report = validate_directory("out")          # doctest: +SKIP
>>> print(report.to_table())                    # doctest: +SKIP
>>> report.ok                                   # doctest: +SKIP
True
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from personalize_kit.data._hashing import hash_rows
from personalize_kit.data.report import Problem, Report
from personalize_kit.data.rules import (
    RowIssue,
    check_categorical,
    check_finite,
    check_id,
    check_minimums,
    check_reserved,
    check_timestamp,
)
from personalize_kit.data.schemas import (
    CSV_NAMES,
    DATASET_TYPES,
    REQUIRED_FIELDS,
    SCHEMA_NAMES,
    FieldSpec,
    dataset_type_of,
    load_schema,
    schema_fields,
    validate_schema,
)

__all__ = ["Problem", "Report", "validate_dataset", "validate_directory", "validate_schema"]

_INT = r"^\s*[-+]?[0-9]+\s*$"
_FLOAT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_BOOL = r"^\s*(?i:true|false)\s*$"
_ARROW = {
    "long": pa.int64(),
    "int": pa.int32(),
    "float": pa.float64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
_PATTERN = {"long": _INT, "int": _INT, "float": _FLOAT, "double": _FLOAT, "boolean": _BOOL}
BLOCK_SIZE = 16 << 20


class _Stats:
    """What a pass over one file gathers for the dataset-level and cross-file rules."""

    def __init__(self) -> None:
        self.rows = 0
        self.bad_rows = 0
        self.hashes: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []
        self.user_counts: list[pa.Table] = []
        self.ids: dict[str, set[str]] = {}


def _open(source: str | Path | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, Path)):
        return open(source, "rb"), True  # noqa: SIM115 - closed by the caller
    return source, False


def _check_header(stream: BinaryIO, fields: list[FieldSpec], file: str, report: Report) -> list[str] | None:
    """Read and check the header line; return the column names, or None when the file cannot be read on."""
    raw = stream.readline()
    if not raw.strip():
        report.add("error", file, "empty-file", "the file is empty; it needs a header row and data rows.", line=1)
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.add("error", file, "not-utf8", "the header is not UTF-8; save the file as UTF-8.", line=1)
        return None
    if text.lstrip().startswith('"'):
        report.add(
            "warning",
            file,
            "quoted-header",
            "the header row should not be quoted; write the column names bare.",
            line=1,
        )
    columns = [c.strip() for c in next(csv.reader([text]))]
    expected = [f.name for f in fields]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing:
        report.add(
            "error",
            file,
            "missing-column",
            f"column(s) {', '.join(missing)} of the schema are missing; the header needs every field of the "
            f"schema ({','.join(expected)}), in any order.",
            line=1,
            field=missing[0],
        )
    if extra:
        report.add(
            "error",
            file,
            "extra-column",
            f"column(s) {', '.join(extra)} are not in the schema; remove them or add them to the schema.",
            line=1,
            field=extra[0],
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        report.add(
            "error",
            file,
            "duplicate-column",
            f"column(s) {', '.join(repeated)} appear more than once in the header; keep one of each.",
            line=1,
            field=repeated[0],
        )
    # the service matches columns to the schema's fields by header name, in any order
    return None if (missing or extra or repeated) else columns


def _lines_of(index: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Physical line of each data row index, given the physical lines of rows the reader skipped."""
    return 2 + index + np.searchsorted(gaps, index, side="right")


def _typed(
    values: pa.Array, spec: FieldSpec, file: str, lines: np.ndarray, report: Report
) -> tuple[pa.Array, np.ndarray]:
    """Decode one column to its schema type; report values of the wrong type or missing; return (typed, bad)."""
    try:
        text = values.cast(pa.string())
        bad = np.zeros(len(values), dtype=bool)
    except pa.ArrowInvalid:
        decoded, not_utf8 = [], np.zeros(len(values), dtype=bool)
        for i, raw in enumerate(values.to_pylist()):
            try:
                decoded.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                decoded.append(None)
                not_utf8[i] = True
        text = pa.array(decoded, pa.string())
        bad = not_utf8
        report.add_rows(
            "error",
            file,
            "not-utf8",
            spec.name,
            "the value is not valid UTF-8; re-encode the file as UTF-8.",
            lines[not_utf8],
        )
    empty = np.asarray(pc.equal(pc.utf8_trim_whitespace(text), "").to_numpy(zero_copy_only=False), dtype=bool)
    empty &= ~bad
    if empty.any():
        if not spec.nullable and spec.name not in ("USER_ID", "ITEM_ID"):  # empty ids: their own rule
            report.add_rows(
                "error",
                file,
                "missing-value",
                spec.name,
                f"{spec.name} is empty but the schema does not allow null; fill it in or make the field "
                f'nullable (["null", "{spec.type}"]).',
                lines[empty],
            )
            bad |= empty
        text = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), text)
    if spec.type == "string":
        return text, bad
    target = _ARROW[spec.type]
    try:
        typed = pc.cast(pc.utf8_trim_whitespace(text), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, _PATTERN[spec.type]), True).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        wrong = ~ok & ~bad
        report.add_rows(
            "error",
            file,
            "wrong-type",
            spec.name,
            f"{spec.name} must be a {spec.type}; the value is not one. Fix or remove the value.",
            lines[wrong],
        )
        bad |= wrong
        cleaned = pc.if_else(pa.array(ok), pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string()))
        try:
            typed = pc.cast(cleaned, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # e.g. an int beyond 32 bits
            typed = pa.array([None] * len(text), target)
            report.add_rows(
                "error",
                file,
                "out-of-range",
                spec.name,
                f"{spec.name} holds a number out of range for {spec.type}.",
                lines[ok],
            )
            bad |= ok
    return typed, bad


def _row_rules(
    dataset_type: str, columns: dict[str, pa.Array], specs: dict[str, FieldSpec], now: int
) -> list[RowIssue]:
    issues: list[RowIssue] = []
    for name, values in columns.items():
        spec = specs[name]
        if name in ("USER_ID", "ITEM_ID"):
            issues += check_id(values, name)
        elif name in ("TIMESTAMP", "CREATION_TIMESTAMP"):
            issues += check_timestamp(values, name, now=now, future_severity="warning")
        elif spec.categorical:
            issues += check_categorical(values, name)
        elif name == "EVENT_TYPE":
            issues += check_reserved(values, name)
        elif spec.type in ("float", "double"):
            issues += check_finite(values, name)
    # a missing value is already reported against the schema's nullability
    return [i for i in issues if i.code != "timestamp-missing"]


def validate_dataset(
    source: str | Path | BinaryIO,
    schema: dict[str, Any],
    dataset_type: str | None = None,
    *,
    file_name: str | None = None,
    now: int | None = None,
    progress: Callable[[int], None] | None = None,
    _stats: _Stats | None = None,
) -> Report:
    """Validate one CSV against its schema and Personalize's data rules.

    ``source`` is a path or a binary file object; ``dataset_type`` defaults to the one the schema names.
    ``progress`` is called with the number of rows of each chunk read.

    >>> report = validate_dataset("out/interaction.csv", load_schema("out/schemas/interactions.json"))  # doctest: +SKIP
    """
    file = file_name or (str(source) if isinstance(source, (str, Path)) else "data")
    dataset_type = dataset_type or dataset_type_of(schema)
    report = Report()
    schema_problems = validate_schema(schema, dataset_type, file=f"{file} (schema)")
    report.problems.extend(schema_problems)
    if dataset_type not in DATASET_TYPES or any(p.code in ("schema-no-fields",) for p in schema_problems):
        return report
    fields = (
        [f for f in schema_fields(schema)]
        if not any(p.code in ("field-type", "field-malformed") for p in schema_problems)
        else []
    )
    if not fields:
        return report
    stats = _stats or _Stats()
    now = int(time.time()) if now is None else int(now)
    stream, owned = _open(source)
    try:
        columns = _check_header(stream, fields, file, report)
        if columns is None:
            return report
        specs = {f.name: f for f in fields}
        ordered = [f.name for f in fields]  # schema order, whatever the file's: rows hash alike in every file
        id_column = next(iter(REQUIRED_FIELDS[dataset_type]))  # ITEM_ID or USER_ID of a metadata dataset
        skipped: list[tuple[int, str]] = []

        def invalid(row: Any) -> str:
            # the header was read before the reader started: its line numbers start after it
            skipped.append((row.number + 1, f"{row.actual_columns} fields instead of {row.expected_columns}"))
            return "skip"

        reader = pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(column_names=columns, use_threads=False, block_size=BLOCK_SIZE),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.binary() for c in columns}),
        )
        offset = 0
        for batch in reader:
            n = batch.num_rows
            gaps = np.array([line for line, _ in skipped], dtype=np.int64)
            gaps = gaps - 2 - np.arange(gaps.size)
            lines = _lines_of(np.arange(offset, offset + n), gaps)
            offset += n
            blank = np.ones(n, dtype=bool)
            for name in columns:
                blank &= np.asarray(pc.equal(pc.binary_length(batch.column(name)), 0), dtype=bool)
            if blank.any():
                report.add_rows("error", file, "empty-line", None, "the line is empty; remove it.", lines[blank])
                stats.rows += int(blank.sum())
                stats.bad_rows += int(blank.sum())
                batch, lines, n = batch.filter(pa.array(~blank)), lines[~blank], int((~blank).sum())
            header = np.ones(n, dtype=bool)
            for name in columns:
                header &= np.asarray(pc.equal(batch.column(name), pa.scalar(name.encode(), pa.binary())), dtype=bool)
            if header.any():
                report.add_rows(
                    "error",
                    file,
                    "repeated-header",
                    None,
                    "the header row is repeated here (files joined together?); remove this line.",
                    lines[header],
                )
                stats.rows += int(header.sum())
                stats.bad_rows += int(header.sum())
                batch, lines, n = batch.filter(pa.array(~header)), lines[~header], int((~header).sum())
            typed: dict[str, pa.Array] = {}
            bad = np.zeros(n, dtype=bool)
            for name in columns:
                typed[name], wrong = _typed(batch.column(name), specs[name], file, lines, report)
                bad |= wrong
            for issue in _row_rules(dataset_type, typed, specs, now):
                report.add_rows(issue.severity, file, issue.code, issue.field, issue.message, lines[issue.mask])  # type: ignore[arg-type]
                if issue.severity == "error":
                    bad |= issue.mask
            stats.rows += n
            stats.bad_rows += int(bad.sum())
            key = pa.table({c: typed[c] for c in (ordered if dataset_type == "INTERACTIONS" else [id_column])})
            stats.hashes.append(hash_rows(key))
            stats.lines.append(lines)
            if dataset_type == "INTERACTIONS":
                keep = pa.array(~bad)
                ok_users = pc.filter(typed["USER_ID"], keep)
                counts = pc.value_counts(ok_users)
                stats.user_counts.append(pa.table({"values": counts.field("values"), "counts": counts.field("counts")}))
                stats.ids.setdefault("ITEM_ID", set()).update(pc.unique(pc.filter(typed["ITEM_ID"], keep)).to_pylist())
                stats.ids.setdefault("USER_ID", set()).update(pc.unique(ok_users).to_pylist())
            else:
                stats.ids.setdefault(id_column, set()).update(pc.unique(typed[id_column]).to_pylist())
            if progress is not None:
                progress(n)
        for line, what in skipped:
            report.add_rows(
                "error",
                file,
                "field-count",
                None,
                f"the row has {what} (an unquoted comma, or an empty line?); quote values that hold commas.",
                [line],
            )
        stats.bad_rows += len(skipped)
        stats.rows += len(skipped)
    except pa.ArrowInvalid as exc:
        report.add("error", file, "unreadable", f"the CSV cannot be parsed ({exc}); check quoting and encoding.")
        return report
    finally:
        if owned:
            stream.close()
    _duplicates(dataset_type, file, stats, report)
    if dataset_type == "INTERACTIONS":
        check_minimums(report, file, stats.rows - stats.bad_rows, stats.user_counts, kept="valid interactions")
    report.rows_checked[file] = (stats.rows, stats.bad_rows)
    return report


def _duplicates(dataset_type: str, file: str, stats: _Stats, report: Report) -> None:
    if not stats.hashes:
        return
    hashes = np.concatenate(stats.hashes)
    stats.hashes = []
    ordered = np.sort(hashes)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if repeated.size == 0:
        return
    # only the few rows whose hash repeats: order them by (hash, line) and drop the first of each group
    suspect = np.isin(hashes, repeated)
    lines = np.concatenate(stats.lines)[suspect]
    groups = hashes[suspect]
    order = np.lexsort((lines, groups))
    later = np.ones(order.size, dtype=bool)
    later[0] = False
    later[1:] = groups[order][1:] == groups[order][:-1]
    repeated_lines = np.sort(lines[order][later])
    if dataset_type == "INTERACTIONS":
        report.add_rows(
            "warning",
            file,
            "duplicate-row",
            None,
            "the row repeats an earlier row exactly; remove the repeats.",
            repeated_lines,
        )
    else:
        id_field = "ITEM_ID" if dataset_type == "ITEMS" else "USER_ID"
        report.add_rows(
            "error",
            file,
            "duplicate-id",
            id_field,
            f"{id_field} appears on an earlier line too; keep one row per {id_field}.",
            repeated_lines,
        )


def _unusable(path: Path) -> tuple[str, str, str] | None:
    """(file, code, message) when ``path`` exists but cannot be read as a file: a directory, or no permission."""
    if path.is_dir():
        return str(path), "not-a-file", f"{path.name} is a directory; it must be a file: remove or rename it."
    if path.exists():
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            return str(path), "unreadable", f"cannot read {path.name} ({exc.strerror}); give your user access to it."
    return None


def validate_directory(directory: str | Path, *, now: int | None = None, progress: bool = False) -> Report:
    """Validate a prepared directory: each CSV against its schema in ``schemas/``, then the cross-file rules.

    >>> validate_directory("out").ok   # doctest: +SKIP
    True
    """
    directory = Path(directory)
    report = Report()
    if not directory.is_dir():
        what = (
            "is a file, not a folder: give the folder `prepare` wrote (the one holding interaction.csv and schemas/)"
            if directory.exists()
            else "does not exist; run `python -m personalize_kit prepare --out DIR` first"
        )
        report.add("error", str(directory), "no-directory", f"{directory} {what}.")
        return report
    ids: dict[str, dict[str, set[str]]] = {}
    for kind in DATASET_TYPES:
        csv_path = directory / CSV_NAMES[kind]
        schema_path = directory / "schemas" / SCHEMA_NAMES[kind]
        unusable = _unusable(csv_path) or _unusable(schema_path)
        if unusable is not None:
            report.add("error", *unusable)
            continue
        if not csv_path.exists():
            if kind == "INTERACTIONS":
                report.add(
                    "error",
                    str(csv_path),
                    "missing-file",
                    "interaction.csv is missing; Personalize needs interactions to train.",
                )
            continue
        if not schema_path.exists():
            report.add(
                "error",
                str(schema_path),
                "missing-schema",
                f"the schema for {csv_path.name} is missing; write it to {schema_path}.",
            )
            continue
        try:
            schema = load_schema(schema_path)
        except ValueError as exc:
            report.add("error", str(schema_path), "schema-not-json", f"the schema is not valid JSON ({exc}).")
            continue
        stats = _Stats()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(unit=" rows", unit_scale=True, desc=csv_path.name, leave=False)
        try:
            part = validate_dataset(
                csv_path,
                schema,
                kind,
                file_name=csv_path.name,
                now=now,
                progress=bar.update if bar else None,
                _stats=stats,
            )
        finally:
            if bar is not None:
                bar.close()
        report.merge(part)
        ids[kind] = stats.ids
    if "INTERACTIONS" in ids:
        for kind, field in (("ITEMS", "ITEM_ID"), ("USERS", "USER_ID")):
            if kind not in ids:
                continue
            unknown = ids["INTERACTIONS"].get(field, set()) - ids[kind].get(field, set()) - {None}
            if unknown:
                report.add(
                    "warning",
                    CSV_NAMES["INTERACTIONS"],
                    f"unknown-{field.lower()}",
                    f"{len(unknown):,} {field} values in interactions are not in {CSV_NAMES[kind]} "
                    f"(e.g. {sorted(unknown)[:3]}); they get no metadata.",
                    field=field,
                )
    return report


def validate_bytes(data: bytes, schema: dict[str, Any], dataset_type: str | None = None, **kwargs: Any) -> Report:
    """:func:`validate_dataset` over bytes in memory (as an import job reads them from S3)."""
    return validate_dataset(io.BytesIO(data), schema, dataset_type, **kwargs)
