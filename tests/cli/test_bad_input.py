"""The bad-input corpus: every way of feeding the command line something wrong that has been tried, each
answered by one line naming the file or flag and what to do (exit 2; 1 for validation findings), never a
traceback, with nothing lost (counts still add up, nothing half-made).

Each case is ``(setup, argv, exit code, message pattern)``: the pattern is matched against the whole of
stderr, which must be exactly one line. Commands run in-process through ``personalize_kit.cli.main``.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from personalize_kit.cli import main
from personalize_kit.local.db import DB_FILE

GENRES = ["unknown", "Action", "Comedy", "Drama"]
LONG = "u" * 10_000


def ratings_csv(folder: Path, extra: str = "") -> Path:
    """A csv-family release (ratings.csv + movies.csv): 60 users x 30 ratings, all kept by the default mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["userId,movieId,rating,timestamp"]
    lines += [
        f"{u},{(u * 7 + i) % 100},{3 + (u + i) % 3},{1_500_000_000 + u * 100 + i}" for u in range(60) for i in range(30)
    ]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n" + extra)
    movies = ["movieId,title,genres"] + [f"{i},Movie {i} (1995),Drama" for i in range(100)]
    (folder / "movies.csv").write_text("\n".join(movies) + "\n")
    return folder


def ml_100k(folder: Path, release_dates: list[str]) -> Path:
    """An ml-100k release whose items have the given release dates."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = "|".join(["0"] * (len(GENRES) - 1) + ["1"])
    rows = [f"{u}\t{(u * 7 + i) % 100}\t4\t{880_000_000 + u * 100 + i}" for u in range(1, 61) for i in range(30)]
    (folder / "u.data").write_text("\n".join(rows) + "\n")
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)))
    items = [f"{i}|Movie {i}|{release_dates[i % len(release_dates)]}||url|{flags}" for i in range(100)]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    return folder


def deny_reading(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make ``path`` unreadable: by its mode, or (for root, whom modes do not stop) at Python's ``open``."""
    if os.geteuid() != 0:
        path.chmod(0)
        return
    real_open = builtins.open
    target = str(path.resolve())

    def guarded(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - the signature of open
        if isinstance(file, (str, os.PathLike)) and str(Path(os.fspath(file)).resolve()) == target:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)


Setup = Callable[[Path, pytest.MonkeyPatch], None]


def _unreadable_ratings(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    deny_reading(mp, ratings_csv(tmp / "ml") / "ratings.csv")


def _prepared(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    assert main(["prepare", "--source", str(ratings_csv(tmp / "ml")), "--out", str(tmp / "out")]) == 0


def _unreadable_interactions(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    _prepared(tmp, mp)
    deny_reading(mp, tmp / "out" / "interaction.csv")


def _interactions_a_directory(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    _prepared(tmp, mp)
    (tmp / "out" / "interaction.csv").unlink()
    (tmp / "out" / "interaction.csv").mkdir()


def _non_finite_values(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    _prepared(tmp, mp)
    path = tmp / "out" / "interaction.csv"
    lines = path.read_text().splitlines()
    for number, value in ((3, "nan"), (4, "inf"), (5, "-inf")):
        lines[number - 1] = lines[number - 1].rsplit(",", 1)[0] + f",{value}"
    path.write_text("\n".join(lines) + "\n")


def _project(name: str, text: str, *, deny: bool = False) -> Setup:
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        (tmp / name).write_text(text)
        if deny:
            deny_reading(mp, tmp / name)

    return setup


def _database_a_directory(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    (tmp / "state" / DB_FILE).mkdir(parents=True)


def _database_corrupt(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    (tmp / "state").mkdir()
    (tmp / "state" / DB_FILE).write_bytes(b"not a database, whatever it was " * 64)


def _a_file(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    (tmp / "afile").write_text("not a directory\n")


def _nothing(tmp: Path, mp: pytest.MonkeyPatch) -> None:
    return None


BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=False))
    + "name: *h\n"
)
PLAN = ["plan", "--source", "synthetic", "--state-dir", "{tmp}/state"]

CASES = {
    "unreadable ratings.csv": (
        _unreadable_ratings,
        ["prepare", "--source", "{tmp}/ml", "--out", "{tmp}/out"],
        2,
        r"error: cannot read {tmp}/ml/ratings\.csv: Permission denied; give your user read access to it "
        r"\(chmod/chown\), or point --source at another folder",
    ),
    "unreadable interaction.csv": (
        _unreadable_interactions,
        ["validate", "{tmp}/out", "--json"],
        1,
        None,  # a validation finding: the JSON report names the file (asserted below)
    ),
    "interaction.csv is a directory": (
        _interactions_a_directory,
        ["validate", "{tmp}/out", "--json"],
        1,
        None,
    ),
    "validate on a file": (
        _prepared,
        ["validate", "{tmp}/out/interaction.csv", "--json"],
        1,
        None,
    ),
    "NaN and infinite values": (_non_finite_values, ["validate", "{tmp}/out", "--json"], 1, None),
    "unreadable project file": (
        _project("p.yaml", "name: demo\n", deny=True),
        ["plan", "--project", "{tmp}/p.yaml", "--state-dir", "{tmp}/state"],
        2,
        r"error: cannot read project file {tmp}/p\.yaml: Permission denied; give your user access to it or use "
        r"another file",
    ),
    "project file is a directory": (
        _nothing,
        ["plan", "--project", "{tmp}", "--state-dir", "{tmp}/state"],
        2,
        r"error: project file {tmp} is a directory; give the path of a YAML or JSON file",
    ),
    "state database is a directory": (
        _database_a_directory,
        ["status", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/state/" + DB_FILE + r": not a mirror database \(unable to open database file\); move the "
        r"file away or use another --state-dir",
    ),
    "state database is corrupt": (
        _database_corrupt,
        ["status", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/state/" + DB_FILE + r": not a mirror database \(file is not a database\); move the file "
        r"away or use another --state-dir",
    ),
    "--state-dir names a file": (
        _a_file,
        [*PLAN[:-2], "--state-dir", "{tmp}/afile"],
        2,
        r"error: --state-dir {tmp}/afile is a file, not a directory; give a directory \(it is created when missing\)",
    ),
    "--state-dir below a file": (
        _a_file,
        [*PLAN[:-2], "--state-dir", "{tmp}/afile/state"],
        2,
        r"error: --state-dir {tmp}/afile/state is inside {tmp}/afile, which is a file, not a directory; give a "
        r"directory \(it is created when missing\)",
    ),
    "--state-dir /dev/null": (
        _nothing,
        [*PLAN[:-2], "--state-dir", "/dev/null"],
        2,
        r"error: --state-dir /dev/null is a file, not a directory; give a directory \(it is created when missing\)",
    ),
    "--interactions 0": (
        _nothing,
        ["prepare", "--source", "synthetic", "--interactions", "0", "--out", "{tmp}/out"],
        2,
        r"error: python -m personalize_kit prepare: argument --interactions: 0 is not allowed; give a whole "
        r"number of at least 1 \(see `python -m personalize_kit prepare --help`\)",
    ),
    "--timeout -1": (
        _nothing,
        ["pipeline", "--timeout", "-1", "--state-dir", "{tmp}/state"],
        2,
        r"error: python -m personalize_kit pipeline: argument --timeout: -1 is not allowed; give a number of "
        r"seconds above 0 \(see `python -m personalize_kit pipeline --help`\)",
    ),
    "--timeout nan": (
        _nothing,
        ["pipeline", "--timeout", "nan", "--state-dir", "{tmp}/state"],
        2,
        r"error: python -m personalize_kit pipeline: argument --timeout: nan is not allowed; give a number of "
        r"seconds above 0 \(see `python -m personalize_kit pipeline --help`\)",
    ),
    "--value inf": (
        _nothing,
        ["events", "put", "--user", "1", "--item", "2", "--value", "inf", "--state-dir", "{tmp}/state"],
        2,
        r"error: python -m personalize_kit events put: argument --value: inf is not allowed; give a finite "
        r"number \(see `python -m personalize_kit events put --help`\)",
    ),
    "a 10,000-character --user": (
        _nothing,
        ["recommend", "--user", LONG, "--state-dir", "{tmp}/state"],
        2,
        r"error: python -m personalize_kit recommend: argument --user: 'u{28}\.\.\. \(10,000 characters\)' is too "
        r"long; IDs are at most 256 characters \(see `python -m personalize_kit recommend --help`\)",
    ),
    "a 10,000-character item in --items": (
        _nothing,
        ["rank", "--user", "1", "--items", f"a,{LONG}", "--state-dir", "{tmp}/state"],
        2,
        r"error: --items: 'u{28}\.\.\. \(10,000 characters\)' is too long; item IDs are at most 256 characters",
    ),
    "duplicate keys in a JSON project file": (
        _project("p.json", '{"name": "a", "data": {"source": "synthetic"}, "name": "b"}'),
        ["plan", "--project", "{tmp}/p.json", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/p\.json: key 'name' appears twice in one mapping; keep one of them",
    ),
    "duplicate keys in a YAML project file": (
        _project("p.yaml", "name: a\ndata: {source: synthetic}\nname: b\n"),
        ["plan", "--project", "{tmp}/p.yaml", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/p\.yaml: key 'name' appears twice in one mapping \(again at line 3\); keep one of them",
    ),
    "a YAML alias bomb": (
        _project("p.yaml", BOMB),
        ["plan", "--project", "{tmp}/p.yaml", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/p\.yaml: more than 30 YAML aliases \(\*name\), at line 5; write the values out instead of "
        r"repeating anchors",
    ),
    "NaN in a project file": (
        _project("p.yaml", "solutions: [{recipe: sims, campaign: {exploration_weight: .nan}}]\n"),
        ["plan", "--project", "{tmp}/p.yaml", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/p\.yaml: solutions\[0\]\.campaign\.exploration_weight must be a finite number, not nan",
    ),
    "a long value in a project file": (
        _project("p.yaml", f"name: {LONG}\n"),
        ["plan", "--project", "{tmp}/p.yaml", "--state-dir", "{tmp}/state"],
        2,
        r"error: {tmp}/p\.yaml: name: 'u{67}\.\.\. \(10,002 characters\) is not a valid Personalize name "
        r"\(1-63 letters, digits, - or _, starting with a letter or digit\)",
    ),
}


def _format(value: str, tmp: Path) -> str:
    return value.replace("{tmp}", str(tmp))


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_ends_in_one_line_with_the_right_exit_code(case, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    setup, argv, code, pattern = CASES[case]
    setup(tmp_path, monkeypatch)
    capsys.readouterr()
    assert main([_format(a, tmp_path) for a in argv]) == code
    out, err = capsys.readouterr()
    if pattern is None:  # a validation finding: one report, each problem naming file and fix
        report = json.loads(out)
        assert not report["ok"] and report["errors"] >= 1
        return
    assert err.count("\n") == 1, err  # one line
    assert re.fullmatch(_format(pattern, re.escape(str(tmp_path))) + "\n", err), err
    assert "Traceback" not in err and len(err) < 400
    assert not (tmp_path / "state" / "models").exists()  # nothing was made on the way to the error


def _validation(tmp: Path, argv: list[str], capsys: pytest.CaptureFixture) -> dict:
    capsys.readouterr()
    assert main(argv) == 1
    return json.loads(capsys.readouterr().out)


def test_the_validation_findings_name_the_file_and_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _unreadable_interactions(tmp_path, monkeypatch)
    [problem] = _validation(tmp_path, ["validate", str(tmp_path / "out"), "--json"], capsys)["problems"]
    assert (problem["file"], problem["code"]) == (str(tmp_path / "out" / "interaction.csv"), "unreadable")
    assert problem["message"] == "cannot read interaction.csv (Permission denied); give your user access to it."
    monkeypatch.undo()

    _interactions_a_directory(tmp_path / "d", monkeypatch)
    [problem] = _validation(tmp_path, ["validate", str(tmp_path / "d" / "out"), "--json"], capsys)["problems"]
    assert problem["message"] == "interaction.csv is a directory; it must be a file: remove or rename it."

    [problem] = _validation(tmp_path, ["validate", str(tmp_path / "d" / "out" / "item-meta.csv"), "--json"], capsys)[
        "problems"
    ]
    assert problem["message"].endswith(
        "is a file, not a folder: give the folder `prepare` wrote (the one holding interaction.csv and schemas/)."
    )

    _non_finite_values(tmp_path / "n", monkeypatch)
    report = _validation(tmp_path, ["validate", str(tmp_path / "n" / "out"), "--json"], capsys)
    [problem] = [p for p in report["problems"] if p["code"] == "not-finite"]
    assert (problem["field"], problem["count"], problem["lines"]) == ("EVENT_VALUE", 3, [3, 4, 5])
    assert problem["message"] == "EVENT_VALUE is not a finite number (NaN or infinity); fix or remove the value."


def _summary(tmp: Path, source: Path, capsys: pytest.CaptureFixture) -> dict:
    capsys.readouterr()
    assert main(["prepare", "--source", str(source), "--out", str(tmp / "out"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_non_finite_ratings_are_rejected_for_that_reason_and_the_counts_add_up(tmp_path, capsys):
    source = ratings_csv(tmp_path / "ml", extra="1,2,inf,1500000000\n1,3,nan,1500000001\n1,4,-inf,1500000002\n")
    summary = _summary(tmp_path, source, capsys)
    counts = summary["counts"]["interaction.csv"]
    assert (counts["read"], counts["written"], counts["rejected"], counts["balanced"]) == (1803, 1800, 3, True)
    reason = "rating is not a finite number (NaN or infinity); fix or remove that row of the source."
    assert summary["rejected_by_reason"]["interaction.csv"] == {reason: 3}
    rejected = (tmp_path / "out" / "interaction.rejected.csv").read_text().splitlines()
    assert [line.split(",")[3] for line in rejected[1:]] == ["inf", "nan", "-inf"]
    written = (tmp_path / "out" / "interaction.csv").read_text()
    assert "inf" not in written and "nan" not in written


def test_a_malformed_release_date_falls_back_with_a_warning_and_a_count(tmp_path, capsys):
    source = ml_100k(tmp_path / "ml-100k", ["01-Jan-1995", "1995-13-45", "01-Jan-1995", "31-Feb-1996"])
    summary = _summary(tmp_path, source, capsys)
    assert summary["counts"]["item-meta.csv"]["written"] == 100 and summary["counts"]["item-meta.csv"]["balanced"]
    [warning] = [p for p in summary["problems"] if p["code"] == "release-date-malformed"]
    assert (warning["severity"], warning["count"]) == ("warning", 50)
    assert warning["message"].startswith("the release date is not a date like '01-Jan-1995' (first: '1995-13-45')")
    items = (tmp_path / "out" / "item-meta.csv").read_text().splitlines()[1:]
    stamps = {row.split(",")[0]: int(row.rsplit(",", 1)[1]) for row in items}
    assert stamps["0"] == 788918400  # a good date is kept
    first_seen = min(880_000_000 + u * 100 + i for u in range(1, 61) for i in range(30) if (u * 7 + i) % 100 == 1)
    assert stamps["1"] == first_seen  # a malformed date: the item's first interaction


@pytest.mark.slow
def test_a_truncated_model_ends_in_one_line_from_recommend_and_pipeline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    common = ["--source", "synthetic", "--recipe", "popularity-count", "--state-dir", str(tmp_path / "state")]
    assert main(["pipeline", *common]) == 0
    [model] = (tmp_path / "state" / "models").rglob("model.npz")
    model.write_bytes(model.read_bytes()[:100])
    for argv in (["recommend", "--user", "1", "--state-dir", str(tmp_path / "state")], ["pipeline", *common]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith(
            f"error: InternalFailure: a trained model in {tmp_path / 'state'} is damaged or truncated (BadZipFile: "
        )
        assert err.endswith("and train again (`python -m personalize_kit pipeline`)")
