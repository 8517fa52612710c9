"""Loaders for the MovieLens releases: ml-100k, ml-1m and the csv family (ml-latest-small ... ml-32m).

Each loader returns a :class:`~personalize_kit.data.source.RawDataset`. Ratings are streamed with
:func:`pyarrow.csv.open_csv` in chunks of bounded size; items and users are small and read at once.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from personalize_kit.data.source import RATINGS_SCHEMA, RawDataset, SourceProblem
from personalize_kit.exceptions import DataSourceError, shorten

__all__ = ["ML_1M_OCCUPATIONS", "detect_layout", "find_local_movielens", "load_movielens"]

#: Environment variable naming a folder that holds unpacked releases as ``<folder>/<name>/``.
MOVIELENS_DIR_ENV = "PERSONALIZE_KIT_MOVIELENS_DIR"

#: The ratings file that identifies each layout, in the order they are looked for.
_LAYOUT_MARKERS = (("ml-100k", "u.data"), ("ml-1m", "ratings.dat"), ("csv", "ratings.csv"))

#: Occupation codes of ml-1m ``users.dat``, as listed in the ml-1m README.
ML_1M_OCCUPATIONS = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)

_NO_GENRES = "(no genres listed)"
_CSV_RATINGS_HEADER = ("userId", "movieId", "rating", "timestamp")
_CSV_MOVIES_HEADER = ("movieId", "title", "genres")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_RELEASE_DATE = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_NOT_UTF8 = "is not UTF-8 text"
# The number syntax pyarrow's csv reader accepts, to explain a line it refused.
_INT_SYNTAX = re.compile(r"\s*(-?\d+|0[xX][0-9a-fA-F]+)\s*")
_FLOAT_SYNTAX = re.compile(r"\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|inf|infinity)\s*", re.IGNORECASE)

# Bytes per block handed to the csv reader: large enough for throughput, small enough for memory.
_BLOCK_SIZE = 16 << 20


def detect_layout(directory: str | os.PathLike[str]) -> str:
    """Return the MovieLens layout of ``directory``: ``"ml-100k"``, ``"ml-1m"`` or ``"csv"``.

    A folder whose only subfolder is the release (as an unzipped archive looks) is accepted too.

    Example:
        >>> detect_layout("data/ml-latest-small")  # doctest: +SKIP
        'csv'
    """
    return _locate(Path(directory))[1]


def load_movielens(directory: str | os.PathLike[str], *, chunk_rows: int = 1_000_000) -> RawDataset:
    """Load the MovieLens release in ``directory`` as a :class:`RawDataset`.

    Ratings are read lazily: every call of ``dataset.ratings()`` streams the ratings file again in
    ``pyarrow.Table`` chunks of at most ``chunk_rows`` rows with :data:`RATINGS_SCHEMA`. A malformed
    row raises :class:`DataSourceError` naming the file and line. ``items`` (``users``) is ``None`` when
    the release has no movies (users) file; the csv family never has users.

    Example:
        >>> ds = load_movielens("data/ml-100k")  # doctest: +SKIP
        >>> next(ds.ratings()).slice(0, 1).to_pylist()  # doctest: +SKIP
        [{'user_id': '196', 'item_id': '242', 'rating': 3.0, 'timestamp': 881250949}]
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    root, layout = _locate(Path(directory))
    loader = {"ml-100k": _load_100k, "ml-1m": _load_1m, "csv": _load_csv_family}[layout]
    return loader(root, chunk_rows)


def find_local_movielens(name: str) -> Path | None:
    """Return the folder of an unpacked release called ``name`` (``"ml-100k"`` ...) if one is at hand.

    Looks in ``$PERSONALIZE_KIT_MOVIELENS_DIR/<name>`` first, then in the download cache.

    Example:
        >>> find_local_movielens("ml-latest-small")  # doctest: +SKIP
        PosixPath('/home/me/.cache/personalize_kit/movielens/ml-latest-small')
    """
    base = os.environ.get(MOVIELENS_DIR_ENV)
    if base:
        candidate = Path(base) / name
        if candidate.is_dir():
            try:
                return _locate(candidate)[0]
            except DataSourceError:
                pass
    from personalize_kit.data.download import cached_release

    return cached_release(name)


# ---------------------------------------------------------------------------------------------------
# Layout detection


def _layout_of(folder: Path) -> str | None:
    found = [layout for layout, marker in _LAYOUT_MARKERS if (folder / marker).is_file()]
    if len(found) > 1:
        files = ", ".join(marker for layout, marker in _LAYOUT_MARKERS if layout in found)
        raise DataSourceError(
            f"{folder} holds the ratings files of more than one MovieLens layout ({files}). "
            "Keep one release per folder and point --source at it."
        )
    return found[0] if found else None


def _locate(directory: Path) -> tuple[Path, str]:
    """Return the folder that holds the release files and its layout."""
    if not directory.is_dir():
        raise DataSourceError(
            f"{directory} is not a folder. Point --source at the folder that holds u.data, ratings.dat or ratings.csv."
        )
    layout = _layout_of(directory)
    if layout is not None:
        return directory, layout
    subfolders = [p for p in directory.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(subfolders) == 1:
        layout = _layout_of(subfolders[0])
        if layout is not None:
            return subfolders[0], layout
    raise DataSourceError(
        f"No MovieLens release found in {directory}: looked for u.data (ml-100k), ratings.dat (ml-1m) "
        "or ratings.csv (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m), in the "
        "folder and in a single subfolder. Point --source at the folder that holds u.data, ratings.dat "
        "or ratings.csv."
    )


# ---------------------------------------------------------------------------------------------------
# Ratings streaming


@dataclass(frozen=True)
class _RatingsFile:
    """How to read one ratings file with pyarrow, and how to explain a bad line of it."""

    path: Path
    read_options: pacsv.ReadOptions
    parse_options: pacsv.ParseOptions
    convert_options: pacsv.ConvertOptions
    columns: tuple[str, str, str, str]  # source column names for user, item, rating, timestamp
    header_lines: int
    check_line: Callable[[bytes], str | None]  # returns what is wrong with one line, or None
    expected: str  # the expected line format, for messages


def _convert_options(columns: tuple[str, str, str, str]) -> pacsv.ConvertOptions:
    user, item, rating, timestamp = columns
    return pacsv.ConvertOptions(
        column_types={user: pa.string(), item: pa.string(), rating: pa.float64(), timestamp: pa.int64()},
        include_columns=list(columns),
        # Only an empty field is null; nulls are then rejected with the line they are on.
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )


def _stream(spec: _RatingsFile, chunk_rows: int) -> Iterator[pa.Table]:
    rows_read = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        reader = pacsv.open_csv(
            spec.path,
            read_options=spec.read_options,
            parse_options=spec.parse_options,
            convert_options=spec.convert_options,
        )
    except pa.ArrowInvalid as exc:
        raise _bad_ratings(spec, rows_read, str(exc)) from None
    except OSError as exc:
        raise unreadable(spec.path, exc) from None
    with reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _bad_ratings(spec, rows_read, str(exc)) from None
            arrays = [batch.column(name) for name in spec.columns]
            if any(a.null_count for a in arrays):
                raise _bad_ratings(spec, rows_read, "an empty field")
            rows_read += batch.num_rows
            pending.append(pa.RecordBatch.from_arrays(arrays, schema=RATINGS_SCHEMA))
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                table = pa.Table.from_batches(pending, schema=RATINGS_SCHEMA)
                yield table.slice(0, chunk_rows)
                rest = table.slice(chunk_rows)
                pending = rest.to_batches()
                pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending, schema=RATINGS_SCHEMA)


def _bad_ratings(spec: _RatingsFile, rows_read: int, arrow_message: str) -> DataSourceError:
    """Find the first bad line at or after the block that failed and describe it."""
    # Every yielded row took at least one line, so the failing block starts no earlier than this.
    first_candidate = spec.header_lines + rows_read + 1
    with open(spec.path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number < first_candidate:
                continue
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            problem = spec.check_line(line)
            if problem is not None:
                advice = (
                    "Save the file as UTF-8 and run again."
                    if problem.endswith(_NOT_UTF8)
                    else f"Expected {spec.expected}. Fix or remove that line and run again."
                )
                return DataSourceError(f"{spec.path}, line {number}: {problem}. {advice}")
    return DataSourceError(
        f"{spec.path}: cannot read the ratings ({arrow_message}). Expected {spec.expected}. "
        "Check the file for lines that break that format."
    )


def _decode_line(line: bytes) -> tuple[str | None, str | None]:
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"byte 0x{line[exc.start]:02x} at column {exc.start + 1} {_NOT_UTF8}"


def _check_fields(fields: list[str], count: int, line: str) -> str | None:
    if len(fields) != count:
        return f"expected {count} fields, found {len(fields)} in {line!r}"
    user, item, rating, timestamp = fields
    if not user.strip():
        return "the user id is empty"
    if not item.strip():
        return "the item id is empty"
    if not rating.strip():
        return "the rating is empty"
    if not _FLOAT_SYNTAX.fullmatch(rating):
        return f"rating {rating!r} is not a number"
    if not timestamp.strip():
        return "the timestamp is empty"
    if not _INT_SYNTAX.fullmatch(timestamp):
        return f"timestamp {timestamp!r} is not a whole number of seconds"
    return None


def _checker(split: Callable[[str], list[str]], count: int) -> Callable[[bytes], str | None]:
    def check(raw: bytes) -> str | None:
        text, problem = _decode_line(raw)
        if text is None:
            return problem
        return _check_fields(split(text), count, text)

    return check


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def unreadable(path: Path, exc: OSError) -> DataSourceError:
    """One line for a source file that cannot be read: which, why, and what to do."""
    what = (
        "it is a directory: give a folder holding the release's files"
        if isinstance(exc, IsADirectoryError)
        else ("give your user read access to it (chmod/chown), or point --source at another folder")
    )
    return DataSourceError(f"cannot read {path}: {exc.strerror or exc}; {what}")


def _csv_ratings(path: Path) -> _RatingsFile:
    try:
        with open(path, "rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise unreadable(path, exc) from None
    header_text, problem = _decode_line(first.rstrip(b"\r\n"))
    if header_text is None:
        raise DataSourceError(f"{path}, line 1: {problem}. Save the file as UTF-8 and run again.")
    header = [h.strip() for h in _split_csv(header_text.lstrip("\ufeff"))]
    missing = [c for c in _CSV_RATINGS_HEADER if c not in header]
    if missing:
        raise DataSourceError(
            f"{path}, line 1: the header {','.join(header)!r} lacks {', '.join(missing)}. "
            f"Expected the header {','.join(_CSV_RATINGS_HEADER)!r}."
        )
    positions = [header.index(c) for c in _CSV_RATINGS_HEADER]

    def check(raw: bytes) -> str | None:
        text, problem = _decode_line(raw)
        if text is None:
            return problem
        fields = _split_csv(text)
        if len(fields) != len(header):
            return f"expected {len(header)} fields, found {len(fields)} in {text!r}"
        return _check_fields([fields[i] for i in positions], 4, text)

    columns = _CSV_RATINGS_HEADER
    return _RatingsFile(
        path=path,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=_BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(delimiter=","),
        convert_options=_convert_options(columns),
        columns=columns,
        header_lines=1,
        check_line=check,
        expected=f"the columns {','.join(header)} with a numeric rating and an integer timestamp",
    )


def _100k_ratings(path: Path) -> _RatingsFile:
    columns = ("user_id", "item_id", "rating", "timestamp")
    return _RatingsFile(
        path=path,
        read_options=pacsv.ReadOptions(column_names=list(columns), block_size=_BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=_convert_options(columns),
        columns=columns,
        header_lines=0,
        check_line=_checker(lambda s: s.split("\t"), 4),
        expected="'user id<TAB>item id<TAB>rating<TAB>timestamp'",
    )


def _1m_ratings(path: Path) -> _RatingsFile:
    # "::" is read as the one-character delimiter ":" with an empty column between the fields;
    # those empty columns are typed null so that a stray single ':' is caught as a bad line.
    names = ["user_id", "_sep1", "item_id", "_sep2", "rating", "_sep3", "timestamp"]
    columns = ("user_id", "item_id", "rating", "timestamp")
    convert = _convert_options(columns)
    convert.column_types = {
        **convert.column_types,
        "_sep1": pa.null(),
        "_sep2": pa.null(),
        "_sep3": pa.null(),
    }
    convert.include_columns = names
    return _RatingsFile(
        path=path,
        read_options=pacsv.ReadOptions(column_names=names, block_size=_BLOCK_SIZE),
        parse_options=pacsv.ParseOptions(delimiter=":", quote_char=False),
        convert_options=convert,
        columns=columns,
        header_lines=0,
        check_line=_checker(lambda s: s.split("::"), 4),
        expected="'UserID::MovieID::Rating::Timestamp'",
    )


# ---------------------------------------------------------------------------------------------------
# Items and users


def _read_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for the non-blank lines of a small text file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    if encoding == "utf-8-or-latin-1":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data.decode(encoding)
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _fields(path: Path, number: int, line: str, sep: str, count: int, what: str) -> list[str]:
    fields = line.split(sep)
    if len(fields) != count:
        raise DataSourceError(
            f"{path}, line {number}: expected {count} fields separated by {sep!r} ({what}), "
            f"found {len(fields)}. Fix or remove that line and run again."
        )
    return fields


def _int_field(path: Path, number: int, value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataSourceError(
            f"{path}, line {number}: {name} {value!r} is not a whole number. Fix that line and run again."
        ) from None


def _release_date(value: str) -> int | None:
    """Epoch seconds of a date like ``01-Jan-1995``; ``None`` when empty or not such a date."""
    match = _RELEASE_DATE.fullmatch(value.strip())
    month = _MONTHS.get(match.group(2).lower()) if match else None
    if match is None or month is None:
        return None
    try:
        return int(datetime(int(match.group(3)), month, int(match.group(1)), tzinfo=UTC).timestamp())
    except ValueError:
        return None


def _bad_dates(path: Path, lines: list[int], first: str) -> SourceProblem:
    return SourceProblem(
        str(path),
        "release-date-malformed",
        "release date",
        f"the release date is not a date like '01-Jan-1995' (first: {shorten(first, 40)!r}); those items get the "
        "date of their first interaction, as items released before 1970 do. Fix the dates to use them.",
        tuple(lines),
    )


def _items_frame(ids: list[str], titles: list[str], genres: list[str], created: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": pd.Series(ids, dtype=object),
            "title": pd.Series(titles, dtype=object),
            "genres": pd.Series(genres, dtype=object),
            "creation_timestamp": pd.array(created, dtype="Int64"),
        }
    )


def _users_frame(rows: list[tuple[str, int, str, str, str]]) -> pd.DataFrame:
    def column(i: int) -> list[object]:
        return [row[i] for row in rows]

    return pd.DataFrame(
        {
            "user_id": pd.Series(column(0), dtype=object),
            "age": pd.array(column(1), dtype="Int64"),
            "gender": pd.Series(column(2), dtype=object),
            "occupation": pd.Series(column(3), dtype=object),
            "location": pd.Series(column(4), dtype=object),
        }
    )


def _genre(name: str) -> str:
    return "" if name == _NO_GENRES else name


# ---------------------------------------------------------------------------------------------------
# ml-100k


def _read_100k_genres(path: Path) -> list[str]:
    if not path.is_file():
        raise DataSourceError(
            f"{path} is missing: the genre names of u.item come from it. Copy u.genre from the ml-100k "
            "release next to u.item."
        )
    indexed = []
    for number, line in _read_lines(path, "latin-1"):
        name, index = _fields(path, number, line, "|", 2, "genre|index")
        indexed.append((_int_field(path, number, index, "genre index"), name))
    return [name for _, name in sorted(indexed)]


def _read_100k_items(path: Path, genre_names: list[str], problems: list[SourceProblem]) -> pd.DataFrame:
    ids, titles, genres, created = [], [], [], []
    bad_dates: list[int] = []
    first_bad = ""
    count = 5 + len(genre_names)
    what = f"movie id|title|release date|video release date|IMDb URL|{len(genre_names)} genre flags"
    for number, line in _read_lines(path, "latin-1"):
        fields = _fields(path, number, line, "|", count, what)
        flags = fields[5:]
        if any(f not in ("0", "1") for f in flags):
            raise DataSourceError(
                f"{path}, line {number}: the genre flags must be 0 or 1, found {'|'.join(flags)!r}. "
                "Fix that line and run again."
            )
        ids.append(fields[0])
        titles.append(fields[1])
        genres.append("|".join(g for g, f in zip(genre_names, flags, strict=True) if f == "1"))
        date = _release_date(fields[2]) if fields[2].strip() else None
        if date is None and fields[2].strip():
            first_bad = first_bad or fields[2]
            bad_dates.append(number)
        created.append(date)
    if bad_dates:
        problems.append(_bad_dates(path, bad_dates, first_bad))
    return _items_frame(ids, titles, genres, created)


def _read_100k_users(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in _read_lines(path, "latin-1"):
        user, age, gender, occupation, zip_code = _fields(
            path, number, line, "|", 5, "user id|age|gender|occupation|zip code"
        )
        rows.append((user, _int_field(path, number, age, "age"), gender, occupation, zip_code))
    return _users_frame(rows)


def _read_100k_count(path: Path) -> int | None:
    if not path.is_file():
        return None
    for _, line in _read_lines(path, "latin-1"):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "ratings" and parts[0].isdigit():
            return int(parts[0])
    return None


def _load_100k(root: Path, chunk_rows: int) -> RawDataset:
    ratings, items_path, users_path = root / "u.data", root / "u.item", root / "u.user"
    problems: list[SourceProblem] = []
    items = (
        _read_100k_items(items_path, _read_100k_genres(root / "u.genre"), problems) if items_path.is_file() else None
    )
    users = _read_100k_users(users_path) if users_path.is_file() else None
    spec = _100k_ratings(ratings)
    return RawDataset(
        name="ml-100k",
        ratings=lambda: _stream(spec, chunk_rows),
        items=items,
        users=users,
        n_ratings=_read_100k_count(root / "u.info"),
        origin=f"ml-100k at {root}",
        files=_files(ratings, items_path, users_path),
        problems=problems,
    )


# ---------------------------------------------------------------------------------------------------
# ml-1m


def _read_1m_items(path: Path) -> pd.DataFrame:
    ids, titles, genres = [], [], []
    for number, line in _read_lines(path, "utf-8-or-latin-1"):
        item, title, genre = _fields(path, number, line, "::", 3, "MovieID::Title::Genres")
        ids.append(item)
        titles.append(title)
        genres.append(_genre(genre))
    return _items_frame(ids, titles, genres, [None] * len(ids))


def _read_1m_users(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in _read_lines(path, "utf-8-or-latin-1"):
        user, gender, age, occupation, zip_code = _fields(
            path, number, line, "::", 5, "UserID::Gender::Age::Occupation::Zip-code"
        )
        code = _int_field(path, number, occupation, "occupation code")
        if not 0 <= code < len(ML_1M_OCCUPATIONS):
            raise DataSourceError(
                f"{path}, line {number}: occupation code {code} is not one of the ml-1m codes "
                f"0-{len(ML_1M_OCCUPATIONS) - 1}. Fix that line and run again."
            )
        rows.append((user, _int_field(path, number, age, "age"), gender, ML_1M_OCCUPATIONS[code], zip_code))
    return _users_frame(rows)


def _load_1m(root: Path, chunk_rows: int) -> RawDataset:
    ratings, items_path, users_path = root / "ratings.dat", root / "movies.dat", root / "users.dat"
    items = _read_1m_items(items_path) if items_path.is_file() else None
    users = _read_1m_users(users_path) if users_path.is_file() else None
    spec = _1m_ratings(ratings)
    return RawDataset(
        name="ml-1m",
        ratings=lambda: _stream(spec, chunk_rows),
        items=items,
        users=users,
        n_ratings=None,
        origin=f"ml-1m at {root}",
        files=_files(ratings, items_path, users_path),
    )


# ---------------------------------------------------------------------------------------------------
# csv family


def _read_csv_items(path: Path) -> pd.DataFrame:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        number = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataSourceError(
            f"{path}, line {number}: byte 0x{data[exc.start]:02x} at column {column} {_NOT_UTF8}. "
            "Save the file as UTF-8 and run again."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in _CSV_MOVIES_HEADER if c not in header]
    if missing:
        raise DataSourceError(
            f"{path}, line 1: the header {','.join(header)!r} lacks {', '.join(missing)}. "
            f"Expected the header {','.join(_CSV_MOVIES_HEADER)!r}."
        )
    at = [header.index(c) for c in _CSV_MOVIES_HEADER]
    ids, titles, genres = [], [], []
    for row in reader:
        if not row:
            continue
        if len(row) != len(header):
            raise DataSourceError(
                f"{path}, line {reader.line_num}: expected {len(header)} fields ({','.join(header)}), "
                f"found {len(row)}. Quote titles that contain commas and run again."
            )
        ids.append(row[at[0]])
        titles.append(row[at[1]])
        genres.append(_genre(row[at[2]]))
    return _items_frame(ids, titles, genres, [None] * len(ids))


def _load_csv_family(root: Path, chunk_rows: int) -> RawDataset:
    ratings, items_path = root / "ratings.csv", root / "movies.csv"
    spec = _csv_ratings(ratings)
    items = _read_csv_items(items_path) if items_path.is_file() else None
    return RawDataset(
        name=root.name,
        ratings=lambda: _stream(spec, chunk_rows),
        items=items,
        users=None,
        n_ratings=None,
        origin=f"{root.name} at {root}",
        files=_files(ratings, items_path, None),
        first_line={"ratings": 2, "items": 2},
    )


def _files(ratings: Path, items: Path, users: Path | None) -> dict[str, str]:
    files = {"ratings": str(ratings)}
    if items.is_file():
        files["items"] = str(items)
    if users is not None and users.is_file():
        files["users"] = str(users)
    return files
