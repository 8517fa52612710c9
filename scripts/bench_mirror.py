"""Benchmark and proof of the mirror's core: concurrency, event scale and crashes (issue 11's "Done when").

Everything goes through the public API only (``mock_personalize`` and boto3 clients), so the numbers hold
for any storage of the mirror. Three scenarios, each also run at small scale by the tests in
``tests/local/test_concurrency.py``, ``test_event_scale.py`` and ``test_crash.py``:

- ``concurrency``: P processes x (W PutEvents writer threads + R GetRecommendations reader threads) on one
  state directory with a Popularity-Count and a User-Personalization campaign; failed calls, events
  acknowledged vs events stored (counted through a dataset export job with ``ingestionMode=PUT``, read back
  from S3 by the process that made the job), GetRecommendations p50/p99 under that load.
- ``scale``: GetRecommendations for a user with 10,000 recorded events vs one with none; an Interactions
  filter with N recorded events (target 1,000,000, recorded through PutEvents 10 per call within a time
  budget); the first request of a fresh process with N events vs none.
- ``crash``: K times, a process sending PutEvents bursts is killed with SIGKILL mid-burst; stored >= acked,
  no event twice, no torn record, and the next process opens the state and answers at once.

Each event is identified by its user and timestamp (what an export carries): writer ``w`` sends call ``c``
for user ``w-(c % 16)`` with timestamps ``START_TS + c * batch + k``, so a stored row that is not exactly
what was sent (a torn record) is recognised. Results go to ``scripts/results/mirror.json`` and ``.md``.

    python scripts/bench_mirror.py concurrency --seconds 20
    python scripts/bench_mirror.py scale --events 1000000 --record-budget 900
    python scripts/bench_mirror.py crash --rounds 20
    python scripts/bench_mirror.py all

This module is longer than the house limit because the child processes of the three scenarios must be
commands of one script that the tests can also drive; it has no other module to live in.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
SCRIPT = Path(__file__).resolve()
REGION = "us-east-1"
BUCKET = "bench-mirror"
ROLE_NAME = "bench-mirror"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE_NAME}"
START_TS = 1_700_000_000
USERS_PER_WRITER = 16
EVENT_TYPES = ("watch", "click")
FILTER_EXPRESSION = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'
RECIPES = {
    "popularity": "arn:aws:personalize:::recipe/aws-popularity-count",
    "user-personalization": "arn:aws:personalize:::recipe/aws-user-personalization",
}
QUICK = {"aws-user-personalization": {"max_epochs": 1, "time_budget": 30}}
TARGETS = {"p99_ms": 25.0, "heavy_ratio": 1.5, "filter_p99_ms": 10.0, "first_ratio": 1.5}
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
TERMINAL = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")
logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------- helpers


def child_env() -> dict[str, str]:
    env = {**os.environ, **FAKE_ENV, "PYTHONPATH": str(ROOT)}
    env.pop("AWS_PROFILE", None)
    return env


def percentile(samples: list[float], q: float) -> float | None:
    """The q-th percentile of ``samples`` (seconds) in milliseconds, or ``None`` without samples."""
    if not samples:
        return None
    import numpy as np

    return round(float(np.percentile(np.asarray(samples) * 1000, q)), 3)


def wait_for(describe: Any, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if described["status"] in TERMINAL:
            if described["status"] != "ACTIVE":
                raise RuntimeError(f"{described.get('name', '')} ended {described['status']}: {described}")
            return described
        if time.monotonic() > deadline:
            raise RuntimeError(f"still {described['status']} after {timeout}s: {described}")
        time.sleep(0.05)


def clients(*services: str) -> list[Any]:
    """One boto3 client per service, from a new session (inside an active ``mock_personalize``)."""
    import boto3

    session = boto3.session.Session(region_name=REGION)
    return [session.client(service) for service in services]


def _grant(bucket: str) -> None:
    """The role the jobs give Personalize, allowed on the bucket as the CDK stack would allow it."""
    import boto3

    from personalize_kit.sdk.backend import grant_personalize

    grant_personalize(boto3.session.Session(region_name=REGION), bucket, role_name=ROLE_NAME, output_prefixes=("",))


# ------------------------------------------------------------------------------------------- deploy


@dataclass
class Deployment:
    """What the scenarios need to know about a deployed dataset group (JSON-serialisable)."""

    state_dir: str
    group: str = ""
    dataset: str = ""
    tracking_id: str = ""
    campaigns: dict[str, str] = field(default_factory=dict)
    filter_arn: str = ""
    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        return cls(**json.loads(Path(path).read_text()))


def synthetic_csv(n_users: int, n_items: int, per_user: int, seed: int = 7) -> str:
    """Interactions with a skewed popularity, deterministic by seed."""
    rng = random.Random(seed)
    weights = [1.0 / (k + 1) for k in range(n_items)]
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for user in range(n_users):
        for k, item in enumerate(rng.choices(range(n_items), weights=weights, k=per_user)):
            lines.append(f"user{user},item{item},{START_TS - 10_000_000 + user * 100 + k},{EVENT_TYPES[k % 2]},1")
    return "\n".join(lines) + "\n"


def deploy(
    state_dir: str | Path,
    *,
    recipes: tuple[str, ...] = ("popularity", "user-personalization"),
    n_users: int = 200,
    n_items: int = 100,
    per_user: int = 20,
) -> Deployment:
    """Schema, dataset group, imported interactions, one trained campaign per recipe, tracker, filter."""
    from personalize_kit.data.schemas import interactions_schema
    from personalize_kit.local import mock_personalize

    deployment = Deployment(str(state_dir))
    deployment.users = [f"user{u}" for u in range(n_users)]
    deployment.items = [f"item{i}" for i in range(n_items)]
    with mock_personalize(state_dir, recipe_options=QUICK):
        personalize, s3 = clients("personalize", "s3")
        s3.create_bucket(Bucket=BUCKET)
        _grant(BUCKET)
        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=synthetic_csv(n_users, n_items, per_user).encode())
        schema = personalize.create_schema(name="bench-interactions", schema=json.dumps(interactions_schema()))
        deployment.group = personalize.create_dataset_group(name="bench")["datasetGroupArn"]
        wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=deployment.group)["datasetGroup"])
        deployment.dataset = personalize.create_dataset(
            name="bench-interactions",
            datasetGroupArn=deployment.group,
            datasetType="INTERACTIONS",
            schemaArn=schema["schemaArn"],
        )["datasetArn"]
        wait_for(lambda: personalize.describe_dataset(datasetArn=deployment.dataset)["dataset"])
        job = personalize.create_dataset_import_job(
            jobName="bench-import",
            datasetArn=deployment.dataset,
            dataSource={"dataLocation": f"s3://{BUCKET}/interactions.csv"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
        for name in recipes:
            deployment.campaigns[name] = _campaign(personalize, deployment.group, name)
        tracker = personalize.create_event_tracker(name="bench", datasetGroupArn=deployment.group)
        deployment.tracking_id = tracker["trackingId"]
        wait_for(lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
        deployment.filter_arn = personalize.create_filter(
            name="unwatched", datasetGroupArn=deployment.group, filterExpression=FILTER_EXPRESSION
        )["filterArn"]
        wait_for(lambda: personalize.describe_filter(filterArn=deployment.filter_arn)["filter"])
    return deployment


def _campaign(personalize: Any, group: str, name: str) -> str:
    solution = personalize.create_solution(name=f"bench-{name}", datasetGroupArn=group, recipeArn=RECIPES[name])
    wait_for(lambda: personalize.describe_solution(solutionArn=solution["solutionArn"])["solution"])
    version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    wait_for(lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    campaign = personalize.create_campaign(name=f"bench-{name}", solutionVersionArn=version)["campaignArn"]
    wait_for(lambda: personalize.describe_campaign(campaignArn=campaign)["campaign"])
    return campaign


# ------------------------------------------------------------------------------------- event plan


def planned_call(writer: str, call: int, batch: int, items: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The user and the events of call ``call`` of ``writer`` (deterministic: a stored row can be checked)."""
    user = f"{writer}-{call % USERS_PER_WRITER}"
    events = []
    for k in range(batch):
        seq = call * batch + k
        events.append(
            {
                "eventId": f"{writer}-{seq}",
                "eventType": EVENT_TYPES[0 if seq % 3 == 0 else 1],
                "itemId": items[(seq * 31 + k * 17) % len(items)],
                "sentAt": START_TS + seq,
            }
        )
    return user, events


def row_is_planned(row: dict[str, str], batch: int, items: list[str]) -> bool:
    """Whether an exported row is exactly an event some writer sent (user, item, timestamp, type)."""
    try:
        writer, slot = row["USER_ID"].rsplit("-", 1)
        seq = int(row["TIMESTAMP"]) - START_TS
        call = seq // batch
        if seq < 0 or int(slot) != call % USERS_PER_WRITER:
            return False
        user, events = planned_call(writer, call, batch, items)
    except (KeyError, ValueError, AttributeError):
        return False
    event = events[seq % batch]
    return (user, event["itemId"], event["eventType"]) == (row["USER_ID"], row["ITEM_ID"], row["EVENT_TYPE"])


def event_key(user: str, timestamp: int | str) -> str:
    return f"{user}@{int(timestamp)}"


def read_acks(paths: list[Path]) -> list[str]:
    """Acknowledged event keys from the writers' side files (a line cut by a kill is not an ack)."""
    keys = []
    for path in paths:
        if path.exists():
            keys += [line for line in path.read_text().split("\n")[:-1] if line]
    return keys


class Writer:
    """Sends planned PutEvents calls; after each acknowledged call, appends its event keys to a side file."""

    def __init__(self, events: Any, deployment: Deployment, name: str, batch: int, ack_path: Path) -> None:
        self.events, self.deployment, self.name, self.batch = events, deployment, name, batch
        self.fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.calls = self.acked = self.failed = 0
        self.errors: Counter[str] = Counter()

    def send(self) -> bool:
        user, events = planned_call(self.name, self.calls, self.batch, self.deployment.items)
        self.calls += 1
        try:
            self.events.put_events(
                trackingId=self.deployment.tracking_id, userId=user, sessionId=f"s-{self.name}", eventList=events
            )
        except Exception as exc:  # noqa: BLE001 - any failure of a call is what is counted
            self.failed += 1
            self.errors[f"PutEvents {type(exc).__name__}: {str(exc)[:160]}"] += 1
            return False
        os.write(self.fd, "".join(event_key(user, e["sentAt"]) + "\n" for e in events).encode())
        self.acked += len(events)
        return True


# ------------------------------------------------------------------------------------------ counting


def export_rows(deployment: Deployment) -> list[dict[str, str]]:
    """Every PUT row of the Interactions dataset, through an export job read back from S3 in this process."""
    from personalize_kit.local import mock_personalize

    with mock_personalize(deployment.state_dir):
        personalize, s3 = clients("personalize", "s3")
        bucket = f"{BUCKET}-export"
        s3.create_bucket(Bucket=bucket)
        _grant(bucket)
        name = f"count-{uuid.uuid4().hex[:12]}"
        job = personalize.create_dataset_export_job(
            jobName=name,
            datasetArn=deployment.dataset,
            ingestionMode="PUT",
            roleArn=ROLE_ARN,
            jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/{name}/"}},
        )["datasetExportJobArn"]
        wait_for(lambda: personalize.describe_dataset_export_job(datasetExportJobArn=job)["datasetExportJob"])
        rows: list[dict[str, str]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{name}/"):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode("utf-8")
                rows += list(csv.DictReader(io.StringIO(body)))
    return rows


def count_in_fresh_process(deployment_path: Path, out: Path, timeout: float = 900) -> list[dict[str, str]]:
    """``export_rows`` run by a new process (nothing cached from the writers)."""
    run_child(["_count", str(deployment_path), str(out)], timeout=timeout)
    return json.loads(out.read_text())


def audit(rows: list[dict[str, str]], acked: list[str], batch: int, items: list[str]) -> dict[str, Any]:
    """Stored vs acknowledged: counts, acknowledged events missing, events stored twice, rows not sent."""
    keys = Counter(event_key(r["USER_ID"], r["TIMESTAMP"]) for r in rows if _int(r.get("TIMESTAMP")) is not None)
    unplanned = [r for r in rows if not row_is_planned(r, batch, items)]
    acked_set = set(acked)
    return {
        "acked": len(acked),
        "acked_distinct": len(acked_set),
        "stored": len(rows),
        "stored_distinct": len(keys),
        "missing": len(acked_set - set(keys)),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "torn_or_unknown": len(unplanned),
        "examples_torn": unplanned[:3],
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def run_child(args: list[str], timeout: float = 600, **popen: Any) -> str:
    process = subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=child_env(), capture_output=True, text=True, timeout=timeout, **popen
    )
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed ({process.returncode}): {process.stderr[-3000:]}")
    return process.stdout


# --------------------------------------------------------------------------------------- concurrency


class Reader:
    """GetRecommendations for random users, alternating between the campaigns; latencies of the answered."""

    def __init__(self, runtime: Any, campaigns: list[str], users: list[str], seed: int) -> None:
        self.runtime, self.campaigns, self.users = runtime, campaigns, users
        self.rng = random.Random(seed)
        self.calls = self.failed = 0
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()

    def read(self) -> bool:
        campaign = self.campaigns[self.calls % len(self.campaigns)]
        self.calls += 1
        started = time.perf_counter()
        try:
            self.runtime.get_recommendations(campaignArn=campaign, userId=self.rng.choice(self.users), numResults=25)
        except Exception as exc:  # noqa: BLE001 - any failure of a call is what is counted
            self.failed += 1
            self.errors[f"GetRecommendations {type(exc).__name__}: {str(exc)[:160]}"] += 1
            return False
        self.latencies.append(time.perf_counter() - started)
        return True


def _loop(step: Any, deadline: float | None, calls: int | None) -> None:
    done = 0
    while (calls is None or done < calls) and (deadline is None or time.monotonic() < deadline):
        step()
        done += 1


def worker_main(config_path: str) -> None:
    """A concurrency worker: its writer and reader threads start together when the parent says go."""
    from personalize_kit.local import mock_personalize

    config = json.loads(Path(config_path).read_text())
    deployment = Deployment.load(config["deployment"])
    index, batch, ack_dir = config["index"], config["batch"], Path(config["ack_dir"])
    writer_users = [
        f"p{p}w{t}-{j}" for p in range(config["processes"]) for t in range(config["writers"]) for j in range(4)
    ]
    with mock_personalize(deployment.state_dir):
        writers = [
            Writer(clients("personalize-events")[0], deployment, f"p{index}w{t}", batch, ack_dir / f"p{index}w{t}")
            for t in range(config["writers"])
        ]
        campaigns = list(deployment.campaigns.values())
        users = writer_users + deployment.users[:20]
        readers = [
            Reader(clients("personalize-runtime")[0], campaigns, users, seed=index * 100 + t)
            for t in range(config["readers"])
        ]
        for reader in readers:  # the models are loaded before the clock starts
            for _ in campaigns:
                reader.read()
            reader.latencies.clear()
            reader.calls = 0
        print("ready", flush=True)
        sys.stdin.readline()
        if config.get("switch_interval"):  # the tests switch threads more often to bring races out
            sys.setswitchinterval(config["switch_interval"])
        started = time.monotonic()
        deadline = started + config["seconds"] if config.get("calls") is None else None
        threads = [threading.Thread(target=_loop, args=(w.send, deadline, config.get("calls"))) for w in writers]
        threads += [threading.Thread(target=_loop, args=(r.read, deadline, config.get("calls"))) for r in readers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    errors = sum((w.errors for w in writers), Counter()) + sum((r.errors for r in readers), Counter())
    result = {
        "elapsed": elapsed,
        "put_calls": sum(w.calls for w in writers),
        "put_failed": sum(w.failed for w in writers),
        "acked": sum(w.acked for w in writers),
        "get_calls": sum(r.calls for r in readers),
        "get_failed": sum(r.failed for r in readers),
        "latencies": [x for r in readers for x in r.latencies],
        "errors": dict(errors.most_common(5)),
    }
    Path(config["out"]).write_text(json.dumps(result))


def run_concurrency(
    deployment: Deployment,
    work: Path,
    *,
    processes: int = 3,
    writers: int = 2,
    readers: int = 2,
    seconds: float = 20.0,
    calls: int | None = None,
    batch: int = 10,
    switch_interval: float | None = None,
) -> dict[str, Any]:
    """Run the workers together on one state directory, then count what was stored through an export.

    Each worker runs ``writers`` + ``readers`` threads for ``seconds``, or ``calls`` calls each when given.
    """
    work.mkdir(parents=True, exist_ok=True)
    (work / "acks").mkdir(exist_ok=True)
    deployment_path = deployment.save(work / "deployment.json")
    shared = {"deployment": str(deployment_path), "processes": processes, "writers": writers, "readers": readers}
    shared |= {"seconds": seconds, "calls": calls, "batch": batch, "switch_interval": switch_interval}
    configs = []
    for index in range(processes):
        configs.append(work / f"worker{index}.config.json")
        config = {**shared, "index": index, "ack_dir": str(work / "acks"), "out": str(work / f"worker{index}.json")}
        configs[-1].write_text(json.dumps(config))
    _run_workers(configs, timeout=(seconds or 0) + 900)
    outs = [json.loads((work / f"worker{i}.json").read_text()) for i in range(processes)]
    rows = count_in_fresh_process(deployment_path, work / "stored.json")
    acked = read_acks(sorted((work / "acks").iterdir()))
    latencies = [x for out in outs for x in out["latencies"]]
    elapsed = max(out["elapsed"] for out in outs)
    errors: Counter[str] = sum((Counter(out["errors"]) for out in outs), Counter())
    return {
        "processes": processes,
        "writers": writers,
        "readers": readers,
        "seconds": round(elapsed, 1),
        "put_calls": sum(out["put_calls"] for out in outs),
        "get_calls": sum(out["get_calls"] for out in outs),
        "failed": sum(out["put_failed"] + out["get_failed"] for out in outs),
        "put_failed": sum(out["put_failed"] for out in outs),
        "get_failed": sum(out["get_failed"] for out in outs),
        "errors": dict(errors.most_common(5)),
        "events_per_s": round(sum(out["acked"] for out in outs) / elapsed, 1),
        "gets_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        **audit(rows, acked, batch, deployment.items),
    }


def _run_workers(configs: list[Path], timeout: float) -> None:
    """Start one worker per config, wait until all are ready, say go to all, and wait for them to end."""
    errs = [config.with_suffix(".err") for config in configs]
    children = [_spawn(["_worker", str(config)], err) for config, err in zip(configs, errs, strict=True)]
    try:
        for child, err in zip(children, errs, strict=True):
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a worker did not start: {_tail(err)}")
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child, err in zip(children, errs, strict=True):
            child.communicate(timeout=timeout)
            if child.returncode != 0:
                raise RuntimeError(f"a worker failed ({child.returncode}): {_tail(err)}")
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def _spawn(args: list[str], stderr: Path) -> subprocess.Popen:
    """A child command of this script; its stderr goes to a file (a pipe nobody reads would fill up)."""
    with open(stderr, "w") as err:
        return subprocess.Popen(
            [sys.executable, str(SCRIPT), *args],
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text()[-chars:] if path.exists() else ""


# --------------------------------------------------------------------------------------------- crash


class _Warnings(logging.Handler):
    """Collects what the mirror logs at WARNING and above (a repair or recovery would be said there)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("personalize_kit"):
            self.messages.append(f"{record.name}: {record.getMessage()}"[:300])


def burst_main(deployment_path: str, name: str, ack_path: str, batch: int) -> None:
    """Open the state, answer one request and one PutEvents, say so, then send PutEvents until killed."""
    from personalize_kit.local import mock_personalize

    deployment = Deployment.load(deployment_path)
    warnings = _Warnings()
    logging.getLogger().addHandler(warnings)
    started = time.perf_counter()
    with mock_personalize(deployment.state_dir):
        events, runtime = clients("personalize-events", "personalize-runtime")
        campaign = next(iter(deployment.campaigns.values()))
        answer = runtime.get_recommendations(campaignArn=campaign, userId=deployment.users[0], numResults=10)
        writer = Writer(events, deployment, name, batch, Path(ack_path))
        first_put = writer.send()
        report = {
            "opened_ms": round((time.perf_counter() - started) * 1000, 1),
            "answered": len(answer["itemList"]),
            "first_put_ok": first_put,
            "errors": dict(writer.errors),
            "warnings": warnings.messages,
        }
        print(json.dumps(report), flush=True)
        while True:
            writer.send()


def run_crash(
    deployment: Deployment, work: Path, *, rounds: int = 20, batch: int = 10, seed: int = 11
) -> dict[str, Any]:
    """``rounds`` bursts each killed with SIGKILL after a random time; then count in a fresh process."""
    work.mkdir(parents=True, exist_ok=True)
    deployment_path = deployment.save(work / "deployment.json")
    rng = random.Random(seed)
    reports, ack_paths = [], []
    for round_ in range(rounds):
        ack_paths.append(work / f"c{round_}.acks")
        child = _spawn(
            ["_burst", str(deployment_path), f"c{round_}", str(ack_paths[-1]), str(batch)], work / "burst.err"
        )
        line = child.stdout.readline()
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            child.kill()
            child.wait()
            report = {"failed_to_open": _tail(work / "burst.err", 1500)}
        else:
            time.sleep(rng.uniform(0.05, 0.6))
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        report["killed_by"] = -child.returncode if child.returncode and child.returncode < 0 else child.returncode
        reports.append(report)
    rows = count_in_fresh_process(deployment_path, work / "stored.json")
    result = audit(rows, read_acks(ack_paths), batch, deployment.items)
    opened = [r["opened_ms"] for r in reports if "opened_ms" in r]
    return {
        "rounds": rounds,
        "killed": sum(1 for r in reports if r.get("killed_by") == signal.SIGKILL),
        "opened_ok": sum(1 for r in reports if r.get("answered") and r.get("first_put_ok")),
        "warnings": sorted({w for r in reports for w in r.get("warnings", [])})[:5],
        "open_errors": [r.get("failed_to_open") or r.get("errors") for r in reports if not r.get("first_put_ok")][:3],
        "open_ms_median": sorted(opened)[len(opened) // 2] if opened else None,
        **result,
    }


# --------------------------------------------------------------------------------------------- scale


def record(events: Any, tracking_id: str, users: list[str], total: int, items: list[str], **kw: Any) -> dict:
    """Record ``total`` events for ``users`` (round robin), 10 per call, until done or ``budget`` seconds."""
    budget, batch, start_ts = kw.get("budget"), kw.get("batch", 10), kw.get("start_ts", START_TS)
    rng = random.Random(kw.get("seed", 5))
    started = time.perf_counter()
    sent = calls = 0
    watched: dict[str, list[str]] = {}  # each user's watched items, oldest first
    while sent < total and (budget is None or time.perf_counter() - started < budget):
        user = users[calls % len(users)]
        event_list = []
        for k in range(min(batch, total - sent)):
            item, kind = rng.choice(items), EVENT_TYPES[(sent + k) % 2]
            if kind == "watch":
                watched.setdefault(user, []).append(item)
            event_list.append({"eventType": kind, "itemId": item, "sentAt": start_ts + sent + k})
        events.put_events(trackingId=tracking_id, userId=user, sessionId=f"s-{user}", eventList=event_list)
        sent += len(event_list)
        calls += 1
    seconds = time.perf_counter() - started
    return {"events": sent, "seconds": round(seconds, 1), "events_per_s": round(sent / seconds, 1), "watched": watched}


def first_main(state_dir: str, campaign: str, user: str, filter_arn: str) -> None:
    """A fresh process: time its first GetRecommendations, then its first filtered one; print JSON."""
    started = time.perf_counter()
    from personalize_kit.local import mock_personalize

    with mock_personalize(state_dir):
        (runtime,) = clients("personalize-runtime")
        opened = time.perf_counter()
        first = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
        answered = time.perf_counter()
        filtered = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25, filterArn=filter_arn)
        done = time.perf_counter()
    print(
        json.dumps(
            {
                "open_ms": round((opened - started) * 1000, 2),
                "first_ms": round((answered - opened) * 1000, 2),
                "filtered_first_ms": round((done - answered) * 1000, 2),
                "items": [e["itemId"] for e in first["itemList"]],
                "filtered_items": [e["itemId"] for e in filtered["itemList"]],
            }
        )
    )


def first_requests(deployments: dict[str, Deployment], user: str, repeats: int = 5) -> dict[str, Any]:
    """Median over ``repeats`` fresh processes per deployment (taken in turns, so that load changes hit both)
    of the cost of opening the mirror, of the first request and of the first filtered one; and the ratios."""
    keys = ("open_ms", "first_ms", "filtered_first_ms")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in deployments}
    for _ in range(repeats):
        for name, deployment in deployments.items():
            args = ["_first", deployment.state_dir, deployment.campaigns["popularity"], user, deployment.filter_arn]
            runs[name].append(json.loads(run_child(args).splitlines()[-1]))
    out: dict[str, Any] = {
        name: {key: sorted(r[key] for r in mine)[len(mine) // 2] for key in keys} for name, mine in runs.items()
    }
    loaded, none = out["loaded"], out["none"]
    out["ratio"] = round(loaded["first_ms"] / none["first_ms"], 2)
    out["filtered_ratio"] = round(loaded["filtered_first_ms"] / none["filtered_first_ms"], 2)
    out["open_ratio"] = round(loaded["open_ms"] / none["open_ms"], 2)
    return out


def interleaved(calls: dict[str, Any], requests: int, max_seconds: float) -> dict[str, dict[str, Any]]:
    """Time each call ``requests`` times, taking them in turns (so that load changes hit all alike)."""
    samples: dict[str, list[float]] = {label: [] for label in calls}
    deadline = time.perf_counter() + max_seconds
    while len(samples[next(iter(calls))]) < requests and time.perf_counter() < deadline:
        for label, call in calls.items():
            started = time.perf_counter()
            call()
            samples[label].append(time.perf_counter() - started)
    return {
        label: {"requests": len(mine), "p50_ms": percentile(mine, 50), "p99_ms": percentile(mine, 99)}
        for label, mine in samples.items()
    }


def _long_histories(deployment: Deployment, heavy: int, requests: int) -> dict[str, Any]:
    """p50 for a user with ``heavy`` events, one with the 100 a recipe reads, and one with none."""
    from personalize_kit.local import mock_personalize

    result: dict[str, Any] = {}
    with mock_personalize(deployment.state_dir):
        events_client, runtime = clients("personalize-events", "personalize-runtime")
        put = record(events_client, deployment.tracking_id, ["heavy"], heavy, deployment.items)
        result["heavy_recorded"] = {k: v for k, v in put.items() if k != "watched"}
        record(events_client, deployment.tracking_id, ["window"], 100, deployment.items, start_ts=START_TS + heavy)
        users = {"heavy": "heavy", "window": "window", "none": deployment.users[1]}
        for name, campaign in deployment.campaigns.items():
            calls = {
                who: lambda user=user, campaign=campaign: runtime.get_recommendations(
                    campaignArn=campaign, userId=user, numResults=25
                )
                for who, user in users.items()
            }
            timed_ = interleaved(calls, requests, max_seconds=300)
            p50 = {who: timed_[who]["p50_ms"] for who in users}
            result[f"heavy_{name}"] = {f"{who}_p50_ms": value for who, value in p50.items()}
            result[f"heavy_{name}"]["ratio"] = round(p50["heavy"] / p50["none"], 2)
            result[f"heavy_{name}"]["window_ratio"] = round(p50["heavy"] / p50["window"], 2)
    return result


def _filtered(deployment: Deployment, users: list[str], requests: int, max_seconds: float) -> dict[str, Any]:
    """Popularity-Count with and without the Interactions filter, for random ``users``, in turns."""
    from personalize_kit.local import mock_personalize

    rng = random.Random(3)
    campaign = deployment.campaigns["popularity"]
    with mock_personalize(deployment.state_dir):
        (runtime,) = clients("personalize-runtime")
        return interleaved(
            {
                "filter": lambda: runtime.get_recommendations(
                    campaignArn=campaign, userId=rng.choice(users), numResults=25, filterArn=deployment.filter_arn
                ),
                "unfiltered": lambda: runtime.get_recommendations(
                    campaignArn=campaign, userId=rng.choice(users), numResults=25
                ),
            },
            requests,
            max_seconds,
        )


def run_scale(
    deployment: Deployment,
    empty: Deployment,
    *,
    heavy: int = 10_000,
    events: int = 1_000_000,
    record_budget: float = 900,
    requests: int = 300,
    max_seconds: float = 120,
) -> dict[str, Any]:
    """Serving cost against recorded events; ``empty`` is a deployment of the same data with no events."""
    from personalize_kit.local import mock_personalize

    result = _long_histories(deployment, heavy, requests)
    # about 100 events per user (what a filter and a recipe read), up to 10,000 users
    bulk_users = [f"bulk-{j}" for j in range(min(10_000, max(1, (events - heavy - 100) // 100)))]
    with mock_personalize(deployment.state_dir):
        (events_client,) = clients("personalize-events")
        put = record(
            events_client, deployment.tracking_id, bulk_users, events - heavy - 100, deployment.items,
            budget=record_budget, start_ts=START_TS + heavy + 100,
        )  # fmt: skip
    result["bulk_recorded"] = {k: v for k, v in put.items() if k != "watched"}
    result["events_total"] = heavy + 100 + put["events"]
    result["target_events"] = events
    result |= _filtered(deployment, bulk_users, requests, max_seconds)
    none = _filtered(empty, bulk_users, requests, max_seconds)
    result["filter_no_events"], result["unfiltered_no_events"] = none["filter"], none["unfiltered"]
    result["first"] = first_requests({"loaded": deployment, "none": empty}, bulk_users[0])
    return result


# -------------------------------------------------------------------------------------------- report


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    out = {}
    if "concurrency" in results:
        c = results["concurrency"]
        out["concurrency: 0 failed calls"] = c["failed"] == 0
        out["concurrency: acked == stored, none twice, none torn"] = (
            c["acked"] == c["stored"] == c["stored_distinct"] and c["missing"] == 0 and c["torn_or_unknown"] == 0
        )
        out[f"concurrency: GetRecommendations p99 <= {TARGETS['p99_ms']} ms"] = (c["p99_ms"] or 1e9) <= TARGETS[
            "p99_ms"
        ]
    if "scale" in results:
        s = results["scale"]
        for name in RECIPES:
            if f"heavy_{name}" in s:
                out[f"scale: 10,000-event user p50 <= {TARGETS['heavy_ratio']}x ({name})"] = (
                    s[f"heavy_{name}"]["ratio"] <= TARGETS["heavy_ratio"]
                )
        out[f"scale: Interactions filter p99 <= {TARGETS['filter_p99_ms']} ms at {s['events_total']:,} events"] = (
            s["filter"]["p99_ms"] or 1e9
        ) <= TARGETS["filter_p99_ms"]
        out[f"scale: first request with {s['events_total']:,} events ~ none (<= {TARGETS['first_ratio']}x)"] = (
            max(s["first"]["ratio"], s["first"]["filtered_ratio"], s["first"].get("open_ratio", 0))
            <= TARGETS["first_ratio"]
        )
    if "crash" in results:
        c = results["crash"]
        out["crash: stored >= acked, none twice, none torn"] = (
            c["missing"] == 0 and c["duplicates"] == 0 and c["torn_or_unknown"] == 0
        )
        out["crash: every next process opened and answered, no repair logged"] = (
            c["opened_ok"] == c["rounds"] and not c["warnings"]
        )
    return out


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown; with a ``before`` run inside, each table gets a before and an after column."""
    before = results.get("before") or {}
    head, rule = ("| before | after |", "|---|---|") if before else ("| result |", "|---|")
    lines = [
        "# Mirror core benchmark: concurrency, event scale, crashes",
        "",
        f"`python scripts/bench_mirror.py {results['command']}` on {results['machine']}, {results['date']}. "
        "Every call goes through the real boto3 client inside `mock_personalize`; events are counted through a "
        "dataset export job (`ingestionMode=PUT`) read back from S3, as a user would.",
    ]
    if before:
        lines += ["", f"Before: `{before['command']}` on {before['date']}, the storage before issue 11."]
    lines += ["", f"| check {head}", f"|---{rule}"]
    for name, ok in results["verdicts"].items():
        was = before.get("verdicts", {}).get(name)
        was_cell = "" if was is None else ("PASS" if was else "FAIL")
        lines.append(f"| {name} | " + (f"{was_cell} | " if before else "") + f"{'PASS' if ok else 'FAIL'} |")
    for section in ("concurrency", "scale", "crash"):
        if section in results:
            lines += ["", f"## {section}", "", f"| measure {head}", f"|---{rule}"]
            old = dict(_flat(before.get(section) or {}))
            for key, value in _flat(results[section]):
                was_cell = f"{_cell(old[key]) if key in old else ''} | " if before else ""
                lines.append(f"| {key} | {was_cell}{_cell(value)} |")
    if results.get("notes"):
        lines += ["", *results["notes"]]
    return "\n".join(lines) + "\n"


def _flat(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("errors",):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _cell(value: Any) -> str:
    text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else json.dumps(value)
    return text.replace("|", "\\|")[:400]


def write_results(results: dict[str, Any], name: str = "mirror") -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))


# ---------------------------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=("concurrency", "scale", "crash", "all"))
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--events", type=int, default=1_000_000, help="events recorded for the scale scenario")
    parser.add_argument("--heavy", type=int, default=10_000, help="events of the one heavy user")
    parser.add_argument("--record-budget", type=float, default=900, help="seconds allowed to record the events")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--work", type=Path, help="keep the state directories here (default: a temporary one)")
    parser.add_argument("--out", default="mirror", help="name of the results files in scripts/results/")
    parser.add_argument("--merge", action="store_true", help="keep the other scenarios of the existing results")
    parser.add_argument("--before", type=Path, help="results JSON of an earlier run, shown beside these")
    parser.add_argument("--note", action="append", default=[], help="a line added under the tables")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("_"):
        return _child(argv)
    args = _parser().parse_args(argv)
    os.environ.update(FAKE_ENV)
    scenarios = ("concurrency", "scale", "crash") if args.scenario == "all" else (args.scenario,)
    results: dict[str, Any] = {
        "command": " ".join(argv),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for scenario in scenarios:
            started = time.perf_counter()
            results[scenario] = _run(scenario, args, work / scenario)
            print(f"{scenario}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    results = _combine(results, args)
    results["verdicts"] = verdicts(results)
    write_results(results, args.out)
    print(markdown(results))
    return 0 if all(results["verdicts"].values()) else 1


def _combine(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Add the scenarios of the existing results (``--merge``), the earlier run (``--before``) and notes."""
    existing = RESULTS / f"{args.out}.json"
    if args.merge and existing.exists():
        previous = json.loads(existing.read_text())
        for section in ("concurrency", "scale", "crash"):
            if section not in results and section in previous:
                results[section] = previous[section]
        results["command"] = f"{previous['command']}; {results['command']}"
        results.setdefault("before", previous.get("before"))
        results["notes"] = previous.get("notes", [])
    if args.before:
        before = json.loads(args.before.read_text())
        before.pop("before", None)
        results["before"] = before
    results["notes"] = [*results.get("notes", []), *args.note]
    return results


def _run(scenario: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if scenario == "concurrency":
        deployment = deploy(work / "state")
        return run_concurrency(
            deployment, work, processes=args.processes, writers=args.writers, readers=args.readers, seconds=args.seconds
        )
    if scenario == "crash":
        return run_crash(deploy(work / "state", recipes=("popularity",)), work, rounds=args.rounds)
    deployment, empty = deploy(work / "state"), deploy(work / "empty", recipes=("popularity",))
    return run_scale(
        deployment,
        empty,
        heavy=args.heavy,
        events=args.events,
        record_budget=args.record_budget,
        requests=args.requests,
    )


def _child(argv: list[str]) -> int:
    """The commands this script runs in its child processes."""
    command, rest = argv[0], argv[1:]
    if command == "_worker":
        worker_main(rest[0])
    elif command == "_burst":
        burst_main(rest[0], rest[1], rest[2], int(rest[3]))
    elif command == "_first":
        first_main(*rest)
    elif command == "_count":
        Path(rest[1]).write_text(json.dumps(export_rows(Deployment.load(rest[0]))))
    else:
        print(f"unknown child command {command!r}: use concurrency, scale, crash or all", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
