"""Tests of the MovieLens loaders on small files in each layout and on the real releases where present."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from personalize_kit.data import movielens
from personalize_kit.data.movielens import ML_1M_OCCUPATIONS, detect_layout, load_movielens
from personalize_kit.data.source import RATINGS_SCHEMA
from personalize_kit.exceptions import DataSourceError

GENRES_100K = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]
CSV_EXPECTED = "Expected the columns userId,movieId,rating,timestamp with a numeric rating and an integer timestamp."
FIX = "Fix or remove that line and run again."


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRES_100K)


def _rows(directory: Path, **kwargs: int) -> list[dict[str, object]]:
    return pa.concat_tables(load_movielens(directory, **kwargs).ratings()).to_pylist()


# ---------------------------------------------------------------------------------------------------
# Fixture writers, one per layout


@pytest.fixture
def ml_100k_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_bytes(b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    genre_lines = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES_100K)) + "\n"
    (folder / "u.genre").write_text(genre_lines, encoding="latin-1")
    toy_story = _flags("Animation", "Children's", "Comedy")
    items = [
        f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{toy_story}",
        f"267|unknown||||{_flags('unknown')}",
        f"1373|Café Society (1971)|4-Feb-1971||http://us.imdb.com/x|{_flags()}",
    ]
    (folder / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n", encoding="latin-1")
    (folder / "u.info").write_text("943 users\n1682 items\n3 ratings\n", encoding="latin-1")
    return folder


@pytest.fixture
def ml_1m_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_bytes(b"1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n")
    movies = (
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "260::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n"
        "3::Misérables, Les (1995)::(no genres listed)\n"
    )
    (folder / "movies.dat").write_bytes(movies.encode("latin-1"))
    (folder / "users.dat").write_bytes(b"1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


@pytest.fixture
def ml_csv_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(
        b'userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n"1",3,4.5,964981247\r\n610,193609,0.5,1537109082\r\n'
    )
    (folder / "movies.csv").write_bytes(
        b"movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n"
        b'11,"American President, The (1995)",Comedy|Drama|Romance\r\n'
        b"193609,Andrew Dice Clay: Dice Rules (1991),(no genres listed)\r\n"
        + '29,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Drama\r\n'.encode()
    )
    return folder


def _csv_with(tmp_path: Path, ratings: bytes, movies: bytes = b"movieId,title,genres\n") -> Path:
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(ratings)
    (folder / "movies.csv").write_bytes(movies)
    return folder


# ---------------------------------------------------------------------------------------------------
# Layout detection


def test_detect_layout_of_each_release(ml_100k_dir: Path, ml_1m_dir: Path, ml_csv_dir: Path) -> None:
    assert detect_layout(ml_100k_dir) == "ml-100k"
    assert detect_layout(ml_1m_dir) == "ml-1m"
    assert detect_layout(ml_csv_dir) == "csv"


def test_detect_layout_accepts_a_single_nested_release_folder(tmp_path: Path, ml_csv_dir: Path) -> None:
    outer = tmp_path / "unzipped"
    outer.mkdir()
    ml_csv_dir.rename(outer / "ml-latest-small")
    (outer / "__MACOSX").mkdir()  # as zips made on macOS carry

    assert detect_layout(outer) == "csv"
    dataset = load_movielens(outer)
    assert dataset.origin == f"ml-latest-small at {outer / 'ml-latest-small'}"
    assert dataset.files["ratings"] == str(outer / "ml-latest-small" / "ratings.csv")
    assert len(_rows(outer)) == 3


def test_detect_layout_explains_an_unknown_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    with pytest.raises(DataSourceError) as info:
        detect_layout(tmp_path)

    assert str(info.value) == (
        f"No MovieLens release found in {tmp_path}: looked for u.data (ml-100k), ratings.dat (ml-1m) "
        "or ratings.csv (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m), in the "
        "folder and in a single subfolder. Point --source at the folder that holds u.data, ratings.dat "
        "or ratings.csv."
    )


def test_detect_layout_rejects_missing_and_mixed_folders(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=rf"^{tmp_path / 'missing'} is not a folder\. Point --source"):
        detect_layout(tmp_path / "missing")
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    with pytest.raises(DataSourceError, match=r"more than one MovieLens layout \(u\.data, ratings\.csv\)"):
        detect_layout(tmp_path)


# ---------------------------------------------------------------------------------------------------
# ml-100k


def test_load_100k(ml_100k_dir: Path) -> None:
    dataset = load_movielens(ml_100k_dir)

    assert dataset.name == "ml-100k"
    assert dataset.origin == f"ml-100k at {ml_100k_dir}"
    assert dataset.n_ratings == 3
    assert dataset.files == {
        "ratings": str(ml_100k_dir / "u.data"),
        "items": str(ml_100k_dir / "u.item"),
        "users": str(ml_100k_dir / "u.user"),
    }
    assert _rows(ml_100k_dir) == [
        {"user_id": "196", "item_id": "242", "rating": 3.0, "timestamp": 881250949},
        {"user_id": "186", "item_id": "302", "rating": 3.0, "timestamp": 891717742},
        {"user_id": "22", "item_id": "377", "rating": 1.0, "timestamp": 878887116},
    ]
    assert dataset.items is not None
    assert dataset.items.to_dict("records") == [
        {
            "item_id": "1",
            "title": "Toy Story (1995)",
            "genres": "Animation|Children's|Comedy",
            "creation_timestamp": 788918400,
        },
        {"item_id": "267", "title": "unknown", "genres": "unknown", "creation_timestamp": None},
        {"item_id": "1373", "title": "Café Society (1971)", "genres": "", "creation_timestamp": 34473600},
    ]
    assert str(dataset.items["creation_timestamp"].dtype) == "Int64"
    assert dataset.users is not None
    assert dataset.users.to_dict("records") == [
        {"user_id": "1", "age": 24, "gender": "M", "occupation": "technician", "location": "85711"},
        {"user_id": "2", "age": 53, "gender": "F", "occupation": "other", "location": "94043"},
    ]
    assert str(dataset.users["age"].dtype) == "Int64"


def test_100k_genres_follow_u_genre_order(ml_100k_dir: Path) -> None:
    reordered = ["Comedy", "Animation", "unknown", "Children's", *GENRES_100K[6:], "Action", "Adventure"]
    (ml_100k_dir / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(reordered)))
    flags = "|".join("1" if g in ("Animation", "Comedy") else "0" for g in reordered)
    (ml_100k_dir / "u.item").write_text(f"1|Toy Story (1995)|01-Jan-1995||url|{flags}\n")

    items = load_movielens(ml_100k_dir).items
    assert items is not None
    assert items["genres"].tolist() == ["Comedy|Animation"]


def test_100k_without_u_info_has_no_count(ml_100k_dir: Path) -> None:
    (ml_100k_dir / "u.info").unlink()
    assert load_movielens(ml_100k_dir).n_ratings is None


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "u.data",
            b"1\t2\t3\t4\n1\t2\t3\n",
            "u.data, line 2: expected 4 fields, found 3 in '1\\t2\\t3'. "
            "Expected 'user id<TAB>item id<TAB>rating<TAB>timestamp'. " + FIX,
        ),
        (
            "u.data",
            b"1\t2\t3\t4\n\n1\t\t3\t4\n",
            "u.data, line 3: the item id is empty. Expected 'user id<TAB>item id<TAB>rating<TAB>timestamp'. " + FIX,
        ),
    ],
)
def test_100k_bad_ratings(ml_100k_dir: Path, file: str, content: bytes, message: str) -> None:
    (ml_100k_dir / file).write_bytes(content)
    with pytest.raises(DataSourceError) as info:
        _rows(ml_100k_dir)
    assert str(info.value) == f"{ml_100k_dir / file}, line {message.split(', line ', 1)[1]}"


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "u.item",
            "1|Toy Story (1995)|01-Jan-1995||url|0|1\n",
            "line 1: expected 24 fields separated by '|' (movie id|title|release date|video release date|"
            "IMDb URL|19 genre flags), found 7. Fix or remove that line and run again.",
        ),
        (
            "u.item",
            f"1|A|01-Jan-1995||url|{_flags().replace('0', 'x', 1)}\n",
            "line 1: the genre flags must be 0 or 1, found "
            f"'{_flags().replace('0', 'x', 1)}'. Fix that line and run again.",
        ),
        (
            "u.user",
            "1|24|M|technician|85711\n2|old|F|other|94043\n",
            "line 2: age 'old' is not a whole number. Fix that line and run again.",
        ),
    ],
)
def test_100k_bad_items_and_users(ml_100k_dir: Path, file: str, content: str, message: str) -> None:
    (ml_100k_dir / file).write_text(content, encoding="latin-1")
    with pytest.raises(DataSourceError) as info:
        load_movielens(ml_100k_dir)
    assert str(info.value) == f"{ml_100k_dir / file}, {message}"


def test_100k_a_malformed_release_date_falls_back_with_a_warning(ml_100k_dir: Path) -> None:
    """The release date is optional metadata: a bad one is counted and reported, never fatal."""
    (ml_100k_dir / "u.item").write_text(
        f"1|A|01-Jan-1995||url|{_flags()}\n2|B|1995-01-01||url|{_flags()}\n3|C|31-Feb-1995||url|{_flags()}\n"
        f"4|D|||url|{_flags()}\n",
        encoding="latin-1",
    )
    dataset = load_movielens(ml_100k_dir)
    assert dataset.items["creation_timestamp"].tolist()[0] == 788918400
    assert dataset.items["creation_timestamp"].isna().tolist() == [False, True, True, True]
    [problem] = dataset.problems
    assert (problem.file, problem.code) == (str(ml_100k_dir / "u.item"), "release-date-malformed")
    assert problem.lines == (2, 3)
    assert problem.message.startswith("the release date is not a date like '01-Jan-1995' (first: '1995-01-01')")


def test_100k_items_need_u_genre(ml_100k_dir: Path) -> None:
    (ml_100k_dir / "u.genre").unlink()
    with pytest.raises(DataSourceError, match=r"u\.genre is missing: the genre names of u\.item come from it"):
        load_movielens(ml_100k_dir)


# ---------------------------------------------------------------------------------------------------
# ml-1m


def test_load_1m(ml_1m_dir: Path) -> None:
    dataset = load_movielens(ml_1m_dir)

    assert dataset.name == "ml-1m"
    assert dataset.origin == f"ml-1m at {ml_1m_dir}"
    assert dataset.n_ratings is None
    assert dataset.files == {
        "ratings": str(ml_1m_dir / "ratings.dat"),
        "items": str(ml_1m_dir / "movies.dat"),
        "users": str(ml_1m_dir / "users.dat"),
    }
    assert _rows(ml_1m_dir) == [
        {"user_id": "1", "item_id": "1193", "rating": 5.0, "timestamp": 978300760},
        {"user_id": "1", "item_id": "661", "rating": 3.0, "timestamp": 978302109},
        {"user_id": "2", "item_id": "1357", "rating": 5.0, "timestamp": 978298709},
    ]
    assert dataset.items is not None
    assert dataset.items.to_dict("records") == [
        {
            "item_id": "1",
            "title": "Toy Story (1995)",
            "genres": "Animation|Children's|Comedy",
            "creation_timestamp": None,
        },
        {
            "item_id": "260",
            "title": "Star Wars: Episode IV - A New Hope (1977)",
            "genres": "Action|Adventure|Fantasy|Sci-Fi",
            "creation_timestamp": None,
        },
        {"item_id": "3", "title": "Misérables, Les (1995)", "genres": "", "creation_timestamp": None},
    ]
    assert dataset.users is not None
    assert dataset.users.to_dict("records") == [
        {"user_id": "1", "age": 1, "gender": "F", "occupation": "K-12 student", "location": "48067"},
        {"user_id": "2", "age": 56, "gender": "M", "occupation": "self-employed", "location": "70072"},
    ]


def test_1m_occupation_names_follow_the_readme_codes() -> None:
    assert len(ML_1M_OCCUPATIONS) == 21
    assert (ML_1M_OCCUPATIONS[0], ML_1M_OCCUPATIONS[12], ML_1M_OCCUPATIONS[20]) == (
        "other",
        "programmer",
        "writer",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"1::1193::5::978300760\n1:2:3::4::5\n", "line 2: expected 4 fields, found 3 in '1:2:3::4::5'."),
        (b"1::1193::5::978300760\n1::661::five::978302109\n", "line 2: rating 'five' is not a number."),
        (b"1::1193::5::978300760\n1::661::3::\n", "line 2: the timestamp is empty."),
    ],
)
def test_1m_bad_ratings(ml_1m_dir: Path, content: bytes, message: str) -> None:
    (ml_1m_dir / "ratings.dat").write_bytes(content)
    with pytest.raises(DataSourceError) as info:
        _rows(ml_1m_dir)
    assert str(info.value) == (
        f"{ml_1m_dir / 'ratings.dat'}, {message} Expected 'UserID::MovieID::Rating::Timestamp'. {FIX}"
    )


def test_1m_unknown_occupation_code(ml_1m_dir: Path) -> None:
    (ml_1m_dir / "users.dat").write_bytes(b"1::F::1::10::48067\n2::M::56::21::70072\n")
    with pytest.raises(DataSourceError) as info:
        load_movielens(ml_1m_dir)
    assert str(info.value) == (
        f"{ml_1m_dir / 'users.dat'}, line 2: occupation code 21 is not one of the ml-1m codes 0-20. "
        "Fix that line and run again."
    )


# ---------------------------------------------------------------------------------------------------
# csv family


def test_load_csv_family(ml_csv_dir: Path) -> None:
    dataset = load_movielens(ml_csv_dir)

    assert dataset.name == "ml-latest-small"
    assert dataset.origin == f"ml-latest-small at {ml_csv_dir}"
    assert dataset.users is None
    assert dataset.n_ratings is None
    assert dataset.files == {
        "ratings": str(ml_csv_dir / "ratings.csv"),
        "items": str(ml_csv_dir / "movies.csv"),
    }
    assert _rows(ml_csv_dir) == [
        {"user_id": "1", "item_id": "1", "rating": 4.0, "timestamp": 964982703},
        {"user_id": "1", "item_id": "3", "rating": 4.5, "timestamp": 964981247},
        {"user_id": "610", "item_id": "193609", "rating": 0.5, "timestamp": 1537109082},
    ]
    assert dataset.items is not None
    assert dataset.items[["item_id", "title", "genres"]].values.tolist() == [
        ["1", "Toy Story (1995)", "Adventure|Animation"],
        ["11", "American President, The (1995)", "Comedy|Drama|Romance"],
        ["193609", "Andrew Dice Clay: Dice Rules (1991)", ""],
        ["29", "City of Lost Children, The (Cité des enfants perdus, La) (1995)", "Drama"],
    ]
    assert dataset.items["creation_timestamp"].isna().all()
    assert str(dataset.items["creation_timestamp"].dtype) == "Int64"


def test_ratings_stream_in_bounded_chunks_with_the_contract_schema(ml_csv_dir: Path) -> None:
    dataset = load_movielens(ml_csv_dir, chunk_rows=2)

    chunks = list(dataset.ratings())
    assert [c.num_rows for c in chunks] == [2, 1]
    assert all(c.schema == RATINGS_SCHEMA for c in chunks)
    again = list(dataset.ratings())  # each call reads the file again
    assert pa.concat_tables(again).equals(pa.concat_tables(chunks))


def test_streaming_across_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(movielens, "_BLOCK_SIZE", 1024)
    lines = [f"{u},{u % 97},{(u % 10 + 1) / 2},{1_000_000 + u}" for u in range(5000)]
    folder = _csv_with(tmp_path, ("userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n").encode())

    chunks = list(load_movielens(folder, chunk_rows=700).ratings())

    assert [c.num_rows for c in chunks] == [700] * 7 + [100]
    table = pa.concat_tables(chunks)
    assert table.column("user_id").to_pylist() == [str(u) for u in range(5000)]
    assert table.column("timestamp").to_pylist()[-1] == 1_004_999


def test_bad_line_far_into_the_file_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(movielens, "_BLOCK_SIZE", 1024)
    lines = [f"{u},{u},4.0,{1_000_000 + u}" for u in range(3000)]
    lines[1498] = "7,8,4.0,yesterday"  # file line 1500, after the header
    folder = _csv_with(tmp_path, ("userId,movieId,rating,timestamp\n" + "\n".join(lines) + "\n").encode())

    received = 0
    with pytest.raises(DataSourceError) as info:  # noqa: PT012 (the error surfaces while streaming)
        for chunk in load_movielens(folder, chunk_rows=100).ratings():
            received += chunk.num_rows
    assert str(info.value) == (
        f"{folder / 'ratings.csv'}, line 1500: timestamp 'yesterday' is not a whole number of seconds. "
        f"{CSV_EXPECTED} {FIX}"
    )
    assert 0 < received < 1498  # rows before the bad block were streamed


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        (
            b"userId,movieId,rating,timestamp\r\n1,2,3.5,4\r\n1,2,3\r\n",
            "line 3: expected 4 fields, found 3 in '1,2,3'.",
        ),
        (b"userId,movieId,rating,timestamp\n1,2,good,4\n", "line 2: rating 'good' is not a number."),
        (
            b"userId,movieId,rating,timestamp\n1,2,3,4\n1,2,3,12.5\n",
            "line 3: timestamp '12.5' is not a whole number of seconds.",
        ),
        (b"userId,movieId,rating,timestamp\n1,2,3,4\n,2,3,4\n", "line 3: the user id is empty."),
        (b"userId,movieId,rating,timestamp\n1,2,,4\n", "line 2: the rating is empty."),
        (
            b"userId,movieId,rating,timestamp\n1,2,3,4\n1,2,3,+5\n",
            "line 3: timestamp '+5' is not a whole number of seconds.",
        ),
        (b"userId,movieId,rating,timestamp\n1,2,1_0,4\n", "line 2: rating '1_0' is not a number."),
    ],
)
def test_csv_bad_ratings(tmp_path: Path, ratings: bytes, message: str) -> None:
    folder = _csv_with(tmp_path, ratings)
    with pytest.raises(DataSourceError) as info:
        _rows(folder)
    assert str(info.value) == f"{folder / 'ratings.csv'}, {message} {CSV_EXPECTED} {FIX}"


def test_csv_non_utf8_ratings(tmp_path: Path) -> None:
    folder = _csv_with(tmp_path, b"userId,movieId,rating,timestamp\r\n1,2,3.5,4\r\n1,\xe9,3,5\r\n")
    with pytest.raises(DataSourceError) as info:
        _rows(folder)
    assert str(info.value) == (
        f"{folder / 'ratings.csv'}, line 3: byte 0xe9 at column 3 is not UTF-8 text. "
        "Save the file as UTF-8 and run again."
    )


def test_csv_non_utf8_movies(tmp_path: Path) -> None:
    movies = b"movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Caf\xe9 (1999),Drama\n"
    folder = _csv_with(tmp_path, b"userId,movieId,rating,timestamp\n", movies)
    with pytest.raises(DataSourceError) as info:
        load_movielens(folder)
    assert str(info.value) == (
        f"{folder / 'movies.csv'}, line 3: byte 0xe9 at column 6 is not UTF-8 text. "
        "Save the file as UTF-8 and run again."
    )


def test_csv_movies_with_an_unquoted_comma(tmp_path: Path) -> None:
    movies = b"movieId,title,genres\n1,Toy Story (1995),Comedy\n11,American President, The (1995),Drama\n"
    folder = _csv_with(tmp_path, b"userId,movieId,rating,timestamp\n", movies)
    with pytest.raises(DataSourceError) as info:
        load_movielens(folder)
    assert str(info.value) == (
        f"{folder / 'movies.csv'}, line 3: expected 3 fields (movieId,title,genres), found 4. "
        "Quote titles that contain commas and run again."
    )


def test_csv_header_is_checked_and_column_order_followed(tmp_path: Path) -> None:
    folder = _csv_with(tmp_path, b"userId,movieId,score\n1,2,3\n")
    with pytest.raises(DataSourceError) as info:
        load_movielens(folder)
    assert str(info.value) == (
        f"{folder / 'ratings.csv'}, line 1: the header 'userId,movieId,score' lacks rating, timestamp. "
        "Expected the header 'userId,movieId,rating,timestamp'."
    )

    (folder / "ratings.csv").write_bytes(b"\xef\xbb\xbftimestamp,rating,movieId,userId\n964982703,4.0,1,9\n")
    assert _rows(folder) == [{"user_id": "9", "item_id": "1", "rating": 4.0, "timestamp": 964982703}]


def test_chunk_rows_must_be_positive(ml_csv_dir: Path) -> None:
    with pytest.raises(ValueError, match="chunk_rows must be at least 1, got 0"):
        load_movielens(ml_csv_dir, chunk_rows=0)


# ---------------------------------------------------------------------------------------------------
# The real releases (read-only; skipped where they are absent)


def _real(name: str) -> Path:
    base = os.environ.get("PERSONALIZE_KIT_MOVIELENS_DIR")
    root = Path(base) if base else Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "movielens"
    folder = root / name
    if not folder.is_dir():
        pytest.skip(f"{name} is not at {folder} (set PERSONALIZE_KIT_MOVIELENS_DIR to the folder holding it)")
    return folder


def test_real_ml_latest_small() -> None:
    dataset = load_movielens(_real("ml-latest-small"))
    table = pa.concat_tables(dataset.ratings())

    assert table.num_rows == 100_836
    assert table.schema == RATINGS_SCHEMA
    assert table.slice(0, 1).to_pylist() == [{"user_id": "1", "item_id": "1", "rating": 4.0, "timestamp": 964982703}]
    assert len(set(table.column("user_id").to_pylist())) == 610
    assert len(set(table.column("item_id").to_pylist())) == 9_724
    assert dataset.items is not None and len(dataset.items) == 9_742
    assert set(table.column("item_id").to_pylist()) <= set(dataset.items["item_id"])
    assert dataset.items.iloc[0].tolist()[:3] == [
        "1",
        "Toy Story (1995)",
        "Adventure|Animation|Children|Comedy|Fantasy",
    ]
    assert (dataset.items["genres"] == "").sum() == 34  # the "(no genres listed)" movies
    assert dataset.users is None


def test_real_ml_100k() -> None:
    dataset = load_movielens(_real("ml-100k"))
    table = pa.concat_tables(dataset.ratings())

    assert dataset.n_ratings == table.num_rows == 100_000
    assert table.slice(0, 1).to_pylist() == [
        {"user_id": "196", "item_id": "242", "rating": 3.0, "timestamp": 881250949}
    ]
    assert Counter(table.column("rating").to_pylist()) == {
        1.0: 6_110,
        2.0: 11_370,
        3.0: 27_145,
        4.0: 34_174,
        5.0: 21_201,
    }
    assert len(set(table.column("user_id").to_pylist())) == 943
    assert len(set(table.column("item_id").to_pylist())) == 1_682
    assert dataset.users is not None and len(dataset.users) == 943
    assert dataset.users["user_id"].tolist() == [str(i) for i in range(1, 944)]
    assert dataset.users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    assert dataset.items is not None and len(dataset.items) == 1_682
    assert dataset.items["item_id"].tolist() == [str(i) for i in range(1, 1683)]
    unknown = dataset.items.set_index("item_id").loc["267"]
    assert (unknown["title"], unknown["genres"]) == ("unknown", "unknown")
    assert unknown["creation_timestamp"] is pd.NA
    assert dataset.items.set_index("item_id").loc["1373", "creation_timestamp"] == 34473600  # 4-Feb-1971
