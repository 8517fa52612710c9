"""The mirror across processes: wiring at import, persistence, a killed training, concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import EXPECTED_POPULARITY, wait_for

from personalize_kit.local import _hooks, mirror_session, mock_personalize, resolve_state_dir
from personalize_kit.local.lifecycle import KILLED_REASON

HERE = Path(__file__).resolve().parent
RANKED = sorted(EXPECTED_POPULARITY, key=lambda item: (-EXPECTED_POPULARITY[item], item))
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "PYTHONPATH": str(HERE),
    "PERSONALIZE_KIT_PACE": "instant",
}
SETUP = """
import boto3, sys
from conftest import BUCKET, interactions_csv, items_csv, make_bucket, make_group, import_data, train, wait_for
from conftest import TERMINAL
def setup(name="shop"):
    s3 = boto3.client("s3", region_name="us-east-1")
    make_bucket(s3)
    s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
    s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
    personalize = boto3.client("personalize", region_name="us-east-1")
    arns = make_group(personalize, name)
    import_data(personalize, arns, name=name)
    return personalize, arns
"""


def _python(code: str, **popen: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SETUP + textwrap.dedent(code)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _run(code: str, timeout: float = 120) -> str:
    process = _python(code)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


def test_import_pulls_neither_moto_nor_tensorflow() -> None:
    out = _run(
        """
        import personalize_kit, personalize_kit.local, personalize_kit.recipes, personalize_kit.local.control
        print(sorted(m for m in ("moto", "tensorflow") if m in sys.modules))
        """.replace("import boto3, sys", "import sys")
    )
    assert out.strip().splitlines()[-1] == "[]"


def test_importing_the_mirror_changes_nothing_and_starting_it_serves_later_clients(state_dir: Path) -> None:
    out = _run(
        f"""
        import boto3
        from botocore.handlers import BUILTIN_HANDLERS
        before = list(BUILTIN_HANDLERS)
        from personalize_kit.local import mock_personalize
        import personalize_kit.filters, personalize_kit.sdk
        print(BUILTIN_HANDLERS == before)
        with mock_personalize({str(state_dir)!r}):
            pass
        personalize = boto3.client("personalize", region_name="us-east-1")  # made between two mirrors
        s3 = boto3.client("s3", region_name="us-east-1")
        with mock_personalize({str(state_dir)!r}):
            s3.create_bucket(Bucket="early")
            s3.put_object(Bucket="early", Key="k", Body=b"hello")
            print(s3.get_object(Bucket="early", Key="k")["Body"].read().decode())
            print(personalize.create_dataset_group(name="early")["datasetGroupArn"])
        """
    )
    assert out.split() == ["True", "hello", "arn:aws:personalize:us-east-1:123456789012:dataset-group/early"]


def test_state_survives_the_process(state_dir: Path) -> None:
    _run(
        f"""
        from personalize_kit.local import mock_personalize
        with mock_personalize({str(state_dir)!r}):
            personalize, arns = setup()
            version = train(personalize, arns["group"])
            campaign = personalize.create_campaign(name="popular", solutionVersionArn=version)["campaignArn"]
            wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"], TERMINAL)
        """
    )
    # a new process, a new (empty) moto S3: the imported data and the model come from the state directory
    out = _run(
        f"""
        from personalize_kit.local import mock_personalize
        with mock_personalize({str(state_dir)!r}):
            runtime = boto3.client("personalize-runtime", region_name="us-east-1")
            personalize = boto3.client("personalize", region_name="us-east-1")
            campaign = personalize.list_campaigns()["campaigns"][0]["campaignArn"]
            answer = runtime.get_recommendations(campaignArn=campaign, userId="u01", numResults=4)
            print(" ".join(e["itemId"] for e in answer["itemList"]))
            print(boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"])
        """
    )
    assert out.splitlines() == [" ".join(RANKED[:4]), "[]"]
    # and this process reads it too, through a plain session
    personalize = mirror_session(state_dir).client("personalize")
    assert [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]] == ["shop"]
    versions = personalize.list_solution_versions()["solutionVersions"]
    assert [v["status"] for v in versions] == ["ACTIVE"]


def test_a_killed_training_ends_create_failed(state_dir: Path) -> None:
    child = _python(
        f"""
        import time
        from personalize_kit.local import mock_personalize
        with mock_personalize({str(state_dir)!r}, training_seconds=300):
            personalize, arns = setup()
            recipe = "arn:aws:personalize:::recipe/aws-popularity-count"
            solution = personalize.create_solution(name="slow", datasetGroupArn=arns["group"], recipeArn=recipe)[
                "solutionArn"
            ]
            print(personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"], flush=True)
            time.sleep(300)
        """
    )
    try:
        assert child.stdout is not None
        version = child.stdout.readline().strip()
        assert version.startswith("arn:aws:personalize:"), child.stderr.read() if child.stderr else ""
        personalize = mirror_session(state_dir).client("personalize")
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
            ("CREATE IN_PROGRESS",),
        )
        with sqlite3.connect(state_dir / "mirror.db") as db:
            internal = db.execute("SELECT internal FROM resources WHERE arn = ?", (version,)).fetchone()[0]
        assert json.loads(internal)["ownerPid"] == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    described = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert (described["status"], described["failureReason"]) == ("CREATE FAILED", KILLED_REASON)
    assert KILLED_REASON == "training process ended before training finished"
    assert not (state_dir / "models" / "slow" / version.rsplit("/", 1)[1] / "model.npz").exists()
    # the solution is usable again: a failed version does not block a new one or the delete
    personalize.delete_solution(solutionArn=version.rsplit("/", 1)[0])


def test_two_processes_on_one_state_directory(state_dir: Path) -> None:
    start = time.time() + 1.5
    code = """
        import time
        from personalize_kit.local import mirror_session
        personalize = mirror_session({state!r}).client("personalize")
        time.sleep(max(0, {start} - time.time()))
        for i in range(15):
            personalize.create_schema(name=f"{prefix}-{{i}}", schema=open({schema!r}).read())
        personalize.create_dataset_group(name="{prefix}-group")
        """
    schema_file = state_dir.parent / "schema.json"
    from conftest import INTERACTIONS_SCHEMA

    schema_file.write_text(INTERACTIONS_SCHEMA)
    children = [
        _python(code.format(state=str(state_dir), start=start, prefix=prefix, schema=str(schema_file)))
        for prefix in ("a", "b")
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    personalize = mirror_session(state_dir).client("personalize")
    names = [s["name"] for page in personalize.get_paginator("list_schemas").paginate() for s in page["schemas"]]
    assert sorted(names) == sorted([f"a-{i}" for i in range(15)] + [f"b-{i}" for i in range(15)])
    groups = {g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]}
    assert groups == {"a-group", "b-group"}
    with sqlite3.connect(state_dir / "mirror.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _open_together(roots: list[Path], opener: str) -> None:
    """4 processes open each of ``roots`` at one moment (``opener`` imports ``open_state``); none fails."""
    start = time.time() + 3.0
    code = f"""
        import time
        from pathlib import Path
        {opener}
        failed = []
        for i, root in enumerate({[str(root) for root in roots]!r}):
            time.sleep(max(0, {start} + i * 0.05 - time.time()))
            try:
                open_state(Path(root))
            except Exception as exc:
                failed.append(f"{{root}}: {{type(exc).__name__}}: {{exc}}")
        print(len(failed), *failed[:1], sep="\\n")
        """
    children = [_python(code) for _ in range(4)]
    outputs = [child.communicate(timeout=120) for child in children]
    answers = [(child.returncode, out.split("\n")[0]) for child, (out, _) in zip(children, outputs, strict=True)]
    assert answers == [(0, "0")] * 4, outputs


def test_processes_opening_a_new_state_directory_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    # The first connections turn a new database to WAL; SQLite refuses one of two that do so at the same
    # moment ("database is locked") without waiting. 4 processes open 60 new directories, each at one moment.
    roots = [tmp_path / f"state-{i}" for i in range(60)]
    for root in roots:
        root.mkdir()
    _open_together(roots, "from personalize_kit.local.db import Database as open_state")
    for root in roots:
        with sqlite3.connect(root / "mirror.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_processes_opening_an_old_state_directory_at_the_same_moment_migrate_it_once(tmp_path: Path) -> None:
    from test_state import _old_layout

    roots = [tmp_path / f"old-{i}" for i in range(30)]
    for root in roots:
        _old_layout(root)
    _open_together(roots, "from personalize_kit.local.state import StateDir as open_state")
    for root in roots:
        with sqlite3.connect(root / "mirror.db") as db:
            assert db.execute("SELECT COUNT(*) FROM resources").fetchone()[0] == 2
            assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
        migrated = sorted(p.name for p in root.iterdir() if "migrated" in p.name)
        assert migrated == ["events.migrated", "state.json.migrated"]


def test_state_directory_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERSONALIZE_KIT_HOME", raising=False)
    assert resolve_state_dir() == tmp_path / ".personalize_kit"
    monkeypatch.setenv("PERSONALIZE_KIT_HOME", str(tmp_path / "from-env"))
    assert resolve_state_dir() == tmp_path / "from-env"
    assert resolve_state_dir(tmp_path / "explicit") == tmp_path / "explicit"
    with mock_personalize():
        boto3.client("personalize", region_name="us-east-1").create_dataset_group(name="env")
    assert (tmp_path / "from-env" / "mirror.db").exists()


def test_decorator_and_context_leave_nothing_active(state_dir: Path) -> None:
    @mock_personalize(state_dir)
    def create() -> str:
        assert len(_hooks.ACTIVE) == 1
        return boto3.client("personalize", region_name="us-east-1").create_dataset_group(name="deco")["datasetGroupArn"]

    arn = create()
    assert _hooks.ACTIVE == []
    with mock_personalize(state_dir):
        personalize = boto3.client("personalize", region_name="us-east-1")
        assert personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]["name"] == "deco"
    assert _hooks.ACTIVE == []


def test_mirror_session_serves_s3_from_moto_and_regions_apart(state_dir: Path) -> None:
    session = mirror_session(state_dir, region_name="eu-west-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket="sess", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="sess", Key="k", Body=b"x")
    assert s3.get_object(Bucket="sess", Key="k")["Body"].read() == b"x"
    assert session.client("sts").get_caller_identity()["Account"] == "123456789012"
    arn = session.client("personalize").create_dataset_group(name="eu")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:eu-west-1:123456789012:dataset-group/eu"
    us = mirror_session(state_dir).client("personalize")
    assert us.list_dataset_groups()["datasetGroups"] == []


def test_a_job_left_in_progress_by_a_dead_process_is_failed(state_dir: Path) -> None:
    from personalize_kit.local.lifecycle import JOB_KILLED_REASON

    personalize = mirror_session(state_dir).client("personalize")
    group = personalize.create_dataset_group(name="g")["datasetGroupArn"]
    from conftest import INTERACTIONS_SCHEMA

    schema = personalize.create_schema(name="s", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    dataset = personalize.create_dataset(name="d", datasetGroupArn=group, datasetType="INTERACTIONS", schemaArn=schema)[
        "datasetArn"
    ]
    job = personalize.create_dataset_import_job(
        jobName="j", datasetArn=dataset, dataSource={"dataLocation": "s3://nowhere/x.csv"}
    )["datasetImportJobArn"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sqlite3.connect(state_dir / "mirror.db") as db:  # as a killed process leaves it
        db.execute(
            "UPDATE resources SET status = 'CREATE IN_PROGRESS', attrs = json_set(attrs, '$.status', "
            "'CREATE IN_PROGRESS'), internal = json_set(internal, '$.ownerPid', ?) WHERE arn = ?",
            (int(dead.stdout), job),
        )
    described = personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
    assert (described["status"], described["failureReason"]) == ("CREATE FAILED", JOB_KILLED_REASON)
