"""Helpers of the server's tests: a real ``python -m personalize_kit serve`` process, and data whose
right answers are known.

User ``uNN`` (``NN`` = 0 .. N_USERS-1) interacts with items ``i00`` .. ``iNN`` in that order, so item
``iKK`` has ``N_USERS - KK`` unique users and Popularity-Count ranks ``i00, i01, i02 ...`` strictly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = ROOT / ".tools" / "awscli" / "bin" / "aws"
JS_DIR = ROOT / "tests" / "server" / "js"
INSTALL_HINT = "run `bash scripts/install-test-tools.sh` (the README's test command does)"
N_USERS = 50  # 1,275 interactions: the service needs 1,000
START = 1_700_000_000
POPULARITY_ARN = "arn:aws:personalize:::recipe/aws-popularity-count"
UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "personalize.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
INTERACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)
#: Items by popularity, most popular first: the known answer of a Popularity-Count campaign.
POPULAR = [f"i{k:02d}" for k in range(N_USERS)]


def interactions_csv() -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for user in range(N_USERS):
        lines += [f"u{user:02d},i{k:02d},{START + user * 1000 + k}" for k in range(user + 1)]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> int:
        """SIGTERM, then the exit code (the server finishes what it is answering and exits 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_server(state_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``python -m personalize_kit serve`` on a free port over ``state_dir``, ready (``/_health`` is 200)."""
    port = free_port()
    log = state_dir.parent / f"server-{port}.log"
    command = [sys.executable, "-m", "personalize_kit", "serve", "--port", str(port), "--state-dir", str(state_dir)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with log.open("w") as out:
        process = subprocess.Popen([*command, *args], stdout=out, stderr=subprocess.STDOUT, env=environment, cwd=ROOT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n{server.log_text()}")
            try:
                if get_json(server.url + "/_health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server was not ready within 90 s:\n{server.log_text()}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


def client_env(server: Server) -> dict[str, str]:
    """The environment a client process needs to use the server: its URL and fake credentials."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


#: Four groups of 12 items; user ``vNNN`` watches the 12 items of group ``NNN % 4``, in an order of its own.
GROUPS = {g: [f"m{k:02d}" for k in range(g, 48, 4)] for g in range(4)}
N_VIEWERS = 100


def group_csv() -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for user in range(N_VIEWERS):
        items = GROUPS[user % 4]
        shift = user // 4 % 12
        ordered = items[shift:] + items[:shift]
        lines += [f"v{user:03d},{item},{START + user * 100 + k}" for k, item in enumerate(ordered)]
    return "\n".join(lines) + "\n"


def wait_active(describe: Any, key: str, timeout: float = 300, **arn: str) -> dict:
    """Poll a boto3 ``describe_*`` until the resource is ACTIVE; fail with its failureReason."""
    deadline = time.monotonic() + timeout
    while True:
        found = describe(**arn)[key]
        if found["status"] == "ACTIVE":
            return found
        assert "FAILED" not in found["status"], found.get("failureReason")
        assert time.monotonic() < deadline, f"{key} still {found['status']} after {timeout}s"
        time.sleep(0.3)


def role_policy(bucket: str, key_arn: str | None = None, data_prefix: str = "") -> str:
    """What the role Personalize assumes may do on ``bucket`` (the CDK stack's policy; all of it by default)."""
    from personalize_kit.sdk import policies

    outputs = ("",) if not data_prefix else policies.OUTPUT_PREFIXES
    return json.dumps(policies.role_policy(bucket, key_arn, data_prefix, outputs))


def bucket_policy(bucket: str, data_prefix: str = "") -> str:
    """The bucket policy letting Personalize use ``bucket`` (the CDK stack's; all of it by default)."""
    from personalize_kit.sdk import policies

    outputs = ("",) if not data_prefix else policies.OUTPUT_PREFIXES
    return json.dumps(policies.bucket_policy(bucket, "123456789012", "us-east-1", data_prefix, outputs))


def grant(url: str, bucket: str, role_name: str, *, key_arn: str | None = None, data_prefix: str = "") -> str:
    """Over HTTP, as a user would: the role Personalize assumes, its policy and the bucket policy; the role ARN."""
    import boto3

    iam, s3 = (boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("iam", "s3"))
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="data", PolicyDocument=role_policy(bucket, key_arn, data_prefix))
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, data_prefix))
    return str(role)


def plant_campaign(url: str, csv: str, recipe_arn: str, name: str) -> dict[str, str]:
    """Data, dataset group, import, solution, version, campaign and event tracker, made with boto3 over HTTP.

    Returns the ``campaignArn``, ``trackingId`` and ``datasetGroupArn``.
    """
    import boto3

    s3, iam, personalize = (
        boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("s3", "iam", "personalize")
    )
    bucket = f"{name}-data"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/interactions.csv", Body=csv.encode())
    role = grant(url, bucket, f"{name}-role")
    schema = personalize.create_schema(name=f"{name}-schema", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    wait_active(personalize.describe_dataset_group, "datasetGroup", datasetGroupArn=group)
    dataset = personalize.create_dataset(
        name=f"{name}-interactions", datasetGroupArn=group, datasetType="Interactions", schemaArn=schema
    )["datasetArn"]
    wait_active(personalize.describe_dataset, "dataset", datasetArn=dataset)
    job = personalize.create_dataset_import_job(
        jobName=f"{name}-import",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{bucket}/data/interactions.csv"},
        roleArn=role,
    )["datasetImportJobArn"]
    wait_active(personalize.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job)
    tracker = personalize.create_event_tracker(name=f"{name}-tracker", datasetGroupArn=group)
    solution = personalize.create_solution(name=f"{name}-solution", datasetGroupArn=group, recipeArn=recipe_arn)
    wait_active(personalize.describe_solution, "solution", solutionArn=solution["solutionArn"])
    wait_active(personalize.describe_event_tracker, "eventTracker", eventTrackerArn=tracker["eventTrackerArn"])
    version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
    wait_active(personalize.describe_solution_version, "solutionVersion", solutionVersionArn=version)
    campaign = personalize.create_campaign(name=f"{name}-campaign", solutionVersionArn=version)["campaignArn"]
    wait_active(personalize.describe_campaign, "campaign", campaignArn=campaign)
    return {"campaignArn": campaign, "trackingId": tracker["trackingId"], "datasetGroupArn": group}
