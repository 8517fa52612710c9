"""``prepare`` and ``validate`` from the command line, in a temporary folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "personalize_kit", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    result = cli(
        "prepare", "--source", "synthetic", "--interactions", "5000", "--seed", "3", "--out", str(out), "--json"
    )
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def test_prepare_synthetic_writes_the_three_files_and_balanced_counts(prepared):
    out, summary = prepared
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".csv") == [
        "interaction.csv",
        "interaction.rejected.csv",
        "item-meta.csv",
        "user-meta.csv",
    ]
    counts = summary["counts"]["interaction.csv"]
    assert counts["read"] == 5000 and counts["balanced"]
    assert counts["written"] + counts["rejected"] == 5000
    assert summary["source"].startswith("synthetic")
    assert summary["ok"] is True


def test_validate_passes_on_prepared_output(prepared):
    out, _ = prepared
    result = cli("validate", str(out))
    assert result.returncode == 0
    assert "0 blocking error(s)" in result.stdout


def test_validate_exits_non_zero_on_blocking_errors(prepared, tmp_path):
    out, _ = prepared
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "schemas").mkdir()
    (broken / "schemas" / "interactions.json").write_text((out / "schemas" / "interactions.json").read_text())
    lines = (out / "interaction.csv").read_text().splitlines()
    lines[3] = "u1,i1,1500000000000,watch,4"
    (broken / "interaction.csv").write_text("\n".join(lines) + "\n")
    result = cli("validate", str(broken), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    problem = next(p for p in report["problems"] if p["code"] == "timestamp-milliseconds")
    assert (problem["file"], problem["line"], problem["field"]) == ("interaction.csv", 4, "TIMESTAMP")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("prepare", "--source", "/no/such/folder", "--out", "x"), "does not exist"),
        (("prepare", "--source", "synthetic", "--event-mapping", "watch", "--out", "x"), "EVENT:MIN"),
    ],
)
def test_bad_input_is_one_line_without_traceback(tmp_path, args, words):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]


def test_default_source_offline_falls_back_to_synthetic_with_a_notice(tmp_path):
    import os

    env = {
        **os.environ,
        "PERSONALIZE_KIT_OFFLINE": "1",
        "PERSONALIZE_KIT_CACHE": str(tmp_path / "cache"),
        "PERSONALIZE_KIT_MOVIELENS_DIR": str(tmp_path / "none"),
    }
    result = cli("prepare", "--interactions", "3000", "--out", str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    notice = [line for line in result.stderr.splitlines() if line.startswith("notice:")]
    assert len(notice) == 1
    assert "synthetic" in notice[0] and "--source DIR" in notice[0]
